// Package engine holds the ClusterPulse domain types in their Redis wire format, the sentinel
// error kinds shared by every component, and the small pure helpers that belong to the data
// itself (quantity parsing, summaries).
//
// Wire-format rules, kept by MarshalJSON methods so that json.Marshal of any value (even a zero
// value) already follows them:
//   - JSON keys are snake_case as in the original ClusterPulse, except where the original used
//     camelCase (cluster spec, custom-resource collections); each type's doc says which.
//   - Slices and maps never marshal as null: a nil slice is [] and a nil map is {}. The few
//     fields documented as optional are omitted when empty instead, never null.
//   - Times are Time values: RFC 3339 in UTC; a zero time is omitted (see Time).
//   - CPU is in cores (float64) and memory/storage in bytes (int64), converted from Kubernetes
//     quantities with k8s.io/apimachinery's resource.Quantity (see ParseCPU, ParseBytes).
//
// Package engine is the centre of the dependency graph: it must not import jobs, connect or
// httpapi, nor any engine subpackage (they import it).
package engine
