package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func manyNamespaces(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("ns-%02d", n-i) // reverse order: SetAvailableNamespaces must sort
	}
	return out
}

var at = time.Date(2026, 2, 13, 10, 4, 5, 0, time.UTC)

func TestSummarizeNodes(t *testing.T) {
	tests := []struct {
		name  string
		nodes []Node
		want  NodesSummary
	}{
		{"no nodes", nil, NodesSummary{ByRole: map[string]int{}, Timestamp: NewTime(at)}},
		{"mixed", []Node{
			{Status: NodeReady, Roles: []string{"control-plane", "master"}, CPUCapacity: 4, MemoryCapacity: 8 << 30, CPUUsagePercent: 50, MemoryUsagePercent: 10},
			{Status: NodeReady, Roles: []string{"worker"}, CPUCapacity: 8, MemoryCapacity: 16 << 30, CPUUsagePercent: 20, MemoryUsagePercent: 30},
			{Status: NodeNotReady, Roles: []string{"worker"}, CPUCapacity: 8, MemoryCapacity: 16 << 30},
			{Status: NodeUnknown, CPUCapacity: 2, MemoryCapacity: 4 << 30, CPUUsagePercent: 10, MemoryUsagePercent: 20},
			{Status: NodeSchedulingDisabled, Roles: []string{"worker"}, CPUCapacity: 8, MemoryCapacity: 16 << 30, CPUUsagePercent: 70, MemoryUsagePercent: 40},
		}, NodesSummary{
			Total: 5, Ready: 2, NotReady: 2, SchedulingDisabled: 1,
			ByRole:           map[string]int{"control-plane": 1, "master": 1, "worker": 3},
			TotalCPUCapacity: 30, TotalMemoryCapacity: 60 << 30,
			AvgCPUUsage: 30, AvgMemoryUsage: 20, Timestamp: NewTime(at),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SummarizeNodes(tt.nodes, at)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SummarizeNodes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewNodeSample(t *testing.T) {
	n := Node{Name: "n1", Timestamp: NewTime(at.Add(250 * time.Millisecond)), CPUUsagePercent: 12.5, MemoryUsagePercent: 40,
		CPURequested: 0.5, MemoryRequested: 1 << 30, CPUUsed: new(0.3), PodsRunning: 3, PodsPending: 1, PodsFailed: 2, PodsTotal: 6}
	want := NodeSample{Timestamp: n.Timestamp, CPUUsage: 12.5, MemoryUsage: 40, CPURequested: 0.5, MemoryRequested: 1 << 30,
		CPUUsed: new(0.3), PodsRunning: 3, PodsPending: 1, PodsTotal: 6}
	got := NewNodeSample(n)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NewNodeSample (-want +got):\n%s", diff)
	}
	if got, want := got.Score(), float64(at.Unix())+0.25; got != want {
		t.Errorf("Score() = %v, want %v", got, want)
	}
	if got := (NodeSample{}).Score(); got != 0 {
		t.Errorf("zero Score() = %v, want 0", got)
	}
}

func TestNewNamespaces(t *testing.T) {
	got := NewNamespaces([]string{"kube-system", "default", "kube-system", "apps"}, at)
	want := Namespaces{Namespaces: []string{"apps", "default", "kube-system"}, Count: 3, Timestamp: NewTime(at)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NewNamespaces (-want +got):\n%s", diff)
	}
	empty := NewNamespaces(nil, at)
	if empty.Namespaces == nil || empty.Count != 0 {
		t.Errorf("NewNamespaces(nil) = %#v, want an empty non-nil list", empty)
	}
}

func TestNamespaceCountsTotal(t *testing.T) {
	c := NamespaceCounts{Pods: 5, Deployments: 2, Services: 3, StatefulSets: 1, DaemonSets: 4}
	if got := c.Total(); got != 15 {
		t.Errorf("Total() = %d, want 15", got)
	}
}

func TestSetAvailableNamespaces(t *testing.T) {
	tests := []struct {
		name       string
		clusterTop bool
		in         []string
		want       Operator
	}{
		{"cluster-wide flag", true, []string{"a"}, Operator{IsClusterWide: true, AvailableInNamespaces: []string{"*"}, AvailableNamespacesDetail: "All namespaces"}},
		{"wildcard list", false, []string{"*"}, Operator{AvailableInNamespaces: []string{"*"}, AvailableNamespacesDetail: "All namespaces"}},
		{"none", false, nil, Operator{AvailableInNamespaces: []string{}}},
		{"few, sorted and de-duplicated", false, []string{"b", "a", "b"}, Operator{AvailableInNamespaces: []string{"a", "b"}, AvailableCount: 2, AvailableNamespacesDetail: "a, b"}},
		{"exactly 20", false, manyNamespaces(20), Operator{AvailableInNamespaces: manySorted(20), AvailableCount: 20, AvailableNamespacesDetail: joinComma(manySorted(20))}},
		{"more than 20", false, manyNamespaces(25), Operator{AvailableInNamespaces: manySorted(25)[:20], AvailableCount: 25,
			AvailableNamespacesDetail: "25 namespaces (showing first 20)", AllAvailableNamespaces: manySorted(25)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Operator{IsClusterWide: tt.clusterTop, AllAvailableNamespaces: []string{"stale"}}
			got.SetAvailableNamespaces(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SetAvailableNamespaces (-want +got):\n%s", diff)
			}
		})
	}
}

func manySorted(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("ns-%02d", i+1)
	}
	return out
}

func joinComma(s []string) string {
	return strings.Join(s, ", ")
}

func TestSummarizeOperators(t *testing.T) {
	tests := []struct {
		name string
		ops  []Operator
		want OperatorsSummary
	}{
		{"none", nil, OperatorsSummary{ByStatus: map[string]int{}, ByNamespace: map[string]int{}}},
		{"mixed", []Operator{
			{Status: "Succeeded", InstalledNamespace: "openshift-operators", IsClusterWide: true},
			{Status: "Succeeded", InstalledNamespace: "openshift-operators", IsClusterWide: true},
			{Status: "Failed", InstalledNamespace: "kafka"},
		}, OperatorsSummary{
			Total:         3,
			ByStatus:      map[string]int{"Succeeded": 2, "Failed": 1},
			ByNamespace:   map[string]int{"openshift-operators": 2, "kafka": 1},
			ByInstallMode: InstallModeCounts{ClusterWide: 2, NamespaceScoped: 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, SummarizeOperators(tt.ops)); diff != "" {
				t.Errorf("SummarizeOperators (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSummarizeClusterOperators(t *testing.T) {
	tests := []struct {
		name string
		ops  []ClusterOperator
		want ClusterOperatorsSummary
	}{
		{"none", nil, ClusterOperatorsSummary{Timestamp: NewTime(at), AllHealthy: true}},
		{"all healthy", []ClusterOperator{
			{Name: "dns", Available: true, Upgradeable: true},
			{Name: "etcd", Available: true, Progressing: true},
		}, ClusterOperatorsSummary{Total: 2, Available: 2, Progressing: 1, Upgradeable: 1, Timestamp: NewTime(at), AllHealthy: true}},
		{"issues", []ClusterOperator{
			{Name: "auth", Available: true, Degraded: true, Message: "route down"},
			{Name: "ingress", Available: false, Degraded: true, Message: "no routers"},
			{Name: "monitoring", Available: false, Progressing: true, Message: "rolling out"},
			{Name: "dns", Available: true},
		}, ClusterOperatorsSummary{Total: 4, Available: 2, Degraded: 2, Progressing: 1, Timestamp: NewTime(at), HasIssues: true,
			Issues: []ClusterOperatorIssue{
				{Name: "auth", Condition: IssueDegraded, Message: "route down"},
				{Name: "ingress", Condition: IssueDegraded, Message: "no routers"},
				{Name: "monitoring", Condition: IssueUnavailable, Message: "rolling out"},
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, SummarizeClusterOperators(tt.ops, at)); diff != "" {
				t.Errorf("SummarizeClusterOperators (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetRepositories(t *testing.T) {
	tests := []struct {
		name      string
		in        []string
		wantList  []string
		wantCount int
	}{
		{"none", nil, []string{}, 0},
		{"few", []string{"a", "b"}, []string{"a", "b"}, 2},
		{"more than 20", manySorted(30), manySorted(20), 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s RegistryStatus
			s.SetRepositories(tt.in)
			if diff := cmp.Diff(tt.wantList, s.Repositories); diff != "" || s.RepositoryCount != tt.wantCount {
				t.Errorf("SetRepositories: count %d (want %d), list (-want +got):\n%s", s.RepositoryCount, tt.wantCount, diff)
			}
		})
	}
}

func TestNonFiniteNumbersBecomeNull(t *testing.T) {
	tests := []struct {
		name  string
		value any
		want  string
	}{
		{"aggregation values", AggregationResults{SourceID: "ns/s", Values: map[string]any{
			"nan": math.NaN(), "inf": math.Inf(1), "ok": 2.5, "str": "a", "nil": nil,
			"groups": map[string]any{"a": 1.0, "b": math.NaN()}, "fgroups": map[string]float64{"c": math.Inf(-1), "d": 4}}},
			`{"sourceId":"ns/s","durationMs":0,"values":{"fgroups":{"c":null,"d":4},"groups":{"a":1,"b":null},"inf":null,"nan":null,"nil":null,"ok":2.5,"str":"a"}}`},
		{"custom resource values", CustomResource{ID: "x", Name: "x", Values: map[string]any{
			"nan": math.NaN(), "inf": math.Inf(-1), "f32": float32(math.NaN()), "ok": 1.5,
			"nested": map[string]any{"n": math.NaN()}, "list": []any{math.Inf(1), "s"}}},
			`{"_id":"x","_name":"x","values":{"f32":null,"inf":null,"list":[null,"s"],"nan":null,"nested":{"n":null},"ok":1.5}}`},
		{"event data", Event{Type: EventClusterReconciled, Cluster: "c", Data: map[string]any{"x": math.NaN()}},
			`{"type":"cluster.reconciled","cluster":"c","data":{"x":null}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.value)
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			if got := string(b); got != tt.want {
				t.Errorf("json.Marshal = %s, want %s", got, tt.want)
			}
		})
	}
}
