package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
)

// MetricSourceClusters is the SET of the clusters that have data of MetricSource ns/name
// (written by WriteCustomIndexed), so that DeleteMetricSource finds every per-cluster key
// without scanning the keyspace. New: not in the original schema.
func (k Keys) MetricSourceClusters(ns, name string) string {
	return k.join("metricsource", ns, name, "clusters")
}

// MetricSourcesVersion is the STRING counter incremented by every change of a MetricSource
// definition or of the MetricSource indexes, so that push agents and API replicas learn that
// the definitions changed with one GET. New: not in the original schema.
func (k Keys) MetricSourcesVersion() string { return k.join("metricsources", "version") }

// MetricSourceDef is what the store keeps of one compiled MetricSource: the stored definition
// (the JSON of metricsource.Compiled) and the fields of its meta hash and indexes.
type MetricSourceDef struct {
	// Namespace and Name identify the MetricSource; its id is "namespace/name".
	Namespace, Name string
	// ResourceTypeName is spec.rbac.resourceTypeName, the type index it is listed in.
	ResourceTypeName string
	// Kind and APIVersion are spec.source's.
	Kind, APIVersion string
	// Hash identifies the normalised spec: a definition whose hash and type are stored
	// already is not written again.
	Hash string
	// CompiledAt is when the definition was compiled.
	CompiledAt time.Time
	// Definition is the stored JSON, written as it is.
	Definition []byte
}

// ID returns "namespace/name", or "name" when the namespace is empty.
func (d MetricSourceDef) ID() string { return sourceID(d.Namespace, d.Name) }

