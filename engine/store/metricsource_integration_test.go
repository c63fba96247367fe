package store

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clusterpulse/clusterpulse/engine"
)

func testDef(typ, hash string) MetricSourceDef {
	return MetricSourceDef{
		Namespace: "hub", Name: "pvcs", ResourceTypeName: typ, Kind: "PersistentVolumeClaim", APIVersion: "v1",
		Hash: hash, CompiledAt: testAt(), Definition: []byte(`{"name":"pvcs","hash":"` + hash + `"}`),
	}
}

// keysWithoutPrefix lists every key of the test prefix without it (tests only: the store
// never scans).
func keysWithoutPrefix(t *testing.T, ctx context.Context, s *Store) []string {
	t.Helper()
	keys := scanKeys(t, ctx, s.client, s.keys.Prefix+"*")
	for i, k := range keys {
		keys[i] = strings.TrimPrefix(k, s.keys.Prefix)
	}
	return keys
}

// TestSaveMetricSource checks the definition, meta and indexes, that an unchanged save writes
// nothing and keeps the version, and that a type change moves the id between type indexes.
func TestSaveMetricSource(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := ctxT(t)
	steps := []struct {
		name        string
		def         MetricSourceDef
		wantChanged bool
		wantVersion int64
		wantTypes   map[string][]string
	}{
		{name: "new", def: testDef("pvc", "h1"), wantChanged: true, wantVersion: 1,
			wantTypes: map[string][]string{"pvc": {"hub/pvcs"}, "storage": {}}},
		{name: "unchanged", def: testDef("pvc", "h1"), wantChanged: false, wantVersion: 1,
			wantTypes: map[string][]string{"pvc": {"hub/pvcs"}, "storage": {}}},
		{name: "spec changed", def: testDef("pvc", "h2"), wantChanged: true, wantVersion: 2,
			wantTypes: map[string][]string{"pvc": {"hub/pvcs"}, "storage": {}}},
		{name: "type changed", def: testDef("storage", "h2"), wantChanged: true, wantVersion: 3,
			wantTypes: map[string][]string{"pvc": {}, "storage": {"hub/pvcs"}}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			changed, err := s.SaveMetricSource(ctx, st.def)
			if err != nil {
				t.Fatal(err)
			}
			if changed != st.wantChanged {
				t.Errorf("changed = %v, want %v", changed, st.wantChanged)
			}
			if v, err := s.MetricSourcesVersion(ctx); err != nil || v != st.wantVersion {
				t.Errorf("version = %d, %v; want %d", v, err, st.wantVersion)
			}
			def, err := s.MetricSourceDefinition(ctx, "hub", "pvcs")
			if err != nil || string(def) != string(st.def.Definition) {
				t.Errorf("definition = %s, %v; want %s", def, err, st.def.Definition)
			}
			meta, err := s.MetricSourceMeta(ctx, "hub", "pvcs")
			if err != nil {
				t.Fatal(err)
			}
			wantMeta := map[string]string{"compiledAt": "2026-03-01T12:00:00Z", "hash": st.def.Hash,
				"kind": "PersistentVolumeClaim", "apiVersion": "v1", "resourceTypeName": st.def.ResourceTypeName}
			if d := cmp.Diff(wantMeta, meta); d != "" {
				t.Errorf("meta (-want +got):\n%s", d)
			}
			got := map[string][]string{}
			for typ := range st.wantTypes {
				ids, err := s.MetricSourceIDsByType(ctx, typ)
				if err != nil {
					t.Fatal(err)
				}
				got[typ] = ids
			}
			if d := cmp.Diff(st.wantTypes, got); d != "" {
				t.Errorf("type indexes (-want +got):\n%s", d)
			}
			for _, list := range []func(context.Context) ([]string, error){s.MetricSourceIDs, s.EnabledMetricSourceIDs} {
				if ids, err := list(ctx); err != nil || !cmp.Equal(ids, []string{"hub/pvcs"}) {
					t.Errorf("all/enabled = %v, %v; want [hub/pvcs]", ids, err)
				}
			}
		})
	}

	t.Run("invalid", func(t *testing.T) {
		for _, d := range []MetricSourceDef{{Name: "", ResourceTypeName: "x", Definition: []byte("{}")},
			{Name: "a", Definition: []byte("{}")}, {Name: "a", ResourceTypeName: "x"}} {
			if _, err := s.SaveMetricSource(ctx, d); !errors.Is(err, engine.ErrInvalid) {
				t.Errorf("SaveMetricSource(%+v) error = %v, want ErrInvalid", d, err)
			}
		}
	})
}

