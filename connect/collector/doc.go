// Package collector is `clusterpulse collector`: the push-mode agent that runs on a managed
// cluster. It collects the cluster's state with the shared engine (engine/collect for nodes,
// pods, namespaces, cluster info and operators; engine/metricsource for every MetricSource the
// ingester hands out, each at its own interval and with its own timeout) and pushes every pass
// as one MetricsBatch to `clusterpulse ingester` (connect/ingester), with the unary PushBatch RPC
// by default or over the original Connect stream.
//
// Collection never waits for the network: every batch goes into a buffer bounded in bytes
// (default 64 MiB) that drops the oldest batch first and reports the drops in heartbeats. The
// sender pushes the buffer oldest first, each batch with its original collected_at and batch id,
// so a replay after an outage lands at the right times and the ingester stores each batch once.
// Failed pushes are retried with exponential backoff and full jitter from 1 s to 5 min. A
// config version change in any answer makes the agent fetch the MetricSource config before its
// next pass. /healthz and /metrics are served on their own port. docs/push.md describes it.
//
// Package collector imports engine packages and the generated code in connect/gen; it must not
// import jobs, httpapi or the ingester.
package collector