func sourceID(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// splitSourceID splits "namespace/name" (or "name") into its parts.
func splitSourceID(id string) (ns, name string) {
	if ns, name, ok := strings.Cut(id, "/"); ok {
		return ns, name
	}
	return "", id
}

// saveMetricSourceScript stores one definition and its indexes, atomically.
// KEYS[1] definition, KEYS[2] meta hash, KEYS[3] metricsources:all, KEYS[4]
// metricsources:enabled, KEYS[5] the type index of the new type, KEYS[6] the version counter.
// ARGV[1] id, ARGV[2] definition JSON, ARGV[3] hash, ARGV[4] resource type, ARGV[5] kind,
// ARGV[6] apiVersion, ARGV[7] compiledAt, ARGV[8] the type index key without the type.
// The previous type is read from the meta hash and the id removed from its index, so no
// stale by:resourcetype entry survives a rename. The definition and meta are written, and the
// version incremented, only when something changed. Returns 1 when something changed.
const saveMetricSourceScript = `
local old = redis.call('HMGET', KEYS[2], 'hash', 'resourceTypeName')
local changed = 0
if old[1] ~= ARGV[3] or old[2] ~= ARGV[4] or redis.call('EXISTS', KEYS[1]) == 0 then
  changed = 1
end
if old[2] and old[2] ~= ARGV[4] then
  redis.call('SREM', ARGV[8] .. old[2], ARGV[1])
end
if redis.call('SADD', KEYS[3], ARGV[1]) == 1 then changed = 1 end
if redis.call('SADD', KEYS[4], ARGV[1]) == 1 then changed = 1 end
if redis.call('SADD', KEYS[5], ARGV[1]) == 1 then changed = 1 end
if changed == 1 then
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], 'compiledAt', ARGV[7], 'hash', ARGV[3], 'kind', ARGV[5],
    'apiVersion', ARGV[6], 'resourceTypeName', ARGV[4])
  redis.call('INCR', KEYS[6])
end
return changed`

// disableMetricSourceScript removes an id from metricsources:enabled and increments the
// version when it was there. KEYS[1] enabled set, KEYS[2] version; ARGV[1] id.
const disableMetricSourceScript = `
if redis.call('SREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('INCR', KEYS[2])
  return 1
end
return 0`

// SaveMetricSource stores the definition of a compiled MetricSource (no TTL), its meta hash
// (compiledAt, hash, kind, apiVersion, resourceTypeName), its id in metricsources:all,
// metricsources:enabled and metricsources:by:resourcetype:{type}, and removes the id from the
// index of its previous type, in one Lua script (atomic). When the stored hash and type are
// the same and every index already holds the id, nothing is written and changed is false (a
// recompilation of an unchanged spec keeps the stored compiledAt and the version); otherwise
// metricsources:version is incremented.
func (s *Store) SaveMetricSource(ctx context.Context, d MetricSourceDef) (changed bool, err error) {
	id := d.ID()
	op := fmt.Sprintf("save metricsource %q", id)
	switch {
	case d.Name == "":
		return false, fmt.Errorf("%s: empty name: %w", op, engine.ErrInvalid)
	case d.ResourceTypeName == "":
		return false, fmt.Errorf("%s: empty resource type name: %w", op, engine.ErrInvalid)
	case len(d.Definition) == 0:
		return false, fmt.Errorf("%s: empty definition: %w", op, engine.ErrInvalid)
	}
	k := s.keys
	keys := []string{k.MetricSource(d.Namespace, d.Name), k.MetricSourceMeta(d.Namespace, d.Name),
		k.MetricSourcesAll(), k.MetricSourcesEnabled(), k.MetricSourcesByResourceType(d.ResourceTypeName),
		k.MetricSourcesVersion()}
	n, err := redis.NewScript(saveMetricSourceScript).Run(ctx, s.client, keys,
		id, d.Definition, d.Hash, d.ResourceTypeName, d.Kind, d.APIVersion,
		d.CompiledAt.UTC().Format(time.RFC3339Nano), k.MetricSourcesByResourceType("")).Int()
	if err != nil {
		return false, wrap(op, err)
	}
	return n == 1, nil
}

// DisableMetricSource removes MetricSource ns/name from metricsources:enabled, so that
// collectors stop collecting it, and increments metricsources:version when it was enabled.
// Its last stored definition, its other indexes and its data stay (the data expires with
// CACHE_TTL). The job calls it for a MetricSource that no longer compiles.
func (s *Store) DisableMetricSource(ctx context.Context, ns, name string) (changed bool, err error) {
	id := sourceID(ns, name)
	k := s.keys
	n, err := redis.NewScript(disableMetricSourceScript).Run(ctx, s.client,
		[]string{k.MetricSourcesEnabled(), k.MetricSourcesVersion()}, id).Int()
	if err != nil {
		return false, wrap(fmt.Sprintf("disable metricsource %q", id), err)
	}
	return n == 1, nil
}

// DeleteMetricSource deletes everything stored for MetricSource ns/name: the definition, the
// meta hash, its ids in metricsources:all, :enabled and its type index, and its data on every
// cluster listed in its cluster index (MetricSourceClusters) or in clusters:all, with their
// entries in each cluster's key index. It reads the index and writes in one WATCHed
// MULTI/EXEC, so no scan is needed and a concurrent change of the indexes makes it retry.
// existed reports whether the MetricSource was stored; then metricsources:version is
// incremented. Deleting an unknown MetricSource is not an error.
func (s *Store) DeleteMetricSource(ctx context.Context, ns, name string) (existed bool, err error) {
	id := sourceID(ns, name)
	op := fmt.Sprintf("delete metricsource %q", id)
	if name == "" {
		return false, fmt.Errorf("%s: empty name: %w", op, engine.ErrInvalid)
	}
	k := s.keys
	def, meta, clusters := k.MetricSource(ns, name), k.MetricSourceMeta(ns, name), k.MetricSourceClusters(ns, name)
	for range maxWatchAttempts {
		err := s.client.Watch(ctx, func(tx *redis.Tx) error {
			typ, err := tx.HGet(ctx, meta, "resourceTypeName").Result()
			if err != nil && !isNil(err) {
				return err
			}
			member, err := tx.SIsMember(ctx, k.MetricSourcesAll(), id).Result()
			if err != nil {
				return err
			}
			n, err := tx.Exists(ctx, def, meta).Result()
			if err != nil {
				return err
			}
			cs, err := tx.SUnion(ctx, clusters, k.ClustersAll()).Result()
			if err != nil {
				return err
			}
			existed = member || n > 0
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Del(ctx, def, meta, clusters)
				p.SRem(ctx, k.MetricSourcesAll(), id)
				p.SRem(ctx, k.MetricSourcesEnabled(), id)
				if typ != "" {
					p.SRem(ctx, k.MetricSourcesByResourceType(typ), id)
				}
				for _, c := range cs {
					rk, ak, mk := k.CustomResources(c, id), k.CustomAggregations(c, id), k.CustomMeta(c, id)
					p.Del(ctx, rk, ak, mk)
					p.SRem(ctx, k.ClusterKeys(c), rk, ak, mk)
				}
				if existed {
					p.Incr(ctx, k.MetricSourcesVersion())
				}
				return nil
			})
			return err
		}, meta, clusters, k.ClustersAll())
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		return existed, wrap(op, err)
	}
	return false, fmt.Errorf("%s: indexes changed during %d attempts: %w", op, maxWatchAttempts, engine.ErrUnavailable)
}

