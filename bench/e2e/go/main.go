// Command e2ebench is the Go side of vk-trio's end-to-end benchmark (bench/e2e).
//
// It holds everything that talks to the API server on the harness side, so
// that the harness's own traffic is cheap (protobuf, no client-side rate
// limit) and counted, and the Python orchestration stays out of the hot path:
//
//	drive     the workload: a loader that creates N pods bound to one node and
//	          later deletes them, and an observer watch that records when each
//	          pod is first seen Running and when each is gone (JSON output)
//	ceiling   the "ceiling" contender: a minimal client-go controller that
//	          marks its node's pods Running and finishes their deletion, as
//	          fast as the API server allows
//	namespace, create-node, wait-node, cleanup, metrics
//	          small admin steps the harness runs between contenders
//
// Every sub-command prints its result as one JSON document on stdout.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

const usage = `usage: e2ebench COMMAND [FLAGS]

commands:
  drive        create N pods on a node, observe Running, delete, observe gone
  ceiling      the ceiling contender (runs until SIGTERM/SIGINT)
  namespace    make sure a namespace exists
  create-node  create a bare Node object (for kwok, which manages but never registers nodes)
  wait-node    wait until a node reports Ready=True
  cleanup      force-delete a node's pods, then the node and its lease
  metrics      apiserver_request_total summed by verb and resource

run "e2ebench COMMAND -h" for the flags of one command
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "drive":
		err = cmdDrive(args)
	case "ceiling":
		err = cmdCeiling(args)
	case "namespace":
		err = cmdNamespace(args)
	case "create-node":
		err = cmdCreateNode(args)
	case "wait-node":
		err = cmdWaitNode(args)
	case "cleanup":
		err = cmdCleanup(args)
	case "metrics":
		err = cmdMetrics(args)
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "e2ebench: unknown command %q\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2ebench %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

// emit writes v as JSON to stdout.
func emit(v any) error {
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(v)
}
