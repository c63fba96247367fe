// Package metricsource is the MetricSource engine: it compiles a MetricSource spec into an
// immutable Compiled form (Compile), resolves its kind to a resource with one cluster's
// discovery (Compiled.Resolve), and collects it from that cluster (Collect): paged LISTs,
// field extraction (Field, Path), computed fields in the expression language (package expr)
// and aggregations (Aggregator), producing the original collection and aggregation JSON.
//
// The same code serves the hub's metricsource job, the push-mode collector agent and the API,
// which recomputes aggregations with Aggregator over what a filtered caller may see and loads
// stored definitions with Load. User documentation: docs/metricsource.md; exact expression and
// aggregation semantics: docs/expressions.md.
//
// Package metricsource holds no process state and performs no I/O of its own beyond the
// Kubernetes clients it is handed. It must not import jobs, connect, httpapi, nor the store or
// any other engine adapter (store, history, registry, collect, policy).
package metricsource
