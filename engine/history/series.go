package history

import (
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/clusterpulse/clusterpulse/engine"
)

// The series ClusterPulse writes. The names are those of the original (reference §7.3) except
// the node real-usage series, which are new; docs/history.md lists every series with its labels.
const (
	ClusterNodesTotal          = "clusterpulse_cluster_nodes_total"
	ClusterNodesReady          = "clusterpulse_cluster_nodes_ready"
	ClusterPodsTotal           = "clusterpulse_cluster_pods_total"
	ClusterPodsRunning         = "clusterpulse_cluster_pods_running"
	ClusterCPUCapacity         = "clusterpulse_cluster_cpu_capacity"
	ClusterMemoryCapacityBytes = "clusterpulse_cluster_memory_capacity_bytes"
	ClusterNamespacesTotal     = "clusterpulse_cluster_namespaces_total"
	ClusterDeploymentsTotal    = "clusterpulse_cluster_deployments_total"

	NodeCPUUsagePercent         = "clusterpulse_node_cpu_usage_percent"
	NodeMemoryUsagePercent      = "clusterpulse_node_memory_usage_percent"
	NodePodsTotal               = "clusterpulse_node_pods_total"
	NodePodsRunning             = "clusterpulse_node_pods_running"
	NodeCPUCapacity             = "clusterpulse_node_cpu_capacity"
	NodeMemoryCapacityBytes     = "clusterpulse_node_memory_capacity_bytes"
	NodeStorageCapacityBytes    = "clusterpulse_node_storage_capacity_bytes"
	NodePodsCapacity            = "clusterpulse_node_pods_capacity"
	NodeCPUAllocatable          = "clusterpulse_node_cpu_allocatable"
	NodeMemoryAllocatableBytes  = "clusterpulse_node_memory_allocatable_bytes"
	NodeStorageAllocatableBytes = "clusterpulse_node_storage_allocatable_bytes"
	NodePodsAllocatable         = "clusterpulse_node_pods_allocatable"
	NodeCPURequested            = "clusterpulse_node_cpu_requested"
	NodeMemoryRequestedBytes    = "clusterpulse_node_memory_requested_bytes"
	NodePodsPending             = "clusterpulse_node_pods_pending"
	NodePodsFailed              = "clusterpulse_node_pods_failed"
	NodePodsSucceeded           = "clusterpulse_node_pods_succeeded"
	// NodeCPUUsedCores and NodeMemoryUsedBytes (new) are real usage from metrics.k8s.io,
	// written only for nodes that have it.
	NodeCPUUsedCores    = "clusterpulse_node_cpu_used_cores"
	NodeMemoryUsedBytes = "clusterpulse_node_memory_used_bytes"

	OperatorInstalled = "clusterpulse_operator_installed"
	// ClusterOperatorsTotal counts OLM operators (the original's misleading name is kept);
	// ClusterOperatorsCount counts OpenShift ClusterOperators.
	ClusterOperatorsTotal = "clusterpulse_cluster_operators_total"
	ClusterOperatorsCount = "clusterpulse_cluster_operators_count"

	ClusterOperatorAvailable   = "clusterpulse_cluster_operator_available"
	ClusterOperatorProgressing = "clusterpulse_cluster_operator_progressing"
	ClusterOperatorDegraded    = "clusterpulse_cluster_operator_degraded"
	ClusterOperatorUpgradeable = "clusterpulse_cluster_operator_upgradeable"

	// CustomResourcePrefix starts the name of every MetricSource aggregation series; see
	// CustomMetricName.
	CustomResourcePrefix = "clusterpulse_custom_resource_"
)

// The label names of the series.
const (
	LabelCluster  = "cluster"
	LabelNode     = "node"
	LabelOperator = "operator"
	LabelSource   = "source"
	LabelGroup    = "group"
)

// nodeSeriesPerNode is the number of series NodeSeries writes for every node, without the
// optional real-usage ones.
const nodeSeriesPerNode = 17

// The builders below are pure. Samples of one object share one Labels slice; callers must not
// modify the labels of returned samples.

// ClusterSeries returns the cluster-level series of m, labelled {cluster}, at time at.
func ClusterSeries(cluster string, m engine.ClusterMetrics, at time.Time) []Sample {
	l := []Label{{LabelCluster, cluster}}
	return []Sample{
		{ClusterNodesTotal, l, float64(m.Nodes), at},
		{ClusterNodesReady, l, float64(m.NodesReady), at},
		{ClusterPodsTotal, l, float64(m.Pods), at},
		{ClusterPodsRunning, l, float64(m.PodsRunning), at},
		{ClusterCPUCapacity, l, m.CPUCapacity, at},
		{ClusterMemoryCapacityBytes, l, float64(m.MemoryCapacity), at},
		{ClusterNamespacesTotal, l, float64(m.Namespaces), at},
		{ClusterDeploymentsTotal, l, float64(m.Deployments), at},
	}
}

