package main

import (
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Controller-manager tuning for tests: a node whose heartbeat (Lease renewal
// or status update) is older than the grace period is marked NotReady
// (Ready=Unknown). Upstream's default is 50s; 20s keeps tests quick while
// leaving a 2x margin over the 10s renew interval of a 40s node Lease.
const frontProxyClientName = "front-proxy-client"

// apiserverShutdownGrace is how long a stopping API server may drain
// in-flight requests before the process exits.
const (
	apiserverShutdownGrace = 2 * time.Second
	etcdCloseTimeout       = time.Second
)

const (
	nodeMonitorGracePeriod = 20 * time.Second
	nodeMonitorPeriod      = 2 * time.Second
)

// Controllers run by --with-controller-manager. Deliberately absent: the
// taint-eviction and pod-garbage-collector controllers (they would delete
// pods of API-only tests that bind pods to nodes without a kubelet) and the
// workload controllers (Deployments etc.), which tests do not need.
var kcmControllers = []string{
	"node-lifecycle-controller",
	"garbage-collector-controller",
	"namespace-controller",
	"serviceaccount-controller",
	"serviceaccount-token-controller",
	"root-ca-certificate-publisher-controller",
}

// watchCacheEnabled: the default profile serves watches straight from etcd so
// that fault injection is deterministic (a watch resumes after `restart` from
// any uncompacted resource version, and `compact` makes every older one 410).
// The bench profile keeps the watch cache, as production clusters do.
func watchCacheEnabled(p plan) bool { return p.Profile == "bench" }

func apiserverArgs(l layout, p plan) []string {
	args := []string{
		"--etcd-servers=" + fmt.Sprintf("http://127.0.0.1:%d", p.Ports.EtcdClient),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", p.Ports.APIServer),
		"--cert-dir=" + l.APIServerCertDir,
		"--tls-cert-file=" + l.APIServerCert,
		"--tls-private-key-file=" + l.APIServerKey,
		"--client-ca-file=" + l.CACert,
		"--service-account-issuer=" + saIssuer,
		"--service-account-key-file=" + l.ServiceAccountPub,
		"--service-account-signing-key-file=" + l.ServiceAccountKey,
		"--service-cluster-ip-range=" + serviceCIDR,
		// Node authorizer + NodeRestriction: a kubelet identity
		// (system:node:NAME in system:nodes) may only touch its own node.
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--allow-privileged=true",
		// No real endpoints for default/kubernetes (nothing can route to it).
		"--endpoint-reconciler-type=none",
		// Reach (virtual) kubelets at the node's InternalIP and daemon port,
		// verifying their serving certificate against the harness CA and
		// presenting a client certificate in system:masters.
		"--kubelet-preferred-address-types=InternalIP",
		"--kubelet-certificate-authority=" + l.CACert,
		"--kubelet-client-certificate=" + l.KubeletClientCert,
		"--kubelet-client-key=" + l.KubeletClientKey,
		// Request-header (front proxy) authentication, as kubeadm sets it up:
		// the aggregator needs it, and the scheduler / controller manager
		// read its CA from kube-system/extension-apiserver-authentication.
		"--requestheader-client-ca-file=" + l.CACert,
		"--requestheader-allowed-names=" + frontProxyClientName,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-uid-headers=X-Remote-Uid",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + l.FrontProxyCert,
		"--proxy-client-key-file=" + l.FrontProxyKey,
		"--profiling=false",
		"--v=1",
	}
	if !p.WithControllerManager {
		// Both need a controller manager: ServiceAccount admission rejects
		// pods until the serviceaccount controller created `default`, and
		// TaintNodesByCondition's not-ready taint is only ever lifted by the
		// node-lifecycle controller.
		args = append(args, "--disable-admission-plugins=ServiceAccount,TaintNodesByCondition")
	}
	if watchCacheEnabled(p) {
		args = append(args, "--watch-cache=true")
	} else {
		// Without the watch cache every watch is served by etcd; automatic
		// compaction is off so resource versions only expire on `compact`.
		args = append(args, "--watch-cache=false", "--etcd-compaction-interval=0")
	}
	if p.Profile == "bench" {
		args = append(args,
			"--max-requests-inflight=0",
			"--max-mutating-requests-inflight=0",
			"--enable-priority-and-fairness=false",
		)
	}
	return append(args, p.ExtraAPIServerArgs...)
}

func componentCommonArgs(l layout, port int) []string {
	return []string{
		"--kubeconfig=" + l.Kubeconfig,
		"--authentication-kubeconfig=" + l.Kubeconfig,
		"--authorization-kubeconfig=" + l.Kubeconfig,
		"--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir=" + l.Run,
		"--v=1",
	}
}

func schedulerArgs(l layout, p plan) []string {
	args := componentCommonArgs(l, p.Ports.Scheduler)
	if p.Profile == "bench" {
		args = append(args, "--kube-api-qps=1000", "--kube-api-burst=2000")
	}
	return args
}

func controllerManagerArgs(l layout, p plan) []string {
	args := append(componentCommonArgs(l, p.Ports.ControllerManager),
		"--controllers="+strings.Join(kcmControllers, ","),
		"--root-ca-file="+l.CACert,
		"--service-account-private-key-file="+l.ServiceAccountKey,
		"--node-monitor-grace-period="+nodeMonitorGracePeriod.String(),
		"--node-monitor-period="+nodeMonitorPeriod.String(),
	)
	if p.Profile == "bench" {
		args = append(args, "--kube-api-qps=1000", "--kube-api-burst=2000")
	}
	return args
}

// cmdServeAPIServer runs embedded etcd and kube-apiserver in this process
// until SIGTERM (handled by the API server's own signal context), then closes
// etcd.
func cmdServeAPIServer(args []string) int {
	if len(args) != 1 {
		return fail("usage: vk-controlplane serve-apiserver DIR")
	}
	l, err := newLayout(args[0])
	if err != nil {
		return fail("%v", err)
	}
	var p plan
	if err := readJSON(l.PlanFile, &p); err != nil {
		return fail("%v", err)
	}
	etcd, err := startEtcd(l, p)
	if err != nil {
		return fail("etcd: %v", err)
	}
	// Closing etcd waits for its gRPC streams, which the API server may still
	// hold open; it is bounded, because etcd recovers from its WAL anyway
	// (everything written is in the kernel's page cache).
	var closeOnce sync.Once
	closeEtcd := func() {
		closeOnce.Do(func() {
			done := make(chan struct{})
			go func() { etcd.Close(); close(done) }()
			select {
			case <-done:
			case <-time.After(etcdCloseTimeout):
				fmt.Fprintln(os.Stderr, "vk-controlplane: etcd did not close in time; exiting anyway")
			}
		})
	}
	defer closeEtcd()
	// kube-apiserver's graceful shutdown waits up to its request timeout (60s)
	// for HTTP/1.1 watches, which never end by themselves. For a harness that
	// is dead time: give in-flight requests a short grace, then close etcd and
	// exit; open watches see their connection drop, as after a crash.
	stopping := make(chan os.Signal, 1)
	signal.Notify(stopping, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stopping
		time.Sleep(apiserverShutdownGrace)
		fmt.Fprintln(os.Stderr, "vk-controlplane: shutdown grace over; closing etcd and exiting")
		closeEtcd()
		os.Exit(0)
	}()
	go func() {
		if err, ok := <-etcd.Err(); ok && err != nil {
			fmt.Fprintf(os.Stderr, "vk-controlplane: etcd failed: %v\n", err)
			os.Exit(1)
		}
	}()
	os.Args = append([]string{"kube-apiserver"}, apiserverArgs(l, p)...)
	return runAPIServer()
}

func startEtcd(l layout, p plan) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Name = "vk-trio"
	cfg.Dir = l.EtcdData
	clientURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", p.Ports.EtcdClient)}
	peerURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", p.Ports.EtcdPeer)}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{clientURL}, []url.URL{clientURL}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peerURL}, []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// Test and benchmark data only: durability across power loss is not
	// needed, and fsync dominates write latency on small machines.
	cfg.UnsafeNoFsync = true
	cfg.QuotaBackendBytes = 4 << 30
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{l.logPath("etcd")}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("not ready within 60s; see %s", l.logPath("etcd"))
	}
}
