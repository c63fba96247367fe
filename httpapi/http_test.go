package httpapi

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/policy"
	"github.com/clusterpulse/clusterpulse/engine/store"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// TestPagination pages through lists with limit/continue and custom resources with
// page/page_size and continue.
func TestPagination(t *testing.T) {
	e := newFleet(t)
	var got []string
	next := "/api/v1/clusters?limit=3"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("too many pages")
		}
		rec := e.get(admin, next)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", next, rec.Code, rec.Body)
		}
		names := clusterNames(t, rec).([]string)
		got = append(got, names...)
		next = ""
		if tok := rec.Header().Get("X-Continue"); tok != "" {
			next = "/api/v1/clusters?limit=3&continue=" + url.QueryEscape(tok)
			if link := rec.Header().Get("Link"); !strings.Contains(link, `rel="next"`) || !strings.Contains(link, "continue=") {
				t.Errorf("Link = %q", link)
			}
		}
	}
	if diff := cmp.Diff(allCluster, got); diff != "" {
		t.Errorf("paged clusters (-want +got):\n%s", diff)
	}

	type page struct {
		Items []struct {
			ID string `json:"_id"`
		} `json:"items"`
		Pagination paginationJSON `json:"pagination"`
	}
	ids := func(p page) []string {
		var out []string
		for _, it := range p.Items {
			out = append(out, it.ID)
		}
		return out
	}
	tests := []struct {
		name     string
		query    string
		wantIDs  []string
		wantPage paginationJSON
	}{
		{"second page", "page=2&page_size=3", []string{"payments-db/d"},
			paginationJSON{Total: 4, Page: 2, PageSize: 3, TotalPages: 2, HasNext: false, HasPrevious: true}},
		{"page size capped at 1000", "page_size=5000", []string{"default/a", "payments-api/b", "payments-api/c", "payments-db/d"},
			paginationJSON{Total: 4, Page: 1, PageSize: 1000, TotalPages: 1}},
		{"limit with continue token", "limit=2", []string{"default/a", "payments-api/b"},
			paginationJSON{Total: 4, Page: 1, PageSize: 2, TotalPages: 2, HasNext: true, Continue: encodeContinue(2)}},
		{"continue", "limit=2&continue=" + encodeContinue(2), []string{"payments-api/c", "payments-db/d"},
			paginationJSON{Total: 4, Page: 2, PageSize: 2, TotalPages: 2, HasPrevious: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.get(admin, "/api/v1/clusters/prod-east/custom/pvcs?include_aggregations=false&"+tt.query)
			p := decode[page](t, rec)
			if diff := cmp.Diff(tt.wantIDs, ids(p)); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantPage, p.Pagination); diff != "" {
				t.Errorf("pagination (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBadParameters checks that request validation answers 400 naming the parameter.
func TestBadParameters(t *testing.T) {
	e := newFleet(t)
	tests := []struct {
		path string
		want string
	}{
		{"/api/v1/clusters?limit=abc", `parameter "limit"`},
		{"/api/v1/clusters?limit=0", `parameter "limit"`},
		{"/api/v1/clusters/prod-east/custom/pvcs?page_size=0", `parameter "page_size"`},
		{"/api/v1/clusters/prod-east/custom/pvcs?sort_order=up", `parameter "sort_order"`},
		{"/api/v1/clusters/prod-east/nodes?status=Sleeping", `parameter "status"`},
		{"/api/v1/clusters/prod-east/nodes/n1?include_metrics=yes", `parameter "include_metrics"`},
		{"/api/v1/custom-types/clusters", `parameter "type"`},
		{"/api/v1/clusters?continue=bogus", `parameter "continue"`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := e.get(admin, tt.path)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", rec.Code, rec.Body)
			}
			if msg := decode[errorBody](t, rec).Error; !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not name %s", msg, tt.want)
			}
		})
	}
}

// TestNodeDetail checks metrics_history gating by viewMetrics.
func TestNodeDetail(t *testing.T) {
	e := newFleet(t)
	tests := []struct {
		name        string
		as          who
		query       string
		wantHistory bool
	}{
		{"viewMetrics and include_metrics", admin, "?include_metrics=true", true},
		{"viewMetrics without include_metrics", admin, "", false},
		{"without viewMetrics the field is absent", bob, "?include_metrics=true", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.get(tt.as, "/api/v1/clusters/prod-east/nodes/n1"+tt.query)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			n := decode[map[string]any](t, rec)
			hist, ok := n["metrics_history"].([]any)
			if ok != tt.wantHistory || (ok && len(hist) == 0) {
				t.Errorf("metrics_history = %v (present %v), want present %v and non-empty", n["metrics_history"], ok, tt.wantHistory)
			}
			if n["name"] != "n1" {
				t.Errorf("name = %v", n["name"])
			}
		})
	}
}

