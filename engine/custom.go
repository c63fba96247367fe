package engine

import "encoding/json"

// CustomResource is one resource collected by a MetricSource: an element of
// CustomCollection.Resources. Keys keep the original underscore names. ID is "namespace/name"
// for namespaced resources and "name" otherwise; Namespace and Labels are omitted when empty.
//
// Values maps each extracted or computed field to its value: string, bool, nil, or a number
// (int64 or float64 when built in Go, float64 after a JSON round trip). It marshals as {} when
// nil; a NaN or infinite number marshals as null rather than failing the whole collection.
type CustomResource struct {
	ID        string            `json:"_id"`
	Namespace string            `json:"_namespace,omitempty"`
	Name      string            `json:"_name"`
	Labels    map[string]string `json:"_labels,omitempty"`
	Values    map[string]any    `json:"values"`
}

// MarshalJSON writes r with a nil Values as {} and non-finite numbers as null.
func (r CustomResource) MarshalJSON() ([]byte, error) {
	type plain CustomResource
	p := plain(r)
	p.Values = orEmptyMap(finiteMap(p.Values))
	return json.Marshal(p)
}

// CustomCollection is what one MetricSource collected from one cluster, at
// cluster:{c}:custom:{sourceId}:resources. Keys are camelCase as in the original. SourceID is
// "namespace/name" of the MetricSource. Truncated means the maxResources cap was reached.
// Resources marshals as [] when nil.
type CustomCollection struct {
	CollectedAt   Time             `json:"collectedAt,omitzero"`
	SourceID      string           `json:"sourceId"`
	ClusterName   string           `json:"clusterName"`
	ResourceCount int              `json:"resourceCount"`
	Truncated     bool             `json:"truncated"`
	DurationMs    int64            `json:"durationMs"`
	Resources     []CustomResource `json:"resources"`
}

// MarshalJSON writes c with a nil Resources as [].
func (c CustomCollection) MarshalJSON() ([]byte, error) {
	type plain CustomCollection
	p := plain(c)
	p.Resources = orEmpty(p.Resources)
	return json.Marshal(p)
}

// AggregationResults holds a MetricSource's aggregation values for one cluster, at
// cluster:{c}:custom:{sourceId}:aggregations. Keys are camelCase as in the original.
//
// Values maps each aggregation name to its result, as EXPRESSIONS.md defines them: a number, a
// string (min/max over strings), null (no input), or for groupBy an object from group key to
// such a result. Values marshals as {} when nil, a NaN or infinite number as null; after a JSON
// round trip numbers are float64 and groups map[string]any.
type AggregationResults struct {
	ComputedAt Time           `json:"computedAt,omitzero"`
	SourceID   string         `json:"sourceId"`
	DurationMs int64          `json:"durationMs"`
	Values     map[string]any `json:"values"`
}

// MarshalJSON writes a with a nil Values as {} and non-finite numbers as null.
func (a AggregationResults) MarshalJSON() ([]byte, error) {
	type plain AggregationResults
	p := plain(a)
	p.Values = orEmptyMap(finiteMap(p.Values))
	return json.Marshal(p)
}

// CustomMeta is the collection metadata of one MetricSource on one cluster, at
// cluster:{c}:custom:{sourceId}:meta. Keys are camelCase as in the original. ErrorCount counts
// the errors of the last collection (per-namespace list failures included) and LastError holds
// the last one, omitted when there was none.
type CustomMeta struct {
	SourceID           string `json:"sourceId"`
	ClusterName        string `json:"clusterName"`
	LastCollectionTime Time   `json:"lastCollectionTime,omitzero"`
	DurationMs         int64  `json:"durationMs"`
	ResourceCount      int    `json:"resourceCount"`
	Truncated          bool   `json:"truncated"`
	ErrorCount         int    `json:"errorCount"`
	LastError          string `json:"lastError,omitempty"`
}
