// Package store is the Redis adapter of ClusterPulse (go-redis v9): configuration, the key
// schema, the atomic write and the consistent read of one cluster's state, registry state,
// leases, presence keys and de-duplication marks. docs/redis-schema.md lists every key.
//
// Every error that means "Redis could not be reached or cannot serve now" wraps
// engine.ErrUnavailable, and a missing key wraps engine.ErrNotFound, so callers map them with
// errors.Is.
//
// Redis Cluster is not supported: a cluster's state is written in one MULTI/EXEC and read by one
// Lua script, which both need every key on one node. Single nodes and Sentinel are.
//
// store imports engine and nothing else of ClusterPulse: never jobs, connect or httpapi.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
)

// Defaults and minimums of the two TTLs, as the original has them (reference §8.1).
const (
	// DefaultCacheTTL is the default TTL of the state keys (CACHE_TTL).
	DefaultCacheTTL = 600 * time.Second
	// MinCacheTTL is the smallest CACHE_TTL accepted.
	MinCacheTTL = 60 * time.Second
	// DefaultMetricsRetention is the default node sample window (METRICS_RETENTION).
	DefaultMetricsRetention = 3600 * time.Second
	// MinMetricsRetention is the smallest METRICS_RETENTION accepted.
	MinMetricsRetention = 300 * time.Second
	// EventsTTL is how long an events list lives after its last event.
	EventsTTL = 24 * time.Hour
	// EventsMax is how many events a list keeps (the newest).
	EventsMax = 100
)

// Options configure a Store.
type Options struct {
	// Prefix is prepended to every key ("" in production unless REDIS_KEY_PREFIX is set).
	Prefix string
	// CacheTTL is the TTL of the state keys (CACHE_TTL); zero means DefaultCacheTTL.
	CacheTTL time.Duration
	// MetricsRetention is the window and TTL of the node sample ZSETs (METRICS_RETENTION); zero
	// means DefaultMetricsRetention.
	MetricsRetention time.Duration
	// Clock returns the current time (for last_update fields and sample trimming); nil means
	// time.Now.
	Clock func() time.Time
}

// Store reads and writes ClusterPulse state in Redis. It is safe for concurrent use.
type Store struct {
	client           redis.UniversalClient
	keys             Keys
	cacheTTL         time.Duration
	metricsRetention time.Duration
	now              func() time.Time
	scripts          scripts
}

// New returns a Store over client. The Store does not own the client unless it came from
// Open; Close closes it either way.
func New(client redis.UniversalClient, opts Options) *Store {
	s := &Store{
		client:           client,
		keys:             Keys{Prefix: opts.Prefix},
		cacheTTL:         opts.CacheTTL,
		metricsRetention: opts.MetricsRetention,
		now:              opts.Clock,
		scripts:          newScripts(),
	}
	if s.cacheTTL <= 0 {
		s.cacheTTL = DefaultCacheTTL
	}
	if s.metricsRetention <= 0 {
		s.metricsRetention = DefaultMetricsRetention
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Keys returns the key builders of this Store (with its prefix).
func (s *Store) Keys() Keys { return s.keys }

// Client returns the underlying Redis client, for the few callers that need a command the
// Store does not wrap.
func (s *Store) Client() redis.UniversalClient { return s.client }

// CacheTTL returns the TTL of the state keys.
func (s *Store) CacheTTL() time.Duration { return s.cacheTTL }

// MetricsRetention returns the window and TTL of the node sample ZSETs.
func (s *Store) MetricsRetention() time.Duration { return s.metricsRetention }

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	return wrap("ping redis", s.client.Ping(ctx).Err())
}

// Close closes the Redis client.
func (s *Store) Close() error {
	return s.client.Close()
}

// wrap adds op to err and classifies it: redis.Nil becomes engine.ErrNotFound, connection and
// server-availability errors also wrap engine.ErrUnavailable.
func wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.Nil):
		return fmt.Errorf("%s: %w", op, engine.ErrNotFound)
	case unavailable(err):
		return fmt.Errorf("%s: %w: %w", op, engine.ErrUnavailable, err)
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}

// unavailable reports whether err means Redis cannot serve the request right now (network
// errors, closed or exhausted pool, timeouts, a loading, read-only or failing-over server),
// as opposed to a bad command or a cancelled caller.
func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		return redis.IsLoadingError(err) || redis.IsReadOnlyError(err) ||
			redis.IsMasterDownError(err) || redis.IsClusterDownError(err) ||
			redis.IsTryAgainError(err) || redis.IsMaxClientsError(err)
	}
	// Everything else comes from the connection: dial and I/O errors, EOF, pool timeouts,
	// deadlines, a closed client.
	return true
}

func isNil(err error) bool { return errors.Is(err, redis.Nil) }
