package engine

import (
	"encoding/json"
	"time"
)

// Node status values, as the original derives them: Ready or NotReady from the Ready condition,
// SchedulingDisabled when the node is cordoned (it overrides the other two), Unknown otherwise.
const (
	NodeReady              = "Ready"
	NodeNotReady           = "NotReady"
	NodeSchedulingDisabled = "SchedulingDisabled"
	NodeUnknown            = "Unknown"
)

// Node is one node's current state: the `current` field of the Redis hash
// cluster:{c}:node:{n} and an element of GET /clusters/{name}/nodes. Keys are those of the
// original node JSON. Conditions, Roles and Taints marshal as [] and Labels and Annotations as
// {} when nil.
//
// CPU values are cores, memory and storage values bytes. CPUUsagePercent and MemoryUsagePercent
// are request-based, as in the original: requested ÷ allocatable × 100. CPUUsed and
// MemoryUsed are new: real usage from metrics.k8s.io (cores and bytes), present only when the
// cluster serves that API; nil means "not measured", never zero usage.
type Node struct {
	Name       string          `json:"name"`
	Timestamp  Time            `json:"timestamp,omitzero"`
	Status     string          `json:"status"`
	Roles      []string        `json:"roles"`
	Conditions []NodeCondition `json:"conditions"`

	CPUCapacity        float64 `json:"cpu_capacity"`
	MemoryCapacity     int64   `json:"memory_capacity"`
	StorageCapacity    int64   `json:"storage_capacity"`
	PodsCapacity       int64   `json:"pods_capacity"`
	CPUAllocatable     float64 `json:"cpu_allocatable"`
	MemoryAllocatable  int64   `json:"memory_allocatable"`
	StorageAllocatable int64   `json:"storage_allocatable"`
	PodsAllocatable    int64   `json:"pods_allocatable"`

	CPURequested       float64  `json:"cpu_requested"`
	MemoryRequested    int64    `json:"memory_requested"`
	CPUUsagePercent    float64  `json:"cpu_usage_percent"`
	MemoryUsagePercent float64  `json:"memory_usage_percent"`
	CPUUsed            *float64 `json:"cpu_used,omitempty"`
	MemoryUsed         *int64   `json:"memory_used,omitempty"`

	PodsRunning   int `json:"pods_running"`
	PodsPending   int `json:"pods_pending"`
	PodsFailed    int `json:"pods_failed"`
	PodsSucceeded int `json:"pods_succeeded"`
	PodsTotal     int `json:"pods_total"`

	KernelVersion    string `json:"kernel_version"`
	OSImage          string `json:"os_image"`
	ContainerRuntime string `json:"container_runtime"`
	KubeletVersion   string `json:"kubelet_version"`
	Architecture     string `json:"architecture"`

	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Taints      []Taint           `json:"taints"`

	InternalIP      string `json:"internal_ip"`
	ExternalIP      string `json:"external_ip"`
	Hostname        string `json:"hostname"`
	ImagesCount     int    `json:"images_count"`
	VolumesAttached int    `json:"volumes_attached"`
}

// MarshalJSON writes n with nil slices as [] and nil maps as {}.
func (n Node) MarshalJSON() ([]byte, error) {
	type plain Node
	p := plain(n)
	p.Roles = orEmpty(p.Roles)
	p.Conditions = orEmpty(p.Conditions)
	p.Labels = orEmptyMap(p.Labels)
	p.Annotations = orEmptyMap(p.Annotations)
	p.Taints = orEmpty(p.Taints)
	return json.Marshal(p)
}

// NodeCondition is one entry of a node's status.conditions.
type NodeCondition struct {
	Type               string `json:"type"`
	Status             string `json:"status"`
	Reason             string `json:"reason"`
	Message            string `json:"message"`
	LastTransitionTime Time   `json:"last_transition_time,omitzero"`
}

// Taint is one entry of a node's spec.taints.
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Effect string `json:"effect"`
}

