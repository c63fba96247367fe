package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
)

// RegistryState is what the store holds for one registry. Status is nil when no health check
// result is stored (never checked, or expired after CACHE_TTL).
type RegistryState struct {
	Name   string
	Spec   engine.RegistrySpec
	Status *engine.RegistryStatus
}

// WriteRegistry writes the spec (no TTL), the health check result (CACHE_TTL), the meta hash
// (last_update, available) and events of registry name in one MULTI/EXEC, and adds the name to
// registries:all. Events go to the registry's own list (Keys.RegistryEvents), never to a
// cluster's.
func (s *Store) WriteRegistry(ctx context.Context, name string, spec engine.RegistrySpec, status engine.RegistryStatus, events ...engine.Event) error {
	if name == "" {
		return fmt.Errorf("write registry: empty name: %w", engine.ErrInvalid)
	}
	k := s.keys
	now := s.now()
	b := &batch{}
	b.setJSON(k.RegistrySpec(name), spec, 0)
	b.setJSON(k.RegistryStatus(name), status, s.cacheTTL)
	b.do(k.RegistryMeta(name), func(ctx context.Context, p redis.Pipeliner) {
		p.HSet(ctx, k.RegistryMeta(name), "last_update", now.UTC().Format(time.RFC3339),
			"available", strconv.FormatBool(status.Available))
	})
	if len(events) > 0 {
		items := make([][]byte, len(events))
		for i, e := range events {
			items[i] = b.encode("event", e)
		}
		b.pushCapped(k.RegistryEvents(name), items, EventsMax, EventsTTL)
	}
	b.do(k.RegistriesAll(), func(ctx context.Context, p redis.Pipeliner) { p.SAdd(ctx, k.RegistriesAll(), name) })
	return s.exec(ctx, fmt.Sprintf("write registry %q", name), b, nil)
}

// DeleteRegistry deletes every key of registry name (a fixed list, no scan) and removes the
// name from registries:all, in one MULTI/EXEC. Deleting an unknown registry is not an error.
func (s *Store) DeleteRegistry(ctx context.Context, name string) error {
	if name == "" {
		return fmt.Errorf("delete registry: empty name: %w", engine.ErrInvalid)
	}
	k := s.keys
	keys := append([]string{k.RegistrySpec(name), k.RegistryStatus(name), k.RegistryMeta(name), k.RegistryEvents(name)},
		k.registryLegacy(name)...)
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, keys...)
		p.SRem(ctx, k.RegistriesAll(), name)
		return nil
	})
	return wrap(fmt.Sprintf("delete registry %q", name), err)
}

// RegistryNames returns the names in registries:all, sorted.
func (s *Store) RegistryNames(ctx context.Context) ([]string, error) {
	names, err := s.client.SMembers(ctx, s.keys.RegistriesAll()).Result()
	if err != nil {
		return nil, wrap("list registries", err)
	}
	slices.Sort(names)
	return names, nil
}

// Registry reads registry name (spec and status in one MULTI/EXEC). A registry without a
// stored spec wraps engine.ErrNotFound.
func (s *Store) Registry(ctx context.Context, name string) (RegistryState, error) {
	op := fmt.Sprintf("read registry %q", name)
	var spec, status *redis.StringCmd
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		spec = p.Get(ctx, s.keys.RegistrySpec(name))
		status = p.Get(ctx, s.keys.RegistryStatus(name))
		return nil
	})
	if err != nil && !isNil(err) {
		return RegistryState{}, wrap(op, err)
	}
	d := decoder{op: op}
	st := RegistryState{Name: name}
	sp := decodePtr[engine.RegistrySpec](&d, stringOrNil(spec), "spec")
	if sp == nil && d.err == nil {
		return RegistryState{}, fmt.Errorf("%s: %w", op, engine.ErrNotFound)
	}
	if sp != nil {
		st.Spec = *sp
	}
	st.Status = decodePtr[engine.RegistryStatus](&d, stringOrNil(status), "status")
	return st, d.err
}

// RegistryEvents returns the newest limit events of registry name, newest first (all kept
// events when limit <= 0).
func (s *Store) RegistryEvents(ctx context.Context, name string, limit int) ([]engine.Event, error) {
	return s.events(ctx, s.keys.RegistryEvents(name), limit, fmt.Sprintf("events of registry %q", name))
}

// stringOrNil returns the value of cmd, or nil when the key was missing or the command failed.
func stringOrNil(cmd *redis.StringCmd) any {
	v, err := cmd.Result()
	if err != nil {
		return nil
	}
	return v
}
