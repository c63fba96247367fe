package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/testenv"
)

func TestPresence(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := ctxT(t)
	type beat struct {
		Replica string `json:"replica"`
		Version string `json:"version"`
	}
	var got beat
	found, err := s.Presence(ctx, "collector", "c", &got)
	if err != nil || found {
		t.Fatalf("Presence before set = %v, %v; want false", found, err)
	}
	want := beat{Replica: "ingester-0", Version: "v1"}
	if err := s.SetPresence(ctx, "collector", "c", want, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	found, err = s.Presence(ctx, "collector", "c", &got)
	if err != nil || !found {
		t.Fatalf("Presence after set = %v, %v; want true", found, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Presence mismatch (-want +got):\n%s", diff)
	}
	testenv.Eventually(t, 5*time.Second, func() error {
		found, err := s.Presence(ctx, "collector", "c", &beat{})
		if err != nil {
			return err
		}
		if found {
			return errors.New("presence has not expired")
		}
		return nil
	})
	if err := s.SetPresence(ctx, "collector", "c", want, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.ClearPresence(ctx, "collector", "c"); err != nil {
		t.Fatal(err)
	}
	if found, err := s.Presence(ctx, "collector", "c", &beat{}); err != nil || found {
		t.Errorf("Presence after clear = %v, %v; want false", found, err)
	}
	if err := s.SetPresence(ctx, "collector", "c", want, 0); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("SetPresence with ttl 0: %v, want ErrInvalid", err)
	}
}

func TestMarkOnce(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := ctxT(t)
	var got []bool
	for range 3 {
		first, err := s.MarkOnce(ctx, "batch-1", 300*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, first)
	}
	if diff := cmp.Diff([]bool{true, false, false}, got); diff != "" {
		t.Errorf("MarkOnce results (-want +got):\n%s", diff)
	}
	testenv.Eventually(t, 5*time.Second, func() error {
		first, err := s.MarkOnce(ctx, "batch-1", time.Minute)
		if err != nil {
			return err
		}
		if !first {
			return errors.New("mark has not expired")
		}
		return nil
	})
}

func TestBeginOnce(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := ctxT(t)
	type step struct {
		name string
		do   func() (any, error)
		want any
	}
	begin := func(key, owner string) func() (any, error) {
		return func() (any, error) { return s.BeginOnce(ctx, key, owner, time.Minute) }
	}
	steps := []step{
		{"first claim", begin("b1", "a"), OnceClaimed},
		{"second owner sees pending", begin("b1", "b"), OncePending},
		{"other owner cannot abort", func() (any, error) { return s.AbortOnce(ctx, "b1", "b") }, false},
		{"owner aborts", func() (any, error) { return s.AbortOnce(ctx, "b1", "a") }, true},
		{"retry claims again", begin("b1", "b"), OnceClaimed},
		{"complete", func() (any, error) { return nil, s.CompleteOnce(ctx, "b1", time.Minute) }, nil},
		{"duplicate is done", begin("b1", "c"), OnceDone},
		{"abort after completion does nothing", func() (any, error) { return s.AbortOnce(ctx, "b1", "b") }, false},
		{"still done", begin("b1", "c"), OnceDone},
		{"MarkOnce sees completed work", func() (any, error) { return s.MarkOnce(ctx, "b1", time.Minute) }, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got, err := st.do()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(st.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("claim lapses", func(t *testing.T) {
		if st, err := s.BeginOnce(ctx, "b2", "a", 200*time.Millisecond); err != nil || st != OnceClaimed {
			t.Fatalf("BeginOnce = %v, %v", st, err)
		}
		testenv.Eventually(t, 5*time.Second, func() error {
			st, err := s.BeginOnce(ctx, "b2", "b", time.Minute)
			if err != nil {
				return err
			}
			if st != OnceClaimed {
				return fmt.Errorf("state %v", st)
			}
			return nil
		})
	})
}

func TestEvents(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := ctxT(t)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ev := func(i int) engine.Event {
		return engine.Event{Type: engine.EventClusterReconciled, Cluster: "same", Timestamp: engine.NewTime(at.Add(time.Duration(i) * time.Second)), Data: map[string]any{"i": float64(i)}}
	}
	for i := range 120 {
		if err := s.WriteCluster(ctx, "same", engine.ClusterState{Status: engine.ClusterStatus{Health: engine.HealthHealthy}, Events: []engine.Event{ev(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	regEvent := engine.Event{Type: engine.EventRegistryReconciled, Cluster: "same", Data: map[string]any{}}
	if err := s.WriteRegistry(ctx, "same", engine.RegistrySpec{}, engine.RegistryStatus{}, regEvent); err != nil {
		t.Fatal(err)
	}
	all, err := s.Events(ctx, "same", 0)
	if err != nil {
		t.Fatal(err)
	}
	newest, err := s.Events(ctx, "same", 3)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := s.RegistryEvents(ctx, "same", 10)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{len(all), newest, reg}
	want := []any{EventsMax, []engine.Event{ev(119), ev(118), ev(117)}, []engine.Event{regEvent}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestNodeHistory(t *testing.T) {
	r := testenv.NewRedis(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := now
	s := New(r.Client, Options{Prefix: r.Prefix, MetricsRetention: 10 * time.Minute, Clock: func() time.Time { return clock }})
	ctx := ctxT(t)
	write := func(minutesAgo int) {
		t.Helper()
		at := now.Add(-time.Duration(minutesAgo) * time.Minute)
		n := engine.Node{Name: "n1", Timestamp: engine.NewTime(at), CPUUsagePercent: float64(minutesAgo)}
		if err := s.WriteCluster(ctx, "c", engine.ClusterState{Nodes: []engine.Node{n}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []int{20, 11, 9, 5, 1} {
		write(m)
	}
	usage := func(limit int) []float64 {
		t.Helper()
		samples, err := s.NodeHistory(ctx, "c", "n1", limit)
		if err != nil {
			t.Fatal(err)
		}
		out := []float64{}
		for _, x := range samples {
			out = append(out, x.CPUUsage)
		}
		return out
	}
	got := []any{usage(0), usage(2)}
	want := []any{[]float64{9, 5, 1}, []float64{5, 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NodeHistory (-want +got):\n%s", diff)
	}
}

func TestRegistry(t *testing.T) {
	s, r := newTestStore(t)
	ctx := ctxT(t)
	spec := engine.RegistrySpec{DisplayName: "Quay", Endpoint: "https://quay.io", Type: "quay", Labels: map[string]string{}}
	status := engine.RegistryStatus{Available: true, Health: engine.HealthHealthy, ResponseTime: 42, Features: map[string]bool{}, Repositories: []string{}}
	for _, name := range []string{"quay", "docker"} {
		if err := s.WriteRegistry(ctx, name, spec, status, engine.Event{Type: engine.EventRegistryReconciled, Cluster: name, Data: map[string]any{}}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Registry(ctx, "quay")
	if err != nil {
		t.Fatal(err)
	}
	want := RegistryState{Name: "quay", Spec: spec, Status: &status}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Registry (-want +got):\n%s", diff)
	}
	meta, err := r.Client.HGetAll(ctx, s.Keys().RegistryMeta("quay")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if meta["available"] != "true" || meta["last_update"] == "" {
		t.Errorf("registry meta = %v", meta)
	}

	if err := s.DeleteRegistry(ctx, "quay"); err != nil {
		t.Fatal(err)
	}
	if left := scanKeys(t, ctx, r.Client, r.Prefix+"registry:quay:*"); len(left) != 0 {
		t.Errorf("keys left after DeleteRegistry: %v", left)
	}
	names, err := s.RegistryNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"docker"}, names); diff != "" {
		t.Errorf("RegistryNames (-want +got):\n%s", diff)
	}
	if _, err := s.Registry(ctx, "quay"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Registry after delete: %v, want ErrNotFound", err)
	}
}

func TestCustom(t *testing.T) {
	s, r := newTestStore(t)
	ctx := ctxT(t)
	at := engine.NewTime(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	res := engine.CustomCollection{
		CollectedAt: at, SourceID: "ns/pvcs", ClusterName: "c", ResourceCount: 1,
		Resources: []engine.CustomResource{{ID: "default/data", Namespace: "default", Name: "data", Values: map[string]any{"size": float64(10)}}},
	}
	agg := engine.AggregationResults{ComputedAt: at, SourceID: "ns/pvcs", Values: map[string]any{
		"total": float64(10), "by_class": map[string]any{"fast": float64(10)}, "none": nil,
	}}
	meta := engine.CustomMeta{SourceID: "ns/pvcs", ClusterName: "c", LastCollectionTime: at, ResourceCount: 1}
	if err := s.WriteCustom(ctx, "c", "ns/pvcs", &res, &agg, &meta); err != nil {
		t.Fatal(err)
	}
	gotRes, err := s.CustomResources(ctx, "c", "ns/pvcs")
	if err != nil {
		t.Fatal(err)
	}
	gotAgg, err := s.CustomAggregations(ctx, "c", "ns/pvcs")
	if err != nil {
		t.Fatal(err)
	}
	gotMeta, err := s.CustomMeta(ctx, "c", "ns/pvcs")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{res, agg, meta}, []any{gotRes, gotAgg, gotMeta}); diff != "" {
		t.Errorf("custom data (-want +got):\n%s", diff)
	}
	if err := s.DeleteCustom(ctx, "c", "ns/pvcs"); err != nil {
		t.Fatal(err)
	}
	left := scanKeys(t, ctx, r.Client, r.Prefix+"cluster:c:custom:*")
	index, err := r.Client.SMembers(ctx, s.Keys().ClusterKeys("c")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{[]string(nil), []string{}}, []any{left, index}); diff != "" {
		t.Errorf("after DeleteCustom: keys and index (-want +got):\n%s", diff)
	}
}
