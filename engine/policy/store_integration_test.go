package policy

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/store"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// roundTrips counts the round trips a client makes (a pipeline or transaction is one).
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// newTestStore returns a Store on the test Redis with the test's key prefix, and a counter of
// its round trips.
func newTestStore(t *testing.T) (*Store, *testenv.Redis, *roundTrips) {
	t.Helper()
	r := testenv.NewRedis(t)
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { c.Close() })
	hook := &roundTrips{}
	c.AddHook(hook)
	return NewStore(c, store.Keys{Prefix: r.Prefix}), r, hook
}

// keysOf lists every key under the test's prefix, without the prefix, sorted (SCAN in tests
// only).
func keysOf(t *testing.T, r *testenv.Redis) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	iter := r.Client.Scan(ctx, 0, r.Prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		out = append(out, strings.TrimPrefix(iter.Val(), r.Prefix))
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func mustCompile(t *testing.T, doc string, now time.Time) *Compiled {
	t.Helper()
	c, err := Compile(mustPolicies(t, doc)[0], now)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const storeTestPolicy = `
metadata: {name: a, namespace: ops}
spec:
  identity:
    subjects: {users: [alice, bob], groups: [team-a], serviceAccounts: [{name: reader, namespace: mon}]}
    priority: 300
  access: {effect: Allow}
  scope: {clusters: {rules: [{resources: [{type: pvcs}, {type: nodes}]}]}}`

func TestStoreSaveAndRemoveKeys(t *testing.T) {
	s, r, _ := newTestStore(t)
	ctx := context.Background()
	c := mustCompile(t, storeTestPolicy, testNow)
	changed, err := s.Save(ctx, c)
	if err != nil || !changed {
		t.Fatalf("Save = %v, %v; want true, nil", changed, err)
	}
	want := []string{
		"policies:all",
		"policies:by:priority",
		"policies:effect:allow",
		"policies:enabled",
		"policies:generation",
		"policy:customtype:pvcs",
		"policy:customtype:pvcs:sorted",
		"policy:group:team-a",
		"policy:group:team-a:sorted",
		"policy:ops:a",
		"policy:sa:system:serviceaccount:mon:reader",
		"policy:sa:system:serviceaccount:mon:reader:sorted",
		"policy:user:alice",
		"policy:user:alice:sorted",
		"policy:user:bob",
		"policy:user:bob:sorted",
	}
	if diff := cmp.Diff(want, keysOf(t, r)); diff != "" {
		t.Errorf("keys after Save (-want +got):\n%s", diff)
	}
	key := r.Prefix + "policy:ops:a"
	hash, err := r.Client.HGetAll(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	data := hash["data"]
	delete(hash, "data")
	wantHash := map[string]string{"priority": "300", "effect": "Allow", "enabled": "true", "hash": c.Hash, "compiled_at": "2026-06-01T12:00:00Z"}
	if diff := cmp.Diff(wantHash, hash); diff != "" {
		t.Errorf("policy hash (-want +got):\n%s", diff)
	}
	wantData, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if data != string(wantData) {
		t.Errorf("stored data:\n%s\nwant:\n%s", data, wantData)
	}
	if _, err := Decode([]byte(data)); err != nil {
		t.Errorf("stored data does not decode: %v", err)
	}
	for _, idx := range []string{"policy:user:alice", "policy:customtype:pvcs", "policies:all", "policies:enabled", "policies:effect:allow"} {
		members, err := r.Client.SMembers(ctx, r.Prefix+idx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{key}, members); diff != "" {
			t.Errorf("members of %s (-want +got):\n%s", idx, diff)
		}
	}
	for _, idx := range []string{"policy:group:team-a:sorted", "policies:by:priority"} {
		z, err := r.Client.ZRangeWithScores(ctx, r.Prefix+idx, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]redis.Z{{Score: 300, Member: key}}, z); diff != "" {
			t.Errorf("members of %s (-want +got):\n%s", idx, diff)
		}
	}
	names, err := s.Names(ctx)
	if err != nil || !slices.Equal(names, []string{"ops/a"}) {
		t.Errorf("Names = %v, %v; want [ops/a]", names, err)
	}

	removed, err := s.Remove(ctx, "ops", "a")
	if err != nil || !removed {
		t.Fatalf("Remove = %v, %v; want true, nil", removed, err)
	}
	if diff := cmp.Diff([]string{"policies:generation"}, keysOf(t, r)); diff != "" {
		t.Errorf("keys after Remove (-want +got):\n%s", diff)
	}
	removed, err = s.Remove(ctx, "ops", "a")
	if err != nil || removed {
		t.Errorf("second Remove = %v, %v; want false, nil", removed, err)
	}
}

func TestStoreRecompileRemovesStaleEntries(t *testing.T) {
	s, r, _ := newTestStore(t)
	ctx := context.Background()
	if _, err := s.Save(ctx, mustCompile(t, storeTestPolicy, testNow)); err != nil {
		t.Fatal(err)
	}
	// bob, the service account and the custom type are gone; the effect and priority changed.
	c := mustCompile(t, `
metadata: {name: a, namespace: ops}
spec:
  identity: {subjects: {users: [alice, carol], groups: [team-a]}, priority: 50}
  access: {effect: Deny}
  scope: {clusters: {rules: [{selector: {matchNames: [prod]}}]}}`, testNow)
	if _, err := s.Save(ctx, c); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"policies:all",
		"policies:by:priority",
		"policies:effect:deny",
		"policies:enabled",
		"policies:generation",
		"policy:group:team-a",
		"policy:group:team-a:sorted",
		"policy:ops:a",
		"policy:user:alice",
		"policy:user:alice:sorted",
		"policy:user:carol",
		"policy:user:carol:sorted",
	}
	if diff := cmp.Diff(want, keysOf(t, r)); diff != "" {
		t.Errorf("keys after recompile (-want +got):\n%s", diff)
	}
	score, err := r.Client.ZScore(ctx, r.Prefix+"policy:user:alice:sorted", r.Prefix+"policy:ops:a").Result()
	if err != nil || score != 50 {
		t.Errorf("score in user index = %v, %v; want 50", score, err)
	}

	// Disabled: no subject index, not enabled, still listed.
	c.Enabled = false
	if _, err := s.Save(ctx, c); err != nil {
		t.Fatal(err)
	}
	want = []string{"policies:all", "policies:by:priority", "policies:effect:deny", "policies:generation", "policy:ops:a"}
	if diff := cmp.Diff(want, keysOf(t, r)); diff != "" {
		t.Errorf("keys after disabling (-want +got):\n%s", diff)
	}
	enabled, err := r.Client.HGet(ctx, r.Prefix+"policy:ops:a", "enabled").Result()
	if err != nil || enabled != "false" {
		t.Errorf("enabled field = %q, %v; want false", enabled, err)
	}
}

func TestStoreGeneration(t *testing.T) {
	s, _, _ := newTestStore(t)
	ctx := context.Background()
	var got []int64
	gen := func() {
		g, err := s.Generation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, g)
	}
	gen() // 0: nothing stored yet
	if _, err := s.Save(ctx, mustCompile(t, storeTestPolicy, testNow)); err != nil {
		t.Fatal(err)
	}
	gen() // 1
	changed, err := s.Save(ctx, mustCompile(t, storeTestPolicy, testNow.Add(time.Minute)))
	if err != nil || changed {
		t.Errorf("re-saving an unchanged policy = %v, %v; want false, nil", changed, err)
	}
	gen() // still 1
	p := mustPolicies(t, storeTestPolicy)[0]
	p.Spec.Identity.Priority = 301
	c, err := Compile(p, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(ctx, c); err != nil {
		t.Fatal(err)
	}
	gen() // 2
	failed := Failed(p, testNow, context.Canceled)
	if _, err := s.Save(ctx, failed); err != nil {
		t.Fatal(err)
	}
	gen() // 3: a policy going into error changes decisions
	if _, err := s.Remove(ctx, "ops", "a"); err != nil {
		t.Fatal(err)
	}
	gen() // 4
	if _, err := s.Remove(ctx, "ops", "a"); err != nil {
		t.Fatal(err)
	}
	gen() // still 4
	if diff := cmp.Diff([]int64{0, 1, 1, 2, 3, 4, 4}, got); diff != "" {
		t.Errorf("generations (-want +got):\n%s", diff)
	}
}

func TestStoreForPrincipal(t *testing.T) {
	s, _, hook := newTestStore(t)
	ctx := context.Background()
	docs := []string{
		`
metadata: {name: by-user, namespace: ops}
spec:
  identity: {subjects: {users: [alice]}, priority: 100}
  access: {effect: Allow}`,
		`
metadata: {name: by-email, namespace: ops}
spec:
  identity: {subjects: {users: [alice@example.com]}, priority: 100}
  access: {effect: Deny}`,
		`
metadata: {name: by-group, namespace: team}
spec:
  identity: {subjects: {groups: [team-a, team-b]}, priority: 500}
  access: {effect: Allow}`,
		`
metadata: {name: by-sa, namespace: ops}
spec:
  identity: {subjects: {serviceAccounts: [{name: reader, namespace: mon}], groups: [team-b]}, priority: 200}
  access: {effect: Allow}`,
		`
metadata: {name: other, namespace: ops}
spec:
  identity: {subjects: {users: [bob], groups: [team-c]}, priority: 900}
  access: {effect: Allow}`,
		`
metadata: {name: disabled, namespace: ops}
spec:
  identity: {subjects: {users: [alice]}, priority: 900}
  access: {effect: Allow, enabled: false}`,
	}
	for _, d := range docs {
		if _, err := s.Save(ctx, mustCompile(t, d, testNow)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		who  Principal
		want []string
	}{
		{"user, email and group; deny first at equal priority", Principal{Username: "alice", Email: "alice@example.com", Groups: []string{"team-a"}}, []string{"team/by-group", "ops/by-email", "ops/by-user"}},
		{"service account and its group, once each", Principal{Username: "system:serviceaccount:mon:reader", Groups: []string{"team-b", "team-b"}}, []string{"team/by-group", "ops/by-sa"}},
		{"a user named like the service account is not the service account", Principal{Username: "reader"}, []string{}},
		{"nobody", Principal{Username: "mallory", Groups: []string{"x"}}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.ForPrincipal(ctx, tt.who); err != nil { // loads the script
				t.Fatal(err)
			}
			before := hook.n.Load()
			policies, err := s.ForPrincipal(ctx, tt.who)
			if err != nil {
				t.Fatal(err)
			}
			if n := hook.n.Load() - before; n != 1 {
				t.Errorf("ForPrincipal made %d round trips, want 1", n)
			}
			got := []string{}
			for _, p := range policies {
				got = append(got, p.Key())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("policies (-want +got):\n%s", diff)
			}
		})
	}
	snap, err := s.Load(ctx, Principal{Username: "alice"})
	if err != nil || snap.Generation != int64(len(docs)) {
		t.Errorf("Load generation = %d, %v; want %d", snap.Generation, err, len(docs))
	}
}

func TestStoreUnavailable(t *testing.T) {
	testenv.NewRedis(t) // skip or fail like the other integration tests
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { c.Close() })
	s := NewStore(c, store.Keys{})
	ctx := context.Background()
	if _, err := s.ForPrincipal(ctx, Principal{Username: "a"}); !errors.Is(err, engine.ErrUnavailable) {
		t.Errorf("ForPrincipal on a closed port: %v, want ErrUnavailable", err)
	}
	if _, err := s.Save(ctx, mustCompile(t, storeTestPolicy, testNow)); !errors.Is(err, engine.ErrUnavailable) {
		t.Errorf("Save on a closed port: %v, want ErrUnavailable", err)
	}
	if _, err := s.Generation(ctx); !errors.Is(err, engine.ErrUnavailable) {
		t.Errorf("Generation on a closed port: %v, want ErrUnavailable", err)
	}
}

