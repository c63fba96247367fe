package policy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeSource is an in-memory Source for the Cache's own logic (bounds, TTL, generations);
// the Redis-backed Store is tested in store_integration_test.go.
type fakeSource struct {
	mu       sync.Mutex
	gen      int64
	err      error
	loads    map[string]int
	genReads int
}

func (f *fakeSource) Generation(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.genReads++
	return f.gen, f.err
}

func (f *fakeSource) Load(_ context.Context, p Principal) (Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return Snapshot{}, f.err
	}
	if f.loads == nil {
		f.loads = map[string]int{}
	}
	f.loads[p.Username]++
	c := &Compiled{PolicyName: fmt.Sprintf("%s-gen%d", p.Username, f.gen), Namespace: "ops"}
	return Snapshot{Generation: f.gen, Policies: []*Compiled{c}}, nil
}

func (f *fakeSource) set(gen int64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen, f.err = gen, err
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestCache(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: testNow}
	src := &fakeSource{gen: 1}
	cache := NewCache(src, CacheOptions{MaxEntries: 2, TTL: time.Hour, GenerationRefresh: time.Second, Clock: clock.now})
	user := func(name string) Principal { return Principal{Username: name} }
	get := func(name string) string {
		t.Helper()
		ps, err := cache.Policies(ctx, user(name))
		if err != nil {
			t.Fatal(err)
		}
		return ps[0].PolicyName
	}
	var got []string
	got = append(got, get("a"), get("a"), get("b"))
	// The TTL is cut to 10 s.
	clock.advance(10*time.Second + time.Nanosecond)
	got = append(got, get("a")) // reloaded
	// Bounded: c evicts the least recently used (b).
	got = append(got, get("c"), get("a"), get("b"))
	// Within the refresh interval a new generation is not seen yet...
	src.set(2, nil)
	got = append(got, get("a"))
	// ...after it, every entry is dropped.
	clock.advance(time.Second)
	got = append(got, get("a"), get("a"))
	if cache.Len() != 1 {
		t.Errorf("Len after a generation change = %d, want 1", cache.Len())
	}
	cache.Forget(user("a"))
	got = append(got, get("a"))
	cache.Clear()
	got = append(got, get("a"))
	want := []string{"a-gen1", "a-gen1", "b-gen1", "a-gen1", "c-gen1", "a-gen1", "b-gen1", "a-gen1", "a-gen2", "a-gen2", "a-gen2", "a-gen2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
	// a: first, after TTL, after the generation change, after Forget, after Clear.
	// b: first, after eviction. c: once.
	if diff := cmp.Diff(map[string]int{"a": 5, "b": 2, "c": 1}, src.loads); diff != "" {
		t.Errorf("loads per principal (-want +got):\n%s", diff)
	}

	src.set(2, errors.New("redis down"))
	clock.advance(time.Second)
	if _, err := cache.Policies(ctx, user("a")); err == nil {
		t.Error("Policies with a failing source succeeded")
	}
}

func TestCacheKeyIncludesGroupsAndEmail(t *testing.T) {
	ctx := context.Background()
	src := &fakeSource{gen: 1}
	cache := NewCache(src, CacheOptions{})
	for _, p := range []Principal{
		{Username: "a", Groups: []string{"x", "y"}},
		{Username: "a", Groups: []string{"y", "x", "x"}},
		{Username: "a", Groups: []string{"x"}},
		{Username: "a", Email: "a@example.com", Groups: []string{"x"}},
	} {
		if _, err := cache.Policies(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if cache.Len() != 3 || src.loads["a"] != 3 {
		t.Errorf("entries %d, loads %d; want 3 and 3 (group order does not matter, groups and email do)", cache.Len(), src.loads["a"])
	}
}

func TestCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	src := &fakeSource{gen: 1}
	cache := NewCache(src, CacheOptions{MaxEntries: 5, GenerationRefresh: -1})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if i%50 == 0 && g == 0 {
					src.set(int64(i), nil)
				}
				p := Principal{Username: fmt.Sprintf("u%d", (g+i)%10)}
				ps, err := cache.Policies(ctx, p)
				if err != nil {
					errs <- err
					return
				}
				if len(ps) != 1 {
					errs <- fmt.Errorf("%d policies for %s", len(ps), p.Username)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := cache.Len(); n > 5 {
		t.Errorf("Len = %d, want at most 5", n)
	}
}
