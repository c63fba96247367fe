package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/store"
)

// maxWatchAttempts bounds the optimistic retries of Save and Remove.
const maxWatchAttempts = 10

// Store keeps compiled policies in Redis under the original keys (reference §2.3):
//
//	policy:{ns}:{name}                     HASH data, priority, effect, enabled, hash, compiled_at
//	policy:{user|group|sa|customtype}:{x}  SET of policy keys naming x (enabled policies only)
//	policy:{user|group|sa|customtype}:{x}:sorted  ZSET of the same, score = priority
//	policies:all, policies:enabled         SET of policy keys
//	policies:by:priority                   ZSET of policy keys, score = priority
//	policies:effect:{allow|deny}           SET of policy keys
//	policies:generation                    STRING counter, incremented by every change (new)
//
// Index members are the policy keys themselves (with the key prefix), so a reader can HGET
// them directly. Store is safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	keys   store.Keys
	load   *redis.Script
}

// NewStore returns a Store over client, with the keys (and prefix) of keys.
func NewStore(client redis.UniversalClient, keys store.Keys) *Store {
	return &Store{client: client, keys: keys, load: redis.NewScript(loadScript)}
}

// GenerationKey is the STRING counter that every change of the policies increments.
func (s *Store) GenerationKey() string { return s.keys.Prefix + "policies:generation" }

// loadScript reads a principal's policies atomically in one round trip. KEYS[1] is the
// generation counter, KEYS[2..] the :sorted indexes of the principal's user names, groups and
// service account. It returns the generation followed by (policy key, data) pairs, each
// policy once; the caller sorts them.
const loadScript = `
local out = {redis.call('GET', KEYS[1]) or '0'}
local seen = {}
for i = 2, #KEYS do
  for _, k in ipairs(redis.call('ZRANGE', KEYS[i], 0, -1)) do
    if not seen[k] then
      seen[k] = true
      local d = redis.call('HGET', k, 'data')
      if d then
        out[#out + 1] = k
        out[#out + 1] = d
      end
    end
  end
end
return out`

// Save stores c and updates every index in one MULTI/EXEC: entries of the previous compilation
// of the same policy that c no longer has (users, groups, service accounts and custom types it
// dropped, all of them when c is disabled, the other effect set) are removed, and the
// generation is incremented. When the stored policy is identical to c apart from compiled_at,
// nothing is written and changed is false, so recompiling unchanged policies does not drop
// every replica's cache.
func (s *Store) Save(ctx context.Context, c *Compiled) (changed bool, err error) {
	data, err := json.Marshal(c)
	if err != nil {
		return false, fmt.Errorf("save policy %s: encode: %w", c.Key(), err)
	}
	key := s.keys.Policy(c.Namespace, c.PolicyName)
	err = s.watch(ctx, key, func(tx *redis.Tx) error {
		prev, prevData, err := s.previous(ctx, tx, key)
		if err != nil {
			return err
		}
		if prev != nil && sameExceptTime(prevData, prev, data, c) {
			changed = false
			return nil
		}
		changed = true
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			s.queueSave(ctx, p, key, c, data, prev)
			return nil
		})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("save policy %s: %w", c.Key(), err)
	}
	return changed, nil
}

// queueSave queues the writes of Save.
func (s *Store) queueSave(ctx context.Context, p redis.Pipeliner, key string, c *Compiled, data []byte, prev *Compiled) {
	k := s.keys
	p.HSet(ctx, key, map[string]any{
		"data":        data,
		"priority":    c.Priority,
		"effect":      c.Effect,
		"enabled":     strconv.FormatBool(c.Enabled),
		"hash":        c.Hash,
		"compiled_at": c.CompiledAt,
	})
	now := c.subjects()
	if prev != nil {
		for kind, olds := range prev.subjects() {
			for _, x := range olds {
				if c.Enabled && slices.Contains(now[kind], x) {
					continue
				}
				p.SRem(ctx, k.PolicySubject(kind, x), key)
				p.ZRem(ctx, k.PolicySubjectSorted(kind, x), key)
			}
		}
	}
	if c.Enabled {
		for _, kind := range slices.Sorted(maps.Keys(now)) {
			for _, x := range now[kind] {
				p.SAdd(ctx, k.PolicySubject(kind, x), key)
				p.ZAdd(ctx, k.PolicySubjectSorted(kind, x), redis.Z{Score: float64(c.Priority), Member: key})
			}
		}
		p.SAdd(ctx, k.PoliciesEnabled(), key)
	} else {
		p.SRem(ctx, k.PoliciesEnabled(), key)
	}
	p.SAdd(ctx, k.PoliciesAll(), key)
	p.ZAdd(ctx, k.PoliciesByPriority(), redis.Z{Score: float64(c.Priority), Member: key})
	for _, eff := range []string{EffectAllow, EffectDeny} {
		set := k.PoliciesByEffect(strings.ToLower(eff))
		if c.Effect == eff {
			p.SAdd(ctx, set, key)
		} else {
			p.SRem(ctx, set, key)
		}
	}
	p.Incr(ctx, s.GenerationKey())
}