func TestCacheOnRedis(t *testing.T) {
	s, _, hook := newTestStore(t)
	ctx := context.Background()
	alice := Principal{Username: "alice"}
	if _, err := s.Save(ctx, mustCompile(t, storeTestPolicy, testNow)); err != nil {
		t.Fatal(err)
	}
	cache := NewCache(s, CacheOptions{GenerationRefresh: -1})
	e := NewEngine(cache)
	keys := func() []string {
		policies, err := e.Policies(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, p := range policies {
			out = append(out, p.Key())
		}
		return out
	}
	if diff := cmp.Diff([]string{"ops/a"}, keys()); diff != "" {
		t.Errorf("first read (-want +got):\n%s", diff)
	}
	before := hook.n.Load()
	keys()
	if n := hook.n.Load() - before; n != 1 {
		t.Errorf("a cache hit made %d round trips, want 1 (the generation)", n)
	}
	// A new policy bumps the generation: the next read sees it.
	if _, err := s.Save(ctx, mustCompile(t, `
metadata: {name: b, namespace: ops}
spec:
  identity: {subjects: {users: [alice]}, priority: 900}
  access: {effect: Deny}`, testNow)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ops/b", "ops/a"}, keys()); diff != "" {
		t.Errorf("read after a change (-want +got):\n%s", diff)
	}
	if _, err := s.Remove(ctx, "ops", "b"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ops/a"}, keys()); diff != "" {
		t.Errorf("read after a removal (-want +got):\n%s", diff)
	}
}
