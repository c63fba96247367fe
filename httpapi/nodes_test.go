package httpapi

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clusterpulse/clusterpulse/engine"
)

// TestNodePages pages through a cluster's nodes with limit/continue, on the path that reads
// only the page (names decide) and on the path that reads chunks (labels, role or status
// decide), with chunks smaller than the pages, and checks that the pages concatenate to the
// full filtered list with the right continue headers.
func TestNodePages(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.nodeChunk = 3
	var nodes []engine.Node
	for i := range 11 {
		zone, status, role := "a", engine.NodeReady, "worker"
		if i%3 == 0 {
			zone = "b"
		}
		if i%4 == 0 {
			status, role = engine.NodeNotReady, "master"
		}
		nodes = append(nodes, node(fmt.Sprintf("n%02d", i), status, []string{role}, map[string]string{"zone": zone}, 2))
	}
	err := e.st.WriteCluster(context.Background(), "pg", engine.ClusterState{
		Spec:   &engine.ClusterSpec{Labels: map[string]string{"team": "pg"}},
		Status: engine.ClusterStatus{Health: engine.HealthHealthy}, Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	e.addPolicies(`
metadata: {name: pg-all}
spec:
  identity: {subjects: {groups: [pg-all]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [pg]}}]}}
---
metadata: {name: pg-names}
spec:
  identity: {subjects: {groups: [pg-names]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [pg]}, resources: [{type: nodes, filters: {names: {allowed: ["n0*"], denied: [n03]}}}]}]}}
---
metadata: {name: pg-zone}
spec:
  identity: {subjects: {groups: [pg-zone]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [pg]}, resources: [{type: nodes, filters: {labels: {zone: a}}}]}]}}
`)
	all := who{user: "u1", groups: []string{"pg-all"}}
	tests := []struct {
		name  string
		as    who
		query string
		limit int
		want  []string
	}{
		{"all nodes, pages of 4", all, "", 4, []string{"n00", "n01", "n02", "n03", "n04", "n05", "n06", "n07", "n08", "n09", "n10"}},
		{"all nodes, one page", all, "", 100, []string{"n00", "n01", "n02", "n03", "n04", "n05", "n06", "n07", "n08", "n09", "n10"}},
		{"name filters, pages of 3", who{user: "u2", groups: []string{"pg-names"}}, "", 3, []string{"n00", "n01", "n02", "n04", "n05", "n06", "n07", "n08", "n09"}},
		{"label filter, pages of 2", who{user: "u3", groups: []string{"pg-zone"}}, "", 2, []string{"n01", "n02", "n04", "n05", "n07", "n08", "n10"}},
		{"status filter, pages of 2", all, "&status=NotReady", 2, []string{"n00", "n04", "n08"}},
		{"role and label, pages of 5", who{user: "u3", groups: []string{"pg-zone"}}, "&role=worker", 5, []string{"n01", "n02", "n05", "n07", "n10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			target := fmt.Sprintf("/api/v1/clusters/pg/nodes?limit=%d%s", tt.limit, tt.query)
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatal("more than 20 pages")
				}
				rec := e.get(tt.as, target)
				if rec.Code != 200 {
					t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body)
				}
				page := namesOfList(t, rec).([]string)
				if len(page) > tt.limit {
					t.Fatalf("page of %d nodes, limit %d", len(page), tt.limit)
				}
				got = append(got, page...)
				next := rec.Header().Get("X-Continue")
				if next == "" {
					break
				}
				if len(page) != tt.limit {
					t.Fatalf("short page (%d) before the end", len(page))
				}
				target = fmt.Sprintf("/api/v1/clusters/pg/nodes?limit=%d%s&continue=%s", tt.limit, tt.query, next)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("nodes (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("continue past the end", func(t *testing.T) {
		rec := e.get(all, "/api/v1/clusters/pg/nodes?limit=5&continue="+encodeContinue(50))
		if rec.Code != 200 || rec.Body.String() != "[]" || rec.Header().Get("X-Continue") != "" {
			t.Errorf("got %d %s, continue %q; want 200, [] and no continue", rec.Code, rec.Body, rec.Header().Get("X-Continue"))
		}
	})
}
