package store

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
)

// WriteCustom writes what MetricSource sourceID ("ns/name") collected from cluster c: the
// resources, the aggregations and the collection meta, in one MULTI/EXEC, each with CACHE_TTL,
// recorded in the cluster's key index. A nil part is left as stored.
func (s *Store) WriteCustom(ctx context.Context, c, sourceID string, res *engine.CustomCollection, agg *engine.AggregationResults, meta *engine.CustomMeta) error {
	if c == "" || sourceID == "" {
		return fmt.Errorf("write custom data %q of cluster %q: empty name: %w", sourceID, c, engine.ErrInvalid)
	}
	k := s.keys
	b := &batch{index: k.ClusterKeys(c)}
	if res != nil {
		b.setJSON(k.CustomResources(c, sourceID), res, s.cacheTTL)
	}
	if agg != nil {
		b.setJSON(k.CustomAggregations(c, sourceID), agg, s.cacheTTL)
	}
	if meta != nil {
		b.setJSON(k.CustomMeta(c, sourceID), meta, s.cacheTTL)
	}
	return s.exec(ctx, fmt.Sprintf("write custom data %q of cluster %q", sourceID, c), b, nil)
}

// DeleteCustom deletes the data of MetricSource sourceID on cluster c (and its index entries),
// e.g. when the MetricSource is deleted: loop over ClusterNames, no scan.
func (s *Store) DeleteCustom(ctx context.Context, c, sourceID string) error {
	k := s.keys
	keys := []string{k.CustomResources(c, sourceID), k.CustomAggregations(c, sourceID), k.CustomMeta(c, sourceID)}
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, keys...)
		p.SRem(ctx, k.ClusterKeys(c), keys[0], keys[1], keys[2])
		return nil
	})
	return wrap(fmt.Sprintf("delete custom data %q of cluster %q", sourceID, c), err)
}

// CustomResources reads what MetricSource sourceID collected from cluster c.
func (s *Store) CustomResources(ctx context.Context, c, sourceID string) (engine.CustomCollection, error) {
	return getJSON[engine.CustomCollection](ctx, s, s.keys.CustomResources(c, sourceID),
		fmt.Sprintf("custom resources %q of cluster %q", sourceID, c))
}

// CustomAggregations reads the aggregations of MetricSource sourceID on cluster c.
func (s *Store) CustomAggregations(ctx context.Context, c, sourceID string) (engine.AggregationResults, error) {
	return getJSON[engine.AggregationResults](ctx, s, s.keys.CustomAggregations(c, sourceID),
		fmt.Sprintf("custom aggregations %q of cluster %q", sourceID, c))
}

// CustomMeta reads the collection meta of MetricSource sourceID on cluster c.
func (s *Store) CustomMeta(ctx context.Context, c, sourceID string) (engine.CustomMeta, error) {
	return getJSON[engine.CustomMeta](ctx, s, s.keys.CustomMeta(c, sourceID),
		fmt.Sprintf("custom meta %q of cluster %q", sourceID, c))
}
