package httpapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/metricsource"
	"github.com/clusterpulse/clusterpulse/engine/store"
)

// Sources reads the MetricSource definitions job metricsource stores.
type Sources interface {
	// ForType returns the enabled MetricSource whose rbac.resourceTypeName is typ; when several
	// provide it, the one with the smallest id, so the choice is stable. It wraps
	// engine.ErrNotFound when none does.
	ForType(ctx context.Context, typ string) (*metricsource.Compiled, error)
	// Enabled returns every enabled MetricSource, sorted by id.
	Enabled(ctx context.Context) ([]*metricsource.Compiled, error)
}

// RedisSources reads MetricSources from the original keys: metricsource:{ns}:{name} (the
// stored compiled form), metricsources:enabled and metricsources:by:resourcetype:{type}.
type RedisSources struct {
	client redis.UniversalClient
	keys   store.Keys
}

// NewRedisSources returns a RedisSources over client with the keys (and prefix) of keys.
func NewRedisSources(client redis.UniversalClient, keys store.Keys) *RedisSources {
	return &RedisSources{client: client, keys: keys}
}

// ForType implements Sources.
func (s *RedisSources) ForType(ctx context.Context, typ string) (*metricsource.Compiled, error) {
	var ids, enabled []string
	var idsCmd, enabledCmd *redis.StringSliceCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		idsCmd = p.SMembers(ctx, s.keys.MetricSourcesByResourceType(typ))
		enabledCmd = p.SMembers(ctx, s.keys.MetricSourcesEnabled())
		return nil
	})
	if err := pipelineErr(fmt.Sprintf("read metric sources of type %q", typ), err); err != nil {
		return nil, err
	}
	ids, enabled = idsCmd.Val(), enabledCmd.Val()
	slices.Sort(ids)
	for _, id := range ids {
		if !slices.Contains(enabled, id) {
			continue
		}
		c, err := s.load(ctx, id)
		if errors.Is(err, engine.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		// The type index is not pruned when a source changes its type; trust the definition.
		if c.RBAC.ResourceTypeName == typ {
			return c, nil
		}
	}
	return nil, fmt.Errorf("custom resource type %q: %w", typ, engine.ErrNotFound)
}

// Enabled implements Sources.
func (s *RedisSources) Enabled(ctx context.Context) ([]*metricsource.Compiled, error) {
	ids, err := s.client.SMembers(ctx, s.keys.MetricSourcesEnabled()).Result()
	if err != nil {
		return nil, fmt.Errorf("list metric sources: %w: %w", engine.ErrUnavailable, err)
	}
	slices.Sort(ids)
	cmds := make([]*redis.StringCmd, len(ids))
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			ns, name := splitID(id)
			cmds[i] = p.Get(ctx, s.keys.MetricSource(ns, name))
		}
		return nil
	})
	if err := pipelineErr("read metric sources", err); err != nil {
		return nil, err
	}
	out := make([]*metricsource.Compiled, 0, len(ids))
	for i, id := range ids {
		data, err := cmds[i].Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read metric source %q: %w: %w", id, engine.ErrUnavailable, err)
		}
		c, err := metricsource.Load(data)
		if err != nil {
			// A stored definition that no longer compiles is skipped rather than failing every
			// listing; job metricsource reports it in the source's status.
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// load reads and compiles the MetricSource id.
func (s *RedisSources) load(ctx context.Context, id string) (*metricsource.Compiled, error) {
	ns, name := splitID(id)
	data, err := s.client.Get(ctx, s.keys.MetricSource(ns, name)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("metric source %q: %w", id, engine.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read metric source %q: %w: %w", id, engine.ErrUnavailable, err)
	}
	c, err := metricsource.Load(data)
	if err != nil {
		return nil, fmt.Errorf("load metric source %q: %w", id, err)
	}
	return c, nil
}

// splitID splits "ns/name"; an id without a slash is a name in no namespace.
func splitID(id string) (ns, name string) {
	if ns, name, ok := strings.Cut(id, "/"); ok {
		return ns, name
	}
	return "", id
}
