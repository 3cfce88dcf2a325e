// Command go-vk-tuned runs one virtual node on the Go virtual-kubelet library (v1.14.1, its
// public packages node and node/nodeutil) with a provider that makes pods Running at once, and
// with the library's throughput limits lifted to vk-trio-tuned's settings, so that the
// end-to-end benchmark (bench/e2e) can compare implementation against implementation and not
// only default against default:
//
//   - the API client at -qps/-burst (client-go's own default is 5 QPS / burst 10);
//   - -workers goroutines on each of the library's three pod queues (nodeutil's default is one
//     per CPU, the stock command's 10);
//   - the pod queues without the token bucket (10 qps / burst 100) that client-go's default
//     controller rate limiter puts on every enqueue, the first included; only the per-item
//     retry backoff of that limiter (5 ms doubling to 1000 s) is kept;
//   - Kubernetes Events on a client of their own at -event-qps/-event-burst, as vk-trio and the
//     kubelet do, so events never hold back status writes.
//
// Everything else - informers, status writes, deletion handling, node status and lease - is the
// library's own, at its defaults.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path"
	"syscall"
	"time"

	vklog "github.com/virtual-kubelet/virtual-kubelet/log"
	vkslog "github.com/virtual-kubelet/virtual-kubelet/log/slog"
	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

type options struct {
	kubeconfig, nodeName, providerConfig, podIP string
	qps, eventQPS                               float64
	burst, eventBurst, workers                  int
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file")
	flag.StringVar(&o.nodeName, "nodename", "", "name of the virtual node (required)")
	flag.StringVar(&o.providerConfig, "provider-config", "", `capacity file, {"NODE": {"cpu": ..., "memory": ..., "pods": ...}}`)
	flag.StringVar(&o.podIP, "pod-ip", os.Getenv("VKUBELET_POD_IP"), "IP reported for every pod")
	flag.Float64Var(&o.qps, "qps", 5000, "API client QPS")
	flag.IntVar(&o.burst, "burst", 10000, "API client burst")
	flag.IntVar(&o.workers, "workers", 32, "workers on each of the three pod queues")
	flag.Float64Var(&o.eventQPS, "event-qps", 50, "event client QPS")
	flag.IntVar(&o.eventBurst, "event-burst", 100, "event client burst")
	flag.Parse()
	if o.nodeName == "" || o.kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "go-vk-tuned: -nodename and -kubeconfig are required")
		os.Exit(2)
	}
	if o.workers < 1 || o.qps <= 0 || o.burst < 1 || o.eventQPS <= 0 || o.eventBurst < 1 {
		fmt.Fprintln(os.Stderr, "go-vk-tuned: -workers, -qps, -burst, -event-qps and -event-burst must be positive")
		os.Exit(2)
	}
	if o.podIP == "" {
		o.podIP = "127.0.0.1"
	}
	return o
}

func clientset(kubeconfig string, qps float64, burst int) (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = float32(qps)
	cfg.Burst = burst
	return kubernetes.NewForConfig(cfg)
}

// capacity reads the node's capacity from the file the mock providers use; a sizeable default
// without one.
func capacity(file, nodeName string) (corev1.ResourceList, error) {
	want := map[string]string{"cpu": "1000", "memory": "4Ti", "pods": "100000"}
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		var all map[string]map[string]string
		if err := json.Unmarshal(raw, &all); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if mine, ok := all[nodeName]; ok {
			want = mine
		}
	}
	out := corev1.ResourceList{}
	for name, value := range want {
		q, err := resource.ParseQuantity(value)
		if err != nil {
			return nil, fmt.Errorf("capacity %s=%q: %w", name, value, err)
		}
		out[corev1.ResourceName(name)] = q
	}
	return out, nil
}

func run(ctx context.Context, o options) error {
	client, err := clientset(o.kubeconfig, o.qps, o.burst)
	if err != nil {
		return fmt.Errorf("API client: %w", err)
	}
	eventClient, err := clientset(o.kubeconfig, o.eventQPS, o.eventBurst)
	if err != nil {
		return fmt.Errorf("event client: %w", err)
	}
	resources, err := capacity(o.providerConfig, o.nodeName)
	if err != nil {
		return err
	}
	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&corev1client.EventSinkImpl{Interface: eventClient.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: path.Join(o.nodeName, "pod-controller")})

	retryOnly := func() workqueue.TypedRateLimiter[any] {
		return workqueue.NewTypedItemExponentialFailureRateLimiter[any](5*time.Millisecond, 1000*time.Second)
	}
	provider := newInstantProvider(o.podIP)
	vn, err := nodeutil.NewNode(o.nodeName,
		func(cfg nodeutil.ProviderConfig) (nodeutil.Provider, node.NodeProvider, error) {
			cfg.Node.Status.Capacity = resources
			cfg.Node.Status.Allocatable = resources
			cfg.Node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: o.podIP}}
			cfg.Node.Status.NodeInfo.OperatingSystem = "linux"
			cfg.Node.Status.NodeInfo.Architecture = "amd64"
			cfg.Node.Status.NodeInfo.KubeletVersion = "go-vk-tuned (virtual-kubelet v1.14.1)"
			return provider, nil, nil
		},
		nodeutil.WithClient(client),
		func(cfg *nodeutil.NodeConfig) error {
			cfg.NumWorkers = o.workers
			cfg.EventRecorder = recorder
			return nil
		},
		nodeutil.WithPodControllerConfigOverrides(func(pc *node.PodControllerConfig) error {
			pc.SyncPodsFromKubernetesRateLimiter = retryOnly()
			pc.DeletePodsFromKubernetesRateLimiter = retryOnly()
			pc.SyncPodStatusFromProviderRateLimiter = retryOnly()
			return nil
		}),
	)
	if err != nil {
		return err
	}
	go vn.Run(ctx) //nolint:errcheck // the error is read from vn.Err below
	if err := vn.WaitReady(ctx, 2*time.Minute); err != nil {
		return fmt.Errorf("node not ready: %w", err)
	}
	slog.Info("ready", "node", o.nodeName, "qps", o.qps, "burst", o.burst, "workers", o.workers,
		"event_qps", o.eventQPS, "event_burst", o.eventBurst)
	<-vn.Done()
	if ctx.Err() != nil {
		return nil
	}
	return vn.Err()
}

func main() {
	o := parseFlags()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(logger)
	vklog.L = vkslog.FromSlog(logger)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "go-vk-tuned:", err)
		os.Exit(1)
	}
}
