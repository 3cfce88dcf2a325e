// Command patchbench merge-patches pods/status through client-go as fast as it can.
//
// It is the Go side of vk-trio's client benchmark: the Python client and this
// program send the same requests (a JSON merge patch that changes
// status.message of one of N existing pods, round robin) with the same
// concurrency against the same API server, one after the other in one run.
// client-go's defaults are kept except the client-side rate limiter, which is
// turned off (QPS < 0) on both sides so that the API server is the limit.
// Note that client-go's typed clients ask for protobuf responses by default,
// which are cheaper for the API server to encode than the JSON a Python client
// reads; -json makes this program ask for JSON too, for a like-for-like run.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

type result struct {
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"per_second"`
	Concurrency int     `json:"concurrency"`
	FirstError  string  `json:"first_error,omitempty"`
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file")
	namespace := flag.String("namespace", "default", "namespace of the pods")
	prefix := flag.String("prefix", "bench-", "pod name prefix; pods are <prefix>0 .. <prefix>N-1")
	pods := flag.Int("pods", 100, "number of pods")
	concurrency := flag.Int("concurrency", 16, "concurrent workers")
	duration := flag.Duration("duration", 10*time.Second, "measured duration")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured warm-up")
	jsonOnly := flag.Bool("json", false, "ask for JSON responses (client-go asks for protobuf by default)")
	flag.Parse()

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "patchbench:", err)
		os.Exit(2)
	}
	cfg.QPS = -1 // no client-side rate limiting
	if *jsonOnly {
		// Typed clients of built-in kinds prefer protobuf unless accept types are set.
		cfg.AcceptContentTypes = "application/json"
		cfg.ContentType = "application/json"
	}
	cfg.UserAgent = "vk-trio-bench/client-go"
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "patchbench:", err)
		os.Exit(2)
	}
	podClient := clientset.CoreV1().Pods(*namespace)

	var counter, done, failed atomic.Int64
	var firstErr atomic.Value
	var measuring atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := counter.Add(1)
				name := fmt.Sprintf("%s%d", *prefix, n%int64(*pods))
				body, _ := json.Marshal(map[string]any{
					"status": map[string]any{"message": fmt.Sprintf("go-%d", n)},
				})
				_, err := podClient.Patch(ctx, name, types.MergePatchType, body, metav1.PatchOptions{}, "status")
				if !measuring.Load() {
					continue
				}
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				done.Add(1)
			}
		}()
	}
	time.Sleep(*warmup)
	measuring.Store(true)
	start := time.Now()
	time.Sleep(*duration)
	measuring.Store(false)
	elapsed := time.Since(start).Seconds()
	requests := done.Load()
	cancel()
	wg.Wait()

	out := result{
		Requests:    requests,
		Errors:      failed.Load(),
		Seconds:     elapsed,
		PerSecond:   float64(requests) / elapsed,
		Concurrency: *concurrency,
	}
	if v, ok := firstErr.Load().(string); ok {
		out.FirstError = v
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(1)
	}
}
