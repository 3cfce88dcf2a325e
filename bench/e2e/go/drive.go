package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
)

// runLabel scopes the observer's watch to one run's pods.
const runLabel = "bench.vk-trio.dev/run"

type driveResult struct {
	Node  string  `json:"node"`
	N     int     `json:"n"`
	Rate  float64 `json:"rate"`
	T0    float64 `json:"t0_unix"` // first create sent
	CapS  float64 `json:"cap_s"`
	State string  `json:"state"` // running-capped | running-done (not deleted) | delete-capped | done

	// Per pod, seconds since T0; -1 where it never happened.
	CreateSent []float64 `json:"create_sent"`
	CreateDone []float64 `json:"create_done"`
	FirstSeen  []float64 `json:"first_seen"`
	Running    []float64 `json:"running"`
	DeleteSent []float64 `json:"delete_sent"`
	Gone       []float64 `json:"gone"`

	CreateErrors    int     `json:"create_errors"`
	DeleteErrors    int     `json:"delete_errors"`
	FirstError      string  `json:"first_error,omitempty"`
	HoldStartUnix   float64 `json:"hold_start_unix,omitempty"`
	HoldEndUnix     float64 `json:"hold_end_unix,omitempty"`
	RunningEndUnix  float64 `json:"running_end_unix"`
	DeleteStartUnix float64 `json:"delete_start_unix,omitempty"`
	EndUnix         float64 `json:"end_unix"`

	WatchRestarts int              `json:"watch_restarts"`
	Relists       int              `json:"relists"`
	Requests      map[string]int64 `json:"requests"`
}

func cmdDrive(args []string) error {
	fs := flag.NewFlagSet("drive", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "admin kubeconfig")
	namespace := fs.String("namespace", "default", "namespace of the pods")
	node := fs.String("node", "", "node the pods are bound to (spec.nodeName)")
	run := fs.String("run", "", "run id (pod label, and pod name prefix with the node name)")
	n := fs.Int("n", 1000, "number of pods")
	rate := fs.Float64("rate", 0, "pods created per second (0: as fast as the API server accepts them)")
	workers := fs.Int("workers", 64, "concurrent create/delete requests")
	capD := fs.Duration("cap", 10*time.Minute, "give up (and report what happened so far) this long after the first create")
	deletePods := fs.Bool("delete", true, "delete the pods (default grace period) once all are Running and wait until they are gone")
	hold := fs.Duration("hold", 0, "once all pods are Running, wait this long before deleting (steady-state measurement)")
	out := fs.String("out", "", "write the JSON result here instead of stdout")
	_ = fs.Parse(args)
	if *node == "" || *run == "" || *n <= 0 {
		return fmt.Errorf("-node, -run and -n > 0 are required")
	}
	counter := newRequestCounter()
	cs, _, err := newClient(clientOptions{kubeconfig: *kubeconfig, userAgent: "vk-trio-e2ebench/drive", protobuf: true}, counter)
	if err != nil {
		return err
	}
	pods := cs.CoreV1().Pods(*namespace)
	names := make([]string, *n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", *node, i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	obs := newObserver(pods, "spec.nodeName="+*node, runLabel+"="+*run, names)
	if err := obs.start(ctx); err != nil {
		return err
	}

	res := &driveResult{Node: *node, N: *n, Rate: *rate, CapS: capD.Seconds()}
	ld := &loader{pods: pods, namespace: *namespace, node: *node, run: *run, names: names, workers: *workers}
	t0 := time.Now()
	deadline := t0.Add(*capD)
	loadCtx, stopLoad := context.WithDeadline(ctx, deadline)
	defer stopLoad()
	loadDone := make(chan struct{})
	go func() {
		ld.create(loadCtx, t0, *rate)
		close(loadDone)
	}()
	allRunning := waitFor(deadline, func() bool { r, _ := obs.counts(); return r == *n })
	res.RunningEndUnix = unix(time.Now())
	stopLoad()
	<-loadDone
	res.State = "running-done"
	if !allRunning {
		res.State = "running-capped"
	} else if *hold > 0 {
		res.HoldStartUnix = unix(time.Now())
		time.Sleep(*hold)
		res.HoldEndUnix = unix(time.Now())
	}
	if allRunning && *deletePods {
		res.DeleteStartUnix = unix(time.Now())
		delDeadline := deadline
		if *hold > 0 {
			delDeadline = time.Now().Add(*capD) // the hold is not the contender's time
		}
		delCtx, stopDel := context.WithDeadline(ctx, delDeadline)
		delDone := make(chan struct{})
		go func() {
			ld.delete(delCtx)
			close(delDone)
		}()
		allGone := waitFor(delDeadline, func() bool { _, g := obs.counts(); return g == *n })
		stopDel()
		<-delDone
		if allGone {
			res.State = "done"
		} else {
			res.State = "delete-capped"
		}
	}
	res.EndUnix = unix(time.Now())
	cancel()

	obs.mu.Lock()
	res.T0 = unix(t0)
	res.CreateSent = offsets(ld.createSent, t0)
	res.CreateDone = offsets(ld.createDone, t0)
	res.FirstSeen = offsets(obs.first, t0)
	res.Running = offsets(obs.running, t0)
	res.DeleteSent = offsets(ld.deleteSent, t0)
	res.Gone = offsets(obs.gone, t0)
	res.WatchRestarts = obs.restarts
	res.Relists = obs.relists
	obs.mu.Unlock()
	res.CreateErrors, res.DeleteErrors, res.FirstError = ld.errorCounts()
	res.Requests = counter.snapshot()

	if *out == "" {
		return emit(res)
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer f.Close()
	old := os.Stdout
	os.Stdout = f
	defer func() { os.Stdout = old }()
	return emit(res)
}

// waitFor polls cond until it holds or the deadline passes. Polling only
// decides when to move on; every figure comes from the timestamps the
// observer took on the events themselves.
func waitFor(deadline time.Time, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return cond()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func offsets(ts []time.Time, t0 time.Time) []float64 {
	out := make([]float64, len(ts))
	for i, t := range ts {
		if t.IsZero() {
			out[i] = -1
		} else {
			out[i] = float64(t.Sub(t0).Microseconds()) / 1e6
		}
	}
	return out
}

// loader creates and deletes the run's pods from a pool of workers.
type loader struct {
	pods      typedcorev1.PodInterface
	namespace string
	node      string
	run       string
	names     []string
	workers   int

	mu         sync.Mutex
	createSent []time.Time
	createDone []time.Time
	deleteSent []time.Time
	createErrs int
	deleteErrs int
	firstErr   string
}

func (l *loader) pod(i int) *corev1.Pod {
	grace := int64(30) // the default, spelled out
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      l.names[i],
			Namespace: l.namespace,
			Labels:    map[string]string{runLabel: l.run, "app": "e2ebench"},
		},
		Spec: corev1.PodSpec{
			NodeName:                      l.node,
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name:  "app",
				Image: "bench.invalid/app:1",
			}},
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		},
	}
}

