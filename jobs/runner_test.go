package jobs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clusterpulse/clusterpulse/engine/store"
	"github.com/clusterpulse/clusterpulse/testenv"
)

func testRunner(t *testing.T, concurrency int) (*runner, *bytes.Buffer) {
	t.Helper()
	r := testenv.NewRedis(t)
	var out bytes.Buffer
	return &runner{
		job: "test", log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		store: store.New(r.Client, store.Options{Prefix: r.Prefix}), owner: "me",
		concurrency: concurrency, now: time.Now, out: &out, sum: Summary{Job: "test"},
	}, &out
}

// TestRunUnitsBoundedConcurrency runs 12 units with concurrency 3 and checks that never more
// than 3 run at once, and that every unit runs under its lease.
func TestRunUnitsBoundedConcurrency(t *testing.T) {
	r, out := testRunner(t, 3)
	var units []unit
	for i := range 12 {
		units = append(units, unit{name: fmt.Sprintf("u%02d", i), interval: time.Minute, deadline: time.Minute})
	}
	var inflight, maxSeen atomic.Int32
	started := make(chan string)
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.runUnits(context.Background(), units, func(ctx context.Context, u unit) result {
			n := inflight.Add(1)
			for {
				m := maxSeen.Load()
				if n <= m || maxSeen.CompareAndSwap(m, n) {
					break
				}
			}
			owner, err := r.store.LeaseOwner(ctx, r.leaseName(u.name))
			started <- u.name
			<-release
			inflight.Add(-1)
			if err != nil || owner != r.owner {
				return result{detail: fmt.Sprintf("lease owner %q, %v", owner, err), failed: true}
			}
			return result{detail: "ok"}
		})
	}()
	for range units {
		<-started
		release <- struct{}{}
	}
	<-done
	if m := maxSeen.Load(); m > 3 {
		t.Errorf("%d units ran at once, want at most 3", m)
	}
	s := r.sum
	if s.Attempted != 12 || s.Succeeded != 12 {
		t.Errorf("summary %+v, want 12 succeeded\n%s", s, out)
	}
	for _, u := range units {
		if owner, _ := r.store.LeaseOwner(context.Background(), r.leaseName(u.name)); owner != "" {
			t.Errorf("lease of %s still held by %q after the run", u.name, owner)
		}
		if owner, _ := r.store.LeaseOwner(context.Background(), r.dueName(u.name)); owner != r.owner {
			t.Errorf("due mark of %s: owner %q, want %q", u.name, owner, r.owner)
		}
	}
}

// TestRunUnitsDueAndShard checks the due marks across runs, --force, and the shard filter.
func TestRunUnitsDueAndShard(t *testing.T) {
	r, out := testRunner(t, 2)
	units := []unit{{name: "a", interval: time.Minute}, {name: "b", interval: time.Minute}, {name: "always"}}
	ran := func() []string {
		var names []string
		r.sum = Summary{}
		done := make(chan string, len(units))
		r.runUnits(context.Background(), units, func(_ context.Context, u unit) result {
			done <- u.name
			return result{}
		})
		close(done)
		for n := range done {
			names = append(names, n)
		}
		return names
	}
	if got := ran(); len(got) != 3 {
		t.Fatalf("first run ran %v, want all three", got)
	}
	if got := ran(); len(got) != 1 || got[0] != "always" || r.sum.Skipped != 2 {
		t.Fatalf("second run ran %v (summary %+v), want only the unit without interval", got, r.sum)
	}
	r.force = true
	if got := ran(); len(got) != 3 {
		t.Fatalf("forced run ran %v, want all three", got)
	}
	r.shard = Shard{Index: 0, Count: 2}
	var want int
	for _, u := range units {
		if r.shard.Owns(u.name) {
			want++
		}
	}
	if got := ran(); len(got) != want || r.sum.Attempted+r.sum.Skipped != want {
		t.Fatalf("shard 0/2 ran %v (summary %+v), want %d units", got, r.sum, want)
	}
	if !strings.Contains(out.String(), "test a: skipped in ") {
		t.Errorf("no skip progress line:\n%s", out)
	}
}
