package main

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// requestCounter counts the HTTP requests a client sends, labelled the way the
// API server labels apiserver_request_total (verb, resource, subresource), so
// the harness can subtract its own traffic from the server-side totals and
// attribute the rest to the contender.
type requestCounter struct {
	mu     sync.Mutex
	counts map[string]int64
}

func newRequestCounter() *requestCounter {
	return &requestCounter{counts: map[string]int64{}}
}

func (c *requestCounter) add(key string) {
	c.mu.Lock()
	c.counts[key]++
	c.mu.Unlock()
}

// snapshot returns the counts keyed "VERB resource[/subresource]" plus "total".
func (c *requestCounter) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.counts)+1)
	var total int64
	for k, v := range c.counts {
		out[k] = v
		total += v
	}
	out["total"] = total
	return out
}

type countingTransport struct {
	next    http.RoundTripper
	counter *requestCounter
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.counter.add(classify(req.Method, req.URL))
	return t.next.RoundTrip(req)
}

// classify maps a request to "VERB resource[/subresource]" with the API
// server's verb names (LIST and WATCH for collection GETs, DELETECOLLECTION).
func classify(method string, u *url.URL) string {
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	// /api/v1/... or /apis/GROUP/VERSION/...
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return method + " " + u.Path // non-resource URL such as /metrics
	}
	if len(parts) >= 2 && parts[0] == "namespaces" && len(parts) > 2 {
		parts = parts[2:]
	}
	resource, name, sub := "", "", ""
	if len(parts) > 0 {
		resource = parts[0]
	}
	if len(parts) > 1 {
		name = parts[1]
	}
	if len(parts) > 2 {
		sub = parts[2]
	}
	verb := method
	switch method {
	case http.MethodGet:
		q := u.Query().Get("watch")
		switch {
		case q == "true" || q == "1":
			verb = "WATCH"
		case name == "":
			verb = "LIST"
		}
	case http.MethodDelete:
		if name == "" {
			verb = "DELETECOLLECTION"
		}
	}
	if sub != "" {
		resource += "/" + sub
	}
	return verb + " " + resource
}

// sortedKeys returns the keys of m in order (for stable JSON-like output).
func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// clientOptions: every harness client and the ceiling talk protobuf (the
// cheapest encoding for the API server, which shares the machine) and have no
// client-side rate limiter, so the API server is the only limit.
type clientOptions struct {
	kubeconfig string
	userAgent  string
	protobuf   bool
}

func newClient(o clientOptions, counter *requestCounter) (*kubernetes.Clientset, *rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	cfg.QPS = -1 // negative: no client-side rate limiter at all
	cfg.Burst = 0
	cfg.UserAgent = o.userAgent
	if o.protobuf {
		cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
		cfg.ContentType = "application/vnd.kubernetes.protobuf"
	}
	if counter != nil {
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
			return &countingTransport{next: rt, counter: counter}
		})
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	return cs, cfg, nil
}
