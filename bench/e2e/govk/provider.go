package main

// A provider that pretends: a pod it is handed is Running at once, and a pod it is told to
// delete is reported terminated (exit 0) at once. It stands in for the Go virtual-kubelet's mock
// provider, which lives in an internal package of that module and cannot be imported; what the
// benchmark compares is the node library around the provider, so the provider does the least
// that still gives the library the notifications a real one would.

import (
	"context"
	"errors"
	"io"
	"sync"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

var errNoKubeletAPI = errors.New("go-vk-tuned serves no kubelet API")

// instantProvider keeps the pods it was given, keyed by namespace/name.
type instantProvider struct {
	podIP  string
	mu     sync.Mutex
	pods   map[string]*corev1.Pod
	notify func(*corev1.Pod)
}

func newInstantProvider(podIP string) *instantProvider {
	return &instantProvider{podIP: podIP, pods: map[string]*corev1.Pod{}, notify: func(*corev1.Pod) {}}
}

func podKey(namespace, name string) string { return namespace + "/" + name }

// NotifyPods makes the provider asynchronous: the library then never polls it.
func (p *instantProvider) NotifyPods(_ context.Context, notify func(*corev1.Pod)) {
	p.mu.Lock()
	p.notify = notify
	p.mu.Unlock()
}

func condition(kind corev1.PodConditionType, status corev1.ConditionStatus, at metav1.Time) corev1.PodCondition {
	return corev1.PodCondition{Type: kind, Status: status, LastTransitionTime: at}
}

// running fills in the status a kubelet would write once every container has started.
func (p *instantProvider) running(pod *corev1.Pod) {
	now := metav1.Now()
	pod.Status.Phase = corev1.PodRunning
	pod.Status.HostIP = p.podIP
	pod.Status.PodIP = p.podIP
	pod.Status.StartTime = &now
	pod.Status.Conditions = []corev1.PodCondition{
		condition(corev1.PodScheduled, corev1.ConditionTrue, now),
		condition(corev1.PodInitialized, corev1.ConditionTrue, now),
		condition(corev1.ContainersReady, corev1.ConditionTrue, now),
		condition(corev1.PodReady, corev1.ConditionTrue, now),
	}
	pod.Status.ContainerStatuses = pod.Status.ContainerStatuses[:0]
	for _, c := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name:    c.Name,
			Image:   c.Image,
			Ready:   true,
			Started: new(true),
			State:   corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
}

// terminated turns a running status into the one a kubelet reports once the containers exited.
func terminated(pod *corev1.Pod) {
	now := metav1.Now()
	pod.Status.Phase = corev1.PodSucceeded
	pod.Status.Reason = "ProviderPodDeleted"
	for i := range pod.Status.Conditions {
		switch pod.Status.Conditions[i].Type {
		case corev1.PodReady, corev1.ContainersReady:
			pod.Status.Conditions[i].Status = corev1.ConditionFalse
			pod.Status.Conditions[i].LastTransitionTime = now
		}
	}
	for i := range pod.Status.ContainerStatuses {
		cs := &pod.Status.ContainerStatuses[i]
		started := now
		if cs.State.Running != nil {
			started = cs.State.Running.StartedAt
		}
		cs.Ready = false
		cs.Started = new(false)
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 0, Reason: "Completed", StartedAt: started, FinishedAt: now,
		}}
	}
}

func (p *instantProvider) store(pod *corev1.Pod) {
	p.mu.Lock()
	p.pods[podKey(pod.Namespace, pod.Name)] = pod
	notify := p.notify
	p.mu.Unlock()
	notify(pod.DeepCopy())
}

func (p *instantProvider) CreatePod(_ context.Context, pod *corev1.Pod) error {
	mine := pod.DeepCopy()
	p.running(mine)
	p.store(mine)
	return nil
}

func (p *instantProvider) UpdatePod(_ context.Context, pod *corev1.Pod) error {
	mine := pod.DeepCopy()
	p.mu.Lock()
	old, ok := p.pods[podKey(pod.Namespace, pod.Name)]
	p.mu.Unlock()
	if ok {
		mine.Status = *old.Status.DeepCopy()
	} else {
		p.running(mine)
	}
	p.store(mine)
	return nil
}

func (p *instantProvider) DeletePod(_ context.Context, pod *corev1.Pod) error {
	key := podKey(pod.Namespace, pod.Name)
	p.mu.Lock()
	old, ok := p.pods[key]
	delete(p.pods, key)
	notify := p.notify
	p.mu.Unlock()
	if !ok {
		return errdefs.NotFoundf("pod %s is not in the provider", key)
	}
	gone := old.DeepCopy()
	terminated(gone)
	notify(gone)
	return nil
}

func (p *instantProvider) GetPod(_ context.Context, namespace, name string) (*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pod, ok := p.pods[podKey(namespace, name)]
	if !ok {
		return nil, errdefs.NotFoundf("pod %s is not in the provider", podKey(namespace, name))
	}
	return pod.DeepCopy(), nil
}

func (p *instantProvider) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

func (p *instantProvider) GetPods(context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(p.pods))
	for _, pod := range p.pods {
		out = append(out, pod.DeepCopy())
	}
	return out, nil
}

// The kubelet API is not part of the benchmark; these satisfy nodeutil.Provider.

func (p *instantProvider) GetContainerLogs(context.Context, string, string, string, api.ContainerLogOpts) (io.ReadCloser, error) {
	return nil, errNoKubeletAPI
}

func (p *instantProvider) RunInContainer(context.Context, string, string, string, []string, api.AttachIO) error {
	return errNoKubeletAPI
}

func (p *instantProvider) AttachToContainer(context.Context, string, string, string, api.AttachIO) error {
	return errNoKubeletAPI
}

func (p *instantProvider) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	return nil, errNoKubeletAPI
}

func (p *instantProvider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, errNoKubeletAPI
}

func (p *instantProvider) PortForward(context.Context, string, string, int32, io.ReadWriteCloser) error {
	return errNoKubeletAPI
}
