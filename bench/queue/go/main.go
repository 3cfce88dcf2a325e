// Command queuebench measures client-go's workqueue on the scenarios that bench/queue runs
// against vk_trio.queue, and prints the results as JSON on stdout.
//
// Every scenario uses a fresh unnamed rate-limiting queue with the default controller rate
// limiter (what a controller uses; unnamed means no metrics, as on the Python side).  A
// "cycle" is one item added, handed out by Get and marked Done.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/util/workqueue"
)

type queue = workqueue.TypedRateLimitingInterface[int]

func newQueue() queue {
	return workqueue.NewTypedRateLimitingQueue[int](workqueue.DefaultTypedControllerRateLimiter[int]())
}

// singleTask: one goroutine does Add, Get, Done in a row.
func singleTask(n int) time.Duration {
	q := newQueue()
	defer q.ShutDown()
	start := time.Now()
	for i := 0; i < n; i++ {
		q.Add(i)
		item, _ := q.Get()
		q.Done(item)
	}
	return time.Since(start)
}

// eightWorkers: 8 goroutines block in Get; one producer adds n distinct items.
func eightWorkers(n int) time.Duration {
	const workers = 8
	q := newQueue()
	var processed atomic.Int64
	finished := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				item, shutdown := q.Get()
				if shutdown {
					return
				}
				q.Done(item)
				if processed.Add(1) == int64(n) {
					close(finished)
				}
			}
		}()
	}
	time.Sleep(10 * time.Millisecond) // let every worker block in Get
	start := time.Now()
	for i := 0; i < n; i++ {
		q.Add(i)
	}
	<-finished
	elapsed := time.Since(start)
	q.ShutDown()
	wg.Wait()
	return elapsed
}

// halfDuplicates: every item is added twice before it is handed out; the second add collapses.
func halfDuplicates(n int) time.Duration {
	q := newQueue()
	defer q.ShutDown()
	start := time.Now()
	for i := 0; i < n; i++ {
		q.Add(i)
		q.Add(i)
		item, _ := q.Get()
		q.Done(item)
	}
	return time.Since(start)
}

// pendingAddAfter: the single-task cycle while `pending` items wait (an hour) in AddAfter.
func pendingAddAfter(n, pending int) time.Duration {
	q := newQueue()
	defer q.ShutDown()
	for i := 0; i < pending; i++ {
		q.AddAfter(-1-i, time.Hour)
	}
	time.Sleep(50 * time.Millisecond) // let the waiting loop take them all into its heap
	start := time.Now()
	for i := 0; i < n; i++ {
		q.Add(i)
		item, _ := q.Get()
		q.Done(item)
	}
	return time.Since(start)
}

type result struct {
	Cycles       int     `json:"cycles"`
	BestSeconds  float64 `json:"best_seconds"`
	CyclesPerSec float64 `json:"cycles_per_sec"`
}

func best(reps, n int, run func(int) time.Duration) result {
	bestD := time.Duration(1<<63 - 1)
	for r := 0; r < reps; r++ {
		if d := run(n); d < bestD {
			bestD = d
		}
	}
	return result{Cycles: n, BestSeconds: bestD.Seconds(), CyclesPerSec: float64(n) / bestD.Seconds()}
}

func main() {
	n := flag.Int("n", 200000, "cycles per single-task scenario")
	nWorkers := flag.Int("n-workers", 100000, "cycles for the 8-worker scenario")
	pending := flag.Int("pending", 10000, "items pending in AddAfter for scenario d")
	reps := flag.Int("reps", 3, "repetitions; the best is reported")
	flag.Parse()

	out := map[string]any{
		"go_version": runtime.Version(),
		"gomaxprocs": runtime.GOMAXPROCS(0),
		"scenarios": map[string]result{
			"a_single_task":       best(*reps, *n, singleTask),
			"b_eight_workers":     best(*reps, *nWorkers, eightWorkers),
			"c_half_duplicates":   best(*reps, *n, halfDuplicates),
			"d_pending_add_after": best(*reps, *n, func(n int) time.Duration { return pendingAddAfter(n, *pending) }),
		},
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