// Remove deletes policy ns/name and every index entry of it in one MULTI/EXEC and increments
// the generation. removed is false when there was nothing to remove.
func (s *Store) Remove(ctx context.Context, ns, name string) (removed bool, err error) {
	k := s.keys
	key := k.Policy(ns, name)
	err = s.watch(ctx, key, func(tx *redis.Tx) error {
		prev, _, err := s.previous(ctx, tx, key)
		if err != nil {
			return err
		}
		if prev == nil {
			listed, err := tx.SIsMember(ctx, k.PoliciesAll(), key).Result()
			if err != nil {
				return err
			}
			if !listed {
				removed = false
				return nil
			}
		}
		removed = true
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			if prev != nil {
				for kind, xs := range prev.subjects() {
					for _, x := range xs {
						p.SRem(ctx, k.PolicySubject(kind, x), key)
						p.ZRem(ctx, k.PolicySubjectSorted(kind, x), key)
					}
				}
			}
			p.SRem(ctx, k.PoliciesAll(), key)
			p.SRem(ctx, k.PoliciesEnabled(), key)
			p.ZRem(ctx, k.PoliciesByPriority(), key)
			p.SRem(ctx, k.PoliciesByEffect("allow"), key)
			p.SRem(ctx, k.PoliciesByEffect("deny"), key)
			p.Del(ctx, key)
			p.Incr(ctx, s.GenerationKey())
			return nil
		})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("remove policy %s/%s: %w", ns, name, err)
	}
	return removed, nil
}

// previous reads the stored compilation at key (nil when there is none). A stored value that
// does not parse is treated as absent: its index entries cannot be known.
func (s *Store) previous(ctx context.Context, tx *redis.Tx, key string) (*Compiled, []byte, error) {
	data, err := tx.HGet(ctx, key, "data").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var prev Compiled
	if json.Unmarshal(data, &prev) != nil {
		return nil, nil, nil
	}
	return &prev, data, nil
}

// sameExceptTime reports whether the stored policy equals the new one apart from compiled_at.
func sameExceptTime(prevData []byte, prev *Compiled, data []byte, c *Compiled) bool {
	if prev.CompiledAt == c.CompiledAt {
		return bytes.Equal(prevData, data)
	}
	cp := *c
	cp.CompiledAt = prev.CompiledAt
	again, err := json.Marshal(&cp)
	return err == nil && bytes.Equal(prevData, again)
}

// watch runs fn in a WATCH on key, retrying when key changed before EXEC.
func (s *Store) watch(ctx context.Context, key string, fn func(tx *redis.Tx) error) error {
	for range maxWatchAttempts {
		err := s.client.Watch(ctx, fn, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		return unavailable(err)
	}
	return fmt.Errorf("%s changed during %d attempts: %w", key, maxWatchAttempts, engine.ErrUnavailable)
}

// Names returns "namespace/name" of every stored policy, sorted.
func (s *Store) Names(ctx context.Context) ([]string, error) {
	members, err := s.client.SMembers(ctx, s.keys.PoliciesAll()).Result()
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", unavailable(err))
	}
	out := make([]string, 0, len(members))
	for _, m := range members {
		if ns, name, ok := s.parseKey(m); ok {
			out = append(out, ns+"/"+name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// parseKey splits a policy key into namespace and name.
func (s *Store) parseKey(key string) (ns, name string, ok bool) {
	rest, ok := strings.CutPrefix(key, s.keys.Prefix+"policy:")
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, ":")
}

// Generation returns the policy generation: a counter that every Save and Remove that changes
// something increments (0 before the first).
func (s *Store) Generation(ctx context.Context) (int64, error) {
	n, err := s.client.Get(ctx, s.GenerationKey()).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read policy generation: %w", unavailable(err))
	}
	return n, nil
}

// Snapshot is a principal's policies as read at one policy generation.
type Snapshot struct {
	// Generation is the policy generation the policies were read at.
	Generation int64
	// Policies are the policies that name the principal, in evaluation order (see Sort).
	Policies []*Compiled
}

// ForPrincipal returns the policies that name p (by username, email, group or service
// account), in evaluation order, read in one round trip.
func (s *Store) ForPrincipal(ctx context.Context, p Principal) ([]*Compiled, error) {
	snap, err := s.Load(ctx, p)
	return snap.Policies, err
}

// Load reads the policies that name p and the generation they belong to, atomically, in one
// round trip (a Lua script over the principal's :sorted indexes). Policies whose stored
// subjects do not name p (an index entry left behind) are dropped.
func (s *Store) Load(ctx context.Context, p Principal) (Snapshot, error) {
	k := s.keys
	keys := []string{s.GenerationKey()}
	if p.Username != "" {
		keys = append(keys, k.PolicySubjectSorted("user", p.Username))
	}
	if p.Email != "" && p.Email != p.Username {
		keys = append(keys, k.PolicySubjectSorted("user", p.Email))
	}
	for _, g := range p.Groups {
		if g != "" {
			keys = append(keys, k.PolicySubjectSorted("group", g))
		}
	}
	if p.IsServiceAccount() {
		keys = append(keys, k.PolicySubjectSorted("sa", p.Username))
	}
	res, err := s.load.Run(ctx, s.client, keys).StringSlice()
	if err != nil {
		return Snapshot{}, fmt.Errorf("read policies of %q: %w", p.Username, unavailable(err))
	}
	if len(res) == 0 {
		return Snapshot{}, fmt.Errorf("read policies of %q: empty script result", p.Username)
	}
	gen, err := strconv.ParseInt(res[0], 10, 64)
	if err != nil {
		return Snapshot{}, fmt.Errorf("read policies of %q: generation %q: %w", p.Username, res[0], err)
	}
	snap := Snapshot{Generation: gen, Policies: []*Compiled{}}
	for i := 1; i+1 < len(res); i += 2 {
		c, err := Decode([]byte(res[i+1]))
		if err != nil {
			return Snapshot{}, fmt.Errorf("read policies of %q: %s: %w", p.Username, res[i], err)
		}
		if c.AppliesTo(p) {
			snap.Policies = append(snap.Policies, c)
		}
	}
	Sort(snap.Policies)
	return snap, nil
}

// unavailable marks a Redis error as engine.ErrUnavailable (nil stays nil).
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
}
