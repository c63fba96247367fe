package httpapi

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
)

// fleetAlertPolicies add principals whose policies restrict registries to the fleet policies.
const fleetAlertPolicies = `
metadata: {name: public-registries}
spec:
  identity: {subjects: {groups: [public-registries]}, priority: 100}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: ["stale-*"]}, resources: [{type: registries, filters: {labels: {public: "true"}}}]}]}}
---
metadata: {name: registry-blind}
spec:
  identity: {subjects: {groups: [registry-blind]}, priority: 100}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [prod-east]}, resources: [{type: registries, visibility: none}]}]}}
---
metadata: {name: quiet}
spec:
  identity: {subjects: {groups: [quiet]}, priority: 100}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [dev-1]}, resources: [{type: registries, visibility: none}]}]}}
`

// fleetRegistries writes the registries of the fleet alerts tests:
//
//	docker-hub  public=true  available, healthy
//	quay        public=true  unavailable
//	internal-a  team=a       available, degraded (slow)
//	internal-b  team=b       never checked (no status)
func (e *env) fleetRegistries() {
	e.t.Helper()
	ctx := context.Background()
	checked := engine.NewTime(testNow.Add(-time.Minute))
	regs := []struct {
		name   string
		labels map[string]string
		status engine.RegistryStatus
	}{
		{"docker-hub", map[string]string{"public": "true"}, engine.RegistryStatus{Available: true, Health: engine.HealthHealthy, Message: "registry available (20 ms)", LastCheck: checked}},
		{"quay", map[string]string{"public": "true"}, engine.RegistryStatus{Health: engine.HealthUnhealthy, Message: "registry unavailable: connection refused", Error: "connection refused", LastCheck: checked}},
		{"internal-a", map[string]string{"team": "a"}, engine.RegistryStatus{Available: true, Health: engine.HealthDegraded, Message: "registry degraded: slow", LastCheck: checked}},
		{"internal-b", map[string]string{"team": "b"}, engine.RegistryStatus{Available: true, Health: engine.HealthHealthy}},
	}
	for _, r := range regs {
		if err := e.st.WriteRegistry(ctx, r.name, engine.RegistrySpec{Endpoint: "https://" + r.name, Labels: r.labels}, r.status); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := e.client.Del(ctx, e.st.Keys().RegistryStatus("internal-b")).Err(); err != nil {
		e.t.Fatal(err)
	}
}

// fleetAlertsView lists an alerts answer as cluster/type/name, in the answer's order.
func fleetAlertsView(t *testing.T, rec *httptest.ResponseRecorder) []string {
	out := []string{}
	for _, a := range decode[[]alertJSON](t, rec) {
		out = append(out, a.Cluster+"/"+a.Type+"/"+a.Name)
	}
	return out
}

// TestFleetAlerts checks /api/v1/alerts: each principal sees exactly the alerts of its
// visible clusters (derived and filtered as per cluster) and of its visible registries, in
// the order severity, cluster, name; the severity filter; errors.
func TestFleetAlerts(t *testing.T) {
	e := newFleet(t)
	e.addPolicies(fleetAlertPolicies)
	e.fleetRegistries()
	const (
		quay       = "/RegistryUnavailable/quay"
		internalA  = "/RegistryDegraded/internal-a"
		coDeg      = "prod-east/ClusterOperatorDegraded/co-deg"
		n2         = "prod-east/NodeNotReady/n2"
		opB        = "prod-east/OperatorFailed/op-b"
		staleDown  = "stale-1/ClusterUnreachable/stale-1"
		staleStale = "stale-1/ClusterDataStale/stale-1"
	)
	tests := []struct {
		name   string
		as     who
		query  string
		status int
		want   []string
	}{
		{"admin: every cluster and registry", admin, "", 200, []string{quay, coDeg, staleDown, internalA, n2, opB, staleStale}},
		{"node filter hides node alerts, every registry", alice, "", 200, []string{quay, coDeg, internalA, opB}},
		{"denied clusters are left out", carol, "", 200, []string{quay, staleDown, internalA, staleStale}},
		{"alerts policy filter applies to cluster alerts only", nonodes, "", 200, []string{quay, coDeg, staleDown, internalA}},
		{"registries restricted by labels", who{user: "p", groups: []string{"public-registries"}}, "", 200, []string{quay, staleDown, staleStale}},
		{"registries hidden", who{user: "b", groups: []string{"registry-blind"}}, "", 200, []string{coDeg, n2, opB}},
		{"nothing to see is []", who{user: "q", groups: []string{"quiet"}}, "", 200, []string{}},
		{"no policy: registries only, as /registries/status", nobody, "", 200, []string{quay, internalA}},
		{"expired policy: registries only", eve, "", 200, []string{quay, internalA}},
		{"severity critical", admin, "?severity=critical", 200, []string{quay, coDeg, staleDown}},
		{"severity warning", admin, "?severity=warning", 200, []string{internalA, n2, opB, staleStale}},
		{"severity with policy filter", nonodes, "?severity=warning", 200, []string{internalA}},
		{"unknown severity is 400", admin, "?severity=info", 400, nil},
		{"no identity is 401", anonymous, "", 401, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.get(tt.as, "/api/v1/alerts"+tt.query)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if tt.status != 200 {
				return
			}
			if diff := cmp.Diff(tt.want, fleetAlertsView(t, rec)); diff != "" {
				t.Errorf("alerts (-want +got):\n%s", diff)
			}
			if len(tt.want) == 0 && rec.Body.String() != "[]" {
				t.Errorf("empty answer is %q, want []", rec.Body)
			}
		})
	}
}

