package store

import "strings"

// Keys builds every Redis key ClusterPulse uses. Each key is Prefix followed by the original
// ClusterPulse key (reference §7.2), so with the production prefix "" the keys are exactly the
// original ones; tests pass a per-test prefix. docs/redis-schema.md lists type, TTL, writer and
// reader of each key.
//
// Names are used as they come: Kubernetes names cannot contain ':', so a cluster, node,
// registry or namespace name cannot make one key look like another.
type Keys struct {
	// Prefix is prepended to every key. It should end with ':' when it is not empty.
	Prefix string
}

func (k Keys) join(parts ...string) string {
	return k.Prefix + strings.Join(parts, ":")
}

// ClustersAll is the SET of the names of every cluster that has state.
func (k Keys) ClustersAll() string { return k.join("clusters", "all") }

// ClusterKeys is the SET of every key written for cluster c (the per-cluster key index), so
// that DeleteCluster never scans the keyspace. New: not in the original schema.
func (k Keys) ClusterKeys(c string) string { return k.join("cluster", c, "keys") }

// ClusterSpec is the STRING (JSON engine.ClusterSpec) of cluster c.
func (k Keys) ClusterSpec(c string) string { return k.join("cluster", c, "spec") }

// ClusterLabels is the STRING (JSON map) of the labels of cluster c.
func (k Keys) ClusterLabels(c string) string { return k.join("cluster", c, "labels") }

// ClusterStatus is the STRING (JSON engine.ClusterStatus) of cluster c.
func (k Keys) ClusterStatus(c string) string { return k.join("cluster", c, "status") }

// ClusterMeta is the HASH (field last_update) of cluster c.
func (k Keys) ClusterMeta(c string) string { return k.join("cluster", c, "meta") }

// ClusterInfo is the STRING (JSON engine.ClusterInfo) of cluster c.
func (k Keys) ClusterInfo(c string) string { return k.join("cluster", c, "info") }

// ClusterMetrics is the STRING (JSON engine.ClusterMetrics) of cluster c.
func (k Keys) ClusterMetrics(c string) string { return k.join("cluster", c, "metrics") }

// Namespaces is the STRING (JSON engine.Namespaces) of cluster c.
func (k Keys) Namespaces(c string) string { return k.join("cluster", c, "namespaces") }

// NamespacesSet is the SET of the namespace names of cluster c.
func (k Keys) NamespacesSet(c string) string { return k.join("cluster", c, "namespaces", "set") }

// NamespaceCounts is the STRING (JSON array of engine.NamespaceCounts) of cluster c. New: not in
// the original schema.
func (k Keys) NamespaceCounts(c string) string {
	return k.join("cluster", c, "namespace_counts")
}

// Nodes is the SET of the node names of cluster c.
func (k Keys) Nodes(c string) string { return k.join("cluster", c, "nodes") }

// Node is the HASH of node n of cluster c (fields current, last_update, status, cpu_usage,
// memory_usage, pods_total).
func (k Keys) Node(c, n string) string { return k.join("cluster", c, "node", n) }

// NodeMetrics is the ZSET of samples (engine.NodeSample JSON, score unix seconds) of node n of
// cluster c.
func (k Keys) NodeMetrics(c, n string) string { return k.join("cluster", c, "node", n, "metrics") }

// nodePrefix is the common beginning of Node and NodeMetrics keys of cluster c.
func (k Keys) nodePrefix(c string) string { return k.join("cluster", c, "node") + ":" }

// NodesSummary is the HASH (field data: JSON engine.NodesSummary) of cluster c.
func (k Keys) NodesSummary(c string) string { return k.join("cluster", c, "nodes", "summary") }

// Operators is the STRING (JSON array of engine.Operator) of cluster c.
func (k Keys) Operators(c string) string { return k.join("cluster", c, "operators") }

// OperatorsSummary is the STRING (JSON engine.OperatorsSummary) of cluster c.
func (k Keys) OperatorsSummary(c string) string { return k.join("cluster", c, "operators_summary") }

// ClusterOperators is the STRING (JSON array of engine.ClusterOperator) of cluster c.
func (k Keys) ClusterOperators(c string) string { return k.join("cluster", c, "cluster_operators") }

// ClusterOperatorsSummary is the STRING (JSON engine.ClusterOperatorsSummary) of cluster c.
func (k Keys) ClusterOperatorsSummary(c string) string {
	return k.join("cluster", c, "cluster_operators_summary")
}

// ClusterOperator is the STRING (JSON {available, degraded, progressing, version, message,
// timestamp}) of OpenShift ClusterOperator op of cluster c.
func (k Keys) ClusterOperator(c, op string) string {
	return k.join("cluster", c, "cluster_operator", op)
}

// Resources is the STRING (JSON array of the summaries of one kind) of cluster c; kind is one
// of pods, deployments, services, statefulsets, daemonsets.
func (k Keys) Resources(c, kind string) string { return k.join("cluster", c, kind) }

// ResourceMetadata is the STRING (JSON {last_collection, collection_time_ms, truncated, ...})
// describing the resource summaries of cluster c.
func (k Keys) ResourceMetadata(c string) string { return k.join("cluster", c, "resource_metadata") }

