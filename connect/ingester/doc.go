// Package ingester is `clusterpulse ingester`: the stateless server that push-mode collector
// agents send their cluster state to. One port serves the CollectorService of
// connect/proto with Connect, gRPC and gRPC-Web, over h2c or TLS: the original Connect stream
// (so collectors already in the field keep working) and the unary PushBatch, GetConfig and
// Heartbeat RPCs, which pass any HTTP/1.1 or HTTP/2 load balancer.
//
// Every request is authenticated by a collector token, stored in Redis only as a hash and bound
// to one cluster (RegisterToken); the cluster must be a push-mode ClusterConnection. A batch is
// stored exactly once per (cluster, batch id), and acknowledged only after Redis and
// VictoriaMetrics both took it, with the batch's own collected_at as the time of every value.
// Presence, de-duplication and rate limits are Redis keys, so any replica can serve any request.
// docs/push.md describes the protocol and operation.
//
// Package ingester imports engine packages and the generated code in connect/gen; it must not
// import jobs, httpapi or the collector agent.
package ingester