// WriteCustomIndexed is WriteCustom plus the cluster's entry in the cluster index of the
// MetricSource (MetricSourceClusters), in the same MULTI/EXEC, so that DeleteMetricSource
// finds the data of clusters that are not (or no longer) in clusters:all. The index expires
// CACHE_TTL after its last write, like the data it points to, so it cannot outlive it.
func (s *Store) WriteCustomIndexed(ctx context.Context, c, sourceID string, res *engine.CustomCollection, agg *engine.AggregationResults, meta *engine.CustomMeta) error {
	if c == "" || sourceID == "" {
		return fmt.Errorf("write custom data %q of cluster %q: empty name: %w", sourceID, c, engine.ErrInvalid)
	}
	k := s.keys
	ns, name := splitSourceID(sourceID)
	idx := k.MetricSourceClusters(ns, name)
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
	b.unindexed(func(ctx context.Context, p redis.Pipeliner) {
		p.SAdd(ctx, idx, c)
		p.Expire(ctx, idx, s.cacheTTL)
	})
	return s.exec(ctx, fmt.Sprintf("write custom data %q of cluster %q", sourceID, c), b, nil)
}

// MetricSourceIDs returns the ids in metricsources:all, sorted.
func (s *Store) MetricSourceIDs(ctx context.Context) ([]string, error) {
	return s.sortedMembers(ctx, s.keys.MetricSourcesAll(), "list metricsources")
}

// EnabledMetricSourceIDs returns the ids in metricsources:enabled, sorted.
func (s *Store) EnabledMetricSourceIDs(ctx context.Context) ([]string, error) {
	return s.sortedMembers(ctx, s.keys.MetricSourcesEnabled(), "list enabled metricsources")
}

// MetricSourceIDsByType returns the ids of the MetricSources whose resource type is typ,
// sorted.
func (s *Store) MetricSourceIDsByType(ctx context.Context, typ string) ([]string, error) {
	return s.sortedMembers(ctx, s.keys.MetricSourcesByResourceType(typ), fmt.Sprintf("list metricsources of type %q", typ))
}

// MetricSourceClusterNames returns the clusters in the cluster index of MetricSource ns/name,
// sorted.
func (s *Store) MetricSourceClusterNames(ctx context.Context, ns, name string) ([]string, error) {
	return s.sortedMembers(ctx, s.keys.MetricSourceClusters(ns, name), fmt.Sprintf("list clusters of metricsource %q", sourceID(ns, name)))
}

func (s *Store) sortedMembers(ctx context.Context, key, op string) ([]string, error) {
	ms, err := s.client.SMembers(ctx, key).Result()
	if err != nil {
		return nil, wrap(op, err)
	}
	slices.Sort(ms)
	return ms, nil
}

// MetricSourceDefinition returns the stored definition JSON of MetricSource ns/name (for
// metricsource.Load). A missing definition wraps engine.ErrNotFound.
func (s *Store) MetricSourceDefinition(ctx context.Context, ns, name string) ([]byte, error) {
	b, err := s.client.Get(ctx, s.keys.MetricSource(ns, name)).Bytes()
	if err != nil {
		return nil, wrap(fmt.Sprintf("read metricsource %q", sourceID(ns, name)), err)
	}
	return b, nil
}

// MetricSourceMeta returns the meta hash of MetricSource ns/name. A missing hash wraps
// engine.ErrNotFound.
func (s *Store) MetricSourceMeta(ctx context.Context, ns, name string) (map[string]string, error) {
	op := fmt.Sprintf("read meta of metricsource %q", sourceID(ns, name))
	m, err := s.client.HGetAll(ctx, s.keys.MetricSourceMeta(ns, name)).Result()
	if err != nil {
		return nil, wrap(op, err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%s: %w", op, engine.ErrNotFound)
	}
	return m, nil
}

// MetricSourcesVersion returns the value of metricsources:version, 0 when it was never
// incremented.
func (s *Store) MetricSourcesVersion(ctx context.Context) (int64, error) {
	v, err := s.client.Get(ctx, s.keys.MetricSourcesVersion()).Int64()
	if isNil(err) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap("read metricsources version", err)
	}
	return v, nil
}
