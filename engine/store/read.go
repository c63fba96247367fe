package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
)

// getJSON reads the JSON at key into a T. A missing key wraps engine.ErrNotFound.
func getJSON[T any](ctx context.Context, s *Store, key, what string) (T, error) {
	var v T
	data, err := s.client.Get(ctx, key).Bytes()
	if err != nil {
		return v, wrap("read "+what, err)
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("decode %s: %w", what, err)
	}
	return v, nil
}

// hgetJSON reads the JSON in field of the HASH at key into a T.
func hgetJSON[T any](ctx context.Context, s *Store, key, field, what string) (T, error) {
	var v T
	data, err := s.client.HGet(ctx, key, field).Bytes()
	if err != nil {
		return v, wrap("read "+what, err)
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("decode %s: %w", what, err)
	}
	return v, nil
}

// ClusterNames returns the names in clusters:all, sorted.
func (s *Store) ClusterNames(ctx context.Context) ([]string, error) {
	names, err := s.client.SMembers(ctx, s.keys.ClustersAll()).Result()
	if err != nil {
		return nil, wrap("list clusters", err)
	}
	slices.Sort(names)
	return names, nil
}

// ClusterSpec reads the spec of cluster c.
func (s *Store) ClusterSpec(ctx context.Context, c string) (engine.ClusterSpec, error) {
	return getJSON[engine.ClusterSpec](ctx, s, s.keys.ClusterSpec(c), fmt.Sprintf("spec of cluster %q", c))
}

// ClusterStatus reads the status of cluster c.
func (s *Store) ClusterStatus(ctx context.Context, c string) (engine.ClusterStatus, error) {
	return getJSON[engine.ClusterStatus](ctx, s, s.keys.ClusterStatus(c), fmt.Sprintf("status of cluster %q", c))
}

// ClusterInfo reads the info of cluster c.
func (s *Store) ClusterInfo(ctx context.Context, c string) (engine.ClusterInfo, error) {
	return getJSON[engine.ClusterInfo](ctx, s, s.keys.ClusterInfo(c), fmt.Sprintf("info of cluster %q", c))
}

// ClusterMetrics reads the metrics of cluster c.
func (s *Store) ClusterMetrics(ctx context.Context, c string) (engine.ClusterMetrics, error) {
	return getJSON[engine.ClusterMetrics](ctx, s, s.keys.ClusterMetrics(c), fmt.Sprintf("metrics of cluster %q", c))
}

// Namespaces reads the namespace list of cluster c.
func (s *Store) Namespaces(ctx context.Context, c string) (engine.Namespaces, error) {
	return getJSON[engine.Namespaces](ctx, s, s.keys.Namespaces(c), fmt.Sprintf("namespaces of cluster %q", c))
}

// NamespaceCounts reads the per-namespace resource counts of cluster c.
func (s *Store) NamespaceCounts(ctx context.Context, c string) ([]engine.NamespaceCounts, error) {
	return getJSON[[]engine.NamespaceCounts](ctx, s, s.keys.NamespaceCounts(c), fmt.Sprintf("namespace counts of cluster %q", c))
}

// Node reads node n of cluster c (the hash field current).
func (s *Store) Node(ctx context.Context, c, n string) (engine.Node, error) {
	return hgetJSON[engine.Node](ctx, s, s.keys.Node(c, n), "current", fmt.Sprintf("node %q of cluster %q", n, c))
}

