// Package history is the VictoriaMetrics adapter: it turns domain values into samples of the
// ClusterPulse series (reference §7.3 names), writes them through the Prometheus text import
// endpoint (/api/v1/import/prometheus) with their own timestamps, and runs PromQL/MetricsQL
// queries (/api/v1/query, /api/v1/query_range).
//
// Writes are safe to repeat: a retried batch writes the same series at the same timestamps, so
// a reader sees no gap and no double. A Writer never hides a failure: when VictoriaMetrics is
// unreachable or answers 5xx the error wraps engine.ErrUnavailable, so the ingester can tell the
// agent to retry and a job can exit non-zero.
//
// Scoping queries to what a user may see is the API's job (it rewrites the selectors before
// calling Querier); this package runs what it is given.
//
// Package history imports engine only; it must not import jobs, connect or httpapi, nor any
// other engine subpackage.
package history
