// Command vk-controlplane is a multi-call binary that runs a real Kubernetes
// control plane (embedded etcd + kube-apiserver, optionally kube-scheduler and
// kube-controller-manager) on 127.0.0.1 for vk-trio's tests, demo and
// benchmarks.
//
// Every Kubernetes component runs in its own OS process (the binary re-execs
// itself), because each component installs process-wide state (signal
// handler, feature-gate and component registries) that cannot be shared.
package main

import (
	"fmt"
	"os"
	"strings"
)

const usage = `usage: vk-controlplane COMMAND [ARGS]

Harness commands (DIR is the control plane's state directory):
  up DIR [--with-scheduler] [--with-controller-manager] [--profile default|bench] [--timeout SECONDS]
  down DIR [--timeout SECONDS]
  restart DIR [--down-for SECONDS] [--timeout SECONDS]
  compact DIR
  node-credentials DIR NODE
  status DIR

Bundled Kubernetes v1.37 components (flags as upstream):
  kubectl ARGS...
  kube-apiserver ARGS...       (plain upstream entry point; the harness uses "serve-apiserver")
  kube-scheduler ARGS...
  kube-controller-manager ARGS...
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	sub, rest := os.Args[1], os.Args[2:]
	// Upstream commands read os.Args (cobra, kubectl's plugin lookup), so the
	// sub-command name is folded into argv[0].
	os.Args = append([]string{os.Args[0] + " " + sub}, rest...)
	var code int
	switch sub {
	case "up":
		code = cmdUp(rest)
	case "down":
		code = cmdDown(rest)
	case "restart":
		code = cmdRestart(rest)
	case "compact":
		code = cmdCompact(rest)
	case "node-credentials":
		code = cmdNodeCredentials(rest)
	case "status":
		code = cmdStatus(rest)
	case "supervise":
		code = cmdSupervise(rest)
	case "serve-apiserver":
		code = cmdServeAPIServer(rest)
	case "kubectl":
		code = runKubectl()
	case "kube-apiserver":
		code = runAPIServer()
	case "kube-scheduler", "scheduler":
		code = runScheduler()
	case "kube-controller-manager", "controller-manager":
		code = runControllerManager()
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "vk-controlplane: unknown command %q\n%s", sub, usage)
		code = 2
	}
	os.Exit(code)
}

// fail prints one clear error line and returns the exit code for it.
func fail(format string, args ...any) int {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintln(os.Stderr, "vk-controlplane: error: "+strings.TrimSpace(msg))
	return 1
}
