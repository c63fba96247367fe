package engine

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestGolden decodes each testdata file (shaped like the original's Redis JSON) into its type,
// rejecting unknown keys, marshals it again and compares the JSON documents: same keys, same
// values, nothing lost, nothing added.
func TestGolden(t *testing.T) {
	tests := []struct {
		file string
		into func() any
	}{
		{"node.json", func() any { return new(Node) }},
		{"node_push.json", func() any { return new(Node) }},
		{"node_sample.json", func() any { return new(NodeSample) }},
		{"nodes_summary.json", func() any { return new(NodesSummary) }},
		{"cluster_spec.json", func() any { return new(ClusterSpec) }},
		{"cluster_status.json", func() any { return new(ClusterStatus) }},
		{"cluster_metrics.json", func() any { return new(ClusterMetrics) }},
		{"cluster_info_openshift.json", func() any { return new(ClusterInfo) }},
		{"cluster_info_kubernetes.json", func() any { return new(ClusterInfo) }},
		{"namespaces.json", func() any { return new(Namespaces) }},
		{"namespace_counts.json", func() any { return new([]NamespaceCounts) }},
		{"resources.json", func() any { return new(ResourceCollection) }},
		{"operators.json", func() any { return new([]Operator) }},
		{"operators_summary.json", func() any { return new(OperatorsSummary) }},
		{"cluster_operators.json", func() any { return new([]ClusterOperator) }},
		{"cluster_operators_summary.json", func() any { return new(ClusterOperatorsSummary) }},
		{"registry_spec.json", func() any { return new(RegistrySpec) }},
		{"registry_status.json", func() any { return new(RegistryStatus) }},
		{"events.json", func() any { return new([]Event) }},
		{"custom_resources.json", func() any { return new(CustomCollection) }},
		{"custom_aggregations.json", func() any { return new(AggregationResults) }},
		{"custom_meta.json", func() any { return new(CustomMeta) }},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			v := tt.into()
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(v); err != nil {
				t.Fatalf("decode: %v", err)
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var got, want any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("re-marshalled JSON differs from %s (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

// TestNeverNull marshals zero values: slices must come out as [], maps as {}, zero times must be
// left out, and nothing may be null.
func TestNeverNull(t *testing.T) {
	tests := []struct {
		name  string
		value any
		want  []string
	}{
		{"Node", Node{}, []string{`"roles":[]`, `"conditions":[]`, `"labels":{}`, `"annotations":{}`, `"taints":[]`}},
		{"*Node", &Node{}, []string{`"roles":[]`, `"labels":{}`}},
		{"[]Node", []Node{{}}, []string{`"roles":[]`, `"taints":[]`}},
		{"NodeSample", NodeSample{}, []string{`"cpu_usage":0`}},
		{"NodesSummary", NodesSummary{}, []string{`"by_role":{}`}},
		{"ClusterSpec", ClusterSpec{}, []string{`"labels":{}`, `"credentialsRef":{"name":"","namespace":""}`}},
		{"ClusterStatus", ClusterStatus{}, []string{`"health":""`}},
		{"ClusterMetrics", ClusterMetrics{}, []string{`"nodes":0`}},
		{"ClusterInfo", ClusterInfo{}, []string{`{"api_url":"","version":"","platform":""}`}},
		{"Namespaces", Namespaces{}, []string{`"namespaces":[]`}},
		{"NamespaceCounts", NamespaceCounts{}, []string{`"pods_by_phase":{}`}},
		{"ResourceCollection", ResourceCollection{}, []string{`"pods":[]`, `"deployments":[]`, `"services":[]`, `"statefulsets":[]`, `"daemonsets":[]`}},
		{"PodSummary", PodSummary{}, []string{`"node_name":""`}},
		{"Operator", Operator{}, []string{`"install_modes":[]`, `"available_in_namespaces":[]`}},
		{"OperatorsSummary", OperatorsSummary{}, []string{`"by_status":{}`, `"by_namespace":{}`, `"by_install_mode":{"cluster_wide":0,"namespace_scoped":0}`}},
		{"ClusterOperator", ClusterOperator{}, []string{`"conditions":[]`, `"versions":[]`, `"related_objects":[]`}},
		{"ClusterOperatorsSummary", ClusterOperatorsSummary{}, []string{`"all_healthy":false`}},
		{"RegistrySpec", RegistrySpec{}, []string{`"labels":{}`}},
		{"RegistryStatus", RegistryStatus{}, []string{`"features":{}`, `"repositories":[]`}},
		{"Event", Event{}, []string{`"data":{}`}},
		{"CustomResource", CustomResource{}, []string{`"values":{}`}},
		{"CustomCollection", CustomCollection{}, []string{`"resources":[]`}},
		{"AggregationResults", AggregationResults{}, []string{`"values":{}`}},
		{"CustomMeta", CustomMeta{}, []string{`"errorCount":0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.value)
			if err != nil {
				t.Fatal(err)
			}
			got := string(b)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("json.Marshal = %s, want it to contain %s", got, w)
				}
			}
			if strings.Contains(got, "null") {
				t.Errorf("json.Marshal = %s, contains null", got)
			}
			if strings.Contains(got, "0001-01-01") {
				t.Errorf("json.Marshal = %s, contains a zero time", got)
			}
		})
	}
}

// roundTrip marshals v, unmarshals the JSON into a new T and requires the result to equal v.
// Nil and empty slices/maps count as equal: JSON cannot tell them apart.
func roundTrip[T any](t *testing.T, v T) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var got T
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	if diff := cmp.Diff(v, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("round trip through %s (-want +got):\n%s", b, diff)
	}
}

func TestRoundTrip(t *testing.T) {
	at := NewTime(time.Date(2026, 2, 13, 10, 4, 5, 250_000_000, time.UTC))
	earlier := NewTime(time.Date(2026, 1, 20, 8, 0, 0, 0, time.FixedZone("CET", 3600)))
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"Node", func(t *testing.T) {
			roundTrip(t, Node{
				Name: "n1", Timestamp: at, Status: NodeReady, Roles: []string{"worker"},
				Conditions:  []NodeCondition{{Type: "Ready", Status: "True", Reason: "KubeletReady", Message: "ok", LastTransitionTime: earlier}},
				CPUCapacity: 4, MemoryCapacity: 8 << 30, CPUAllocatable: 3.5, CPURequested: 1.25,
				CPUUsagePercent: 35.7, CPUUsed: new(0.5), MemoryUsed: new(int64(1 << 30)),
				PodsRunning: 3, PodsTotal: 4, Labels: map[string]string{"a": "b"},
				Annotations: map[string]string{"c": "d"}, Taints: []Taint{{Key: "k", Value: "v", Effect: "NoSchedule"}},
				InternalIP: "10.0.0.1", ImagesCount: 12,
			})
		}},
		{"Node zero", func(t *testing.T) { roundTrip(t, Node{}) }},
		{"NodeSample", func(t *testing.T) {
			roundTrip(t, NodeSample{Timestamp: at, CPUUsage: 12.5, MemoryUsage: 40, CPUUsed: new(0.25), PodsTotal: 7})
		}},
		{"NodesSummary", func(t *testing.T) {
			roundTrip(t, NodesSummary{Total: 2, Ready: 1, NotReady: 1, ByRole: map[string]int{"worker": 2}, Timestamp: at})
		}},
		{"ClusterSpec", func(t *testing.T) {
			roundTrip(t, ClusterSpec{DisplayName: "P", Endpoint: "https://x:6443", CredentialsRef: CredentialsRef{Name: "s", Namespace: "ns"},
				Labels: map[string]string{"env": "prod"}, Monitoring: ClusterMonitoring{Interval: 60, Timeout: 10}, CollectionMode: CollectionModePush})
		}},
		{"ClusterStatus", func(t *testing.T) {
			roundTrip(t, ClusterStatus{Health: HealthDegraded, Message: "m", LastCheck: at, LastSuccess: earlier, Source: CollectionModePull})
		}},
		{"ClusterMetrics", func(t *testing.T) {
			roundTrip(t, ClusterMetrics{Timestamp: at, Nodes: 3, NodesReady: 2, Pods: 10, CPUCapacity: 12, MemoryCapacity: 48 << 30})
		}},
		{"ClusterInfo OpenShift", func(t *testing.T) {
			roundTrip(t, ClusterInfo{APIURL: "https://api:6443", Version: "4.17.1", Platform: PlatformOpenShift, ClusterID: "id",
				UpdateAvailable: new(false), AvailableUpdates: []string{"4.17.2"}, VersionStartedTime: earlier,
				Conditions: []ClusterOperatorCondition{{Type: "Available", Status: "True"}}, IsAvailable: new(true), IsDegraded: new(false)})
		}},
		{"Namespaces", func(t *testing.T) { roundTrip(t, NewNamespaces([]string{"b", "a"}, at.Time)) }},
		{"NamespaceCounts", func(t *testing.T) {
			roundTrip(t, []NamespaceCounts{{Name: "a", Pods: 2, PodsByPhase: map[string]int{"Running": 2}, Services: 1}})
		}},
		{"ResourceCollection", func(t *testing.T) {
			roundTrip(t, ResourceCollection{CollectedAt: at, Pods: []PodSummary{{Name: "p", Namespace: "a", Status: "Running", NodeName: "n1", Labels: map[string]string{"x": "y"}}},
				Deployments: []DeploymentSummary{{Name: "d", Namespace: "a", Replicas: 2, ReadyReplicas: 1}}, Services: []ServiceSummary{{Name: "s", Namespace: "a", Type: "ClusterIP"}},
				StatefulSets: []StatefulSetSummary{{Name: "ss", Namespace: "a", Replicas: 1}}, DaemonSets: []DaemonSetSummary{{Name: "ds", Namespace: "a", Replicas: 3, ReadyReplicas: 3}},
				Truncated: true, CollectionTimeMs: 12})
		}},
		{"Operator", func(t *testing.T) {
			o := Operator{Name: "op.v1", Status: "Succeeded", InstallModes: []string{InstallModeAllNamespaces}, CreatedAt: earlier, UpdatedAt: at}
			o.SetAvailableNamespaces(manyNamespaces(25))
			roundTrip(t, []Operator{o})
		}},
		{"ClusterOperator", func(t *testing.T) {
			roundTrip(t, ClusterOperator{Name: "dns", Version: "4.17", Available: true, LastTransitionTime: at,
				Conditions: []ClusterOperatorCondition{{Type: "Available", Status: "True", LastTransitionTime: at, Reason: "AsExpected"}},
				Versions:   []ClusterOperatorVersion{{Name: "operator", Version: "4.17"}}, RelatedObjects: []RelatedObject{{Resource: "namespaces", Name: "openshift-dns"}}})
		}},
		{"ClusterOperatorsSummary", func(t *testing.T) {
			roundTrip(t, SummarizeClusterOperators([]ClusterOperator{{Name: "a", Degraded: true, Message: "m"}}, at.Time))
		}},
		{"RegistrySpec", func(t *testing.T) {
			roundTrip(t, RegistrySpec{DisplayName: "r", Endpoint: "https://r", Labels: map[string]string{"a": "b"},
				Monitoring: RegistryMonitoring{Interval: 60, CheckCatalog: true}, CredentialsRef: &CredentialsRef{Name: "s"}, HealthCheckPaths: []string{"/v2/"}})
		}},
		{"RegistryStatus", func(t *testing.T) {
			roundTrip(t, RegistryStatus{Available: false, Health: HealthUnhealthy, ResponseTime: 10, Features: map[string]bool{"docker_v2_api": false},
				LastCheck: at, Error: "connection refused"})
		}},
		{"Event", func(t *testing.T) {
			roundTrip(t, Event{Type: EventClusterReconciled, Cluster: "c", Timestamp: at, Data: map[string]any{"nodes": 3.0, "ok": true, "msg": "x"}})
		}},
		{"CustomCollection", func(t *testing.T) {
			roundTrip(t, CustomCollection{CollectedAt: at, SourceID: "ns/src", ClusterName: "c", ResourceCount: 1, DurationMs: 5,
				Resources: []CustomResource{{ID: "a/b", Namespace: "a", Name: "b", Labels: map[string]string{"l": "v"},
					Values: map[string]any{"n": 1.5, "s": "x", "b": false, "z": nil}}}})
		}},
		{"AggregationResults", func(t *testing.T) {
			roundTrip(t, AggregationResults{ComputedAt: at, SourceID: "ns/src", DurationMs: 1, Values: map[string]any{
				"count": 3.0, "avg": nil, "oldest": "2026-01-01", "by": map[string]any{"x": 1.0, "y": nil, "z": "s"}, "empty": map[string]any{}}})
		}},
		{"CustomMeta", func(t *testing.T) {
			roundTrip(t, CustomMeta{SourceID: "ns/src", ClusterName: "c", LastCollectionTime: at, ErrorCount: 2, LastError: "e"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}