// TestDisableMetricSource checks that disabling removes the id from the enabled set only, bumps
// the version once, and that a later save enables it again.
func TestDisableMetricSource(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := ctxT(t)
	if _, err := s.SaveMetricSource(ctx, testDef("pvc", "h1")); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false} {
		changed, err := s.DisableMetricSource(ctx, "hub", "pvcs")
		if err != nil || changed != want {
			t.Errorf("disable #%d = %v, %v; want %v", i+1, changed, err, want)
		}
	}
	if ids, _ := s.EnabledMetricSourceIDs(ctx); len(ids) != 0 {
		t.Errorf("enabled after disable = %v, want none", ids)
	}
	if ids, _ := s.MetricSourceIDs(ctx); !cmp.Equal(ids, []string{"hub/pvcs"}) {
		t.Errorf("all after disable = %v, want [hub/pvcs]", ids)
	}
	if v, _ := s.MetricSourcesVersion(ctx); v != 2 {
		t.Errorf("version after disable = %d, want 2", v)
	}
	// The same definition saved again: only the enabled set changes, which is a change.
	if changed, err := s.SaveMetricSource(ctx, testDef("pvc", "h1")); err != nil || !changed {
		t.Errorf("save after disable = %v, %v; want changed", changed, err)
	}
	if ids, _ := s.EnabledMetricSourceIDs(ctx); !cmp.Equal(ids, []string{"hub/pvcs"}) {
		t.Errorf("enabled after save = %v, want [hub/pvcs]", ids)
	}
}

// TestDeleteMetricSource writes data of one source on a cluster known only to the source's
// cluster index and on one known only to clusters:all, plus data of another source, then
// deletes the source and checks with SCAN that exactly its keys are gone.
func TestDeleteMetricSource(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := ctxT(t)
	if _, err := s.SaveMetricSource(ctx, testDef("pvc", "h1")); err != nil {
		t.Fatal(err)
	}
	other := testDef("pvc", "h9")
	other.Name = "other"
	if _, err := s.SaveMetricSource(ctx, other); err != nil {
		t.Fatal(err)
	}
	res := &engine.CustomCollection{SourceID: "hub/pvcs", ClusterName: "a"}
	agg := &engine.AggregationResults{SourceID: "hub/pvcs"}
	meta := &engine.CustomMeta{SourceID: "hub/pvcs", ClusterName: "a"}
	if err := s.WriteCustomIndexed(ctx, "a", "hub/pvcs", res, agg, meta); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteCustomIndexed(ctx, "a", "hub/other", res, agg, meta); err != nil {
		t.Fatal(err)
	}
	// Cluster b has data written without the source index (as WriteCustom does) but is in
	// clusters:all.
	if err := s.WriteCustom(ctx, "b", "hub/pvcs", res, agg, meta); err != nil {
		t.Fatal(err)
	}
	if err := s.client.SAdd(ctx, s.keys.ClustersAll(), "b").Err(); err != nil {
		t.Fatal(err)
	}
	if names, err := s.MetricSourceClusterNames(ctx, "hub", "pvcs"); err != nil || !cmp.Equal(names, []string{"a"}) {
		t.Fatalf("cluster index = %v, %v; want [a]", names, err)
	}
	if ttl := s.client.TTL(ctx, s.keys.MetricSourceClusters("hub", "pvcs")).Val(); ttl <= 0 || ttl > DefaultCacheTTL {
		t.Errorf("cluster index TTL = %v, want (0, %v]", ttl, DefaultCacheTTL)
	}
	before, _ := s.MetricSourcesVersion(ctx)

	existed, err := s.DeleteMetricSource(ctx, "hub", "pvcs")
	if err != nil || !existed {
		t.Fatalf("DeleteMetricSource = %v, %v; want existed", existed, err)
	}
	want := []string{
		"cluster:a:custom:hub/other:aggregations",
		"cluster:a:custom:hub/other:meta",
		"cluster:a:custom:hub/other:resources",
		"cluster:a:keys",
		"clusters:all",
		"metricsource:hub:other",
		"metricsource:hub:other:clusters",
		"metricsource:hub:other:meta",
		"metricsources:all",
		"metricsources:by:resourcetype:pvc",
		"metricsources:enabled",
		"metricsources:version",
	}
	if d := cmp.Diff(want, keysWithoutPrefix(t, ctx, s)); d != "" {
		t.Errorf("keys after delete (-want +got):\n%s", d)
	}
	idx, _ := s.client.SMembers(ctx, s.keys.ClusterKeys("a")).Result()
	sort.Strings(idx)
	wantIdx := []string{s.keys.CustomAggregations("a", "hub/other"), s.keys.CustomMeta("a", "hub/other"), s.keys.CustomResources("a", "hub/other")}
	if d := cmp.Diff(wantIdx, idx); d != "" {
		t.Errorf("key index of cluster a (-want +got):\n%s", d)
	}
	if after, _ := s.MetricSourcesVersion(ctx); after != before+1 {
		t.Errorf("version after delete = %d, want %d", after, before+1)
	}
	existed, err = s.DeleteMetricSource(ctx, "hub", "pvcs")
	if err != nil || existed {
		t.Errorf("second DeleteMetricSource = %v, %v; want not existed", existed, err)
	}
	if after, _ := s.MetricSourcesVersion(ctx); after != before+1 {
		t.Errorf("version after deleting nothing = %d, want %d", after, before+1)
	}
	if _, err := s.MetricSourceDefinition(ctx, "hub", "pvcs"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("definition after delete: %v, want ErrNotFound", err)
	}
	if _, err := s.MetricSourceMeta(ctx, "hub", "pvcs"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("meta after delete: %v, want ErrNotFound", err)
	}
}

func TestMetricSourcesVersionUnset(t *testing.T) {
	s, _ := newTestStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if v, err := s.MetricSourcesVersion(ctx); err != nil || v != 0 {
		t.Errorf("MetricSourcesVersion = %d, %v; want 0", v, err)
	}
}
