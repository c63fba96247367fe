package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Extractors of the visible set of an answer.

func clusterNames(t *testing.T, rec *httptest.ResponseRecorder) any {
	var out []string
	for _, c := range decode[[]clusterJSONView](t, rec) {
		out = append(out, c.Name)
	}
	return out
}

type clusterJSONView struct {
	Name          string         `json:"name"`
	OperatorCount int            `json:"operator_count"`
	Metrics       map[string]any `json:"metrics"`
	DataAge       *float64       `json:"data_age_seconds"`
	Filter        *struct {
		Filtered bool `json:"filtered"`
	} `json:"filter_metadata"`
}

func namesOfList(t *testing.T, rec *httptest.ResponseRecorder) any {
	var out []string
	for _, it := range decode[[]map[string]any](t, rec) {
		out = append(out, fmt.Sprint(it["name"]))
	}
	return out
}

func strings_(t *testing.T, rec *httptest.ResponseRecorder) any { return decode[[]string](t, rec) }

func operatorsView(t *testing.T, rec *httptest.ResponseRecorder) any {
	var out []string
	for _, o := range decode[[]struct {
		Name string   `json:"name"`
		NS   []string `json:"available_in_namespaces"`
	}](t, rec) {
		out = append(out, fmt.Sprintf("%s %v", o.Name, o.NS))
	}
	return out
}

func alertsView(t *testing.T, rec *httptest.ResponseRecorder) any {
	var out []string
	for _, a := range decode[[]alertJSON](t, rec) {
		out = append(out, a.Type+"/"+a.Name)
	}
	sort.Strings(out)
	return out
}

func customView(t *testing.T, rec *httptest.ResponseRecorder) any {
	type page struct {
		Items []struct {
			ID string `json:"_id"`
		} `json:"items"`
		Filtered     bool           `json:"filtered"`
		Aggregations map[string]any `json:"aggregations"`
	}
	p := decode[page](t, rec)
	var ids []string
	for _, it := range p.Items {
		ids = append(ids, it.ID)
	}
	return map[string]any{"ids": ids, "filtered": p.Filtered, "aggregations": p.Aggregations}
}

func typesView(t *testing.T, rec *httptest.ResponseRecorder) any {
	var out []string
	for _, c := range decode[[]struct {
		Type string   `json:"resourceTypeName"`
		With []string `json:"clustersWithData"`
	}](t, rec) {
		out = append(out, fmt.Sprintf("%s %v", c.Type, c.With))
	}
	return out
}

func typeClustersView(t *testing.T, rec *httptest.ResponseRecorder) any {
	var out []string
	for _, r := range decode[[]struct {
		Cluster string         `json:"cluster"`
		Type    string         `json:"resourceTypeName"`
		Count   int            `json:"count"`
		Aggs    map[string]any `json:"aggregations"`
	}](t, rec) {
		out = append(out, fmt.Sprint(r.Type, "@", r.Cluster, "=", r.Count, " ", r.Aggs))
	}
	return out
}

func permissionsView(t *testing.T, rec *httptest.ResponseRecorder) any {
	p := decode[struct {
		Clusters map[string]struct {
			Permissions []string `json:"permissions"`
		} `json:"clusters"`
	}](t, rec)
	out := map[string][]string{}
	for k, v := range p.Clusters {
		out[k] = v.Permissions
	}
	return out
}

func metricsView(t *testing.T, rec *httptest.ResponseRecorder) any {
	m := decode[map[string]any](t, rec)
	fm := m["filter_metadata"].(map[string]any)
	return fmt.Sprintf("nodes=%v ready=%v ns=%v pods=%v running=%v deploy=%v cpu=%v filtered=%v", m["nodes"], m["nodes_ready"], m["namespaces"], m["pods"], m["pods_running"], m["deployments"], m["cpu_capacity"], fm["filtered"])
}

func errorView(t *testing.T, rec *httptest.ResponseRecorder) any {
	return decode[errorBody](t, rec).Error
}

