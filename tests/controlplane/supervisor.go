package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is one component process re-exec'd from this binary.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has been reaped
	err  error
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits; after grace it kills.
func (c *child) stop(grace time.Duration) {
	if c.exited() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

type supervisor struct {
	l         layout
	p         plan
	self      string
	apiserver *child
	others    []*child
	restarts  int
	restartID string
	exits     chan *child
}

func cmdSupervise(args []string) int {
	if len(args) != 1 {
		return fail("usage: vk-controlplane supervise DIR")
	}
	l, err := newLayout(args[0])
	if err != nil {
		return fail("%v", err)
	}
	s := &supervisor{l: l, exits: make(chan *child, 8)}
	if err := readJSON(l.PlanFile, &s.p); err != nil {
		return s.failStart("cannot read %s: %v", l.PlanFile, err)
	}
	if s.self, err = os.Executable(); err != nil {
		return s.failStart("%v", err)
	}
	if err := os.WriteFile(l.PidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return s.failStart("%v", err)
	}
	defer os.Remove(l.PidFile)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)

	if s.p.OwnerPid > 0 {
		go watchOwner(s.p.OwnerPid, sigs)
	}
	logf("starting control plane in %s (profile %s)", l.Dir, s.p.Profile)
	if err := s.startAPIServer(); err != nil {
		s.shutdown()
		return s.failStart("%v", err)
	}
	if err := s.startOthers(); err != nil {
		s.shutdown()
		return s.failStart("%v", err)
	}
	if err := s.writeReady("ready", ""); err != nil {
		s.shutdown()
		return s.failStart("%v", err)
	}
	logf("control plane ready at https://127.0.0.1:%d", s.p.Ports.APIServer)

	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGUSR1 {
				if err := s.restart(); err != nil {
					logf("restart failed: %v", err)
					_ = s.writeReady("failed", err.Error())
					s.shutdown()
					return 1
				}
				continue
			}
			logf("received %v, stopping", sig)
			s.shutdown()
			_ = s.writeReady("stopped", "")
			return 0
		case c := <-s.exits:
			if c == s.apiserver {
				msg := fmt.Sprintf("kube-apiserver exited unexpectedly (%v); see %s", c.err, s.l.logPath("apiserver"))
				logf("%s", msg)
				_ = s.writeReady("failed", msg)
				s.shutdown()
				return 1
			}
			if !s.isCurrent(c) {
				continue
			}
			// Scheduler and controller manager give up when the API server
			// stays away too long; bring them back.
			logf("%s exited (%v); restarting it", c.name, c.err)
			time.Sleep(time.Second)
			if err := s.replace(c); err != nil {
				logf("cannot restart %s: %v", c.name, err)
			} else {
				_ = s.writeReady("ready", "")
			}
		}
	}
}

// watchOwner asks for a shutdown once the owner process has gone.
func watchOwner(pid int, sigs chan<- os.Signal) {
	for {
		time.Sleep(2 * time.Second)
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			logf("owner process %d has gone", pid)
			sigs <- syscall.SIGTERM
			return
		}
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s supervisor: %s\n", time.Now().Format(time.RFC3339), fmt.Sprintf(format, args...))
}

// failStart records a start failure for `up` (one line plus a log tail).
func (s *supervisor) failStart(format string, args ...any) int {
	msg := fmt.Sprintf(format, args...)
	logf("start failed: %s", msg)
	_ = os.WriteFile(s.l.FailureFile, []byte(msg+"\n"), 0o644)
	return 1
}

func (s *supervisor) isCurrent(c *child) bool {
	for _, o := range s.others {
		if o == c {
			return true
		}
	}
	return false
}

