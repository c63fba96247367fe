package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testRegistries are the registries of the registry tests, with their spec.labels.
var testRegistries = []struct {
	name   string
	labels map[string]string
}{
	{"docker-hub", map[string]string{"public": "true"}},
	{"internal-a", map[string]string{"team": "a"}},
	{"internal-b", map[string]string{"team": "b"}},
	{"quay", map[string]string{"public": "true"}},
}

// registryPolicies are named by subject group; each test picks some groups.
const registryPolicies = `
metadata: {name: no-registries}
spec:
  identity: {subjects: {groups: [plain]}, priority: 100}
  access: {effect: Allow}
  scope: {clusters: {default: allow, rules: [{resources: [{type: pods}]}]}}
---
metadata: {name: team-a}
spec:
  identity: {subjects: {groups: [team-a]}, priority: 200}
  access: {effect: Allow}
  scope:
    clusters:
      rules:
      - selector: {matchNames: [prod-a]}
        resources: [{type: registries, filters: {names: {allowed: ["internal-*"], denied: [internal-b]}}}]
---
metadata: {name: public}
spec:
  identity: {subjects: {groups: [public]}, priority: 100}
  access: {effect: Allow}
  scope:
    clusters:
      rules:
      - selector: {matchNames: [nothing-selects-this]}
        permissions: {view: false}
        resources: [{type: registries, visibility: filtered, filters: {labels: {public: "true"}}}]
---
metadata: {name: all-registries}
spec:
  identity: {subjects: {groups: [all]}, priority: 100}
  access: {effect: Allow}
  scope: {clusters: {rules: [{resources: [{type: registries}]}]}}
---
metadata: {name: none-registries}
spec:
  identity: {subjects: {groups: [none]}, priority: 100}
  access: {effect: Allow}
  scope: {clusters: {rules: [{resources: [{type: registries, visibility: none}]}]}}
---
metadata: {name: hide-quay}
spec:
  identity: {subjects: {groups: [hide-quay]}, priority: 1}
  access: {effect: Deny}
  scope: {clusters: {rules: [{selector: {matchNames: [nothing-selects-this]}, resources: [{type: registries, visibility: none, filters: {names: {allowed: [quay]}}}]}]}}
---
metadata: {name: hide-all}
spec:
  identity: {subjects: {groups: [hide-all]}, priority: 1}
  access: {effect: Deny}
  scope: {clusters: {rules: [{selector: {matchNames: [nothing-selects-this]}, resources: [{type: registries}]}]}}
---
metadata: {name: expired-team-b}
spec:
  identity: {subjects: {groups: [expired]}, priority: 900}
  access: {effect: Allow}
  scope: {clusters: {rules: [{resources: [{type: registries, filters: {names: {allowed: [internal-b]}}}]}]}}
  lifecycle: {validity: {notAfter: "2026-01-01T00:00:00Z"}}
---
metadata: {name: disabled-deny}
spec:
  identity: {subjects: {groups: [disabled]}, priority: 900}
  access: {effect: Deny, enabled: false}
  scope: {clusters: {rules: [{resources: [{type: registries}]}]}}
---
metadata: {name: twice}
spec:
  identity: {subjects: {groups: [twice]}, priority: 100}
  access: {effect: Allow}
  scope: {clusters: {rules: [{resources: [{type: registries, filters: {names: {allowed: [quay]}}}, {type: registries}]}]}}
---
metadata: {name: broken-deny}
spec:
  identity: {subjects: {groups: [broken-deny]}, priority: 1}
  access: {effect: Deny}
  scope: {clusters: {rules: [{selector: {matchPattern: "("}}]}}
---
metadata: {name: broken-allow}
spec:
  identity: {subjects: {groups: [broken-allow]}, priority: 1}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchPattern: "("}, resources: [{type: registries, filters: {names: {allowed: [quay]}}}]}]}}
`

func TestRegistries(t *testing.T) {
	all := []string{"docker-hub", "internal-a", "internal-b", "quay"}
	tests := []struct {
		name       string
		groups     []string
		want       []string
		restricted bool
	}{
		{"no policies: every registry, as before", nil, all, false},
		{"policies without registries entries: every registry", []string{"plain"}, all, false},
		{"names filter grants, whatever the rule's cluster selector", []string{"team-a"}, []string{"internal-a"}, true},
		{"labels filter, in a rule with view false", []string{"public"}, []string{"docker-hub", "quay"}, true},
		{"grants of several policies add up", []string{"team-a", "public"}, []string{"docker-hub", "internal-a", "quay"}, true},
		{"an entry without filters grants every registry", []string{"all"}, all, true},
		{"visibility none grants nothing", []string{"none"}, []string{}, true},
		{"visibility none restricts, other grants still count", []string{"none", "team-a"}, []string{"internal-a"}, true},
		{"one restricted group restricts the caller", []string{"plain", "team-a"}, []string{"internal-a"}, true},
		{"deny hides, whatever its visibility", []string{"hide-quay"}, []string{"docker-hub", "internal-a", "internal-b"}, true},
		{"deny wins over a grant of higher priority", []string{"public", "hide-quay"}, []string{"docker-hub"}, true},
		{"deny without filters hides every registry", []string{"all", "hide-all"}, []string{}, true},
		{"a rule listing the type twice: the first entry applies", []string{"twice"}, []string{"quay"}, true},
		{"expired policy does not count", []string{"expired"}, all, false},
		{"expired policy does not grant", []string{"expired", "team-a"}, []string{"internal-a"}, true},
		{"disabled deny does not hide", []string{"disabled"}, all, false},
		{"deny in error hides every registry", []string{"all", "broken-deny"}, []string{}, true},
		{"allow in error is skipped", []string{"broken-allow"}, all, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Principal{Username: "u", Groups: tt.groups}
			policies := compileFor(t, mustPolicies(t, registryPolicies), p)
			for _, pols := range map[string][]*Compiled{"compiled": policies, "stored": roundTrip(t, policies)} {
				a := Registries(pols, testNow)
				got := []string{}
				for _, r := range testRegistries {
					if a.Allows(r.name, r.labels) {
						got = append(got, r.name)
					}
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("visible registries (-want +got):\n%s", diff)
				}
				if a.Restricted() != tt.restricted {
					t.Errorf("Restricted() = %v, want %v (%s)", a.Restricted(), tt.restricted, a.Reason)
				}
				if a.Reason == "" {
					t.Error("no reason")
				}
			}
		})
	}
}

// TestRegistriesLeaveClustersAlone checks that a registries entry changes nothing about
// clusters: an Allow rule with only a registries entry leaves the built-in kinds unrestricted,
// and the existing decision is unchanged.
func TestRegistriesLeaveClustersAlone(t *testing.T) {
	p := Principal{Username: "u", Groups: []string{"team-a"}}
	policies := compileFor(t, mustPolicies(t, registryPolicies), p)
	var e Engine
	d := e.Decide(policies, ClusterInfo{Name: "prod-a"}, testNow)
	got := []any{d.Visible, d.Matcher(KindNodes).Unrestricted(), d.Matcher(KindPods).Unrestricted()}
	if diff := cmp.Diff([]any{true, true, true}, got); diff != "" {
		t.Errorf("decision on prod-a (-want +got):\n%s", diff)
	}
	if d := e.Decide(policies, ClusterInfo{Name: "prod-b"}, testNow); d.Visible {
		t.Errorf("prod-b visible: %s", d.Reason)
	}
}
