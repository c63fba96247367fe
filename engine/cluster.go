package engine

import (
	"encoding/json"
	"slices"
	"time"
)

// Health values of a cluster or registry.
const (
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
	HealthDegraded  = "degraded"
	HealthUnknown   = "unknown"
)

// Collection modes of a ClusterConnection (spec.collectionMode) and the Source of a
// ClusterStatus.
const (
	CollectionModePull = "pull"
	CollectionModePush = "push"
)

// Platform values of ClusterInfo.
const (
	PlatformKubernetes = "Kubernetes"
	PlatformOpenShift  = "OpenShift"
)

// ClusterSpec is the part of a ClusterConnection stored at cluster:{c}:spec. Its keys are
// camelCase, as the original stores the CR spec. Labels marshals as {} when nil.
type ClusterSpec struct {
	DisplayName    string            `json:"displayName"`
	Endpoint       string            `json:"endpoint"`
	CredentialsRef CredentialsRef    `json:"credentialsRef"`
	Labels         map[string]string `json:"labels"`
	Monitoring     ClusterMonitoring `json:"monitoring"`
	// CollectionMode is CollectionModePull or CollectionModePush.
	CollectionMode string `json:"collectionMode"`
}

// MarshalJSON writes s with a nil Labels as {}.
func (s ClusterSpec) MarshalJSON() ([]byte, error) {
	type plain ClusterSpec
	p := plain(s)
	p.Labels = orEmptyMap(p.Labels)
	return json.Marshal(p)
}

// CredentialsRef names the Secret holding a cluster's or registry's credentials.
type CredentialsRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

// ClusterMonitoring is a ClusterConnection's spec.monitoring, in seconds.
type ClusterMonitoring struct {
	Interval int32 `json:"interval"`
	Timeout  int32 `json:"timeout"`
}

// ClusterStatus is a cluster's health at cluster:{c}:status.
//
// LastCheck is the time of the last collection attempt; LastSuccess (new) the time of the last
// successful one, so the age of the data is always answerable even while the cluster is
// unreachable. Source (new) says which path wrote the data: CollectionModePull or
// CollectionModePush.
type ClusterStatus struct {
	// Health is one of HealthHealthy, HealthUnhealthy, HealthDegraded, HealthUnknown.
	Health      string `json:"health"`
	Message     string `json:"message"`
	LastCheck   Time   `json:"last_check,omitzero"`
	LastSuccess Time   `json:"last_success,omitzero"`
	Source      string `json:"source,omitempty"`
}

// ClusterMetrics is the cluster-level roll-up at cluster:{c}:metrics: counts of nodes,
// namespaces, pods and deployments, and total CPU (cores) and memory (bytes) capacity.
type ClusterMetrics struct {
	Timestamp      Time    `json:"timestamp,omitzero"`
	Nodes          int     `json:"nodes"`
	NodesReady     int     `json:"nodes_ready"`
	Namespaces     int     `json:"namespaces"`
	Pods           int     `json:"pods"`
	PodsRunning    int     `json:"pods_running"`
	CPUCapacity    float64 `json:"cpu_capacity"`
	MemoryCapacity int64   `json:"memory_capacity"`
	Deployments    int     `json:"deployments"`
}

