package collect

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/clusterpulse/clusterpulse/engine"
)

func TestPodReduction(t *testing.T) {
	var pods corev1.PodList
	readJSON(t, "pods.json", &pods)
	const mi = 1 << 20

	// Reducing page by page gives the same result as reducing the whole list at once.
	pages := map[string][]corev1.PodList{
		"one page":     {pods},
		"single items": {},
	}
	for _, p := range pods.Items {
		pages["single items"] = append(pages["single items"], corev1.PodList{Items: []corev1.Pod{p}})
	}
	want := PodReduction{
		ByNode: map[string]*PodAccumulator{
			"ip-10-0-12-34.ec2.internal": {CPURequestedMilli: 850, MemoryRequested: 640*mi + 1e9, Running: 2, Pending: 1, Failed: 1, Succeeded: 1, Total: 5},
			"cp-0":                       {CPURequestedMilli: 100, MemoryRequested: 100 * mi, Running: 1, Total: 2},
		},
		ByNamespace: map[string]map[string]int{
			"payments":    {"Running": 1, "Pending": 1, "Succeeded": 1},
			"batch":       {"Failed": 1, "Running": 1, "Pending": 1},
			"kube-system": {"Running": 1, "Unknown": 1},
		},
		Total:   8,
		Running: 3,
	}
	for name, ps := range pages {
		t.Run(name, func(t *testing.T) {
			var got PodReduction
			for i := range ps {
				got.AddList(&ps[i])
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("PodReduction mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPodAccumulatorApplyTo(t *testing.T) {
	tests := []struct {
		name string
		acc  PodAccumulator
		node engine.Node
		want engine.Node
	}{
		{
			name: "percentages of allocatable",
			acc:  PodAccumulator{CPURequestedMilli: 1500, MemoryRequested: 1 << 30, Running: 3, Pending: 1, Failed: 2, Succeeded: 4, Total: 10},
			node: engine.Node{CPUAllocatable: 6, MemoryAllocatable: 4 << 30},
			want: engine.Node{
				CPUAllocatable: 6, MemoryAllocatable: 4 << 30,
				CPURequested: 1.5, MemoryRequested: 1 << 30, CPUUsagePercent: 25, MemoryUsagePercent: 25,
				PodsRunning: 3, PodsPending: 1, PodsFailed: 2, PodsSucceeded: 4, PodsTotal: 10,
			},
		},
		{
			name: "nothing allocatable",
			acc:  PodAccumulator{CPURequestedMilli: 100, MemoryRequested: 5, Running: 1, Total: 1},
			want: engine.Node{CPURequested: 0.1, MemoryRequested: 5, PodsRunning: 1, PodsTotal: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.node
			tt.acc.ApplyTo(&got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ApplyTo mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPodAccumulatorAdd(t *testing.T) {
	pod := func(phase corev1.PodPhase, cpu, mem string) *corev1.Pod {
		req := corev1.ResourceList{}
		if cpu != "" {
			req[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			req[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return &corev1.Pod{
			Spec: corev1.PodSpec{
				InitContainers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8")}}}},
				Containers:     []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: req}}},
			},
			Status: corev1.PodStatus{Phase: phase},
		}
	}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want PodAccumulator
	}{
		{name: "running counts requests", pod: pod(corev1.PodRunning, "1.5", "1.5Gi"), want: PodAccumulator{CPURequestedMilli: 1500, MemoryRequested: 1610612736, Running: 1, Total: 1}},
		{name: "pending counts requests", pod: pod(corev1.PodPending, "250m", "129e6"), want: PodAccumulator{CPURequestedMilli: 250, MemoryRequested: 129e6, Pending: 1, Total: 1}},
		{name: "succeeded requests nothing", pod: pod(corev1.PodSucceeded, "1", "1Gi"), want: PodAccumulator{Succeeded: 1, Total: 1}},
		{name: "failed requests nothing", pod: pod(corev1.PodFailed, "1", "1Gi"), want: PodAccumulator{Failed: 1, Total: 1}},
		{name: "unknown phase counted in total", pod: pod(corev1.PodUnknown, "1", "1Gi"), want: PodAccumulator{Total: 1}},
		{name: "no requests", pod: pod(corev1.PodRunning, "", ""), want: PodAccumulator{Running: 1, Total: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got PodAccumulator
			got.Add(tt.pod)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Add mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