// CustomResources is the STRING (JSON engine.CustomCollection) of MetricSource id ("ns/name")
// on cluster c.
func (k Keys) CustomResources(c, id string) string {
	return k.join("cluster", c, "custom", id, "resources")
}

// CustomAggregations is the STRING (JSON engine.AggregationResults) of MetricSource id on
// cluster c.
func (k Keys) CustomAggregations(c, id string) string {
	return k.join("cluster", c, "custom", id, "aggregations")
}

// CustomMeta is the STRING (JSON engine.CustomMeta) of MetricSource id on cluster c.
func (k Keys) CustomMeta(c, id string) string { return k.join("cluster", c, "custom", id, "meta") }

// Events is the LIST (JSON engine.Event, newest first) of cluster c.
func (k Keys) Events(c string) string { return k.join("events", c) }

// RegistriesAll is the SET of the names of every registry that has state.
func (k Keys) RegistriesAll() string { return k.join("registries", "all") }

// RegistrySpec is the STRING (JSON engine.RegistrySpec) of registry r.
func (k Keys) RegistrySpec(r string) string { return k.join("registry", r, "spec") }

// RegistryStatus is the STRING (JSON engine.RegistryStatus) of registry r.
func (k Keys) RegistryStatus(r string) string { return k.join("registry", r, "status") }

// RegistryMeta is the HASH (fields last_update, available) of registry r.
func (k Keys) RegistryMeta(r string) string { return k.join("registry", r, "meta") }

// RegistryEvents is the LIST (JSON engine.Event, newest first) of registry r. The original
// wrote registry events to events:{r}, mixing them with a cluster of the same name.
func (k Keys) RegistryEvents(r string) string { return k.join("registry", r, "events") }

// registryLegacy are the registry keys the original wrote and nothing reads; DeleteRegistry
// removes them so a hub upgraded from the original leaves nothing behind.
func (k Keys) registryLegacy(r string) []string {
	return []string{k.join("registry", r, "metrics"), k.join("registry", r, "metrics", "latest")}
}

// MetricSource is the STRING (JSON compiled MetricSource) of MetricSource ns/name.
func (k Keys) MetricSource(ns, name string) string { return k.join("metricsource", ns, name) }

// MetricSourceMeta is the HASH (compiledAt, hash, kind, apiVersion, resourceTypeName) of
// MetricSource ns/name.
func (k Keys) MetricSourceMeta(ns, name string) string {
	return k.join("metricsource", ns, name, "meta")
}

// MetricSourcesAll is the SET of every MetricSource id ("ns/name").
func (k Keys) MetricSourcesAll() string { return k.join("metricsources", "all") }

// MetricSourcesEnabled is the SET of the enabled MetricSource ids.
func (k Keys) MetricSourcesEnabled() string { return k.join("metricsources", "enabled") }

// MetricSourcesByResourceType is the SET of the MetricSource ids whose rbac.resourceTypeName is
// typ.
func (k Keys) MetricSourcesByResourceType(typ string) string {
	return k.join("metricsources", "by", "resourcetype", typ)
}

// Policy is the HASH (data, priority, effect, enabled, hash, compiled_at, status) of the
// compiled MonitorAccessPolicy ns/name.
func (k Keys) Policy(ns, name string) string { return k.join("policy", ns, name) }

// PolicySubject is the SET of policy keys that name subject x of kind ("user", "group", "sa"
// or "customtype").
func (k Keys) PolicySubject(kind, x string) string { return k.join("policy", kind, x) }

// PolicySubjectSorted is the ZSET (score = priority) of policy keys that name subject x of kind.
func (k Keys) PolicySubjectSorted(kind, x string) string {
	return k.join("policy", kind, x, "sorted")
}

// PoliciesAll is the SET of every policy key.
func (k Keys) PoliciesAll() string { return k.join("policies", "all") }

// PoliciesEnabled is the SET of the enabled policy keys.
func (k Keys) PoliciesEnabled() string { return k.join("policies", "enabled") }

// PoliciesByPriority is the ZSET (score = priority) of every policy key.
func (k Keys) PoliciesByPriority() string { return k.join("policies", "by", "priority") }

// PoliciesByEffect is the SET of the policy keys whose effect is effect ("allow" or "deny").
func (k Keys) PoliciesByEffect(effect string) string { return k.join("policies", "effect", effect) }

// Lease is the STRING (owner token, PX TTL) that guards the unit of work name.
func (k Keys) Lease(name string) string { return k.join("lease", name) }

// Presence is the STRING (JSON, TTL) saying that name of kind (e.g. a collector) is alive.
func (k Keys) Presence(kind, name string) string { return k.join("presence", kind, name) }

// Once is the STRING ("pending:<owner>" or "done", TTL) that de-duplicates the work key.
func (k Keys) Once(key string) string { return k.join("once", key) }

// nodeOf returns the node name when key is a Node or NodeMetrics key of cluster c.
func (k Keys) nodeOf(c, key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, k.nodePrefix(c))
	if !ok || rest == "" {
		return "", false
	}
	rest = strings.TrimSuffix(rest, ":metrics")
	if strings.Contains(rest, ":") {
		return "", false
	}
	return rest, true
}
