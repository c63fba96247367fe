package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
)

// maxWatchAttempts bounds the optimistic retries of a write that WATCHes a key index.
const maxWatchAttempts = 10

// batch collects the commands of one atomic write. Every value is encoded while the batch is
// built, so once the batch is complete nothing on our side can fail between MULTI and EXEC:
// either Redis applies all of it or none of it.
//
// When index is set, every key the batch writes is also added to that SET (a per-owner key
// index), so the owner can later be deleted without scanning the keyspace.
type batch struct {
	index   string
	cmds    []func(context.Context, redis.Pipeliner)
	written []string
	err     error
}

func (b *batch) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

func (b *batch) add(key string, cmd func(context.Context, redis.Pipeliner)) {
	b.cmds = append(b.cmds, cmd)
	b.written = append(b.written, key)
}

// encode marshals v, recording the first error in the batch.
func (b *batch) encode(what string, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		b.fail(fmt.Errorf("encode %s: %w: %w", what, engine.ErrInvalid, err))
		return nil
	}
	return data
}

// setJSON writes v as JSON at key, expiring after ttl (0: no expiry).
func (b *batch) setJSON(key string, v any, ttl time.Duration) {
	data := b.encode(key, v)
	b.add(key, func(ctx context.Context, p redis.Pipeliner) { p.Set(ctx, key, data, ttl) })
}

// replaceHash replaces the HASH at key with fields, expiring after ttl (0: no expiry).
func (b *batch) replaceHash(key string, fields map[string]any, ttl time.Duration) {
	b.add(key, func(ctx context.Context, p redis.Pipeliner) {
		p.Del(ctx, key)
		p.HSet(ctx, key, fields)
		if ttl > 0 {
			p.Expire(ctx, key, ttl)
		}
	})
}

// replaceSet replaces the SET at key with members (an empty list deletes it), expiring after
// ttl (0: no expiry).
func (b *batch) replaceSet(key string, members []string, ttl time.Duration) {
	args := make([]any, len(members))
	for i, m := range members {
		args[i] = m
	}
	b.add(key, func(ctx context.Context, p redis.Pipeliner) {
		p.Del(ctx, key)
		if len(args) == 0 {
			return
		}
		p.SAdd(ctx, key, args...)
		if ttl > 0 {
			p.Expire(ctx, key, ttl)
		}
	})
}

// pushCapped prepends items (the last ends up first) to the LIST at key, keeps the newest max
// and expires the list ttl after this write.
func (b *batch) pushCapped(key string, items [][]byte, max int64, ttl time.Duration) {
	args := make([]any, len(items))
	for i, it := range items {
		args[i] = it
	}
	b.add(key, func(ctx context.Context, p redis.Pipeliner) {
		p.LPush(ctx, key, args...)
		p.LTrim(ctx, key, 0, max-1)
		p.Expire(ctx, key, ttl)
	})
}

// del deletes keys and drops them from the index.
func (b *batch) del(keys ...string) {
	if len(keys) == 0 {
		return
	}
	b.cmds = append(b.cmds, func(ctx context.Context, p redis.Pipeliner) {
		p.Del(ctx, keys...)
		if b.index != "" {
			args := make([]any, len(keys))
			for i, k := range keys {
				args[i] = k
			}
			p.SRem(ctx, b.index, args...)
		}
	})
}

// unindexed appends a command whose key does not belong to the index owner.
func (b *batch) unindexed(cmd func(context.Context, redis.Pipeliner)) { b.cmds = append(b.cmds, cmd) }

// do appends a raw command that writes key.
func (b *batch) do(key string, cmd func(context.Context, redis.Pipeliner)) { b.add(key, cmd) }

// apply queues the whole batch, then the index update, on p.
func (b *batch) apply(ctx context.Context, p redis.Pipeliner) {
	for _, c := range b.cmds {
		c(ctx, p)
	}
	if b.index != "" && len(b.written) > 0 {
		args := make([]any, len(b.written))
		for i, k := range b.written {
			args[i] = k
		}
		p.SAdd(ctx, b.index, args...)
	}
}

// exec runs b in one MULTI/EXEC. When plan is not nil, it first WATCHes b.index, lets plan
// read through tx (e.g. the index, to find keys to prune) and add to b, and retries the whole
// thing when the index changed before EXEC.
func (s *Store) exec(ctx context.Context, op string, b *batch, plan func(tx *redis.Tx) error) error {
	if b.err != nil {
		return fmt.Errorf("%s: %w", op, b.err)
	}
	if plan == nil {
		_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			b.apply(ctx, p)
			return nil
		})
		return wrap(op, err)
	}
	base := len(b.cmds)
	for range maxWatchAttempts {
		err := s.client.Watch(ctx, func(tx *redis.Tx) error {
			b.cmds = b.cmds[:base]
			if err := plan(tx); err != nil {
				return err
			}
			if b.err != nil {
				return b.err
			}
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				b.apply(ctx, p)
				return nil
			})
			return err
		}, b.index)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		return wrap(op, err)
	}
	// Contention is transient: report it as "cannot serve now" so the caller retries later.
	return fmt.Errorf("%s: key index %s changed during %d attempts: %w", op, b.index, maxWatchAttempts, engine.ErrUnavailable)
}