func (s *supervisor) spawn(name string, args ...string) (*child, error) {
	logFile, err := os.OpenFile(s.l.logPath(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(s.self, args...)
	cmd.Dir = s.l.Dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// If the supervisor dies without cleaning up, its children follow.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
		s.exits <- c
	}()
	logf("started %s (pid %d)", name, c.pid())
	return c, nil
}

func (s *supervisor) timeout() time.Duration {
	return time.Duration(s.p.TimeoutSeconds) * time.Second
}

func (s *supervisor) startAPIServer() error {
	c, err := s.spawn("apiserver", "serve-apiserver", s.l.Dir)
	if err != nil {
		return err
	}
	s.apiserver = c
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout())
	defer cancel()
	if err := waitAPIServer(ctx, s.l, s.p.Ports.APIServer, c); err != nil {
		// Described before stopping, so that the log tail shows why it is
		// not ready rather than its shutdown.
		described := s.describeFailure("kube-apiserver", "apiserver", err)
		s.apiserver = nil
		c.stop(10 * time.Second)
		return described
	}
	return nil
}

// describeFailure turns a readiness failure into the one-line message `up`
// prints, followed by the component's log tail.
func (s *supervisor) describeFailure(what, logName string, err error) error {
	logPath := s.l.logPath(logName)
	tailText := tail(logPath, 15)
	reason := err.Error()
	if errors.Is(err, errTimedOut) {
		reason = fmt.Sprintf("not ready within %ds (up --timeout)", s.p.TimeoutSeconds)
	}
	etcdTail := tail(s.l.logPath("etcd"), 40)
	if strings.Contains(tailText, "address already in use") || strings.Contains(etcdTail, "address already in use") {
		reason = "port trouble: address already in use on 127.0.0.1"
	}
	return fmt.Errorf("%s: %s; see %s\n%s", what, reason, logPath, tailText)
}

func (s *supervisor) startOthers() error {
	s.others = nil
	if s.p.WithControllerManager {
		if err := s.startComponent("controller-manager", s.p.Ports.ControllerManager, controllerManagerArgs(s.l, s.p)); err != nil {
			return err
		}
	}
	if s.p.WithScheduler {
		if err := s.startComponent("scheduler", s.p.Ports.Scheduler, schedulerArgs(s.l, s.p)); err != nil {
			return err
		}
	}
	return nil
}

func (s *supervisor) startComponent(name string, port int, args []string) error {
	c, err := s.spawn(name, append([]string{"kube-" + name}, args...)...)
	if err != nil {
		return err
	}
	s.others = append(s.others, c)
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout())
	defer cancel()
	if err := waitHealthz(ctx, port, c); err != nil {
		return s.describeFailure("kube-"+name, name, err)
	}
	return nil
}

func (s *supervisor) replace(old *child) error {
	for i, o := range s.others {
		if o != old {
			continue
		}
		port, args := s.p.Ports.Scheduler, schedulerArgs(s.l, s.p)
		if old.name == "controller-manager" {
			port, args = s.p.Ports.ControllerManager, controllerManagerArgs(s.l, s.p)
		}
		c, err := s.spawn(old.name, append([]string{"kube-" + old.name}, args...)...)
		if err != nil {
			return err
		}
		s.others[i] = c
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout())
		defer cancel()
		return waitHealthz(ctx, port, c)
	}
	return nil
}

type restartRequest struct {
	ID             string  `json:"id"`
	DownForSeconds float64 `json:"down_for_seconds"`
}

// restart stops the API server and etcd, keeps them down for the requested
// time and brings them back on the same ports with the same data.
func (s *supervisor) restart() error {
	var req restartRequest
	if err := readJSON(s.l.RestartRequest, &req); err != nil {
		return fmt.Errorf("cannot read restart request: %w", err)
	}
	logf("restart %s: stopping kube-apiserver and etcd for %.1fs", req.ID, req.DownForSeconds)
	_ = s.writeReady("restarting", "")
	old := s.apiserver
	s.apiserver = nil
	old.stop(60 * time.Second)
	if req.DownForSeconds > 0 {
		time.Sleep(time.Duration(req.DownForSeconds * float64(time.Second)))
	}
	if err := s.startAPIServer(); err != nil {
		return err
	}
	s.restarts++
	s.restartID = req.ID
	logf("restart %s: kube-apiserver ready again", req.ID)
	return s.writeReady("ready", "")
}

func (s *supervisor) shutdown() {
	for i := len(s.others) - 1; i >= 0; i-- {
		s.others[i].stop(15 * time.Second)
	}
	if s.apiserver != nil {
		s.apiserver.stop(60 * time.Second)
	}
}

