package engine

import "encoding/json"

// ResourceCollection holds the minimal records of a cluster's pods, deployments, services,
// statefulsets and daemonsets (the seed's ResourceCollection), used to filter by namespace and
// name for users who may see only part of a cluster. Collection is bounded by the seed's limits
// (MAX_PODS_PER_NAMESPACE, MAX_TOTAL_PODS, MAX_DEPLOYMENTS, MAX_SERVICES, a namespace filter);
// Truncated says a limit cut the lists. The lists marshal as [] when nil. Labels on the
// records are filled only when COLLECT_RESOURCE_LABELS is on, and omitted when empty.
type ResourceCollection struct {
	CollectedAt      Time                 `json:"collected_at,omitzero"`
	Pods             []PodSummary         `json:"pods"`
	Deployments      []DeploymentSummary  `json:"deployments"`
	Services         []ServiceSummary     `json:"services"`
	StatefulSets     []StatefulSetSummary `json:"statefulsets"`
	DaemonSets       []DaemonSetSummary   `json:"daemonsets"`
	Truncated        bool                 `json:"truncated"`
	CollectionTimeMs int64                `json:"collection_time_ms"`
}

// MarshalJSON writes c with nil lists as [].
func (c ResourceCollection) MarshalJSON() ([]byte, error) {
	type plain ResourceCollection
	p := plain(c)
	p.Pods = orEmpty(p.Pods)
	p.Deployments = orEmpty(p.Deployments)
	p.Services = orEmpty(p.Services)
	p.StatefulSets = orEmpty(p.StatefulSets)
	p.DaemonSets = orEmpty(p.DaemonSets)
	return json.Marshal(p)
}

// PodSummary is a pod reduced to what filtering needs. Status is the pod phase.
type PodSummary struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Status    string            `json:"status"`
	NodeName  string            `json:"node_name"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// DeploymentSummary is a deployment reduced to its desired and ready replica counts.
type DeploymentSummary struct {
	Name          string            `json:"name"`
	Namespace     string            `json:"namespace"`
	Replicas      int32             `json:"replicas"`
	ReadyReplicas int32             `json:"ready_replicas"`
	Labels        map[string]string `json:"labels,omitempty"`
}

// ServiceSummary is a service reduced to its type (ClusterIP, NodePort, LoadBalancer,
// ExternalName).
type ServiceSummary struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Type      string            `json:"type"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// StatefulSetSummary is a statefulset reduced to its desired and ready replica counts.
type StatefulSetSummary struct {
	Name          string            `json:"name"`
	Namespace     string            `json:"namespace"`
	Replicas      int32             `json:"replicas"`
	ReadyReplicas int32             `json:"ready_replicas"`
	Labels        map[string]string `json:"labels,omitempty"`
}

// DaemonSetSummary is a daemonset reduced to replica counts, named like the other workloads:
// Replicas is status.desiredNumberScheduled and ReadyReplicas status.numberReady.
type DaemonSetSummary struct {
	Name          string            `json:"name"`
	Namespace     string            `json:"namespace"`
	Replicas      int32             `json:"replicas"`
	ReadyReplicas int32             `json:"ready_replicas"`
	Labels        map[string]string `json:"labels,omitempty"`
}
