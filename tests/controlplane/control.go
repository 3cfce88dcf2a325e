package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func cmdDown(args []string) int {
	dir, rest, err := parseDirArg("down", args)
	if err != nil {
		return fail("%v", err)
	}
	fs := flag.NewFlagSet("down", flag.ContinueOnError)
	timeout := fs.Int("timeout", 90, "seconds to wait for a graceful stop before killing")
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	l, err := newLayout(dir)
	if err != nil {
		return fail("%v", err)
	}
	pid := supervisorPid(l)
	if pid == 0 {
		// Nothing to stop; still make sure no component of this DIR
		// survived an abrupt supervisor death.
		killLeftovers(l)
		return 0
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(time.Duration(*timeout) * time.Second)
	for isOurProcess(pid, "supervise", l.Dir) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if isOurProcess(pid, "supervise", l.Dir) {
		// The supervisor is a session and process-group leader; its
		// children are in its group.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		fmt.Fprintf(os.Stderr, "vk-controlplane: supervisor did not stop within %ds; killed\n", *timeout)
	}
	killLeftovers(l)
	return 0
}

// killLeftovers kills and waits for any component process still recorded in
// ready.json for this DIR (only if its command line proves it is ours).
func killLeftovers(l layout) {
	var st readyState
	if err := readJSON(l.ReadyFile, &st); err != nil {
		return
	}
	for _, pid := range st.Pids {
		if pid > 0 && isComponentOf(pid, l.Dir) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range st.Pids {
		for pid > 0 && isComponentOf(pid, l.Dir) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if st.State != "stopped" {
		st.State, st.Pids = "stopped", map[string]int{}
		_ = writeJSON(l.ReadyFile, st)
	}
}

func cmdRestart(args []string) int {
	dir, rest, err := parseDirArg("restart", args)
	if err != nil {
		return fail("%v", err)
	}
	fs := flag.NewFlagSet("restart", flag.ContinueOnError)
	downFor := fs.Float64("down-for", 0, "seconds to keep the API server and etcd down")
	timeout := fs.Int("timeout", 180, "seconds to wait for readiness after the restart")
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if *downFor < 0 {
		return fail("restart: --down-for must not be negative")
	}
	l, err := newLayout(dir)
	if err != nil {
		return fail("%v", err)
	}
	pid := supervisorPid(l)
	if pid == 0 {
		return fail("%s is not running", l.Dir)
	}
	idBytes := make([]byte, 8)
	_, _ = rand.Read(idBytes)
	req := restartRequest{ID: hex.EncodeToString(idBytes), DownForSeconds: *downFor}
	if err := writeJSON(l.RestartRequest, req); err != nil {
		return fail("%v", err)
	}
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		return fail("cannot signal supervisor %d: %v", pid, err)
	}
	deadline := time.Now().Add(time.Duration(*downFor*float64(time.Second)) + time.Duration(*timeout+60)*time.Second)
	for time.Now().Before(deadline) {
		var st readyState
		if err := readJSON(l.ReadyFile, &st); err == nil {
			switch {
			case st.State == "ready" && st.LastRestartID == req.ID:
				return 0
			case st.State == "failed":
				return fail("restart failed: %s\n%s", st.Error, tail(l.logPath("apiserver"), 15))
			}
		}
		if supervisorPid(l) == 0 {
			return fail("control plane stopped during restart; see %s\n%s", l.logPath("supervisor"),
				tail(l.logPath("supervisor"), 15))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fail("control plane not ready again within %ds after restart; see %s\n%s", *timeout,
		l.logPath("apiserver"), tail(l.logPath("apiserver"), 15))
}

// cmdCompact compacts etcd at its current revision, the way kube-apiserver's
// own compactor does (it also records the revision under compact_rev_key,
// which the API server watches), so that every older resource version is
// gone: watches and exact-version reads from before it answer 410 Gone.
func cmdCompact(args []string) int {
	if len(args) != 1 {
		return fail("usage: vk-controlplane compact DIR")
	}
	l, err := newLayout(args[0])
	if err != nil {
		return fail("%v", err)
	}
	var st readyState
	if err := readJSON(l.ReadyFile, &st); err != nil || st.State != "ready" || supervisorPid(l) == 0 {
		return fail("%s is not running", l.Dir)
	}
	rev, err := compactEtcd(st.EtcdURL)
	if err != nil {
		return fail("compact: %v", err)
	}
	fmt.Println(rev)
	return 0
}

func compactEtcd(endpoint string) (int64, error) {
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return 0, err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 10 {
		cur, err := client.Get(ctx, compactRevKey)
		if err != nil {
			return 0, err
		}
		var version int64
		if len(cur.Kvs) > 0 {
			version = cur.Kvs[0].Version
		}
		// The put is itself a new revision; compacting at it leaves only the
		// latest state of every key. The CAS keeps kube-apiserver's compactor
		// protocol intact if it runs concurrently.
		resp, err := client.Txn(ctx).
			If(clientv3.Compare(clientv3.Version(compactRevKey), "=", version)).
			Then(clientv3.OpPut(compactRevKey, strconv.FormatInt(cur.Header.Revision+1, 10))).
			Commit()
		if err != nil {
			return 0, err
		}
		if !resp.Succeeded {
			continue
		}
		rev := resp.Header.Revision
		if _, err := client.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
			return 0, err
		}
		return rev, nil
	}
	return 0, errors.New("compact_rev_key kept changing; giving up")
}

var nodeNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)

// cmdNodeCredentials issues a client certificate for the kubelet identity
// system:node:NODE (group system:nodes) and a kubeconfig using it.
func cmdNodeCredentials(args []string) int {
	if len(args) != 2 {
		return fail("usage: vk-controlplane node-credentials DIR NODE")
	}
	l, err := newLayout(args[0])
	if err != nil {
		return fail("%v", err)
	}
	node := args[1]
	if !nodeNameRE.MatchString(node) {
		return fail("node-credentials: %q is not a valid node name", node)
	}
	if _, err := os.Stat(l.CAKey); err != nil {
		return fail("%s has no control plane PKI (run `up` first)", l.Dir)
	}
	var st readyState
	if err := readJSON(l.ReadyFile, &st); err != nil {
		return fail("%s has no ready.json (run `up` first)", l.Dir)
	}
	ca, err := loadOrCreateAuthority(l.CACert, l.CAKey)
	if err != nil {
		return fail("%v", err)
	}
	dir := filepath.Join(l.Nodes, node)
	certPath, keyPath := filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	spec := leafSpec{commonName: "system:node:" + node, orgs: []string{"system:nodes"},
		usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if err := ca.issue(spec, certPath, keyPath); err != nil {
		return fail("%v", err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(kubeconfig, st.Server, l.CACert, certPath, keyPath, "system:node:"+node); err != nil {
		return fail("%v", err)
	}
	fmt.Println(kubeconfig)
	return 0
}

func cmdStatus(args []string) int {
	if len(args) != 1 {
		return fail("usage: vk-controlplane status DIR")
	}
	l, err := newLayout(args[0])
	if err != nil {
		return fail("%v", err)
	}
	data, err := os.ReadFile(l.ReadyFile)
	if err != nil {
		return fail("%s has no ready.json", l.Dir)
	}
	os.Stdout.Write(data)
	if supervisorPid(l) == 0 {
		return fail("%s is not running", l.Dir)
	}
	return 0
}