// TestNamespaceCounts checks namespaces with operator and resource counts.
func TestNamespaceCounts(t *testing.T) {
	e := newFleet(t)
	rec := e.get(alice, "/api/v1/clusters/prod-east/namespaces?with_operator_count=true&with_resource_counts=true")
	got := decode[[]namespaceJSON](t, rec)
	want := []namespaceJSON{
		{Name: "payments-api", OperatorCount: ptr(2), ResourceCounts: &resourceCounts{Pods: 20, Deployments: 4, Services: 2}, TotalResources: ptr(26)},
		{Name: "payments-db", OperatorCount: ptr(1), ResourceCounts: &resourceCounts{Pods: 5, Deployments: 1, StatefulSets: 1}, TotalResources: ptr(7)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestRegistries checks that registries are sorted and have a status.
func TestRegistries(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for _, n := range []string{"zeta", "alpha"} {
		st := engine.RegistryStatus{Available: true, Health: engine.HealthHealthy, Message: "ok", LastCheck: engine.NewTime(testNow)}
		if err := e.st.WriteRegistry(ctx, n, engine.RegistrySpec{Endpoint: "https://" + n}, st); err != nil {
			t.Fatal(err)
		}
	}
	rec := e.get(nobody, "/api/v1/registries/status")
	if diff := cmp.Diff([]string{"alpha", "zeta"}, namesOfList(t, rec)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestEmptyListsAreArrays checks [] (never null) on an empty hub.
func TestEmptyListsAreArrays(t *testing.T) {
	e := newEnv(t, nil)
	for _, path := range []string{"/api/v1/clusters", "/api/v1/registries/status", "/api/v1/custom-types"} {
		rec := e.get(admin, path)
		if body := strings.TrimSpace(rec.Body.String()); body != "[]" {
			t.Errorf("%s = %s, want []", path, body)
		}
	}
}

// TestPoliciesAndCache checks /auth/policies (with a failed Deny policy that fails closed)
// and /auth/cache/clear.
func TestPoliciesAndCache(t *testing.T) {
	e := newFleet(t)
	e.addPolicies(`
metadata: {name: broken-deny}
spec:
  identity: {subjects: {users: [root]}, priority: 10}
  access: {effect: Deny}
  scope: {clusters: {rules: [{selector: {matchPattern: "prod-("}}]}}`)
	rec := e.get(admin, "/api/v1/auth/policies")
	type entry struct {
		Source string `json:"source"`
		State  string `json:"state"`
	}
	got := decode[struct {
		Total    int      `json:"total_policies"`
		Policies []entry  `json:"policies"`
		Order    []string `json:"evaluation_order"`
	}](t, rec)
	want := struct {
		Total    int      `json:"total_policies"`
		Policies []entry  `json:"policies"`
		Order    []string `json:"evaluation_order"`
	}{2, []entry{{"group:admins", policy.StateActive}, {"user", policy.StateError}}, []string{"ops/admins", "ops/broken-deny"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if names := clusterNames(t, e.get(admin, "/api/v1/clusters")); names != nil && len(names.([]string)) != 0 {
		t.Errorf("a Deny policy in error must fail closed; admin sees %v", names)
	}
	rec = e.do(admin, http.MethodPost, "/api/v1/auth/cache/clear", nil)
	c := decode[map[string]any](t, rec)
	if c["user"] != "root" || c["message"] != "Cache cleared successfully" {
		t.Errorf("cache clear = %v", c)
	}
}

// TestTransport checks ETag/If-None-Match, gzip, CORS, security headers, request ids,
// /healthz, /metrics and /api/v1/openapi.json.
func TestTransport(t *testing.T) {
	e := newFleet(t)
	first := e.get(admin, "/api/v1/clusters")
	etag := first.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if rec := e.do(admin, http.MethodGet, "/api/v1/clusters", http.Header{"If-None-Match": {etag}}); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("If-None-Match: %d %q, want 304 and no body", rec.Code, rec.Body)
	}
	if rec := e.do(admin, http.MethodGet, "/api/v1/clusters", http.Header{"If-None-Match": {`W/"other"`}}); rec.Code != http.StatusOK {
		t.Errorf("stale If-None-Match: %d, want 200", rec.Code)
	}

	req := httptest.NewRequest(http.MethodGet, "/api/v1/clusters", nil)
	req.RemoteAddr = proxyAddr + ":1"
	req.Header.Set("X-Forwarded-User", "root")
	req.Header.Set("X-Forwarded-Groups", "admins")
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q", rec.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if string(plain) != first.Body.String() {
		t.Errorf("gzip body differs from the plain body")
	}

	tests := []struct {
		name   string
		method string
		path   string
		hdr    http.Header
		status int
		want   map[string]string
	}{
		{"preflight from an allowed origin", http.MethodOptions, "/api/v1/clusters",
			http.Header{"Origin": {"https://ui.example"}, "Access-Control-Request-Method": {"GET"}}, http.StatusNoContent,
			map[string]string{"Access-Control-Allow-Origin": "https://ui.example", "Access-Control-Allow-Credentials": "true", "Access-Control-Allow-Methods": "GET, POST, OPTIONS"}},
		{"preflight from another origin", http.MethodOptions, "/api/v1/clusters",
			http.Header{"Origin": {"https://evil.example"}, "Access-Control-Request-Method": {"GET"}}, http.StatusNoContent,
			map[string]string{"Access-Control-Allow-Origin": ""}},
		{"security headers and request id", http.MethodGet, "/healthz", http.Header{"X-Request-Id": {"abc-123"}}, http.StatusOK,
			map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "strict-origin-when-cross-origin", "X-Request-Id": "abc-123"}},
		{"openapi document", http.MethodGet, "/api/v1/openapi.json", nil, http.StatusOK, map[string]string{"Content-Type": "application/json"}},
		{"unknown route", http.MethodGet, "/api/v1/nope", nil, http.StatusNotFound, map[string]string{"Content-Type": "application/json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.do(anonymous, tt.method, tt.path, tt.hdr)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			for k, v := range tt.want {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
	metrics := e.get(anonymous, "/metrics").Body.String()
	for _, want := range []string{
		`clusterpulse_api_requests_total{method="GET",route="/api/v1/clusters",code="200"}`,
		`clusterpulse_api_requests_total{method="GET",route="/api/v1/clusters",code="304"} 1`,
		`clusterpulse_api_request_duration_seconds_count{route="/healthz"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, metrics)
		}
	}
}

// TestReadyz checks readiness against a Redis that is stopped and started again.
func TestReadyz(t *testing.T) {
	rs := testenv.StartRedisServer(t)
	client := redis.NewClient(&redis.Options{Addr: rs.Addr, MaxRetries: -1, DialTimeout: 500 * time.Millisecond})
	t.Cleanup(func() { client.Close() })
	st := store.New(client, store.Options{})
	h := NewServer(Deps{Store: st, Spec: mustSpec(t), Auth: NewAuthenticator(AuthOptions{}),
		Policies: policy.NewEngine(nil), PolicyCache: policy.NewCache(nil, policy.CacheOptions{})})
	ready := func() int {
		req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
		return serveAndValidate(t, h, req).Code
	}
	if got := ready(); got != http.StatusOK {
		t.Fatalf("readyz with Redis up = %d", got)
	}
	rs.Stop()
	if got := ready(); got != http.StatusServiceUnavailable {
		t.Errorf("readyz with Redis down = %d, want 503", got)
	}
	rs.Start()
	testenv.Eventually(t, 10*time.Second, func() error {
		req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return fmt.Errorf("readyz after Redis restart = %d", rec.Code)
		}
		return nil
	})
}
