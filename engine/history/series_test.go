package history

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clusterpulse/clusterpulse/engine"
)

var testAt = time.Date(2026, 2, 13, 10, 4, 5, 0, time.UTC)

// s builds an expected sample at testAt.
func s(name string, v float64, labels ...string) Sample {
	var l []Label
	for i := 0; i+1 < len(labels); i += 2 {
		l = append(l, Label{labels[i], labels[i+1]})
	}
	return Sample{Name: name, Labels: l, Value: v, Time: testAt}
}

func TestClusterSeries(t *testing.T) {
	tests := []struct {
		name string
		m    engine.ClusterMetrics
		want []Sample
	}{
		{
			name: "all fields",
			m: engine.ClusterMetrics{Nodes: 3, NodesReady: 2, Namespaces: 7, Pods: 40, PodsRunning: 38,
				CPUCapacity: 12.5, MemoryCapacity: 48 << 30, Deployments: 9},
			want: []Sample{
				s(ClusterNodesTotal, 3, "cluster", "prod"),
				s(ClusterNodesReady, 2, "cluster", "prod"),
				s(ClusterPodsTotal, 40, "cluster", "prod"),
				s(ClusterPodsRunning, 38, "cluster", "prod"),
				s(ClusterCPUCapacity, 12.5, "cluster", "prod"),
				s(ClusterMemoryCapacityBytes, 48<<30, "cluster", "prod"),
				s(ClusterNamespacesTotal, 7, "cluster", "prod"),
				s(ClusterDeploymentsTotal, 9, "cluster", "prod"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ClusterSeries("prod", tt.m, testAt)); diff != "" {
				t.Errorf("ClusterSeries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeSeries(t *testing.T) {
	n1 := engine.Node{Name: "n1", CPUUsagePercent: 35.5, MemoryUsagePercent: 50, PodsTotal: 10, PodsRunning: 7,
		CPUCapacity: 4, MemoryCapacity: 8 << 30, StorageCapacity: 100 << 30, PodsCapacity: 110,
		CPUAllocatable: 3.5, MemoryAllocatable: 7 << 30, StorageAllocatable: 90 << 30, PodsAllocatable: 100,
		CPURequested: 1.25, MemoryRequested: 2 << 30, PodsPending: 1, PodsFailed: 1, PodsSucceeded: 1}
	base := func(node string, n engine.Node) []Sample {
		return []Sample{
			s(NodeCPUUsagePercent, n.CPUUsagePercent, "cluster", "c", "node", node),
			s(NodeMemoryUsagePercent, n.MemoryUsagePercent, "cluster", "c", "node", node),
			s(NodePodsTotal, float64(n.PodsTotal), "cluster", "c", "node", node),
			s(NodePodsRunning, float64(n.PodsRunning), "cluster", "c", "node", node),
			s(NodeCPUCapacity, n.CPUCapacity, "cluster", "c", "node", node),
			s(NodeMemoryCapacityBytes, float64(n.MemoryCapacity), "cluster", "c", "node", node),
			s(NodeStorageCapacityBytes, float64(n.StorageCapacity), "cluster", "c", "node", node),
			s(NodePodsCapacity, float64(n.PodsCapacity), "cluster", "c", "node", node),
			s(NodeCPUAllocatable, n.CPUAllocatable, "cluster", "c", "node", node),
			s(NodeMemoryAllocatableBytes, float64(n.MemoryAllocatable), "cluster", "c", "node", node),
			s(NodeStorageAllocatableBytes, float64(n.StorageAllocatable), "cluster", "c", "node", node),
			s(NodePodsAllocatable, float64(n.PodsAllocatable), "cluster", "c", "node", node),
			s(NodeCPURequested, n.CPURequested, "cluster", "c", "node", node),
			s(NodeMemoryRequestedBytes, float64(n.MemoryRequested), "cluster", "c", "node", node),
			s(NodePodsPending, float64(n.PodsPending), "cluster", "c", "node", node),
			s(NodePodsFailed, float64(n.PodsFailed), "cluster", "c", "node", node),
			s(NodePodsSucceeded, float64(n.PodsSucceeded), "cluster", "c", "node", node),
		}
	}
	n2 := n1
	n2.Name = "n2"
	n2.CPUUsed = new(0.75)
	n2.MemoryUsed = new(int64(3 << 30))
	n3 := engine.Node{Name: "n3", MemoryUsed: new(int64(0))}
	tests := []struct {
		name  string
		nodes []engine.Node
		want  []Sample
	}{
		{"no nodes", nil, []Sample{}},
		{"17 series without real usage", []engine.Node{n1}, base("n1", n1)},
		{
			name:  "real usage when present",
			nodes: []engine.Node{n1, n2},
			want: append(append(base("n1", n1), base("n2", n2)...),
				s(NodeCPUUsedCores, 0.75, "cluster", "c", "node", "n2"),
				s(NodeMemoryUsedBytes, 3<<30, "cluster", "c", "node", "n2")),
		},
		{
			name:  "measured zero usage is written, unmeasured is not",
			nodes: []engine.Node{n3},
			want:  append(base("n3", n3), s(NodeMemoryUsedBytes, 0, "cluster", "c", "node", "n3")),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, NodeSeries("c", tt.nodes, testAt)); diff != "" {
				t.Errorf("NodeSeries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOperatorSeries(t *testing.T) {
	tests := []struct {
		name string
		ops  []engine.Operator
		want []Sample
	}{
		{"none installed", nil, []Sample{s(ClusterOperatorsTotal, 0, "cluster", "c")}},
		{
			name: "two operators",
			ops:  []engine.Operator{{Name: "etcd.v0.9.4", Status: "Succeeded"}, {Name: "cert-manager.v1.14.0", Status: "Failed"}},
			want: []Sample{
				s(OperatorInstalled, 1, "cluster", "c", "operator", "etcd.v0.9.4"),
				s(OperatorInstalled, 1, "cluster", "c", "operator", "cert-manager.v1.14.0"),
				s(ClusterOperatorsTotal, 2, "cluster", "c"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, OperatorSeries("c", tt.ops, testAt)); diff != "" {
				t.Errorf("OperatorSeries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClusterOperatorSeries(t *testing.T) {
	tests := []struct {
		name string
		cos  []engine.ClusterOperator
		want []Sample
	}{
		{"none", nil, []Sample{s(ClusterOperatorsCount, 0, "cluster", "c")}},
		{
			name: "conditions as 0 or 1",
			cos: []engine.ClusterOperator{
				{Name: "dns", Available: true, Upgradeable: true},
				{Name: "ingress", Progressing: true, Degraded: true},
			},
			want: []Sample{
				s(ClusterOperatorAvailable, 1, "cluster", "c", "operator", "dns"),
				s(ClusterOperatorProgressing, 0, "cluster", "c", "operator", "dns"),
				s(ClusterOperatorDegraded, 0, "cluster", "c", "operator", "dns"),
				s(ClusterOperatorUpgradeable, 1, "cluster", "c", "operator", "dns"),
				s(ClusterOperatorAvailable, 0, "cluster", "c", "operator", "ingress"),
				s(ClusterOperatorProgressing, 1, "cluster", "c", "operator", "ingress"),
				s(ClusterOperatorDegraded, 1, "cluster", "c", "operator", "ingress"),
				s(ClusterOperatorUpgradeable, 0, "cluster", "c", "operator", "ingress"),
				s(ClusterOperatorsCount, 2, "cluster", "c"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ClusterOperatorSeries("c", tt.cos, testAt)); diff != "" {
				t.Errorf("ClusterOperatorSeries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCustomMetricName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"total", "clusterpulse_custom_resource_total"},
		{"p95-latency.ms", "clusterpulse_custom_resource_p95_latency_ms"},
		{"95th", "clusterpulse_custom_resource_95th"},
		{"", "clusterpulse_custom_resource_"},
		{"a b{c}", "clusterpulse_custom_resource_a_b_c_"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := CustomMetricName(tt.in); got != tt.want {
				t.Errorf("CustomMetricName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCustomSeries(t *testing.T) {
	const src = "monitoring/pvc-usage"
	tests := []struct {
		name   string
		values map[string]any
		want   []Sample
	}{
		{"no values", nil, nil},
		{
			name: "scalars in name order, null and strings skipped",
			values: map[string]any{
				"total": 3.0, "avg-size": 1.5, "missing": nil, "oldest": "2026-01-01", "n_int": int64(7), "n_go_int": 4,
				"from_json": json.Number("2.25"),
			},
			want: []Sample{
				s("clusterpulse_custom_resource_avg_size", 1.5, "cluster", "c", "source", src),
				s("clusterpulse_custom_resource_from_json", 2.25, "cluster", "c", "source", src),
				s("clusterpulse_custom_resource_n_go_int", 4, "cluster", "c", "source", src),
				s("clusterpulse_custom_resource_n_int", 7, "cluster", "c", "source", src),
				s("clusterpulse_custom_resource_total", 3, "cluster", "c", "source", src),
			},
		},
		{
			name: "groups get a group label, null and string groups skipped",
			values: map[string]any{
				"by_class": map[string]any{"gp3": 10.0, "_unknown_": 1.0, "none": nil, "s": "x", `we"ird\`: 2.0},
				"empty":    map[string]any{},
			},
			want: []Sample{
				s("clusterpulse_custom_resource_by_class", 1, "cluster", "c", "group", "_unknown_", "source", src),
				s("clusterpulse_custom_resource_by_class", 10, "cluster", "c", "group", "gp3", "source", src),
				s("clusterpulse_custom_resource_by_class", 2, "cluster", "c", "group", `we"ird\`, "source", src),
			},
		},
		{
			name:   "non-finite numbers pass through (the Writer drops and counts them)",
			values: map[string]any{"x": math.Inf(1)},
			want:   []Sample{s("clusterpulse_custom_resource_x", math.Inf(1), "cluster", "c", "source", src)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agg := engine.AggregationResults{SourceID: src, Values: tt.values}
			if diff := cmp.Diff(tt.want, CustomSeries("c", src, agg, testAt)); diff != "" {
				t.Errorf("CustomSeries (-want +got):\n%s", diff)
			}
		})
	}
}