func (l *loader) fail(create bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if create {
		l.createErrs++
	} else {
		l.deleteErrs++
	}
	if l.firstErr == "" {
		l.firstErr = err.Error()
	}
}

func (l *loader) errorCounts() (int, int, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.createErrs, l.deleteErrs, l.firstErr
}

// create sends the creates: all at once from the worker pool (rate 0), or on
// a fixed arrival schedule (pod i at t0 + i/rate). Pods are built before t0
// so the loop only sends.
func (l *loader) create(ctx context.Context, t0 time.Time, rate float64) {
	n := len(l.names)
	l.createSent = make([]time.Time, n)
	l.createDone = make([]time.Time, n)
	objs := make([]*corev1.Pod, n)
	for i := range objs {
		objs[i] = l.pod(i)
	}
	work := make(chan int, n)
	workers := l.workers
	if rate > 0 && workers < 256 {
		workers = 256 // arrivals must never wait for a free worker
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				l.createOne(ctx, i, objs[i])
			}
		}()
	}
	if rate <= 0 {
		for i := 0; i < n; i++ {
			work <- i
		}
	} else {
		for i := 0; i < n && ctx.Err() == nil; i++ {
			at := t0.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if d := time.Until(at); d > 0 {
				time.Sleep(d)
			}
			work <- i
		}
	}
	close(work)
	wg.Wait()
}

func (l *loader) createOne(ctx context.Context, i int, pod *corev1.Pod) {
	for attempt := 0; attempt < 5 && ctx.Err() == nil; attempt++ {
		sent := time.Now()
		_, err := l.pods.Create(ctx, pod, metav1.CreateOptions{})
		if err == nil || (attempt > 0 && apierrors.IsAlreadyExists(err)) {
			done := time.Now()
			l.mu.Lock()
			if l.createSent[i].IsZero() {
				l.createSent[i] = sent
			}
			l.createDone[i] = done
			l.mu.Unlock()
			return
		}
		if ctx.Err() != nil {
			return
		}
		l.fail(true, err)
		l.mu.Lock()
		if l.createSent[i].IsZero() {
			l.createSent[i] = sent
		}
		l.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
}

// delete asks for every pod's deletion with the default grace period, the way
// a user or a controller would; the contender has to finish each deletion.
func (l *loader) delete(ctx context.Context) {
	n := len(l.names)
	l.deleteSent = make([]time.Time, n)
	work := make(chan int, n)
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	var wg sync.WaitGroup
	for w := 0; w < l.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				l.deleteOne(ctx, i)
			}
		}()
	}
	wg.Wait()
}

func (l *loader) deleteOne(ctx context.Context, i int) {
	for attempt := 0; attempt < 5 && ctx.Err() == nil; attempt++ {
		sent := time.Now()
		err := l.pods.Delete(ctx, l.names[i], metav1.DeleteOptions{})
		l.mu.Lock()
		if l.deleteSent[i].IsZero() {
			l.deleteSent[i] = sent
		}
		l.mu.Unlock()
		if err == nil || apierrors.IsNotFound(err) {
			return
		}
		if ctx.Err() != nil {
			return
		}
		l.fail(false, err)
		time.Sleep(100 * time.Millisecond)
	}
}
