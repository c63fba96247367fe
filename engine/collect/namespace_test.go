package collect

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterpulse/clusterpulse/engine"
)

func TestNamespaceCounts(t *testing.T) {
	var pods corev1.PodList
	readJSON(t, "pods.json", &pods)
	var red PodReduction
	red.AddList(&pods)
	meta := func(ns string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: "x"} }

	deployments := map[string]int{}
	total := CountDeployments(deployments, &appsv1.DeploymentList{Items: []appsv1.Deployment{{ObjectMeta: meta("payments")}, {ObjectMeta: meta("payments")}, {ObjectMeta: meta("kube-system")}}})
	if total != 3 {
		t.Errorf("CountDeployments = %d, want 3", total)
	}
	services := map[string]int{}
	CountServices(services, &corev1.ServiceList{Items: []corev1.Service{{ObjectMeta: meta("payments")}, {ObjectMeta: meta("default")}}})
	statefulSets := map[string]int{}
	CountStatefulSets(statefulSets, &appsv1.StatefulSetList{Items: []appsv1.StatefulSet{{ObjectMeta: meta("payments")}}})
	daemonSets := map[string]int{}
	CountDaemonSets(daemonSets, &appsv1.DaemonSetList{Items: []appsv1.DaemonSet{{ObjectMeta: meta("kube-system")}, {ObjectMeta: meta("kube-system")}}})

	names := NamespaceNames(nil, &corev1.NamespaceList{Items: []corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "payments"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "empty"}},
	}})
	// "batch" holds pods but is missing from the namespace LIST (created in between): it is
	// still counted.
	got := NamespaceCounts(names, NamespaceTally{Pods: red.ByNamespace, Deployments: deployments, Services: services, StatefulSets: statefulSets, DaemonSets: daemonSets})
	want := []engine.NamespaceCounts{
		{Name: "batch", Pods: 3, PodsByPhase: map[string]int{"Failed": 1, "Running": 1, "Pending": 1}},
		{Name: "default", PodsByPhase: map[string]int{}, Services: 1},
		{Name: "empty", PodsByPhase: map[string]int{}},
		{Name: "kube-system", Pods: 2, PodsByPhase: map[string]int{"Running": 1, "Unknown": 1}, Deployments: 1, DaemonSets: 2},
		{Name: "payments", Pods: 3, PodsByPhase: map[string]int{"Running": 1, "Pending": 1, "Succeeded": 1}, Deployments: 2, Services: 1, StatefulSets: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NamespaceCounts mismatch (-want +got):\n%s", diff)
	}
}

func TestClusterMetricsFrom(t *testing.T) {
	now := time.Date(2026, 2, 13, 10, 4, 5, 0, time.UTC)
	ready := []engine.NodeCondition{{Type: "MemoryPressure", Status: "False"}, {Type: "Ready", Status: "True"}}
	tests := []struct {
		name  string
		nodes []engine.Node
		pods  PodReduction
		want  engine.ClusterMetrics
	}{
		{
			name: "empty cluster",
			want: engine.ClusterMetrics{Timestamp: engine.NewTime(now), Namespaces: 4, Deployments: 7},
		},
		{
			name: "cordoned but ready node counts as ready",
			nodes: []engine.Node{
				{Name: "a", Status: engine.NodeReady, Conditions: ready, CPUCapacity: 8, MemoryCapacity: 32 << 30},
				{Name: "b", Status: engine.NodeSchedulingDisabled, Conditions: ready, CPUCapacity: 4.5, MemoryCapacity: 16 << 30},
				{Name: "c", Status: engine.NodeNotReady, Conditions: []engine.NodeCondition{{Type: "Ready", Status: "False"}}, CPUCapacity: 2, MemoryCapacity: 1 << 30},
				{Name: "d", Status: engine.NodeUnknown},
			},
			pods: PodReduction{Total: 30, Running: 25},
			want: engine.ClusterMetrics{Timestamp: engine.NewTime(now), Nodes: 4, NodesReady: 2, Namespaces: 4, Pods: 30, PodsRunning: 25, CPUCapacity: 14.5, MemoryCapacity: 49 << 30, Deployments: 7},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ClusterMetricsFrom(tt.nodes, 4, &tt.pods, 7, now)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ClusterMetricsFrom mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
