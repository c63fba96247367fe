package collect

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/clusterpulse/clusterpulse/engine"
)

// PodAccumulator is the reduction of the pods bound to one node: the requests of the
// containers (not init containers) of its Running and Pending pods, as the original computes
// them, and its pod counts by phase. CPU is summed in millicores and memory in bytes, so the
// sum is exact whatever the order of the pods.
type PodAccumulator struct {
	CPURequestedMilli int64
	MemoryRequested   int64
	Running           int
	Pending           int
	Failed            int
	Succeeded         int
	Total             int
}

// Add counts p and, when p is Running or Pending, adds its containers' requests.
func (a *PodAccumulator) Add(p *corev1.Pod) {
	a.Total++
	switch p.Status.Phase {
	case corev1.PodRunning:
		a.Running++
	case corev1.PodPending:
		a.Pending++
	case corev1.PodFailed:
		a.Failed++
	case corev1.PodSucceeded:
		a.Succeeded++
	}
	if p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodPending {
		return
	}
	for i := range p.Spec.Containers {
		req := p.Spec.Containers[i].Resources.Requests
		if q, ok := req[corev1.ResourceCPU]; ok {
			a.CPURequestedMilli += q.MilliValue()
		}
		if q, ok := req[corev1.ResourceMemory]; ok {
			a.MemoryRequested += q.Value()
		}
	}
}

// ApplyTo writes the requests, the request-based usage percentages (requested ÷ allocatable ×
// 100, 0 when nothing is allocatable) and the pod counts into n; n's allocatable values must
// already be set.
func (a PodAccumulator) ApplyTo(n *engine.Node) {
	n.CPURequested = float64(a.CPURequestedMilli) / 1000
	n.MemoryRequested = a.MemoryRequested
	n.CPUUsagePercent = percent(n.CPURequested, n.CPUAllocatable)
	n.MemoryUsagePercent = percent(float64(n.MemoryRequested), float64(n.MemoryAllocatable))
	n.PodsRunning = a.Running
	n.PodsPending = a.Pending
	n.PodsFailed = a.Failed
	n.PodsSucceeded = a.Succeeded
	n.PodsTotal = a.Total
}

func percent(part, whole float64) float64 {
	if whole <= 0 {
		return 0
	}
	return part / whole * 100
}

// PodReduction accumulates pods page by page: per node (PodAccumulator), per namespace (pod
// counts by phase) and cluster-wide. It holds no pod, so a LIST can be dropped page after page.
// The zero value is ready to use.
type PodReduction struct {
	// ByNode holds the accumulator of every node that has at least one pod.
	ByNode map[string]*PodAccumulator
	// ByNamespace holds pod counts by phase per namespace.
	ByNamespace map[string]map[string]int
	// Total and Running count every pod of the cluster, scheduled or not.
	Total   int
	Running int
}

// Add reduces one pod.
func (r *PodReduction) Add(p *corev1.Pod) {
	if r.ByNode == nil {
		r.ByNode = map[string]*PodAccumulator{}
		r.ByNamespace = map[string]map[string]int{}
	}
	r.Total++
	if p.Status.Phase == corev1.PodRunning {
		r.Running++
	}
	phase := string(p.Status.Phase)
	if phase == "" {
		phase = string(corev1.PodUnknown)
	}
	byPhase := r.ByNamespace[p.Namespace]
	if byPhase == nil {
		byPhase = map[string]int{}
		r.ByNamespace[p.Namespace] = byPhase
	}
	byPhase[phase]++
	if p.Spec.NodeName == "" {
		return
	}
	acc := r.ByNode[p.Spec.NodeName]
	if acc == nil {
		acc = &PodAccumulator{}
		r.ByNode[p.Spec.NodeName] = acc
	}
	acc.Add(p)
}

// AddList reduces every pod of one LIST page.
func (r *PodReduction) AddList(l *corev1.PodList) {
	for i := range l.Items {
		r.Add(&l.Items[i])
	}
}

// Node returns the accumulator of the named node (zero when it has no pods).
func (r *PodReduction) Node(name string) PodAccumulator {
	if acc := r.ByNode[name]; acc != nil {
		return *acc
	}
	return PodAccumulator{}
}
