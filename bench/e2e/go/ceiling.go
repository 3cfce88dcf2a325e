package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// The ceiling contender: the least work a node agent can do per pod, done as
// fast as the API server allows. One field-selected informer on the node's
// pods feeds a de-duplicating work queue (no token bucket on enqueue, only
// per-item backoff on failure); workers
//
//   - merge-patch pods/status of a new pod to Running in one request (phase,
//     conditions, container statuses, IPs, start time), skipping pods that
//     already are Running; and
//   - answer a deletion request (deletionTimestamp set) with the final DELETE
//     a kubelet sends once the containers are gone: grace period 0, with the
//     pod's UID as precondition.
//
// The fair-equivalence argument: a real kubelet also writes a terminal status
// (containers terminated) before that DELETE. Nothing runs here, and nothing
// reads the status of an object about to disappear, so the ceiling skips it;
// kwok's deletion stage does the same. That makes it a lower bound on API work
// per pod (1 write to start, 1 to finish). It registers its Node once, Ready,
// and keeps no lease or heartbeat: it is a bound, not a node agent.
func cmdCeiling(args []string) error {
	fs := flag.NewFlagSet("ceiling", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig")
	node := fs.String("node", "", "node name")
	workers := fs.Int("workers", 16, "concurrent workers")
	out := fs.String("out", "", "on exit, write request counts (JSON) here")
	_ = fs.Parse(args)
	if *node == "" {
		return fmt.Errorf("-node is required")
	}
	counter := newRequestCounter()
	cs, _, err := newClient(clientOptions{kubeconfig: *kubeconfig, userAgent: "vk-trio-e2ebench/ceiling", protobuf: true}, counter)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	c := newCeiling(cs, *node)
	err = c.run(ctx, *workers)
	if *out != "" {
		data, _ := json.Marshal(map[string]any{"requests": counter.snapshot(), "patched": c.patched.Load(), "deleted": c.deleted.Load()})
		if werr := os.WriteFile(*out, data, 0o644); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

type ceiling struct {
	cs       kubernetes.Interface
	node     string
	informer cache.SharedIndexInformer
	queue    workqueue.TypedRateLimitingInterface[string]
	ipNext   atomic.Uint32
	// UIDs whose final DELETE succeeded: the API server sends one more
	// MODIFIED (grace period now 0) before DELETED, and a second DELETE for
	// it would be wasted work.
	finished sync.Map
	patched  atomic.Int64
	deleted  atomic.Int64
}

func newCeiling(cs kubernetes.Interface, node string) *ceiling {
	lw := cache.NewFilteredListWatchFromClient(cs.CoreV1().RESTClient(), "pods", metav1.NamespaceAll,
		func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", node).String()
		})
	inf := cache.NewSharedIndexInformer(lw, &corev1.Pod{}, 0, cache.Indexers{})
	q := workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 10*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "ceiling"},
	)
	return &ceiling{cs: cs, node: node, informer: inf, queue: q}
}

func (c *ceiling) enqueue(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

func (c *ceiling) run(ctx context.Context, workers int) error {
	_, err := c.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				c.finished.Delete(pod.UID)
			}
		},
	})
	if err != nil {
		return err
	}
	go c.informer.Run(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), c.informer.HasSynced) {
		return ctx.Err()
	}
	if err := c.register(ctx); err != nil {
		return fmt.Errorf("register node: %w", err)
	}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c.work(ctx) {
			}
		}()
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
	return nil
}

func (c *ceiling) work(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	if err := c.sync(ctx, key); err != nil && ctx.Err() == nil {
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

func (c *ceiling) sync(ctx context.Context, key string) error {
	obj, exists, err := c.informer.GetStore().GetByKey(key)
	if err != nil || !exists {
		return err
	}
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		if _, done := c.finished.Load(pod.UID); done {
			return nil
		}
		zero := int64(0)
		uid := pod.UID
		err := c.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero,
			Preconditions:      &metav1.Preconditions{UID: &uid},
		})
		if err == nil {
			c.deleted.Add(1)
			c.finished.Store(uid, struct{}{})
		}
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil // already gone, or a new pod of the same name
		}
		return err
	}
	if pod.Status.Phase == corev1.PodRunning || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil
	}
	_, err = c.cs.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, c.runningPatch(pod), metav1.PatchOptions{}, "status")
	if err == nil {
		c.patched.Add(1)
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// runningPatch is the one merge patch that takes a pod from Pending to
// Running and Ready, with what a kubelet reports for a started pod.
func (c *ceiling) runningPatch(pod *corev1.Pod) []byte {
	now := metav1.Now().UTC().Format(time.RFC3339)
	ip := c.ipNext.Add(1)
	podIP := fmt.Sprintf("10.%d.%d.%d", 128+(ip>>16)&63, (ip>>8)&255, ip&255)
	cond := func(t corev1.PodConditionType) map[string]any {
		return map[string]any{"type": t, "status": "True", "lastTransitionTime": now}
	}
	statuses := make([]map[string]any, 0, len(pod.Spec.Containers))
	for _, ctr := range pod.Spec.Containers {
		statuses = append(statuses, map[string]any{
			"name": ctr.Name, "image": ctr.Image, "imageID": "", "ready": true, "started": true,
			"restartCount": 0, "containerID": "ceiling://" + string(pod.UID) + "/" + ctr.Name,
			"state": map[string]any{"running": map[string]any{"startedAt": now}},
		})
	}
	body, _ := json.Marshal(map[string]any{"status": map[string]any{
		"phase": corev1.PodRunning,
		"conditions": []map[string]any{
			cond(corev1.PodReadyToStartContainers), cond(corev1.PodInitialized),
			cond(corev1.PodReady), cond(corev1.ContainersReady), cond(corev1.PodScheduled),
		},
		"hostIP": "127.0.0.1", "hostIPs": []map[string]string{{"ip": "127.0.0.1"}},
		"podIP": podIP, "podIPs": []map[string]string{{"ip": podIP}},
		"startTime": now, "containerStatuses": statuses,
	}})
	return body
}

// register creates the node object, Ready, once.
func (c *ceiling) register(ctx context.Context) error {
	now := metav1.Now()
	qty := func(s string) resource.Quantity { return resource.MustParse(s) }
	capacity := corev1.ResourceList{"cpu": qty("1000"), "memory": qty("4Ti"), "pods": qty("100000")}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: c.node, Labels: map[string]string{"type": "virtual-kubelet", "kubernetes.io/role": "agent"}},
		Status: corev1.NodeStatus{
			Capacity: capacity, Allocatable: capacity, Phase: corev1.NodeRunning,
			Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "CeilingReady",
				LastHeartbeatTime: now, LastTransitionTime: now,
			}},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
			NodeInfo:  corev1.NodeSystemInfo{KubeletVersion: "v1.37.2-ceiling", OperatingSystem: "linux", Architecture: "amd64"},
		},
	}
	_, err := c.cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
