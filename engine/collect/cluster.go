package collect

import (
	"time"

	"github.com/clusterpulse/clusterpulse/engine"
)

// ClusterMetricsFrom rolls the collected nodes and counts up into the cluster metrics,
// stamped with now. NodesReady counts the nodes whose Ready condition is True, cordoned or
// not; Pods and PodsRunning count every pod of the cluster, scheduled or not.
func ClusterMetricsFrom(nodes []engine.Node, namespaces int, pods *PodReduction, deployments int, now time.Time) engine.ClusterMetrics {
	m := engine.ClusterMetrics{
		Timestamp:   engine.NewTime(now),
		Nodes:       len(nodes),
		Namespaces:  namespaces,
		Pods:        pods.Total,
		PodsRunning: pods.Running,
		Deployments: deployments,
	}
	for _, n := range nodes {
		m.CPUCapacity += n.CPUCapacity
		m.MemoryCapacity += n.MemoryCapacity
		for _, c := range n.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				m.NodesReady++
				break
			}
		}
	}
	return m
}
