package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
)

func adminClient(fs *flag.FlagSet, args []string) (*kubernetes.Clientset, *requestCounter, error) {
	kubeconfig := fs.String("kubeconfig", "", "admin kubeconfig")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	counter := newRequestCounter()
	cs, _, err := newClient(clientOptions{kubeconfig: *kubeconfig, userAgent: "vk-trio-e2ebench/admin", protobuf: true}, counter)
	return cs, counter, err
}

func cmdNamespace(args []string) error {
	fs := flag.NewFlagSet("namespace", flag.ExitOnError)
	name := fs.String("name", "", "namespace")
	cs, counter, err := adminClient(fs, args)
	if err != nil {
		return err
	}
	ctx := context.Background()
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: *name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return emit(map[string]any{"namespace": *name, "requests": counter.snapshot()})
}

// cmdCreateNode creates a bare Node (no status) for contenders that manage a
// node someone else registered (kwok).
func cmdCreateNode(args []string) error {
	fs := flag.NewFlagSet("create-node", flag.ExitOnError)
	name := fs.String("name", "", "node name")
	annotation := fs.String("annotation", "", "KEY=VALUE annotation to put on the node")
	cs, counter, err := adminClient(fs, args)
	if err != nil {
		return err
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:        *name,
		Labels:      map[string]string{"type": "kwok", "kubernetes.io/hostname": *name},
		Annotations: map[string]string{},
	}}
	if k, v, ok := strings.Cut(*annotation, "="); ok {
		n.Annotations[k] = v
	}
	_, err = cs.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	return emit(map[string]any{"node": *name, "requests": counter.snapshot()})
}

func cmdWaitNode(args []string) error {
	fs := flag.NewFlagSet("wait-node", flag.ExitOnError)
	name := fs.String("name", "", "node name")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after")
	cs, counter, err := adminClient(fs, args)
	if err != nil {
		return err
	}
	start := time.Now()
	deadline := start.Add(*timeout)
	for {
		n, err := cs.CoreV1().Nodes().Get(context.Background(), *name, metav1.GetOptions{})
		if err == nil {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return emit(map[string]any{"node": *name, "seconds": time.Since(start).Seconds(), "requests": counter.snapshot()})
				}
			}
		} else if !apierrors.IsNotFound(err) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s not Ready within %s", *name, *timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cmdCleanup removes every trace of one contender's node: its pods (grace
// period 0, no kubelet needed), the Node and its Lease.
func cmdCleanup(args []string) error {
	fs := flag.NewFlagSet("cleanup", flag.ExitOnError)
	namespace := fs.String("namespace", "default", "namespace of the pods")
	node := fs.String("node", "", "node name")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after")
	cs, counter, err := adminClient(fs, args)
	if err != nil {
		return err
	}
	ctx := context.Background()
	zero := int64(0)
	sel := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", *node).String()}
	pods := cs.CoreV1().Pods(*namespace)
	deadline := time.Now().Add(*timeout)
	removed := 0
	for {
		lst, err := pods.List(ctx, sel)
		if err != nil {
			return err
		}
		if len(lst.Items) == 0 {
			break
		}
		if removed == 0 {
			removed = len(lst.Items)
		}
		if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, sel); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d pods of node %s still there after %s", len(lst.Items), *node, *timeout)
		}
	}
	if err := cs.CoreV1().Nodes().Delete(ctx, *node, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	err = cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(ctx, *node, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return emit(map[string]any{"node": *node, "pods_removed": removed, "requests": counter.snapshot()})
}

// cmdMetrics sums apiserver_request_total by verb and resource[/subresource]
// (over code, scope, group, version, component, dry_run), keyed like the
// request counters of the harness's own clients.
func cmdMetrics(args []string) error {
	fs := flag.NewFlagSet("metrics", flag.ExitOnError)
	cs, _, err := adminClient(fs, args)
	if err != nil {
		return err
	}
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		return err
	}
	counts, err := parseRequestTotals(raw)
	if err != nil {
		return err
	}
	var total int64
	for _, v := range counts {
		total += v
	}
	counts["total"] = total
	return emit(map[string]any{"unix": unix(time.Now()), "requests": counts})
}

func parseRequestTotals(raw []byte) (map[string]int64, error) {
	const prefix = "apiserver_request_total{"
	counts := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		end := strings.LastIndex(line, "}")
		if end < 0 {
			continue
		}
		labels := parseLabels(line[len(prefix):end])
		value, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		if err != nil {
			return nil, fmt.Errorf("bad sample %q: %w", line, err)
		}
		key := labels["resource"]
		if labels["subresource"] != "" {
			key += "/" + labels["subresource"]
		}
		counts[labels["verb"]+" "+key] += int64(value)
	}
	return counts, sc.Err()
}

// parseLabels reads `a="x",b="y"` (label values in these metrics never
// contain quotes or commas).
func parseLabels(s string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if ok {
			out[k] = strings.Trim(v, `"`)
		}
	}
	return out
}
