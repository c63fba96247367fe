package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
)

// resourceKinds returns the kinds of engine.ResourceCollection, each stored under its own key
// (Keys.Resources) as the original schema has it.
func resourceKinds() [5]string {
	return [5]string{"pods", "deployments", "services", "statefulsets", "daemonsets"}
}

// resourceMetadata is the JSON at cluster:{c}:resource_metadata: what the API's
// resource_collection block shows, without the lists.
type resourceMetadata struct {
	LastCollection   engine.Time `json:"last_collection,omitzero"`
	CollectionTimeMs int64       `json:"collection_time_ms"`
	Truncated        bool        `json:"truncated"`
}

// clusterOperatorBrief is the JSON at cluster:{c}:cluster_operator:{op}, as the original
// writes it.
type clusterOperatorBrief struct {
	Available   bool        `json:"available"`
	Degraded    bool        `json:"degraded"`
	Progressing bool        `json:"progressing"`
	Version     string      `json:"version"`
	Message     string      `json:"message"`
	Timestamp   engine.Time `json:"timestamp,omitzero"`
}

// WriteCluster writes one collection pass of cluster name in one MULTI/EXEC, so a reader sees
// either all of it or none of it. Parts that are nil in st are left as stored (see
// engine.ClusterState); Status is always written.
//
// TTLs: spec, labels, status and meta have none (they describe the cluster, not a
// collection; status carries last_check and last_success so staleness is visible); node
// sample ZSETs live METRICS_RETENTION and are trimmed to that window; events 24 h; every other
// part CACHE_TTL. When Nodes is set, the keys of nodes that are no longer listed are deleted
// in the same transaction, and likewise the per-operator keys when ClusterOperators is set.
// Every key written is recorded in the cluster's key index for DeleteCluster.
//
// Everything is encoded before MULTI: an encoding error returns with nothing written.
func (s *Store) WriteCluster(ctx context.Context, name string, st engine.ClusterState) error {
	if name == "" {
		return fmt.Errorf("write cluster: empty name: %w", engine.ErrInvalid)
	}
	op := fmt.Sprintf("write cluster %q", name)
	b := s.clusterBatch(name, st)
	if st.Nodes == nil && st.ClusterOperators == nil {
		return s.exec(ctx, op, b, nil)
	}
	keep := s.keepFunc(name, st)
	return s.exec(ctx, op, b, func(tx *redis.Tx) error {
		members, err := tx.SMembers(ctx, b.index).Result()
		if err != nil {
			return err
		}
		var stale []string
		for _, m := range members {
			if !keep(m) {
				stale = append(stale, m)
			}
		}
		b.del(stale...)
		return nil
	})
}

// keepFunc returns whether an indexed key survives a write of st: node keys of nodes st no
// longer lists, and per-operator keys of ClusterOperators it no longer lists, do not.
func (s *Store) keepFunc(name string, st engine.ClusterState) func(key string) bool {
	k := s.keys
	nodes := map[string]bool{}
	for _, n := range st.Nodes {
		nodes[n.Name] = true
	}
	ops := map[string]bool{}
	for _, o := range st.ClusterOperators {
		ops[o.Name] = true
	}
	opPrefix := k.ClusterOperator(name, "")
	return func(key string) bool {
		if st.Nodes != nil {
			if n, ok := k.nodeOf(name, key); ok {
				return nodes[n]
			}
		}
		if st.ClusterOperators != nil {
			if op, ok := strings.CutPrefix(key, opPrefix); ok {
				return ops[op]
			}
		}
		return true
	}
}

// clusterBatch encodes st into a batch of writes.
func (s *Store) clusterBatch(name string, st engine.ClusterState) *batch {
	k := s.keys
	now := s.now()
	ttl := s.cacheTTL
	b := &batch{index: k.ClusterKeys(name)}

	// clusters:all is shared by every cluster, so it is not in the cluster's own index.
	b.unindexed(func(ctx context.Context, p redis.Pipeliner) { p.SAdd(ctx, k.ClustersAll(), name) })

	if st.Spec != nil {
		b.setJSON(k.ClusterSpec(name), st.Spec, 0)
		if len(st.Spec.Labels) > 0 {
			b.setJSON(k.ClusterLabels(name), st.Spec.Labels, 0)
		} else {
			b.del(k.ClusterLabels(name))
		}
	}
	b.setJSON(k.ClusterStatus(name), st.Status, 0)
	b.do(k.ClusterMeta(name), func(ctx context.Context, p redis.Pipeliner) {
		p.HSet(ctx, k.ClusterMeta(name), "last_update", now.UTC().Format(time.RFC3339))
	})
	if st.Info != nil {
		b.setJSON(k.ClusterInfo(name), st.Info, ttl)
	}
	if st.Metrics != nil {
		b.setJSON(k.ClusterMetrics(name), st.Metrics, ttl)
	}
	if st.Namespaces != nil {
		b.setJSON(k.Namespaces(name), st.Namespaces, ttl)
		b.replaceSet(k.NamespacesSet(name), st.Namespaces.Namespaces, ttl)
	}
	if st.NamespaceCounts != nil {
		b.setJSON(k.NamespaceCounts(name), st.NamespaceCounts, ttl)
	}
	if st.Nodes != nil {
		s.nodesBatch(b, name, st.Nodes, now)
	}
	if st.Operators != nil {
		b.setJSON(k.Operators(name), st.Operators, ttl)
		b.setJSON(k.OperatorsSummary(name), engine.SummarizeOperators(st.Operators), ttl)
	}
	if st.ClusterOperators != nil {
		b.setJSON(k.ClusterOperators(name), st.ClusterOperators, ttl)
		b.setJSON(k.ClusterOperatorsSummary(name), engine.SummarizeClusterOperators(st.ClusterOperators, now), ttl)
		for _, o := range st.ClusterOperators {
			b.setJSON(k.ClusterOperator(name, o.Name), clusterOperatorBrief{
				Available: o.Available, Degraded: o.Degraded, Progressing: o.Progressing,
				Version: o.Version, Message: o.Message, Timestamp: engine.NewTime(now),
			}, ttl)
		}
	}
	if r := st.Resources; r != nil {
		lists := [5]any{
			nonNil(r.Pods), nonNil(r.Deployments), nonNil(r.Services), nonNil(r.StatefulSets), nonNil(r.DaemonSets),
		}
		for i, kind := range resourceKinds() {
			b.setJSON(k.Resources(name, kind), lists[i], ttl)
		}
		b.setJSON(k.ResourceMetadata(name), resourceMetadata{
			LastCollection: r.CollectedAt, CollectionTimeMs: r.CollectionTimeMs, Truncated: r.Truncated,
		}, ttl)
	}
	if len(st.Events) > 0 {
		items := make([][]byte, len(st.Events))
		for i, e := range st.Events {
			items[i] = b.encode("event", e)
		}
		b.pushCapped(k.Events(name), items, EventsMax, EventsTTL)
	}
	return b
}