func (s *supervisor) writeReady(state, errMsg string) error {
	l, p := s.l, s.p
	st := readyState{
		State:                 state,
		Server:                fmt.Sprintf("https://127.0.0.1:%d", p.Ports.APIServer),
		EtcdURL:               fmt.Sprintf("http://127.0.0.1:%d", p.Ports.EtcdClient),
		Version:               k8sVersion,
		Profile:               p.Profile,
		Components:            []string{"etcd", "kube-apiserver"},
		Ports:                 p.Ports,
		Pids:                  map[string]int{"supervisor": os.Getpid()},
		ServiceAccountIssuer:  saIssuer,
		ServiceClusterIPRange: serviceCIDR,
		WatchCache:            watchCacheEnabled(p),
		Restarts:              s.restarts,
		LastRestartID:         s.restartID,
		Error:                 errMsg,
		Paths: readyPaths{
			Dir: l.Dir, Kubeconfig: l.Kubeconfig, CACert: l.CACert,
			AdminCert: l.AdminCert, AdminKey: l.AdminKey,
			KubeletCert: l.KubeletCert, KubeletKey: l.KubeletKey,
			KubeletClientCert: l.KubeletClientCert, KubeletClientKey: l.KubeletClientKey,
			ServiceAccountKey: l.ServiceAccountKey, ServiceAccountPub: l.ServiceAccountPub,
			EtcdData: l.EtcdData, Nodes: l.Nodes,
			Logs: map[string]string{
				"supervisor": l.logPath("supervisor"),
				"apiserver":  l.logPath("apiserver"),
				"etcd":       l.logPath("etcd"),
			},
		},
	}
	if s.apiserver != nil && !s.apiserver.exited() {
		st.Pids["apiserver"] = s.apiserver.pid()
	}
	if p.WithControllerManager {
		st.Components = append(st.Components, "kube-controller-manager")
		st.NodeMonitorGracePeriod = nodeMonitorGracePeriod.Seconds()
		st.Paths.Logs["controller-manager"] = l.logPath("controller-manager")
	}
	if p.WithScheduler {
		st.Components = append(st.Components, "kube-scheduler")
		st.Paths.Logs["scheduler"] = l.logPath("scheduler")
	}
	for _, c := range s.others {
		if !c.exited() {
			st.Pids[strings.ReplaceAll(c.name, "-", "_")] = c.pid()
		}
	}
	if state == "stopped" {
		st.Pids = map[string]int{}
	}
	return writeJSON(l.ReadyFile, st)
}

// adminHTTPClient talks to the API server as the admin, verifying its
// certificate against the harness CA.
func adminHTTPClient(l layout) (*http.Client, error) {
	caPEM, err := os.ReadFile(l.CACert)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	pair, err := tls.LoadX509KeyPair(l.AdminCert, l.AdminKey)
	if err != nil {
		return nil, err
	}
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12,
		}},
	}, nil
}

// waitAPIServer waits for /readyz and for the `default` namespace (the API
// server creates it shortly after it first becomes ready).
func waitAPIServer(ctx context.Context, l layout, port int, c *child) error {
	client, err := adminHTTPClient(l)
	if err != nil {
		return err
	}
	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	return poll(ctx, c, func() bool {
		return get(client, base+"/readyz") && get(client, base+"/api/v1/namespaces/default")
	})
}

// waitHealthz waits for a scheduler / controller manager's /healthz (served
// with a self-signed certificate, so not verified).
func waitHealthz(ctx context.Context, port int, c *child) error {
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // loopback health probe
	}
	url := fmt.Sprintf("https://127.0.0.1:%d/healthz", port)
	return poll(ctx, c, func() bool { return get(client, url) })
}

func poll(ctx context.Context, c *child, ok func() bool) error {
	for {
		if ok() {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("process exited (%v)", c.err)
		case <-ctx.Done():
			return errTimedOut
		case <-time.After(250 * time.Millisecond):
		}
	}
}

var errTimedOut = errors.New("timed out")

func get(client *http.Client, url string) bool {
	resp, err := client.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
