package httpapi

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clusterpulse/clusterpulse/engine"
)

// TestRegistriesByPolicy checks /registries/status for callers whose policies grant, hide or
// do not mention registries, with paging over the filtered list.
func TestRegistriesByPolicy(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	regs := map[string]map[string]string{
		"docker-hub": {"public": "true"}, "internal-a": {"team": "a"}, "internal-b": {"team": "b"}, "quay": {"public": "true"},
	}
	for n, labels := range regs {
		st := engine.RegistryStatus{Available: true, Health: engine.HealthHealthy, Message: "ok", LastCheck: engine.NewTime(testNow)}
		if err := e.st.WriteRegistry(ctx, n, engine.RegistrySpec{Endpoint: "https://" + n, Labels: labels}, st); err != nil {
			t.Fatal(err)
		}
	}
	e.addPolicies(`
metadata: {name: plain}
spec:
  identity: {subjects: {groups: [plain]}}
  access: {effect: Allow}
  scope: {clusters: {default: allow, rules: []}}
---
metadata: {name: team-a}
spec:
  identity: {subjects: {groups: [team-a]}, priority: 200}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [prod-a]}, resources: [{type: registries, filters: {names: {allowed: ["internal-*"]}}}, {type: registries}]}]}}
---
metadata: {name: public}
spec:
  identity: {subjects: {groups: [public]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{resources: [{type: registries, filters: {labels: {public: "true"}}}]}]}}
---
metadata: {name: no-quay}
spec:
  identity: {subjects: {groups: [no-quay]}}
  access: {effect: Deny}
  scope: {clusters: {rules: [{selector: {matchLabels: {registries-only: "true"}}, resources: [{type: registries, filters: {names: {allowed: [quay]}}}]}]}}
`)
	tests := []struct {
		name  string
		as    who
		query string
		want  []string
		next  bool
	}{
		{"no policy: every registry", nobody, "", []string{"docker-hub", "internal-a", "internal-b", "quay"}, false},
		{"policies without registries: every registry", who{user: "p", groups: []string{"plain"}}, "", []string{"docker-hub", "internal-a", "internal-b", "quay"}, false},
		{"names filter grants", who{user: "a", groups: []string{"team-a"}}, "", []string{"internal-a", "internal-b"}, false},
		{"labels filter grants", who{user: "b", groups: []string{"public"}}, "", []string{"docker-hub", "quay"}, false},
		{"deny hides", who{user: "c", groups: []string{"public", "no-quay"}}, "", []string{"docker-hub"}, false},
		{"deny hides from unrestricted callers", who{user: "d", groups: []string{"plain", "no-quay"}}, "", []string{"docker-hub", "internal-a", "internal-b"}, false},
		{"first page of the filtered list", who{user: "e", groups: []string{"public", "team-a"}}, "?limit=2", []string{"docker-hub", "internal-a"}, true},
		{"next page of the filtered list", who{user: "e", groups: []string{"public", "team-a"}}, "?limit=2&continue=" + encodeContinue(2), []string{"internal-b", "quay"}, false},
		{"page of the unrestricted list", nobody, "?limit=3", []string{"docker-hub", "internal-a", "internal-b"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.get(tt.as, "/api/v1/registries/status"+tt.query)
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			got := namesOfList(t, rec)
			if got == nil {
				got = []string{}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("registries (-want +got):\n%s", diff)
			}
			if next := rec.Header().Get("X-Continue") != ""; next != tt.next {
				t.Errorf("X-Continue present = %v, want %v", next, tt.next)
			}
		})
	}
}
