// Package policy is the RBAC engine of ClusterPulse: it compiles MonitorAccessPolicy objects
// into the original ClusterPulse JSON and Redis indexes, reads a principal's policies back in
// one round trip, caches them per replica, and decides what a principal may see on a cluster
// (clusters, built-in resource kinds, MetricSource types, aggregations) with the semantics of
// RBAC.md; docs/rbac.md describes them for users.
//
// The package is pure apart from Store (Redis) and Cache (memory): Compile and Decide never
// touch the network, never panic on input, and return errors for specs that cannot be
// compiled.
//
// policy imports engine, engine/kube (the CRD types) and engine/store (key builders) only; it
// must never import jobs, connect or httpapi.
package policy