// NodeSeries returns the per-node series of nodes, labelled {cluster, node}, at time at: 17 per
// node, plus NodeCPUUsedCores and NodeMemoryUsedBytes for a node whose real usage is known.
func NodeSeries(cluster string, nodes []engine.Node, at time.Time) []Sample {
	out := make([]Sample, 0, len(nodes)*(nodeSeriesPerNode+2))
	for i := range nodes {
		n := &nodes[i]
		l := []Label{{LabelCluster, cluster}, {LabelNode, n.Name}}
		out = append(out,
			Sample{NodeCPUUsagePercent, l, n.CPUUsagePercent, at},
			Sample{NodeMemoryUsagePercent, l, n.MemoryUsagePercent, at},
			Sample{NodePodsTotal, l, float64(n.PodsTotal), at},
			Sample{NodePodsRunning, l, float64(n.PodsRunning), at},
			Sample{NodeCPUCapacity, l, n.CPUCapacity, at},
			Sample{NodeMemoryCapacityBytes, l, float64(n.MemoryCapacity), at},
			Sample{NodeStorageCapacityBytes, l, float64(n.StorageCapacity), at},
			Sample{NodePodsCapacity, l, float64(n.PodsCapacity), at},
			Sample{NodeCPUAllocatable, l, n.CPUAllocatable, at},
			Sample{NodeMemoryAllocatableBytes, l, float64(n.MemoryAllocatable), at},
			Sample{NodeStorageAllocatableBytes, l, float64(n.StorageAllocatable), at},
			Sample{NodePodsAllocatable, l, float64(n.PodsAllocatable), at},
			Sample{NodeCPURequested, l, n.CPURequested, at},
			Sample{NodeMemoryRequestedBytes, l, float64(n.MemoryRequested), at},
			Sample{NodePodsPending, l, float64(n.PodsPending), at},
			Sample{NodePodsFailed, l, float64(n.PodsFailed), at},
			Sample{NodePodsSucceeded, l, float64(n.PodsSucceeded), at},
		)
		if n.CPUUsed != nil {
			out = append(out, Sample{NodeCPUUsedCores, l, *n.CPUUsed, at})
		}
		if n.MemoryUsed != nil {
			out = append(out, Sample{NodeMemoryUsedBytes, l, float64(*n.MemoryUsed), at})
		}
	}
	return out
}

// OperatorSeries returns one OperatorInstalled sample (value 1) per OLM operator, labelled
// {cluster, operator} with the CSV name, and ClusterOperatorsTotal{cluster}, the number of
// operators, at time at. Call it only on passes that collected operators: an empty ops means
// "none installed" and writes a total of 0.
func OperatorSeries(cluster string, ops []engine.Operator, at time.Time) []Sample {
	out := make([]Sample, 0, len(ops)+1)
	for i := range ops {
		out = append(out, Sample{OperatorInstalled, []Label{{LabelCluster, cluster}, {LabelOperator, ops[i].Name}}, 1, at})
	}
	return append(out, Sample{ClusterOperatorsTotal, []Label{{LabelCluster, cluster}}, float64(len(ops)), at})
}

// ClusterOperatorSeries returns the four condition series (0 or 1) of every OpenShift
// ClusterOperator, labelled {cluster, operator}, and ClusterOperatorsCount{cluster}, at time
// at.
func ClusterOperatorSeries(cluster string, cos []engine.ClusterOperator, at time.Time) []Sample {
	out := make([]Sample, 0, 4*len(cos)+1)
	for i := range cos {
		co := &cos[i]
		l := []Label{{LabelCluster, cluster}, {LabelOperator, co.Name}}
		out = append(out,
			Sample{ClusterOperatorAvailable, l, bit(co.Available), at},
			Sample{ClusterOperatorProgressing, l, bit(co.Progressing), at},
			Sample{ClusterOperatorDegraded, l, bit(co.Degraded), at},
			Sample{ClusterOperatorUpgradeable, l, bit(co.Upgradeable), at},
		)
	}
	return append(out, Sample{ClusterOperatorsCount, []Label{{LabelCluster, cluster}}, float64(len(cos)), at})
}

func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// CustomMetricName returns the series name of the MetricSource aggregation named aggregation:
// CustomResourcePrefix followed by the name with every character outside [a-zA-Z0-9_:]
// replaced by "_", so "p95-latency.ms" gives clusterpulse_custom_resource_p95_latency_ms (a
// leading digit needs no prefix there). Names that differ only in such characters share a
// series name.
func CustomMetricName(aggregation string) string {
	return string(appendNameChars([]byte(CustomResourcePrefix), aggregation, true))
}

// CustomSeries returns the series of a MetricSource's aggregation results for one cluster at
// time at, labelled {cluster, source} with the MetricSource id "namespace/name":
//   - a numeric value gives one sample named CustomMetricName(name);
//   - a grouped value (a map from group key to value) gives one sample per group with a numeric
//     value, with the extra label group (new);
//   - null values, strings (min/max over strings) and anything else are skipped: they have no
//     numeric history.
//
// Aggregations and groups are emitted in name order, so the output is deterministic.
func CustomSeries(cluster, sourceID string, agg engine.AggregationResults, at time.Time) []Sample {
	var out []Sample
	base := []Label{{LabelCluster, cluster}, {LabelSource, sourceID}}
	for _, name := range slices.Sorted(maps.Keys(agg.Values)) {
		metric := CustomMetricName(name)
		switch v := agg.Values[name].(type) {
		case map[string]any:
			for _, g := range slices.Sorted(maps.Keys(v)) {
				f, ok := number(v[g])
				if !ok {
					continue
				}
				l := []Label{{LabelCluster, cluster}, {LabelGroup, g}, {LabelSource, sourceID}}
				out = append(out, Sample{metric, l, f, at})
			}
		default:
			if f, ok := number(v); ok {
				out = append(out, Sample{metric, base, f, at})
			}
		}
	}
	return out
}

// number returns v as a float64 when v is a Go number.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}
