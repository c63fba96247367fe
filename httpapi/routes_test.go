package httpapi

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"
)

// TestRoutesMatchSpec keeps routes.go and openapi.yaml identical in both directions: every
// registered route has an operation with the same path and method, and every operation is
// registered.
func TestRoutesMatchSpec(t *testing.T) {
	spec := mustSpec(t)
	h, srv := newServer(Deps{Spec: spec})
	if len(srv.routeErrs) > 0 {
		t.Fatalf("routes without an operation: %v", srv.routeErrs)
	}
	var routes []string
	err := chi.Walk(h.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes = append(routes, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for path, item := range spec.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	slices.Sort(routes)
	slices.Sort(ops)
	if diff := cmp.Diff(ops, routes); diff != "" {
		t.Errorf("spec operations (-) vs chi routes (+):\n%s", diff)
	}
}

// TestCheckResponseRejects proves that the response validation used by every test fails on
// answers that do not match the spec.
func TestCheckResponseRejects(t *testing.T) {
	spec := mustSpec(t)
	tests := []struct {
		name   string
		path   string
		status int
		body   string
	}{
		{"wrong type", "/api/v1/auth/me", 200, `{"username": 1, "email": "", "groups": []}`},
		{"missing required field", "/api/v1/clusters", 200, `[{"name": "a"}]`},
		{"undeclared status", "/api/v1/auth/me", 418, `{"error": "teapot"}`},
		{"null list", "/api/v1/clusters", 200, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			rec := httptest.NewRecorder()
			rec.Header().Set("Content-Type", "application/json")
			rec.WriteHeader(tt.status)
			rec.WriteString(tt.body)
			if err := checkResponse(spec, req, rec); err == nil {
				t.Errorf("checkResponse accepted %d %s", tt.status, tt.body)
			}
		})
	}
}