// ClusterInfo describes a cluster: its API URL, version and platform, and on OpenShift the
// ClusterVersion details. Stored at cluster:{c}:info.
//
// APIURL, Version and Platform are always written. Every other field is optional and omitted
// when empty, as in the original, where they exist only for OpenShift (or, for ConsoleURL,
// when a console is known). The OpenShift booleans are pointers because false is meaningful
// there (is_available:false must not vanish) while a push collector does not know them at all:
// nil means "not known" and is omitted.
type ClusterInfo struct {
	APIURL                 string                     `json:"api_url"`
	Version                string                     `json:"version"`
	Platform               string                     `json:"platform"`
	ConsoleURL             string                     `json:"console_url,omitempty"`
	Channel                string                     `json:"channel,omitempty"`
	ClusterID              string                     `json:"cluster_id,omitempty"`
	Image                  string                     `json:"image,omitempty"`
	UpdateAvailable        *bool                      `json:"update_available,omitempty"`
	AvailableUpdateVersion string                     `json:"available_update_version,omitempty"`
	AvailableUpdates       []string                   `json:"available_updates,omitempty"`
	VersionState           string                     `json:"version_state,omitempty"`
	VersionStartedTime     Time                       `json:"version_started_time,omitzero"`
	VersionCompletionTime  Time                       `json:"version_completion_time,omitzero"`
	Conditions             []ClusterOperatorCondition `json:"conditions,omitempty"`
	IsProgressing          *bool                      `json:"is_progressing,omitempty"`
	IsDegraded             *bool                      `json:"is_degraded,omitempty"`
	IsAvailable            *bool                      `json:"is_available,omitempty"`
}

// Namespaces is a cluster's namespace list at cluster:{c}:namespaces. Namespaces marshals as
// [] when nil; build one with NewNamespaces to keep the list sorted and Count consistent.
type Namespaces struct {
	Namespaces []string `json:"namespaces"`
	Count      int      `json:"count"`
	Timestamp  Time     `json:"timestamp,omitzero"`
}

// NewNamespaces returns the sorted, de-duplicated list of names with its count, stamped at.
func NewNamespaces(names []string, at time.Time) Namespaces {
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	return Namespaces{Namespaces: orEmpty(sorted), Count: len(sorted), Timestamp: NewTime(at)}
}

// MarshalJSON writes n with a nil Namespaces as [].
func (n Namespaces) MarshalJSON() ([]byte, error) {
	type plain Namespaces
	p := plain(n)
	p.Namespaces = orEmpty(p.Namespaces)
	return json.Marshal(p)
}

// NamespaceCounts holds the resource counts of one namespace, so a user restricted to some
// namespaces gets counts of only what they may see. Pods is the total; PodsByPhase splits it by
// pod phase (Running, Pending, Succeeded, Failed, Unknown) and marshals as {} when nil.
type NamespaceCounts struct {
	Name         string         `json:"name"`
	Pods         int            `json:"pods"`
	PodsByPhase  map[string]int `json:"pods_by_phase"`
	Deployments  int            `json:"deployments"`
	Services     int            `json:"services"`
	StatefulSets int            `json:"statefulsets"`
	DaemonSets   int            `json:"daemonsets"`
}

// MarshalJSON writes c with a nil PodsByPhase as {}.
func (c NamespaceCounts) MarshalJSON() ([]byte, error) {
	type plain NamespaceCounts
	p := plain(c)
	p.PodsByPhase = orEmptyMap(p.PodsByPhase)
	return json.Marshal(p)
}

// Total is the number of counted resources in the namespace (the API's total_resources).
func (c NamespaceCounts) Total() int {
	return c.Pods + c.Deployments + c.Services + c.StatefulSets + c.DaemonSets
}

// ClusterState is everything one collection pass writes for one cluster; the store writes it
// in one transaction so readers never see half of it. It is an in-memory value, not a wire
// type.
//
// A nil pointer or nil slice means "not part of this write": the stored value is kept (it
// still expires by its TTL). A non-nil empty slice means "collected, and there are none", and
// replaces the stored value. In particular Operators and ClusterOperators are nil on passes
// that skip them (the operator scan is throttled), and Events are appended, not replaced.
// Status is always written.
type ClusterState struct {
	Spec             *ClusterSpec
	Status           ClusterStatus
	Info             *ClusterInfo
	Metrics          *ClusterMetrics
	Namespaces       *Namespaces
	NamespaceCounts  []NamespaceCounts
	Nodes            []Node
	Operators        []Operator
	ClusterOperators []ClusterOperator
	Resources        *ResourceCollection
	Events           []Event
}
