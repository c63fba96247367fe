package policy

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"
)

// Cache defaults and limits.
const (
	// DefaultCacheEntries is the default bound on the number of principals a Cache holds.
	DefaultCacheEntries = 10000
	// MaxCacheTTL is the longest an entry may be used; larger TTLs are cut to it.
	MaxCacheTTL = 10 * time.Second
	// DefaultGenerationRefresh is how often, by default, a Cache re-reads the policy
	// generation.
	DefaultGenerationRefresh = time.Second
)

// Source is where a Cache reads policies from; *Store is the implementation.
type Source interface {
	// Generation returns the current policy generation.
	Generation(ctx context.Context) (int64, error)
	// Load returns the principal's policies and the generation they were read at.
	Load(ctx context.Context, p Principal) (Snapshot, error)
}

// CacheOptions configure a Cache.
type CacheOptions struct {
	// MaxEntries bounds the number of principals held (least recently used evicted first);
	// zero means DefaultCacheEntries.
	MaxEntries int
	// TTL is how long an entry is used; zero or more than MaxCacheTTL means MaxCacheTTL.
	TTL time.Duration
	// GenerationRefresh is how long a read generation is trusted before it is read again;
	// zero means DefaultGenerationRefresh, a negative value reads it on every lookup. A
	// change of the generation drops every entry.
	GenerationRefresh time.Duration
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
}

// Cache holds each principal's policies (the decoded, ordered inputs of every decision) per
// replica: bounded, with a short TTL, and dropped as a whole when the policy generation
// changes. Decisions themselves are recomputed from the cached policies on every request,
// which costs microseconds and keeps validity windows exact. It is safe for concurrent use.
type Cache struct {
	src        Source
	max        int
	ttl        time.Duration
	genRefresh time.Duration
	now        func() time.Time

	mu      sync.Mutex
	gen     int64
	genAt   time.Time
	genSeen bool
	lru     *list.List // of *cacheEntry, most recent first
	byKey   map[string]*list.Element
}

type cacheEntry struct {
	key      string
	gen      int64
	expires  time.Time
	policies []*Compiled
}

// NewCache returns a Cache over src.
func NewCache(src Source, opts CacheOptions) *Cache {
	c := &Cache{
		src:        src,
		max:        opts.MaxEntries,
		ttl:        opts.TTL,
		genRefresh: opts.GenerationRefresh,
		now:        opts.Clock,
		lru:        list.New(),
		byKey:      map[string]*list.Element{},
	}
	if c.max <= 0 {
		c.max = DefaultCacheEntries
	}
	if c.ttl <= 0 || c.ttl > MaxCacheTTL {
		c.ttl = MaxCacheTTL
	}
	if c.genRefresh == 0 {
		c.genRefresh = DefaultGenerationRefresh
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// Policies returns the policies that name p, in evaluation order: from the cache when an entry
// of the current generation is younger than the TTL, otherwise from the Source (one round
// trip). Callers must not modify the result.
func (c *Cache) Policies(ctx context.Context, p Principal) ([]*Compiled, error) {
	gen, err := c.generation(ctx)
	if err != nil {
		return nil, err
	}
	key := p.cacheKey()
	now := c.now()
	c.mu.Lock()
	if el, ok := c.byKey[key]; ok {
		e := el.Value.(*cacheEntry)
		if e.gen == gen && now.Before(e.expires) {
			c.lru.MoveToFront(el)
			c.mu.Unlock()
			return e.policies, nil
		}
		c.remove(el)
	}
	c.mu.Unlock()

	snap, err := c.src.Load(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("policies of %q: %w", p.Username, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.observe(snap.Generation, now)
	if snap.Generation == c.gen {
		c.add(&cacheEntry{key: key, gen: snap.Generation, expires: now.Add(c.ttl), policies: snap.Policies})
	}
	return snap.Policies, nil
}

// generation returns the policy generation, reading it from the Source when the last read is
// older than the refresh interval.
func (c *Cache) generation(ctx context.Context) (int64, error) {
	now := c.now()
	c.mu.Lock()
	if c.genSeen && c.genRefresh > 0 && now.Sub(c.genAt) < c.genRefresh {
		gen := c.gen
		c.mu.Unlock()
		return gen, nil
	}
	c.mu.Unlock()
	gen, err := c.src.Generation(ctx)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.observe(gen, now)
	return c.gen, nil
}

// observe records a generation read at now; a newer one drops every entry. c.mu is held.
func (c *Cache) observe(gen int64, now time.Time) {
	if c.genSeen && gen < c.gen {
		// An older read that finished late: keep the newer generation.
		return
	}
	if !c.genSeen || gen != c.gen {
		c.clear()
	}
	c.gen, c.genAt, c.genSeen = gen, now, true
}

// add inserts e, evicting the least recently used entries beyond the bound. c.mu is held.
func (c *Cache) add(e *cacheEntry) {
	if el, ok := c.byKey[e.key]; ok {
		c.remove(el)
	}
	c.byKey[e.key] = c.lru.PushFront(e)
	for c.lru.Len() > c.max {
		c.remove(c.lru.Back())
	}
}

func (c *Cache) remove(el *list.Element) {
	c.lru.Remove(el)
	delete(c.byKey, el.Value.(*cacheEntry).key)
}

func (c *Cache) clear() {
	c.lru.Init()
	clear(c.byKey)
}

// Forget drops p's entry (e.g. on logout).
func (c *Cache) Forget(p Principal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[p.cacheKey()]; ok {
		c.remove(el)
	}
}

// Clear drops every entry and forces the next lookup to read the generation.
func (c *Cache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clear()
	c.genSeen = false
}

// Len returns the number of principals held.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
