package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/store"
)

// Circuit breaker defaults of job pull (--breaker-failures, --breaker-cooldown).
const (
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 60 * time.Second
	// breakerTTL bounds how long the breaker of a cluster that is no longer tried is kept.
	breakerTTL = 24 * time.Hour
)

// Breaker states.
const (
	breakerClosed   = "closed"
	breakerOpen     = "open"
	breakerHalfOpen = "half-open"
)

// breaker is the circuit breaker of the clusters of job pull. Its state lives in Redis, one
// HASH per cluster at <prefix>breaker:pull:<cluster> (fields failures, opened_at in Unix
// milliseconds, last_error), so every run, in any pod, sees the same state:
//
//   - closed: fewer than threshold consecutive failures; the cluster is contacted;
//   - open: threshold consecutive failures, the last less than cooldown ago; the cluster is
//     not contacted;
//   - half-open: open, but the cooldown has passed; one attempt is made (the cluster's lease
//     guarantees it is only one). A failure opens the breaker again for a cooldown, a
//     success resets it.
//
// A success deletes the HASH: only consecutive failures count (the original never reset its
// counter while closed, so five failures spread over days opened it).
type breaker struct {
	client    redis.UniversalClient
	prefix    string
	threshold int
	cooldown  time.Duration
}

// breakerState is what a breaker knows about one cluster.
type breakerState struct {
	Failures  int
	OpenedAt  time.Time
	LastError string
}

func newBreaker(st *store.Store, threshold int, cooldown time.Duration) *breaker {
	return &breaker{client: st.Client(), prefix: st.Keys().Prefix, threshold: threshold, cooldown: cooldown}
}

// key is the Redis key of the breaker of cluster c.
func (b *breaker) key(c string) string { return b.prefix + "breaker:pull:" + c }

// state returns the stored state of cluster c (the zero state when there is none).
func (b *breaker) state(ctx context.Context, c string) (breakerState, error) {
	m, err := b.client.HGetAll(ctx, b.key(c)).Result()
	if err != nil {
		return breakerState{}, fmt.Errorf("read circuit breaker of %q: %w: %w", c, engine.ErrUnavailable, err)
	}
	var s breakerState
	if v, ok := m["failures"]; ok {
		s.Failures, _ = strconv.Atoi(v)
	}
	if v, ok := m["opened_at"]; ok {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			s.OpenedAt = time.UnixMilli(ms)
		}
	}
	s.LastError = m["last_error"]
	return s, nil
}

// decide returns the breaker state of s at now and, when open, when it half-opens.
func (b *breaker) decide(s breakerState, now time.Time) (string, time.Time) {
	if s.Failures < b.threshold || s.OpenedAt.IsZero() {
		return breakerClosed, time.Time{}
	}
	until := s.OpenedAt.Add(b.cooldown)
	if now.Before(until) {
		return breakerOpen, until
	}
	return breakerHalfOpen, until
}

// recordFailureScript counts one more consecutive failure and (re)opens the breaker when the
// count reaches the threshold. KEYS[1] the hash; ARGV: last error, threshold, now (Unix ms),
// TTL (ms). It returns the new count.
const recordFailureScript = `
local f = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('HSET', KEYS[1], 'last_error', ARGV[1])
if f >= tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], 'opened_at', ARGV[3]) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return f
`

// failure records a failure of cluster c at now and returns the consecutive failure count.
func (b *breaker) failure(ctx context.Context, c string, now time.Time, cause error) (int, error) {
	msg := ""
	if cause != nil {
		msg = truncate(cause.Error(), 512)
	}
	n, err := redis.NewScript(recordFailureScript).Run(ctx, b.client, []string{b.key(c)},
		msg, b.threshold, now.UnixMilli(), breakerTTL.Milliseconds()).Int()
	if err != nil {
		return 0, fmt.Errorf("record failure in circuit breaker of %q: %w: %w", c, engine.ErrUnavailable, err)
	}
	return n, nil
}

// success resets the breaker of cluster c.
func (b *breaker) success(ctx context.Context, c string) error {
	if err := b.client.Del(ctx, b.key(c)).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("reset circuit breaker of %q: %w: %w", c, engine.ErrUnavailable, err)
	}
	return nil
}