// nodesBatch adds the node hashes, the node set, the samples and the summary.
func (s *Store) nodesBatch(b *batch, name string, nodes []engine.Node, now time.Time) {
	k := s.keys
	ttl := s.cacheTTL
	names := make([]string, 0, len(nodes))
	cutoff := float64(now.Add(-s.metricsRetention).UnixNano()) / 1e9
	for _, n := range nodes {
		if n.Name == "" {
			b.fail(fmt.Errorf("node without a name: %w", engine.ErrInvalid))
			continue
		}
		names = append(names, n.Name)
		current := b.encode("node "+n.Name, n)
		b.replaceHash(k.Node(name, n.Name), map[string]any{
			"current":      current,
			"last_update":  now.UTC().Format(time.RFC3339),
			"status":       n.Status,
			"cpu_usage":    fmt.Sprintf("%.2f", n.CPUUsagePercent),
			"memory_usage": fmt.Sprintf("%.2f", n.MemoryUsagePercent),
			"pods_total":   n.PodsTotal,
		}, ttl)

		sample := engine.NewNodeSample(n)
		if sample.Timestamp.IsZero() {
			sample.Timestamp = engine.NewTime(now)
		}
		member := b.encode("sample of node "+n.Name, sample)
		score := sample.Score()
		mk := k.NodeMetrics(name, n.Name)
		b.do(mk, func(ctx context.Context, p redis.Pipeliner) {
			p.ZAdd(ctx, mk, redis.Z{Score: score, Member: member})
			p.ZRemRangeByScore(ctx, mk, "-inf", fmt.Sprintf("(%f", cutoff))
			p.Expire(ctx, mk, s.metricsRetention)
		})
	}
	slices.Sort(names)
	if i, dup := firstDuplicate(names); dup {
		b.fail(fmt.Errorf("node %q listed twice: %w", names[i], engine.ErrInvalid))
	}
	b.replaceSet(k.Nodes(name), names, ttl)
	summary := b.encode("nodes summary", engine.SummarizeNodes(nodes, now))
	sk := k.NodesSummary(name)
	b.replaceHash(sk, map[string]any{"data": summary}, ttl)
}

func firstDuplicate(sorted []string) (int, bool) {
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return i, true
		}
	}
	return 0, false
}

// nonNil returns s, or an empty slice when s is nil, so lists are stored as [] not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// DeleteCluster deletes every key of cluster name (those in its key index, plus the keys with
// fixed names, for state written before the index existed), the index itself, and the name
// from clusters:all, atomically (one Lua script), without scanning the keyspace. Deleting a
// cluster that has no state is not an error.
func (s *Store) DeleteCluster(ctx context.Context, name string) error {
	if name == "" {
		return fmt.Errorf("delete cluster: empty name: %w", engine.ErrInvalid)
	}
	k := s.keys
	keys := []string{k.ClusterKeys(name), k.ClustersAll(),
		k.ClusterSpec(name), k.ClusterLabels(name), k.ClusterStatus(name), k.ClusterMeta(name),
		k.ClusterInfo(name), k.ClusterMetrics(name), k.Namespaces(name), k.NamespacesSet(name),
		k.NamespaceCounts(name), k.Nodes(name), k.NodesSummary(name), k.Operators(name),
		k.OperatorsSummary(name), k.ClusterOperators(name), k.ClusterOperatorsSummary(name),
		k.ResourceMetadata(name), k.Events(name),
	}
	for _, kind := range resourceKinds() {
		keys = append(keys, k.Resources(name, kind))
	}
	err := s.scripts.deleteIndexed.Run(ctx, s.client, keys, name).Err()
	return wrap(fmt.Sprintf("delete cluster %q", name), err)
}
