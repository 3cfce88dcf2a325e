// Command interop drives vk-trio's streaming server with client-go, the code kubectl runs.
//
//	interop exec URL PROTOCOL TTY      stdin from our stdin; prints a JSON result
//	interop portforward URL PORT DATA  forwards PORT, sends DATA through it, prints the reply
//	interop portforward-ws URL PORT DATA  the same with SPDY tunnelled in a WebSocket (KEP-4006)
//	interop throughput URL MEGABYTES _  port-forward throughput: uploads MEGABYTES to port 1001
//	                                    (a sink that answers with the byte count) and downloads
//	                                    as much from port 1002 (a source); prints MB/s
//
// PROTOCOL is "spdy" (client-go's default list), "websocket" (v5 WebSockets) or one
// SPDY subprotocol to offer alone (e.g. "v2.channel.k8s.io").
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"
)

type result struct {
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
	ExitCode int    `json:"exitCode"`
	Error    string `json:"error,omitempty"`
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(2)
}

func executor(config *rest.Config, target *url.URL, protocol string) (remotecommand.Executor, error) {
	switch protocol {
	case "spdy":
		return remotecommand.NewSPDYExecutor(config, "POST", target)
	case "websocket":
		return remotecommand.NewWebSocketExecutor(config, "GET", target.String())
	default:
		transport, upgrader, err := spdy.RoundTripperFor(config)
		if err != nil {
			return nil, err
		}
		return remotecommand.NewSPDYExecutorForProtocols(transport, upgrader, "POST", target, protocol)
	}
}

func runExec(rawURL, protocol string, tty bool) {
	target, err := url.Parse(rawURL)
	if err != nil {
		fail(err)
	}
	config := &rest.Config{Host: target.Scheme + "://" + target.Host}
	ex, err := executor(config, target, protocol)
	if err != nil {
		fail(err)
	}
	var stdout, stderr bytes.Buffer
	options := remotecommand.StreamOptions{Stdin: os.Stdin, Stdout: &stdout, Tty: tty}
	if !tty {
		options.Stderr = &stderr
	} else {
		options.TerminalSizeQueue = &sizes{[]remotecommand.TerminalSize{{Width: 80, Height: 24}, {Width: 100, Height: 30}}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = ex.StreamWithContext(ctx, options)
	out := result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		out.ExitCode = exitErr.ExitStatus()
	case err != nil:
		out.ExitCode = -1
		out.Error = err.Error()
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}

type sizes struct{ queue []remotecommand.TerminalSize }

func (s *sizes) Next() *remotecommand.TerminalSize {
	if len(s.queue) == 0 {
		select {} // no more resizes; the executor stops calling when the session ends
	}
	next := s.queue[0]
	s.queue = s.queue[1:]
	return &next
}

// forward starts client-go's port forwarder for remote ports and returns the local ports.
func forward(rawURL string, tunnel bool, remote ...string) ([]portforward.ForwardedPort, chan struct{}, chan error) {
	target, err := url.Parse(rawURL)
	if err != nil {
		fail(err)
	}
	config := &rest.Config{Host: target.Scheme + "://" + target.Host}
	var dialer httpstream.Dialer
	if tunnel {
		dialer, err = portforward.NewSPDYOverWebsocketDialer(target, config)
		if err != nil {
			fail(err)
		}
	} else {
		transport, upgrader, err := spdy.RoundTripperFor(config)
		if err != nil {
			fail(err)
		}
		dialer = spdy.NewDialer(upgrader, &http.Client{Transport: transport}, "POST", target)
	}
	stop, ready := make(chan struct{}), make(chan struct{})
	specs := make([]string, len(remote))
	for i, port := range remote {
		specs[i] = "0:" + port
	}
	forwarder, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, specs, stop, ready, io.Discard, os.Stderr)
	if err != nil {
		fail(err)
	}
	done := make(chan error, 1)
	go func() { done <- forwarder.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-done:
		fail(fmt.Errorf("port-forward ended before it was ready: %w", err))
	}
	ports, err := forwarder.GetPorts()
	if err != nil {
		fail(err)
	}
	return ports, stop, done
}

func runThroughput(rawURL, megabytes string) {
	var size int
	if _, err := fmt.Sscan(megabytes, &size); err != nil {
		fail(err)
	}
	total := size << 20
	ports, stop, done := forward(rawURL, false, "1001", "1002")
	chunk := make([]byte, 256<<10)

	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local))
	if err != nil {
		fail(err)
	}
	start := time.Now()
	for sent := 0; sent < total; sent += len(chunk) {
		if _, err := conn.Write(chunk); err != nil {
			fail(err)
		}
	}
	_ = conn.(*net.TCPConn).CloseWrite()
	reply, err := io.ReadAll(conn)
	if err != nil {
		fail(err)
	}
	upload := time.Since(start)
	conn.Close()
	if string(reply) != fmt.Sprint(total) {
		fail(fmt.Errorf("sink received %q bytes, sent %d", reply, total))
	}

	conn, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[1].Local))
	if err != nil {
		fail(err)
	}
	start = time.Now()
	if _, err := io.CopyN(io.Discard, conn, int64(total)); err != nil {
		fail(err)
	}
	download := time.Since(start)
	conn.Close()
	close(stop)
	<-done
	mb := float64(total) / 1e6
	out := map[string]float64{"upload_mb_s": mb / upload.Seconds(), "download_mb_s": mb / download.Seconds()}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}

func runPortForward(rawURL, port, data string, tunnel bool) {
	ports, stop, done := forward(rawURL, tunnel, port)
	var replies []string
	for i := 0; i < 2; i++ { // two connections through the same SPDY session
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local))
		if err != nil {
			fail(err)
		}
		if _, err := conn.Write([]byte(data)); err != nil {
			fail(err)
		}
		_ = conn.(*net.TCPConn).CloseWrite()
		reply, err := io.ReadAll(conn)
		if err != nil {
			fail(err)
		}
		conn.Close()
		replies = append(replies, string(reply))
	}
	close(stop)
	<-done
	if err := json.NewEncoder(os.Stdout).Encode(replies); err != nil {
		fail(err)
	}
}

func main() {
	if len(os.Args) < 4 {
		fail(errors.New("usage: interop exec URL PROTOCOL TTY | portforward URL PORT DATA | throughput URL MEGABYTES"))
	}
	switch os.Args[1] {
	case "exec":
		runExec(os.Args[2], os.Args[3], len(os.Args) > 4 && os.Args[4] == "true")
	case "portforward", "portforward-ws":
		if len(os.Args) != 5 {
			fail(errors.New("usage: interop portforward[-ws] URL PORT DATA"))
		}
		runPortForward(os.Args[2], os.Args[3], os.Args[4], os.Args[1] == "portforward-ws")
	case "throughput":
		runThroughput(os.Args[2], os.Args[3])
	default:
		fail(fmt.Errorf("unknown mode %q", os.Args[1]))
	}
}
