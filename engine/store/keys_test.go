package store

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestKeys(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		got    func(Keys) string
		want   string
	}{
		{"clusters all", "", Keys.ClustersAll, "clusters:all"},
		{"clusters all prefixed", "t1:", Keys.ClustersAll, "t1:clusters:all"},
		{"key index", "t1:", func(k Keys) string { return k.ClusterKeys("prod") }, "t1:cluster:prod:keys"},
		{"spec", "", func(k Keys) string { return k.ClusterSpec("prod") }, "cluster:prod:spec"},
		{"labels", "", func(k Keys) string { return k.ClusterLabels("prod") }, "cluster:prod:labels"},
		{"status", "", func(k Keys) string { return k.ClusterStatus("prod") }, "cluster:prod:status"},
		{"meta", "", func(k Keys) string { return k.ClusterMeta("prod") }, "cluster:prod:meta"},
		{"info", "", func(k Keys) string { return k.ClusterInfo("prod") }, "cluster:prod:info"},
		{"metrics", "", func(k Keys) string { return k.ClusterMetrics("prod") }, "cluster:prod:metrics"},
		{"namespaces", "", func(k Keys) string { return k.Namespaces("prod") }, "cluster:prod:namespaces"},
		{"namespaces set", "", func(k Keys) string { return k.NamespacesSet("prod") }, "cluster:prod:namespaces:set"},
		{"namespace counts", "", func(k Keys) string { return k.NamespaceCounts("prod") }, "cluster:prod:namespace_counts"},
		{"nodes", "", func(k Keys) string { return k.Nodes("prod") }, "cluster:prod:nodes"},
		{"node", "", func(k Keys) string { return k.Node("prod", "worker-1.example.com") }, "cluster:prod:node:worker-1.example.com"},
		{"node metrics", "", func(k Keys) string { return k.NodeMetrics("prod", "w1") }, "cluster:prod:node:w1:metrics"},
		{"nodes summary", "", func(k Keys) string { return k.NodesSummary("prod") }, "cluster:prod:nodes:summary"},
		{"operators", "", func(k Keys) string { return k.Operators("prod") }, "cluster:prod:operators"},
		{"operators summary", "", func(k Keys) string { return k.OperatorsSummary("prod") }, "cluster:prod:operators_summary"},
		{"cluster operators", "", func(k Keys) string { return k.ClusterOperators("prod") }, "cluster:prod:cluster_operators"},
		{"cluster operators summary", "", func(k Keys) string { return k.ClusterOperatorsSummary("prod") }, "cluster:prod:cluster_operators_summary"},
		{"cluster operator", "", func(k Keys) string { return k.ClusterOperator("prod", "dns") }, "cluster:prod:cluster_operator:dns"},
		{"pods", "", func(k Keys) string { return k.Resources("prod", "pods") }, "cluster:prod:pods"},
		{"resource metadata", "", func(k Keys) string { return k.ResourceMetadata("prod") }, "cluster:prod:resource_metadata"},
		{"custom resources", "", func(k Keys) string { return k.CustomResources("prod", "ns1/pvcs") }, "cluster:prod:custom:ns1/pvcs:resources"},
		{"custom aggregations", "", func(k Keys) string { return k.CustomAggregations("prod", "ns1/pvcs") }, "cluster:prod:custom:ns1/pvcs:aggregations"},
		{"custom meta", "", func(k Keys) string { return k.CustomMeta("prod", "ns1/pvcs") }, "cluster:prod:custom:ns1/pvcs:meta"},
		{"events", "", func(k Keys) string { return k.Events("prod") }, "events:prod"},
		{"registries all", "", Keys.RegistriesAll, "registries:all"},
		{"registry spec", "", func(k Keys) string { return k.RegistrySpec("quay") }, "registry:quay:spec"},
		{"registry status", "", func(k Keys) string { return k.RegistryStatus("quay") }, "registry:quay:status"},
		{"registry meta", "", func(k Keys) string { return k.RegistryMeta("quay") }, "registry:quay:meta"},
		{"registry events", "", func(k Keys) string { return k.RegistryEvents("quay") }, "registry:quay:events"},
		{"metricsource", "", func(k Keys) string { return k.MetricSource("ns1", "pvcs") }, "metricsource:ns1:pvcs"},
		{"metricsource meta", "", func(k Keys) string { return k.MetricSourceMeta("ns1", "pvcs") }, "metricsource:ns1:pvcs:meta"},
		{"metricsources all", "", Keys.MetricSourcesAll, "metricsources:all"},
		{"metricsources enabled", "", Keys.MetricSourcesEnabled, "metricsources:enabled"},
		{"metricsources by type", "", func(k Keys) string { return k.MetricSourcesByResourceType("pvc") }, "metricsources:by:resourcetype:pvc"},
		{"policy", "", func(k Keys) string { return k.Policy("ns1", "devs") }, "policy:ns1:devs"},
		{"policy user", "", func(k Keys) string { return k.PolicySubject("user", "alice") }, "policy:user:alice"},
		{"policy group sorted", "", func(k Keys) string { return k.PolicySubjectSorted("group", "devs") }, "policy:group:devs:sorted"},
		{"policies all", "", Keys.PoliciesAll, "policies:all"},
		{"policies enabled", "", Keys.PoliciesEnabled, "policies:enabled"},
		{"policies by priority", "", Keys.PoliciesByPriority, "policies:by:priority"},
		{"policies by effect", "", func(k Keys) string { return k.PoliciesByEffect("deny") }, "policies:effect:deny"},
		{"lease", "t1:", func(k Keys) string { return k.Lease("pull/prod") }, "t1:lease:pull/prod"},
		{"presence", "", func(k Keys) string { return k.Presence("collector", "prod") }, "presence:collector:prod"},
		{"once", "", func(k Keys) string { return k.Once("batch:prod:42") }, "once:batch:prod:42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got(Keys{Prefix: tt.prefix})); diff != "" {
				t.Errorf("key mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNodeKeysShareNodePrefix guards pruning: it finds node keys in the key index by this
// prefix.
func TestNodeKeysShareNodePrefix(t *testing.T) {
	k := Keys{Prefix: "p:"}
	for _, key := range []string{k.Node("c", "n1"), k.NodeMetrics("c", "n1")} {
		name, ok := k.nodeOf("c", key)
		if !ok || name != "n1" {
			t.Errorf("nodeOf(%q) = %q, %v; want n1, true", key, name, ok)
		}
	}
	for _, key := range []string{k.Nodes("c"), k.NodesSummary("c"), k.Node("other", "n1")} {
		if name, ok := k.nodeOf("c", key); ok {
			t.Errorf("nodeOf(%q) = %q, true; want false", key, name)
		}
	}
}
