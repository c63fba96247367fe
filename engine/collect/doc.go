// Package collect turns one Kubernetes (or OpenShift) cluster's API into ClusterPulse domain
// values: nodes with their pod requests and counts, cluster metrics, the namespace list and
// per-namespace counts, cluster info (server version, OpenShift ClusterVersion, console URL),
// OLM operators, OpenShift ClusterOperators and, when metrics.k8s.io is served, real node usage.
// It is shared by `job pull` (hub → managed cluster) and the collector agent (in-cluster).
//
// The work is split in two layers. The files named after a Kubernetes kind (node.go, pod.go,
// namespace.go, deployment.go, workload.go, nodemetrics.go, clusterinfo.go,
// clusteroperator.go, olm.go, and cluster.go for the roll-up) hold pure functions from API
// objects to domain values, tested with realistic objects from testdata/. rbac.go states the
// RBAC rules a collecting token needs. collector.go lists those objects from the API server
// with paginated LISTs (protobuf for built-in kinds, no informers, no discovery of the whole
// API surface) and reduces each page as it arrives, so a cluster of any size is collected in
// memory proportional to its node count, not its pod count.
//
// Only node collection (the node and pod LISTs) is critical; every other part fails soft and
// is reported in Result.Errors. An API that is not served (404 on its LIST) is skipped quietly.
//
// Of ClusterPulse, package collect imports only the engine domain package: it must not import
// jobs, connect, httpapi or any other engine subpackage.
package collect
