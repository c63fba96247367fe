package engine

import "encoding/json"

// Event types. These are ClusterPulse's own collection outcomes, not Kubernetes Events.
const (
	EventClusterReconciled  = "cluster.reconciled"
	EventClusterDeleted     = "cluster.deleted"
	EventRegistryReconciled = "registry.reconciled"
	EventRegistryDeleted    = "registry.deleted"
)

// Event is one entry of a cluster's (or registry's) event list. Cluster holds the cluster name,
// or the registry name for registry events, as in the original. Data holds event-specific
// details and marshals as {} when nil; after a JSON round trip its numbers are float64.
type Event struct {
	Type      string         `json:"type"`
	Cluster   string         `json:"cluster"`
	Timestamp Time           `json:"timestamp,omitzero"`
	Data      map[string]any `json:"data"`
}

// MarshalJSON writes e with a nil Data as {} and non-finite numbers in Data as null.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	p := plain(e)
	p.Data = orEmptyMap(finiteMap(p.Data))
	return json.Marshal(p)
}