// Nodes reads every node of cluster c, sorted by name, with one pipelined round trip for the
// hashes. Nodes listed in the set whose hash has expired are left out. A cluster without
// nodes gives an empty list, not an error.
func (s *Store) Nodes(ctx context.Context, c string) ([]engine.Node, error) {
	op := fmt.Sprintf("read nodes of cluster %q", c)
	names, err := s.client.SMembers(ctx, s.keys.Nodes(c)).Result()
	if err != nil {
		return nil, wrap(op, err)
	}
	slices.Sort(names)
	cmds := make([]*redis.StringCmd, len(names))
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range names {
			cmds[i] = p.HGet(ctx, s.keys.Node(c, n), "current")
		}
		return nil
	})
	if err != nil && !isNil(err) {
		return nil, wrap(op, err)
	}
	nodes := make([]engine.Node, 0, len(names))
	for i, cmd := range cmds {
		data, err := cmd.Bytes()
		if isNil(err) {
			continue
		}
		if err != nil {
			return nil, wrap(op, err)
		}
		var n engine.Node
		if err := json.Unmarshal(data, &n); err != nil {
			return nil, fmt.Errorf("decode node %q of cluster %q: %w", names[i], c, err)
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// NodeHistory returns the newest limit samples of node n of cluster c, oldest first (all
// samples in the retention window when limit <= 0). A node without samples gives an empty
// list.
func (s *Store) NodeHistory(ctx context.Context, c, n string, limit int) ([]engine.NodeSample, error) {
	stop := int64(-1)
	if limit > 0 {
		stop = int64(limit) - 1
	}
	members, err := s.client.ZRevRange(ctx, s.keys.NodeMetrics(c, n), 0, stop).Result()
	if err != nil {
		return nil, wrap(fmt.Sprintf("read history of node %q of cluster %q", n, c), err)
	}
	out := make([]engine.NodeSample, len(members))
	for i, m := range members {
		if err := json.Unmarshal([]byte(m), &out[len(members)-1-i]); err != nil {
			return nil, fmt.Errorf("decode sample of node %q of cluster %q: %w", n, c, err)
		}
	}
	return out, nil
}

// NodesSummary reads the node roll-up of cluster c.
func (s *Store) NodesSummary(ctx context.Context, c string) (engine.NodesSummary, error) {
	return hgetJSON[engine.NodesSummary](ctx, s, s.keys.NodesSummary(c), "data", fmt.Sprintf("nodes summary of cluster %q", c))
}

// Operators reads the OLM operators of cluster c.
func (s *Store) Operators(ctx context.Context, c string) ([]engine.Operator, error) {
	return getJSON[[]engine.Operator](ctx, s, s.keys.Operators(c), fmt.Sprintf("operators of cluster %q", c))
}

// OperatorsSummary reads the OLM operator roll-up of cluster c.
func (s *Store) OperatorsSummary(ctx context.Context, c string) (engine.OperatorsSummary, error) {
	return getJSON[engine.OperatorsSummary](ctx, s, s.keys.OperatorsSummary(c), fmt.Sprintf("operators summary of cluster %q", c))
}

// ClusterOperators reads the OpenShift ClusterOperators of cluster c.
func (s *Store) ClusterOperators(ctx context.Context, c string) ([]engine.ClusterOperator, error) {
	return getJSON[[]engine.ClusterOperator](ctx, s, s.keys.ClusterOperators(c), fmt.Sprintf("cluster operators of cluster %q", c))
}

// ClusterOperatorsSummary reads the ClusterOperator roll-up of cluster c.
func (s *Store) ClusterOperatorsSummary(ctx context.Context, c string) (engine.ClusterOperatorsSummary, error) {
	return getJSON[engine.ClusterOperatorsSummary](ctx, s, s.keys.ClusterOperatorsSummary(c), fmt.Sprintf("cluster operators summary of cluster %q", c))
}

// Events returns the newest limit events of cluster c, newest first (all kept events when
// limit <= 0). A cluster without events gives an empty list.
func (s *Store) Events(ctx context.Context, c string, limit int) ([]engine.Event, error) {
	return s.events(ctx, s.keys.Events(c), limit, fmt.Sprintf("events of cluster %q", c))
}

func (s *Store) events(ctx context.Context, key string, limit int, what string) ([]engine.Event, error) {
	stop := int64(-1)
	if limit > 0 {
		stop = int64(limit) - 1
	}
	items, err := s.client.LRange(ctx, key, 0, stop).Result()
	if err != nil {
		return nil, wrap("read "+what, err)
	}
	out := make([]engine.Event, len(items))
	for i, it := range items {
		if err := json.Unmarshal([]byte(it), &out[i]); err != nil {
			return nil, fmt.Errorf("decode %s: %w", what, err)
		}
	}
	return out, nil
}

// ReadCluster reads the state of cluster c as one consistent snapshot (one Lua script, which
// Redis runs atomically): it never mixes two writes. Parts that are not stored are nil, as in
// engine.ClusterState; Events are never filled (read them with Events). A cluster with no
// state at all wraps engine.ErrNotFound.
func (s *Store) ReadCluster(ctx context.Context, c string) (engine.ClusterState, error) {
	k := s.keys
	op := fmt.Sprintf("read cluster %q", c)
	keys := []string{
		k.ClusterSpec(c), k.ClusterStatus(c), k.ClusterInfo(c), k.ClusterMetrics(c),
		k.Namespaces(c), k.NamespaceCounts(c), k.Operators(c), k.ClusterOperators(c),
		k.ResourceMetadata(c),
	}
	for _, kind := range resourceKinds() {
		keys = append(keys, k.Resources(c, kind))
	}
	keys = append(keys, k.Nodes(c))
	res, err := s.scripts.readCluster.Run(ctx, s.client, keys, k.nodePrefix(c)).Slice()
	if err != nil {
		return engine.ClusterState{}, wrap(op, err)
	}
	if len(res) != len(keys) {
		return engine.ClusterState{}, fmt.Errorf("%s: script returned %d values for %d keys", op, len(res), len(keys))
	}
	var st engine.ClusterState
	d := decoder{op: op}
	found := false
	for _, v := range res {
		if v != nil {
			found = true
		}
	}
	if !found {
		return st, fmt.Errorf("%s: %w", op, engine.ErrNotFound)
	}
	st.Spec = decodePtr[engine.ClusterSpec](&d, res[0], "spec")
	if status := decodePtr[engine.ClusterStatus](&d, res[1], "status"); status != nil {
		st.Status = *status
	}
	st.Info = decodePtr[engine.ClusterInfo](&d, res[2], "info")
	st.Metrics = decodePtr[engine.ClusterMetrics](&d, res[3], "metrics")
	st.Namespaces = decodePtr[engine.Namespaces](&d, res[4], "namespaces")
	st.NamespaceCounts = decodeSlice[engine.NamespaceCounts](&d, res[5], "namespace counts")
	st.Operators = decodeSlice[engine.Operator](&d, res[6], "operators")
	st.ClusterOperators = decodeSlice[engine.ClusterOperator](&d, res[7], "cluster operators")
	if meta := decodePtr[resourceMetadata](&d, res[8], "resource metadata"); meta != nil {
		st.Resources = &engine.ResourceCollection{
			CollectedAt:      meta.LastCollection,
			CollectionTimeMs: meta.CollectionTimeMs,
			Truncated:        meta.Truncated,
			Pods:             decodeSlice[engine.PodSummary](&d, res[9], "pods"),
			Deployments:      decodeSlice[engine.DeploymentSummary](&d, res[10], "deployments"),
			Services:         decodeSlice[engine.ServiceSummary](&d, res[11], "services"),
			StatefulSets:     decodeSlice[engine.StatefulSetSummary](&d, res[12], "statefulsets"),
			DaemonSets:       decodeSlice[engine.DaemonSetSummary](&d, res[13], "daemonsets"),
		}
	}
	if pairs, ok := res[14].([]any); ok {
		st.Nodes = make([]engine.Node, 0, len(pairs)/2)
		for i := 0; i+1 < len(pairs); i += 2 {
			name, _ := pairs[i].(string)
			if n := decodePtr[engine.Node](&d, pairs[i+1], "node "+name); n != nil {
				st.Nodes = append(st.Nodes, *n)
			}
		}
	}
	return st, d.err
}

// decoder decodes script results, keeping the first error.
type decoder struct {
	op  string
	err error
}

func decodeInto(d *decoder, v any, what string, out any) bool {
	if v == nil || d.err != nil {
		return false
	}
	str, ok := v.(string)
	if !ok {
		d.err = fmt.Errorf("%s: %s: unexpected script value of type %T", d.op, what, v)
		return false
	}
	if err := json.Unmarshal([]byte(str), out); err != nil {
		d.err = fmt.Errorf("%s: decode %s: %w", d.op, what, err)
		return false
	}
	return true
}

func decodePtr[T any](d *decoder, v any, what string) *T {
	var out T
	if !decodeInto(d, v, what, &out) {
		return nil
	}
	return &out
}

func decodeSlice[T any](d *decoder, v any, what string) []T {
	out := []T{}
	if !decodeInto(d, v, what, &out) {
		return nil
	}
	return nonNil(out)
}