// NodeSample is one point of a node's short metrics history: a member of the ZSET
// cluster:{c}:node:{n}:metrics (scored by Score). CPUUsage and MemoryUsage are the node's
// usage percentages (request-based, see Node); CPUUsed and MemoryUsed carry real usage when
// the node has it.
type NodeSample struct {
	Timestamp       Time     `json:"timestamp,omitzero"`
	CPUUsage        float64  `json:"cpu_usage"`
	MemoryUsage     float64  `json:"memory_usage"`
	CPURequested    float64  `json:"cpu_requested"`
	MemoryRequested int64    `json:"memory_requested"`
	CPUUsed         *float64 `json:"cpu_used,omitempty"`
	MemoryUsed      *int64   `json:"memory_used,omitempty"`
	PodsRunning     int      `json:"pods_running"`
	PodsPending     int      `json:"pods_pending"`
	PodsTotal       int      `json:"pods_total"`
}

// NewNodeSample returns the history sample of n, taken at n.Timestamp.
func NewNodeSample(n Node) NodeSample {
	return NodeSample{
		Timestamp:       n.Timestamp,
		CPUUsage:        n.CPUUsagePercent,
		MemoryUsage:     n.MemoryUsagePercent,
		CPURequested:    n.CPURequested,
		MemoryRequested: n.MemoryRequested,
		CPUUsed:         n.CPUUsed,
		MemoryUsed:      n.MemoryUsed,
		PodsRunning:     n.PodsRunning,
		PodsPending:     n.PodsPending,
		PodsTotal:       n.PodsTotal,
	}
}

// Score is the sample's ZSET score: its time in Unix seconds (0 for a zero Timestamp).
func (s NodeSample) Score() float64 {
	if s.Timestamp.IsZero() {
		return 0
	}
	return float64(s.Timestamp.Unix()) + float64(s.Timestamp.Nanosecond())/1e9
}

// NodesSummary is the cluster-wide node roll-up stored in the `data` field of the hash
// cluster:{c}:nodes:summary.
//
// Every node is counted in exactly one of Ready, NotReady and SchedulingDisabled, so
// Total = Ready + NotReady + SchedulingDisabled; NotReady includes nodes whose status is
// Unknown. ByRole counts each role a node has (a node with two roles counts twice, a node
// without role labels not at all). The averages are means of the nodes' request-based usage
// percentages, 0 for no nodes.
type NodesSummary struct {
	Total               int            `json:"total"`
	Ready               int            `json:"ready"`
	NotReady            int            `json:"not_ready"`
	SchedulingDisabled  int            `json:"scheduling_disabled"`
	ByRole              map[string]int `json:"by_role"`
	TotalCPUCapacity    float64        `json:"total_cpu_capacity"`
	TotalMemoryCapacity int64          `json:"total_memory_capacity"`
	AvgCPUUsage         float64        `json:"avg_cpu_usage"`
	AvgMemoryUsage      float64        `json:"avg_memory_usage"`
	Timestamp           Time           `json:"timestamp,omitzero"`
}

// MarshalJSON writes s with a nil ByRole as {}.
func (s NodesSummary) MarshalJSON() ([]byte, error) {
	type plain NodesSummary
	p := plain(s)
	p.ByRole = orEmptyMap(p.ByRole)
	return json.Marshal(p)
}

// SummarizeNodes rolls nodes up into a NodesSummary stamped with at.
func SummarizeNodes(nodes []Node, at time.Time) NodesSummary {
	s := NodesSummary{ByRole: map[string]int{}, Timestamp: NewTime(at)}
	var cpu, mem float64
	for _, n := range nodes {
		s.Total++
		switch n.Status {
		case NodeReady:
			s.Ready++
		case NodeSchedulingDisabled:
			s.SchedulingDisabled++
		default:
			s.NotReady++
		}
		for _, r := range n.Roles {
			s.ByRole[r]++
		}
		s.TotalCPUCapacity += n.CPUCapacity
		s.TotalMemoryCapacity += n.MemoryCapacity
		cpu += n.CPUUsagePercent
		mem += n.MemoryUsagePercent
	}
	if s.Total > 0 {
		s.AvgCPUUsage = cpu / float64(s.Total)
		s.AvgMemoryUsage = mem / float64(s.Total)
	}
	return s
}