// TestFleetAlertsContent checks one whole cluster alert and one whole registry alert.
func TestFleetAlertsContent(t *testing.T) {
	e := newFleet(t)
	e.fleetRegistries()
	rec := e.get(admin, "/api/v1/alerts?severity=critical&limit=2")
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	want := []alertJSON{
		{Name: "quay", Type: alertRegistryUnavailable, Severity: severityCritical, Cluster: "", ResourceKind: "registry", ResourceName: "quay",
			Message: "Registry quay is unavailable: registry unavailable: connection refused", Since: engine.NewTime(testNow.Add(-time.Minute))},
		{Name: "co-deg", Type: alertClusterOperatorDegraded, Severity: severityCritical, Cluster: "prod-east", ResourceKind: "clusteroperator", ResourceName: "co-deg",
			Message: "ClusterOperator co-deg is degraded: disk pressure"},
	}
	if diff := cmp.Diff(want, decode[[]alertJSON](t, rec)); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

// TestFleetAlertsPaging follows the continue tokens of /api/v1/alerts and checks that the
// pages are the full list, in order, cut where the limit says.
func TestFleetAlertsPaging(t *testing.T) {
	e := newFleet(t)
	e.addPolicies(fleetAlertPolicies)
	e.fleetRegistries()
	full := fleetAlertsView(t, e.get(admin, "/api/v1/alerts"))
	tests := []struct {
		name      string
		as        who
		query     string
		wantPages [][]string
	}{
		{"admin by 3", admin, "limit=3", [][]string{full[:3], full[3:6], full[6:]}},
		{"admin by 7: one page", admin, "limit=7", [][]string{full}},
		{"filtered list by 1", who{user: "b", groups: []string{"registry-blind"}}, "severity=warning&limit=1",
			[][]string{{"prod-east/NodeNotReady/n2"}, {"prod-east/OperatorFailed/op-b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pages [][]string
			target := "/api/v1/alerts?" + tt.query
			for range 10 {
				rec := e.get(tt.as, target)
				if rec.Code != 200 {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				pages = append(pages, fleetAlertsView(t, rec))
				next := rec.Header().Get("X-Continue")
				if next == "" {
					break
				}
				target = "/api/v1/alerts?" + tt.query + "&continue=" + next
			}
			if diff := cmp.Diff(tt.wantPages, pages); diff != "" {
				t.Errorf("pages (-want +got):\n%s", diff)
			}
		})
	}
}

// pipelineCounter counts the round trips (commands or pipelines) sent to Redis.
type pipelineCounter struct{ n *int }

func (h pipelineCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h pipelineCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		*h.n++
		return next(ctx, cmd)
	}
}

func (h pipelineCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		*h.n++
		return next(ctx, cmds)
	}
}

// TestReadAlertInputs checks that the alert state of any number of clusters is read in a
// bounded number of round trips, that nodes and operators are read only where the summaries
// report a problem or are missing, and that a cluster without summaries still gets its alerts.
func TestReadAlertInputs(t *testing.T) {
	e := newFleet(t)
	ctx := context.Background()
	calm := engine.ClusterState{Spec: &engine.ClusterSpec{Monitoring: engine.ClusterMonitoring{Interval: 60}},
		Status:    engine.ClusterStatus{Health: engine.HealthHealthy, LastSuccess: at(time.Second)},
		Nodes:     []engine.Node{node("c1", engine.NodeReady, nil, nil, 1)},
		Operators: []engine.Operator{operator("fine", "Succeeded", "*")}}
	for _, n := range []string{"calm-1", "calm-2"} {
		if err := e.st.WriteCluster(ctx, n, calm); err != nil {
			t.Fatal(err)
		}
	}
	// legacy-1 has a NotReady node and a failed operator but no summaries.
	legacy := calm
	legacy.Nodes = []engine.Node{node("l1", engine.NodeNotReady, nil, nil, 1)}
	legacy.Operators = []engine.Operator{operator("broken", "Failed", "*")}
	if err := e.st.WriteCluster(ctx, "legacy-1", legacy); err != nil {
		t.Fatal(err)
	}
	k := e.st.Keys()
	if err := e.client.Del(ctx, k.NodesSummary("legacy-1"), k.OperatorsSummary("legacy-1")).Err(); err != nil {
		t.Fatal(err)
	}
	var n int
	e.client.AddHook(pipelineCounter{&n})

	type summary struct {
		RoundTrips int
		Nodes      [][]string
		Operators  [][]string
		COs        []int
	}
	tests := []struct {
		name     string
		clusters []string
		want     summary
	}{
		{"all healthy: one round trip", []string{"calm-1", "calm-2"}, summary{1, [][]string{nil, nil}, [][]string{nil, nil}, []int{0, 0}}},
		{"problems reported by summaries", []string{"calm-1", "prod-east"}, summary{3, [][]string{nil, {"n1", "n2"}}, [][]string{nil, {"op-a", "op-b"}}, []int{0, 2}}},
		{"missing summaries", []string{"legacy-1", "calm-2"}, summary{3, [][]string{{"l1"}, nil}, [][]string{{"broken"}, nil}, []int{0, 0}}},
		{"no clusters: no round trip", nil, summary{0, [][]string{}, [][]string{}, []int{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n = 0
			in, err := e.srv.readAlertInputs(ctx, tt.clusters)
			if err != nil {
				t.Fatal(err)
			}
			got := summary{RoundTrips: n, Nodes: [][]string{}, Operators: [][]string{}, COs: []int{}}
			for _, c := range in {
				var nodes, ops []string
				for _, x := range c.Nodes {
					nodes = append(nodes, x.Name)
				}
				for _, x := range c.Operators {
					ops = append(ops, x.Name)
				}
				got.Nodes, got.Operators, got.COs = append(got.Nodes, nodes), append(got.Operators, ops), append(got.COs, len(c.ClusterOperators))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("alerts of a cluster without summaries", func(t *testing.T) {
		rec := e.get(admin, "/api/v1/clusters/legacy-1/alerts")
		if rec.Code != 200 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if diff := cmp.Diff([]string{"legacy-1/NodeNotReady/l1", "legacy-1/OperatorFailed/broken"}, fleetAlertsView(t, rec)); diff != "" {
			t.Errorf("alerts (-want +got):\n%s", diff)
		}
	})
}

// TestRegistryAlert checks the alert derived from each kind of registry status.
func TestRegistryAlert(t *testing.T) {
	checked := engine.NewTime(testNow)
	tests := []struct {
		name   string
		status *engine.RegistryStatus
		want   *alertJSON
	}{
		{"never checked", nil, nil},
		{"healthy", &engine.RegistryStatus{Available: true, Health: engine.HealthHealthy, Message: "ok"}, nil},
		{"needs auth is available", &engine.RegistryStatus{Available: true, RequiresAuth: true, Health: engine.HealthHealthy}, nil},
		{"unavailable", &engine.RegistryStatus{Health: engine.HealthUnhealthy, Message: "registry unavailable: timeout", LastCheck: checked},
			&alertJSON{Name: "r", Type: alertRegistryUnavailable, Severity: severityCritical, ResourceKind: "registry", ResourceName: "r",
				Message: "Registry r is unavailable: registry unavailable: timeout", Since: checked}},
		{"unavailable in the original shape (no health, no message)", &engine.RegistryStatus{Error: "dial tcp: refused"},
			&alertJSON{Name: "r", Type: alertRegistryUnavailable, Severity: severityCritical, ResourceKind: "registry", ResourceName: "r",
				Message: "Registry r is unavailable: dial tcp: refused"}},
		{"degraded", &engine.RegistryStatus{Available: true, Health: engine.HealthDegraded, Message: "registry degraded: slow"},
			&alertJSON{Name: "r", Type: alertRegistryDegraded, Severity: severityWarning, ResourceKind: "registry", ResourceName: "r",
				Message: "Registry r is degraded: registry degraded: slow"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok := registryAlert("r", tt.status)
			var got *alertJSON
			if ok {
				got = &a
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("alert (-want +got):\n%s", diff)
			}
		})
	}
}
