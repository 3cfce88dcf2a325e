package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
)

// observer keeps one watch on the run's pods and records, per pod, the first
// moment it was seen Running and the moment it was seen gone. Timestamps are
// taken when the event is decoded, on the same clock as the loader's, so the
// create->Running latency includes the watch delivery like any client would
// see it (the same for every contender).
type observer struct {
	pods     typedcorev1.PodInterface
	selector metav1.ListOptions
	index    map[string]int

	mu       sync.Mutex
	first    []time.Time
	running  []time.Time
	gone     []time.Time
	nRunning int
	nGone    int
	restarts int
	relists  int
}

func newObserver(pods typedcorev1.PodInterface, fieldSelector, labelSelector string, names []string) *observer {
	index := make(map[string]int, len(names))
	for i, n := range names {
		index[n] = i
	}
	return &observer{
		pods:     pods,
		selector: metav1.ListOptions{FieldSelector: fieldSelector, LabelSelector: labelSelector},
		index:    index,
		first:    make([]time.Time, len(names)),
		running:  make([]time.Time, len(names)),
		gone:     make([]time.Time, len(names)),
	}
}

func (o *observer) counts() (running, gone int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.nRunning, o.nGone
}

func (o *observer) seen(pod *corev1.Pod, now time.Time) {
	i, ok := o.index[pod.Name]
	if !ok {
		return
	}
	if o.first[i].IsZero() {
		o.first[i] = now
	}
	if pod.Status.Phase == corev1.PodRunning && o.running[i].IsZero() {
		o.running[i] = now
		o.nRunning++
	}
}

func (o *observer) deleted(name string, now time.Time) {
	i, ok := o.index[name]
	if !ok || !o.gone[i].IsZero() {
		return
	}
	o.gone[i] = now
	o.nGone++
}

// list (re)lists the run's pods and returns the list's resource version. On a
// relist, pods that vanished in between are recorded as gone now.
func (o *observer) list(ctx context.Context, relist bool) (string, error) {
	lst, err := o.pods.List(ctx, o.selector)
	if err != nil {
		return "", err
	}
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	present := make(map[string]bool, len(lst.Items))
	for i := range lst.Items {
		present[lst.Items[i].Name] = true
		o.seen(&lst.Items[i], now)
	}
	if relist {
		o.relists++
		for name := range o.index {
			if !present[name] && !o.first[o.index[name]].IsZero() {
				o.deleted(name, now)
			}
		}
	}
	return lst.ResourceVersion, nil
}

// start lists, opens the watch and returns once the watch is established, so
// that no event of the run can be missed; events are then consumed in the
// background until ctx ends.
func (o *observer) start(ctx context.Context) error {
	rv, err := o.list(ctx, false)
	if err != nil {
		return fmt.Errorf("observer list: %w", err)
	}
	w, err := o.watch(ctx, rv)
	if err != nil {
		return fmt.Errorf("observer watch: %w", err)
	}
	go o.loop(ctx, w, rv)
	return nil
}

func (o *observer) watch(ctx context.Context, rv string) (watch.Interface, error) {
	opts := o.selector
	opts.ResourceVersion = rv
	opts.AllowWatchBookmarks = true
	return o.pods.Watch(ctx, opts)
}

func (o *observer) loop(ctx context.Context, w watch.Interface, rv string) {
	for {
		rv = o.consume(w, rv)
		w.Stop()
		if ctx.Err() != nil {
			return
		}
		for {
			var err error
			if rv == "" {
				rv, err = o.list(ctx, true)
			}
			if err == nil {
				w, err = o.watch(ctx, rv)
			}
			if err == nil {
				break
			}
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				rv = ""
			}
			if ctx.Err() != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		o.mu.Lock()
		o.restarts++
		o.mu.Unlock()
	}
}

// consume handles events until the watch ends; it returns the resource
// version to resume from ("" when a relist is needed).
func (o *observer) consume(w watch.Interface, rv string) string {
	for ev := range w.ResultChan() {
		now := time.Now()
		switch ev.Type {
		case watch.Added, watch.Modified:
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			o.mu.Lock()
			o.seen(pod, now)
			o.mu.Unlock()
			rv = pod.ResourceVersion
		case watch.Deleted:
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			o.mu.Lock()
			o.deleted(pod.Name, now)
			o.mu.Unlock()
			rv = pod.ResourceVersion
		case watch.Bookmark:
			if pod, ok := ev.Object.(*corev1.Pod); ok {
				rv = pod.ResourceVersion
			}
		case watch.Error:
			if st, ok := ev.Object.(*metav1.Status); ok && (st.Code == http.StatusGone || st.Reason == metav1.StatusReasonExpired) {
				return ""
			}
		}
	}
	return rv
}
