package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const (
	// k8sVersion is what /version reports; the build stamps the same value
	// into k8s.io/component-base/version (see scripts/controlplane).
	k8sVersion    = "v1.37.2"
	serviceCIDR   = "10.0.0.0/24"
	serviceIP     = "10.0.0.1"
	saIssuer      = "https://kubernetes.default.svc.cluster.local"
	compactRevKey = "compact_rev_key" // the key kube-apiserver's own compactor uses
)

// layout names every file of a control-plane DIR. Top-level files are the
// ones clients need; pki/, run/, etcd/ are the harness's own.
type layout struct {
	Dir                                  string
	Kubeconfig, ReadyFile                string
	CACert, CAKey                        string
	AdminCert, AdminKey                  string
	KubeletCert, KubeletKey              string
	KubeletClientCert, KubeletClientKey  string
	APIServerCert, APIServerKey          string
	FrontProxyCert, FrontProxyKey        string
	ServiceAccountKey, ServiceAccountPub string
	EtcdData, Logs, Run, Nodes           string
	PlanFile, PidFile, FailureFile       string
	RestartRequest, APIServerCertDir     string
}

func newLayout(dir string) (layout, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return layout{}, err
	}
	p := func(parts ...string) string { return filepath.Join(append([]string{abs}, parts...)...) }
	return layout{
		Dir:               abs,
		Kubeconfig:        p("kubeconfig"),
		ReadyFile:         p("ready.json"),
		CACert:            p("ca.crt"),
		CAKey:             p("pki", "ca.key"),
		AdminCert:         p("admin.crt"),
		AdminKey:          p("admin.key"),
		KubeletCert:       p("kubelet.crt"),
		KubeletKey:        p("kubelet.key"),
		KubeletClientCert: p("pki", "apiserver-kubelet-client.crt"),
		KubeletClientKey:  p("pki", "apiserver-kubelet-client.key"),
		APIServerCert:     p("pki", "apiserver.crt"),
		APIServerKey:      p("pki", "apiserver.key"),
		FrontProxyCert:    p("pki", "front-proxy-client.crt"),
		FrontProxyKey:     p("pki", "front-proxy-client.key"),
		ServiceAccountKey: p("pki", "service-account.key"),
		ServiceAccountPub: p("pki", "service-account.pub"),
		EtcdData:          p("etcd"),
		Logs:              p("logs"),
		Run:               p("run"),
		Nodes:             p("nodes"),
		PlanFile:          p("run", "plan.json"),
		PidFile:           p("run", "supervisor.pid"),
		FailureFile:       p("run", "failure.txt"),
		RestartRequest:    p("run", "restart-request.json"),
		APIServerCertDir:  p("run", "apiserver-certs"),
	}, nil
}

func (l layout) logPath(component string) string {
	return filepath.Join(l.Logs, component+".log")
}

// ports are all on 127.0.0.1.
type ports struct {
	APIServer         int `json:"apiserver"`
	EtcdClient        int `json:"etcd_client"`
	EtcdPeer          int `json:"etcd_peer"`
	Scheduler         int `json:"scheduler,omitempty"`
	ControllerManager int `json:"controller_manager,omitempty"`
}

// plan is what `up` decides before starting the supervisor; restarts reuse it.
type plan struct {
	Profile               string   `json:"profile"`
	WithScheduler         bool     `json:"with_scheduler"`
	WithControllerManager bool     `json:"with_controller_manager"`
	Ports                 ports    `json:"ports"`
	TimeoutSeconds        int      `json:"timeout_seconds"`
	ExtraAPIServerArgs    []string `json:"extra_apiserver_args,omitempty"`
	// OwnerPid, if set, ties the control plane's life to that process: the
	// supervisor stops everything once it is gone (a killed test run must
	// not leave an API server behind).
	OwnerPid int `json:"owner_pid,omitempty"`
}

type readyPaths struct {
	Dir               string            `json:"dir"`
	Kubeconfig        string            `json:"kubeconfig"`
	CACert            string            `json:"ca_cert"`
	AdminCert         string            `json:"admin_cert"`
	AdminKey          string            `json:"admin_key"`
	KubeletCert       string            `json:"kubelet_cert"`
	KubeletKey        string            `json:"kubelet_key"`
	KubeletClientCert string            `json:"apiserver_kubelet_client_cert"`
	KubeletClientKey  string            `json:"apiserver_kubelet_client_key"`
	ServiceAccountKey string            `json:"service_account_key"`
	ServiceAccountPub string            `json:"service_account_pub"`
	EtcdData          string            `json:"etcd_data"`
	Nodes             string            `json:"nodes"`
	Logs              map[string]string `json:"logs"`
}

// readyState is ready.json: everything a client needs to talk to the
// control plane and everything `down`/`restart` need to manage it.
type readyState struct {
	State                  string         `json:"state"` // starting | ready | restarting | failed | stopped
	Server                 string         `json:"server"`
	EtcdURL                string         `json:"etcd_url"`
	Version                string         `json:"version"`
	Profile                string         `json:"profile"`
	Components             []string       `json:"components"`
	Ports                  ports          `json:"ports"`
	Pids                   map[string]int `json:"pids"`
	Paths                  readyPaths     `json:"paths"`
	ServiceAccountIssuer   string         `json:"service_account_issuer"`
	ServiceClusterIPRange  string         `json:"service_cluster_ip_range"`
	NodeMonitorGracePeriod float64        `json:"node_monitor_grace_period_seconds,omitempty"`
	WatchCache             bool           `json:"watch_cache"`
	Restarts               int            `json:"restarts"`
	LastRestartID          string         `json:"last_restart_id,omitempty"`
	Error                  string         `json:"error,omitempty"`
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// supervisorPid returns the pid of DIR's supervisor if one is alive, else 0.
// A pid is only trusted if that process's command line is a supervisor of
// this very DIR (pids get reused).
func supervisorPid(l layout) int {
	data, err := os.ReadFile(l.PidFile)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0
	}
	if !isOurProcess(pid, "supervise", l.Dir) {
		return 0
	}
	return pid
}

// isOurProcess reports whether pid is alive and its argv contains every one
// of words as an exact argument.
func isOurProcess(pid int, words ...string) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := map[string]bool{}
	for _, a := range strings.Split(string(raw), "\x00") {
		args[a] = true
	}
	for _, w := range words {
		if !args[w] {
			return false
		}
	}
	// A zombie still has a /proc entry but an empty cmdline.
	return len(raw) > 0
}

// isComponentOf reports whether pid is a live vk-controlplane process working
// on dir (the supervisor and API server name dir as an argument; scheduler
// and controller manager name files inside it).
func isComponentOf(pid int, dir string) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(raw) == 0 {
		return false
	}
	args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	if !strings.HasPrefix(filepath.Base(args[0]), "vk-controlplane") {
		return false
	}
	for _, a := range args[1:] {
		if a == dir || strings.Contains(a, dir+string(filepath.Separator)) {
			return true
		}
	}
	return false
}
