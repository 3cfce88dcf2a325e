package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pickPorts reserves n distinct free ports on 127.0.0.1. They are released
// before the components bind them, so there is a small window in which
// another program could take one; the supervisor reports that as port
// trouble and `up` retries with fresh ports.
func pickPorts(n int) ([]int, error) {
	var listeners []net.Listener
	defer func() {
		for _, ln := range listeners {
			_ = ln.Close()
		}
	}()
	out := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("no free port on 127.0.0.1: %w", err)
		}
		listeners = append(listeners, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func parseDirArg(name string, args []string) (string, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", nil, fmt.Errorf("usage: vk-controlplane %s DIR ...", name)
	}
	return args[0], args[1:], nil
}

func cmdUp(args []string) int {
	dir, rest, err := parseDirArg("up", args)
	if err != nil {
		return fail("%v", err)
	}
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	withScheduler := fs.Bool("with-scheduler", false, "also run kube-scheduler")
	withKCM := fs.Bool("with-controller-manager", false, "also run kube-controller-manager")
	profile := fs.String("profile", "default", "default | bench")
	timeout := fs.Int("timeout", 180, "seconds to wait for readiness")
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		return fail("up: unexpected arguments %q", fs.Args())
	}
	if *profile != "default" && *profile != "bench" {
		return fail("up: --profile must be default or bench, not %q", *profile)
	}
	l, err := newLayout(dir)
	if err != nil {
		return fail("up: %v", err)
	}
	if pid := supervisorPid(l); pid != 0 {
		return fail("%s is already running (supervisor pid %d); run `down %s` first", l.Dir, pid, dir)
	}
	for _, d := range []string{l.Dir, l.Logs, l.Run} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fail("cannot create %s: %v", d, err)
		}
	}
	if _, err := ensurePKI(l); err != nil {
		return fail("%v", err)
	}
	p := plan{
		Profile:               *profile,
		WithScheduler:         *withScheduler,
		WithControllerManager: *withKCM,
		TimeoutSeconds:        *timeout,
		ExtraAPIServerArgs:    strings.Fields(os.Getenv("VK_CONTROLPLANE_APISERVER_ARGS")),
	}
	if owner := os.Getenv("VK_CONTROLPLANE_OWNER_PID"); owner != "" {
		pid, err := strconv.Atoi(owner)
		if err != nil || pid <= 0 {
			return fail("VK_CONTROLPLANE_OWNER_PID=%q is not a pid", owner)
		}
		p.OwnerPid = pid
	}
	const attempts = 3
	for attempt := 1; ; attempt++ {
		code, portTrouble := startOnce(l, p)
		if !portTrouble || attempt == attempts {
			return code
		}
		fmt.Fprintf(os.Stderr, "vk-controlplane: a chosen port was taken meanwhile; retrying with fresh ports\n")
	}
}

// startOnce launches a detached supervisor and waits until it reports ready
// or failed. The second result is true when the failure was a port clash.
func startOnce(l layout, p plan) (int, bool) {
	ps, err := pickPorts(5)
	if err != nil {
		return fail("%v", err), false
	}
	p.Ports = ports{APIServer: ps[0], EtcdClient: ps[1], EtcdPeer: ps[2]}
	if p.WithScheduler {
		p.Ports.Scheduler = ps[3]
	}
	if p.WithControllerManager {
		p.Ports.ControllerManager = ps[4]
	}
	if err := writeJSON(l.PlanFile, p); err != nil {
		return fail("%v", err), false
	}
	server := fmt.Sprintf("https://127.0.0.1:%d", p.Ports.APIServer)
	if err := writeKubeconfig(l.Kubeconfig, server, l.CACert, l.AdminCert, l.AdminKey, "vk-trio-admin"); err != nil {
		return fail("cannot write %s: %v", l.Kubeconfig, err), false
	}
	for _, stale := range []string{l.ReadyFile, l.FailureFile, l.RestartRequest} {
		_ = os.Remove(stale)
	}
	self, err := os.Executable()
	if err != nil {
		return fail("%v", err), false
	}
	logFile, err := os.OpenFile(l.logPath("supervisor"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fail("%v", err), false
	}
	defer logFile.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return fail("%v", err), false
	}
	defer devnull.Close()
	cmd := exec.Command(self, "supervise", l.Dir)
	cmd.Dir = l.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logFile, logFile
	// Own session: the control plane outlives `up` and is immune to the
	// caller's terminal and process-group signals.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fail("cannot start supervisor: %v", err), false
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	deadline := time.Now().Add(time.Duration(p.TimeoutSeconds+15) * time.Second)
	for {
		var st readyState
		if err := readJSON(l.ReadyFile, &st); err == nil && st.State == "ready" {
			fmt.Println(l.ReadyFile)
			return 0, false
		}
		if msg, err := os.ReadFile(l.FailureFile); err == nil {
			<-exited
			text := strings.TrimSpace(string(msg))
			return fail("%s", text), strings.Contains(text, "address already in use")
		}
		select {
		case err := <-exited:
			if msg, rerr := os.ReadFile(l.FailureFile); rerr == nil {
				text := strings.TrimSpace(string(msg))
				return fail("%s", text), strings.Contains(text, "address already in use")
			}
			return fail("supervisor exited (%v) before the control plane was ready; see %s\n%s",
				err, l.logPath("supervisor"), tail(l.logPath("supervisor"), 15)), false
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			return fail("control plane not ready within %ds; see %s\n%s", p.TimeoutSeconds,
				l.logPath("apiserver"), tail(l.logPath("apiserver"), 15)), false
		}
	}
}

// tail returns the last n lines of a file, indented, for error messages.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "  (no log: " + err.Error() + ")"
	}
	defer f.Close()
	const maxRead = 64 << 10
	st, err := f.Stat()
	if err == nil && st.Size() > maxRead {
		_, _ = f.Seek(-maxRead, io.SeekEnd)
	}
	data, _ := io.ReadAll(f)
	if len(strings.TrimSpace(string(data))) == 0 {
		return "  (" + path + " is empty)"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, line := range lines {
		if len(line) > 400 {
			line = line[:400] + "…"
		}
		lines[i] = "  | " + line
	}
	return strings.Join(lines, "\n")
}