// TestVisibility is the table of principals × policies × endpoints with the exact sets each
// principal sees (RBAC.md), against real Redis filled through engine/store and policies
// stored through engine/policy.
func TestVisibility(t *testing.T) {
	e := newFleet(t)
	tests := []struct {
		name   string
		as     who
		path   string
		status int
		view   func(*testing.T, *httptest.ResponseRecorder) any
		want   any
	}{
		// Clusters: selectors, priority, deny, default allow, validity.
		{"admin sees every cluster", admin, "/api/v1/clusters", 200, clusterNames, allCluster},
		{"labels and anchored pattern select prod-east only", alice, "/api/v1/clusters", 200, clusterNames, []string{"prod-east"}},
		{"deny wins over lower default allow", carol, "/api/v1/clusters", 200, clusterNames, []string{"dev-1", "stale-1"}},
		{"higher allow exception beats deny", bob, "/api/v1/clusters", 200, clusterNames, []string{"dev-1", "prod-east", "stale-1"}},
		{"expired policy grants nothing", eve, "/api/v1/clusters", 200, clusterNames, []string(nil)},
		{"no policy sees nothing", nobody, "/api/v1/clusters", 200, clusterNames, []string(nil)},
		{"no identity is 401", anonymous, "/api/v1/clusters", 401, errorView, "authentication required"},

		// Cluster detail: 403 for hidden names (existing or not), 404 for visible unknown names.
		{"hidden existing cluster is 403", alice, "/api/v1/clusters/prod-west", 403, errorView, "access denied to cluster 'prod-west': forbidden"},
		{"hidden unknown cluster is 403", alice, "/api/v1/clusters/prod-nope", 403, errorView, "access denied to cluster 'prod-nope': forbidden"},
		{"visible unknown cluster is 404", admin, "/api/v1/clusters/prod-nope", 404, errorView, "cluster 'prod-nope' not found: not found"},
		{"denied cluster is 403", carol, "/api/v1/clusters/prod-east", 403, errorView, "access denied to cluster 'prod-east': forbidden"},
		{"expired policy: 403", eve, "/api/v1/clusters/dev-1", 403, errorView, "access denied to cluster 'dev-1': forbidden"},
		{"sub-routes of hidden clusters are 403", alice, "/api/v1/clusters/prod-west/nodes", 403, errorView, "access denied to cluster 'prod-west': forbidden"},
		{"sub-routes of unknown visible clusters are 404", admin, "/api/v1/clusters/nope/operators", 404, errorView, "cluster 'nope' not found: not found"},

		// Nodes.
		{"admin nodes", admin, "/api/v1/clusters/prod-east/nodes", 200, namesOfList, []string{"n1", "n2"}},
		{"label filter on nodes", alice, "/api/v1/clusters/prod-east/nodes", 200, namesOfList, []string{"n1"}},
		{"visibility none on nodes", nonodes, "/api/v1/clusters/prod-east/nodes", 200, namesOfList, []string(nil)},
		{"role filter", admin, "/api/v1/clusters/prod-east/nodes?role=master", 200, namesOfList, []string{"n2"}},
		{"status filter", admin, "/api/v1/clusters/prod-east/nodes?status=Ready", 200, namesOfList, []string{"n1"}},
		{"filtered-out node detail is 403", alice, "/api/v1/clusters/prod-east/nodes/n2", 403, errorView, "access to node n2 is not permitted: forbidden"},
		{"unknown node is 404", alice, "/api/v1/clusters/prod-east/nodes/n9", 404, errorView, "node n9 not found in cluster prod-east: not found"},
		{"node with none visibility is 403", nonodes, "/api/v1/clusters/prod-east/nodes/n1", 403, errorView, "access to node n1 is not permitted: forbidden"},

		// Namespaces and operators.
		{"admin namespaces", admin, "/api/v1/clusters/prod-east/namespaces", 200, strings_, []string{"default", "kube-system", "payments-api", "payments-db"}},
		{"namespaces filter", alice, "/api/v1/clusters/prod-east/namespaces", 200, strings_, []string{"payments-api", "payments-db"}},
		{"admin operators", admin, "/api/v1/clusters/prod-east/operators", 200, operatorsView, []string{"op-a [*]", "op-b [payments-api search]"}},
		{"operators trimmed to visible namespaces", alice, "/api/v1/clusters/prod-east/operators", 200, operatorsView, []string{"op-a [*]", "op-b [payments-api]"}},
		{"operators by namespace", admin, "/api/v1/clusters/prod-east/operators?namespace=search", 200, operatorsView, []string{"op-a [*]", "op-b [payments-api search]"}},
		{"operators by status", admin, "/api/v1/clusters/prod-east/operators?status=Failed", 200, operatorsView, []string{"op-b [payments-api search]"}},
		{"cluster operators", alice, "/api/v1/clusters/prod-east/clusteroperators", 200, namesOfList, []string{"co-deg", "co-ok"}},
		{"empty cluster operators are []", admin, "/api/v1/clusters/dev-1/clusteroperators", 200, namesOfList, []string(nil)},

		// Alerts, derived.
		{"admin alerts", admin, "/api/v1/clusters/prod-east/alerts", 200, alertsView,
			[]string{"ClusterOperatorDegraded/co-deg", "NodeNotReady/n2", "OperatorFailed/op-b"}},
		{"alerts hide filtered nodes", alice, "/api/v1/clusters/prod-east/alerts", 200, alertsView,
			[]string{"ClusterOperatorDegraded/co-deg", "OperatorFailed/op-b"}},
		{"alerts filter by labels", nonodes, "/api/v1/clusters/prod-east/alerts", 200, alertsView, []string{"ClusterOperatorDegraded/co-deg"}},
		{"unreachable and stale", admin, "/api/v1/clusters/stale-1/alerts", 200, alertsView, []string{"ClusterDataStale/stale-1", "ClusterUnreachable/stale-1"}},
		{"severity filter", admin, "/api/v1/clusters/prod-east/alerts?severity=warning", 200, alertsView, []string{"NodeNotReady/n2", "OperatorFailed/op-b"}},

		// Events.
		{"events", admin, "/api/v1/clusters/prod-east/events", 200, func(t *testing.T, r *httptest.ResponseRecorder) any {
			return len(decode[[]map[string]any](t, r))
		}, 2},
		{"events visibility none", nonodes, "/api/v1/clusters/prod-east/events", 200, func(t *testing.T, r *httptest.ResponseRecorder) any {
			return len(decode[[]map[string]any](t, r))
		}, 0},

		// Metrics recomputed over what the caller sees.
		{"admin metrics are the stored ones", admin, "/api/v1/clusters/prod-east/metrics", 200, metricsView,
			"nodes=2 ready=1 ns=4 pods=60 running=50 deploy=14 cpu=12 filtered=false"},
		{"restricted metrics", alice, "/api/v1/clusters/prod-east/metrics", 200, metricsView,
			"nodes=1 ready=1 ns=2 pods=25 running=20 deploy=5 cpu=8 filtered=true"},

		// Custom types.
		{"admin pvcs: everything, stored aggregations", admin, "/api/v1/clusters/prod-east/custom/pvcs", 200, customView,
			map[string]any{"ids": []string{"default/a", "payments-api/b", "payments-api/c", "payments-db/d"}, "filtered": false,
				"aggregations": map[string]any{"total": 99.0, "pending": 7.0, "storageClasses": 3.0}}},
		{"filtered pvcs: recomputed, include/exclude applied", alice, "/api/v1/clusters/prod-east/custom/pvcs", 200, customView,
			map[string]any{"ids": []string{"payments-api/b", "payments-db/d"}, "filtered": true,
				"aggregations": map[string]any{"total": 2.0, "pending": 0.0}}},
		{"namespace parameter narrows and recomputes", admin, "/api/v1/clusters/prod-east/custom/pvcs?namespace=payments-api", 200, customView,
			map[string]any{"ids": []string{"payments-api/b", "payments-api/c"}, "filtered": true,
				"aggregations": map[string]any{"total": 2.0, "pending": 1.0, "storageClasses": 2.0}}},
		{"sort on values field, descending", admin, "/api/v1/clusters/prod-east/custom/pvcs?sort_by=values.requestedGiB&sort_order=desc&include_aggregations=false", 200, customView,
			map[string]any{"ids": []string{"payments-api/b", "payments-db/d", "default/a", "payments-api/c"}, "filtered": false, "aggregations": map[string]any(nil)}},
		{"custom type without grant is 403", carol, "/api/v1/clusters/dev-1/custom/pvcs", 403, errorView, "access denied to custom resource type 'pvcs': forbidden"},
		{"granted type without source is 404", admin, "/api/v1/clusters/prod-east/custom/certs", 404, errorView, "custom resource type 'certs' not found: not found"},
		{"ungranted type without source is 403", alice, "/api/v1/clusters/prod-east/custom/certs", 403, errorView, "access denied to custom resource type 'certs': forbidden"},
		{"granted type without source has no rows", admin, "/api/v1/custom-types/clusters?type=certs", 200, typeClustersView, []string(nil)},
		{"cluster without data: empty page", admin, "/api/v1/clusters/dev-1/custom/pvcs", 200, customView,
			map[string]any{"ids": []string(nil), "filtered": false, "aggregations": map[string]any(nil)}},
		{"custom types admin", admin, "/api/v1/custom-types?include_cluster_availability=true", 200, typesView, []string{"pvcs [prod-east]"}},
		{"custom types alice", alice, "/api/v1/custom-types?include_cluster_availability=true", 200, typesView, []string{"pvcs [prod-east]"}},
		{"custom types with source details", alice, "/api/v1/custom-types?include_source_details=true", 200, func(t *testing.T, r *httptest.ResponseRecorder) any {
			return decode[any](t, r)
		}, []any{map[string]any{"resourceTypeName": "pvcs", "sourceId": "clusterpulse/pvc-usage",
			"source": map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "scope": "Namespaced"},
			"fields": []any{"phase", "storageClass", "requestedGiB"}, "computedFields": []any{}, "aggregations": []any{"total", "pending", "storageClasses"}}}},
		{"custom types carol", carol, "/api/v1/custom-types", 200, typesView, []string(nil)},
		{"type clusters admin", admin, "/api/v1/custom-types/clusters?type=pvcs", 200, typeClustersView, []string{"pvcs@prod-east=4 map[]"}},
		{"type clusters alice with aggregations", alice, "/api/v1/custom-types/clusters?type=pvcs&include_aggregations=true", 200, typeClustersView,
			[]string{"pvcs@prod-east=2 map[pending:0 total:2]"}},
		{"type clusters restricted to other clusters", admin, "/api/v1/custom-types/clusters?type=pvcs&clusters=dev-1,prod-west", 200, typeClustersView, []string(nil)},
		{"type invisible everywhere is 403", carol, "/api/v1/custom-types/clusters?type=pvcs", 403, errorView, "access denied to custom resource type 'pvcs': forbidden"},
		{"comma-separated types, one invisible", alice, "/api/v1/custom-types/clusters?type=pvcs,certs", 403, errorView, "access denied to custom resource type 'certs': forbidden"},

		// Permissions.
		{"permissions admin", admin, "/api/v1/auth/permissions", 200, permissionsView, map[string][]string{
			"dev-1": {"view", "view_metrics"}, "prod-east": {"view", "view_metrics"}, "prod-west": {"view", "view_metrics"}, "stale-1": {"view", "view_metrics"}}},
		{"permissions alice", alice, "/api/v1/auth/permissions", 200, permissionsView, map[string][]string{"prod-east": {"view"}}},
		{"permissions carol", carol, "/api/v1/auth/permissions", 200, permissionsView, map[string][]string{"dev-1": {"view"}, "stale-1": {"view"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.get(tt.as, tt.path)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body.String())
			}
			if diff := cmp.Diff(tt.want, tt.view(t, rec)); diff != "" {
				t.Errorf("visible set (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClusterAnswers checks the scoped counts and data age in cluster answers.
func TestClusterAnswers(t *testing.T) {
	e := newFleet(t)
	tests := []struct {
		name           string
		as             who
		path           string
		wantOperators  int
		wantNodes      float64
		wantFiltered   bool
		wantDataAgeSec *float64
	}{
		{"admin", admin, "/api/v1/clusters/prod-east", 2, 2, false, ptr(30.0)},
		{"alice sees her operators and nodes", alice, "/api/v1/clusters/prod-east", 2, 1, true, ptr(30.0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.get(tt.as, tt.path)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			c := decode[clusterJSONView](t, rec)
			got := []any{c.OperatorCount, c.Metrics["nodes"], c.Filter != nil && c.Filter.Filtered, c.DataAge}
			want := []any{tt.wantOperators, tt.wantNodes, tt.wantFiltered, tt.wantDataAgeSec}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
