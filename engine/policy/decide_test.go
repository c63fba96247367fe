package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/clusterpulse/clusterpulse/engine/kube"
)

// testNow is the request time of the decision tests.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// fleet is the clusters every decision test row is evaluated on.
func fleet() []ClusterInfo {
	return []ClusterInfo{
		{Name: "dev-1"},
		{Name: "nonprod-1", Labels: map[string]string{"env": "dev", "team": "a"}},
		{Name: "prod-east", Labels: map[string]string{"env": "prod", "team": "a"}},
		{Name: "prod-west", Labels: map[string]string{"env": "prod", "team": "b"}},
		{Name: "staging", Labels: map[string]string{"env": "staging"}},
	}
}

// The principals of the decision tests.
var (
	alice = Principal{Username: "alice", Email: "alice@example.com", Groups: []string{"team-a"}}
	bob   = Principal{Username: "bob", Groups: []string{"team-b"}}
	carol = Principal{Username: "c.smith", Email: "carol@example.com"}
	dave  = Principal{Username: "dave", Groups: []string{"team-a", "viewers"}}
	robot = Principal{Username: "system:serviceaccount:mon:reader"}
)

// testItems are the objects of every kind on every cluster.
type testItem struct {
	id  string
	obj Object
}

func testItems() map[string][]testItem {
	return map[string][]testItem{
		KindNodes: {
			{"master-1", Object{Name: "master-1", Labels: map[string]string{"role": "master"}}},
			{"worker-1", Object{Name: "worker-1", Labels: map[string]string{"role": "worker", "zone": "a"}}},
			{"worker-2", Object{Name: "worker-2", Labels: map[string]string{"role": "worker", "zone": "b"}}},
		},
		KindNamespaces: {
			{"default", Object{Name: "default"}},
			{"kube-system", Object{Name: "kube-system"}},
			{"team-a", Object{Name: "team-a"}},
			{"team-b", Object{Name: "team-b"}},
		},
		KindOperators: {
			{"op-a", Object{Name: "op-a", Namespaces: []string{"team-a"}}},
			{"op-ab", Object{Name: "op-ab", Namespaces: []string{"team-a", "team-b"}}},
			{"op-global", Object{Name: "op-global", Namespaces: []string{"*"}}},
			{"op-sys", Object{Name: "op-sys", Namespaces: []string{"kube-system"}}},
		},
		KindPods: {
			{"kube-system/dns", Object{Name: "dns", Namespace: "kube-system"}},
			{"team-a/db", Object{Name: "db", Namespace: "team-a", Labels: map[string]string{"app": "db"}}},
			{"team-a/web", Object{Name: "web", Namespace: "team-a", Labels: map[string]string{"app": "web"}}},
			{"team-b/web", Object{Name: "web", Namespace: "team-b", Labels: map[string]string{"app": "web"}}},
		},
		KindEvents: {
			{"kube-system/ev2", Object{Name: "ev2", Namespace: "kube-system"}},
			{"team-a/ev1", Object{Name: "ev1", Namespace: "team-a"}},
		},
		KindAlerts: {
			{"node-not-ready", Object{Name: "node-not-ready"}},
		},
		"pvcs": {
			{"kube-system/etcd", Object{Name: "etcd", Namespace: "kube-system", Fields: map[string]any{"class": "fast", "owner": "sys"}}},
			{"team-a/data", Object{Name: "data", Namespace: "team-a", Labels: map[string]string{"app": "db"}, Fields: map[string]any{"class": "fast", "size": int64(10), "owner": "a"}}},
			{"team-b/logs", Object{Name: "logs", Namespace: "team-b", Labels: map[string]string{"app": "log"}, Fields: map[string]any{"class": "slow", "size": 5.0, "owner": "b"}}},
		},
	}
}

// pvcFilterable is the rbac.filterableFields of the "pvcs" MetricSource.
var pvcFilterable = []string{"class", "size"}

// pvcAggregations are the aggregations of the "pvcs" MetricSource.
var pvcAggregations = []string{"by_class", "count", "total_size"}

// view is what one principal sees on one cluster: item ids per kind (operators as
// name=trimmed namespaces), and the visible pvcs aggregations.
type view map[string][]string

// allView is what an unrestricted caller sees: every built-in item, no custom type.
func allView() view {
	v := view{}
	for kind, items := range testItems() {
		if !IsBuiltin(kind) {
			v[kind] = []string{}
			continue
		}
		for _, it := range items {
			id := it.id
			if kind == KindOperators {
				id += "=" + strings.Join(it.obj.Namespaces, ",")
			}
			v[kind] = append(v[kind], id)
		}
	}
	v["pvcs/aggregations"] = []string{}
	return v
}

// with returns v with the kinds of override replaced.
func (v view) with(override view) view {
	out := view{}
	for k, ids := range v {
		out[k] = ids
	}
	for k, ids := range override {
		out[k] = ids
	}
	return out
}

// noneView is what a caller sees on a hidden cluster.
func noneView() view {
	v := view{}
	for kind := range testItems() {
		v[kind] = []string{}
	}
	v["pvcs/aggregations"] = []string{}
	return v
}

func allPVCs() view {
	return view{
		"pvcs":              {"kube-system/etcd", "team-a/data", "team-b/logs"},
		"pvcs/aggregations": pvcAggregations,
	}
}

// observe computes what the decision d shows.
func observe(d Decision) view {
	v := view{}
	for kind, items := range testItems() {
		ids := []string{}
		var m *Matcher
		if IsBuiltin(kind) {
			m = d.Matcher(kind)
		} else {
			m, _ = d.Custom(kind, pvcFilterable)
		}
		for _, it := range items {
			if !m.Allows(it.obj) {
				continue
			}
			id := it.id
			if kind == KindOperators {
				id += "=" + strings.Join(m.TrimNamespaces(it.obj.Namespaces), ",")
			}
			ids = append(ids, id)
		}
		v[kind] = ids
	}
	aggs := []string{}
	if m, ok := d.Custom("pvcs", pvcFilterable); ok {
		for _, a := range pvcAggregations {
			if m.AggregationVisible(a) {
				aggs = append(aggs, a)
			}
		}
	}
	v["pvcs/aggregations"] = aggs
	return v
}

// mustPolicies parses YAML documents (separated by ---) into policies, namespace "ops".
func mustPolicies(t *testing.T, docs string) []*kube.MonitorAccessPolicy {
	t.Helper()
	var out []*kube.MonitorAccessPolicy
	for _, doc := range strings.Split(docs, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var p kube.MonitorAccessPolicy
		if err := yaml.UnmarshalStrict([]byte(doc), &p); err != nil {
			t.Fatalf("parse policy %q: %v", doc, err)
		}
		if p.Namespace == "" {
			p.Namespace = "ops"
		}
		out = append(out, &p)
	}
	return out
}

// compileFor compiles the policies and keeps those that name p, as Store.Load does.
func compileFor(t *testing.T, policies []*kube.MonitorAccessPolicy, p Principal) []*Compiled {
	t.Helper()
	var out []*Compiled
	for _, mp := range policies {
		c, err := Compile(mp, testNow)
		if err != nil {
			c = Failed(mp, testNow, err)
		}
		if c.AppliesTo(p) {
			out = append(out, c)
		}
	}
	Sort(out)
	return out
}

// roundTrip encodes and decodes the policies as Store does.
func roundTrip(t *testing.T, policies []*Compiled) []*Compiled {
	t.Helper()
	var out []*Compiled
	for _, c := range policies {
		data, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("encode %s: %v", c.Key(), err)
		}
		d, err := Decode(data)
		if err != nil {
			t.Fatalf("decode %s: %v", c.Key(), err)
		}
		out = append(out, d)
	}
	return out
}

type outcome struct {
	Visible []string
	Metrics []string
	Views   map[string]view
}

func evaluate(policies []*Compiled) outcome {
	var e Engine
	o := outcome{Visible: []string{}, Metrics: []string{}, Views: map[string]view{}}
	for _, c := range fleet() {
		d := e.Decide(policies, c, testNow)
		if d.Visible {
			o.Visible = append(o.Visible, c.Name)
		}
		if d.ViewMetrics {
			o.Metrics = append(o.Metrics, c.Name)
		}
		o.Views[c.Name] = observe(d)
	}
	return o
}

func TestDecide(t *testing.T) {
	allClusters := []string{"dev-1", "nonprod-1", "prod-east", "prod-west", "staging"}
	allowAll := func(name, subjects string, prio int) string {
		return fmt.Sprintf(`
metadata: {name: %s}
spec:
  identity: {subjects: %s, priority: %d}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {}}]}}`, name, subjects, prio)
	}
	tests := []struct {
		name     string
		policies string
		who      Principal
		visible  []string
		metrics  []string
		// views lists the clusters whose view differs from the default: allView on visible
		// clusters, noneView on the others.
		views map[string]view
	}{
		{
			name:     "user matched by username",
			policies: allowAll("p", "{users: [alice]}", 100),
			who:      alice,
			visible:  allClusters,
		},
		{
			name:     "user matched by email",
			policies: allowAll("p", "{users: [carol@example.com]}", 100),
			who:      carol,
			visible:  allClusters,
		},
		{
			name:     "group matched",
			policies: allowAll("p", "{groups: [team-b]}", 100),
			who:      bob,
			visible:  allClusters,
		},
		{
			name:     "service account matched as system:serviceaccount:ns:name",
			policies: allowAll("p", "{serviceAccounts: [{name: reader, namespace: mon}]}", 100),
			who:      robot,
			visible:  allClusters,
		},
		{
			name:     "service account namespace defaults to default",
			policies: allowAll("p", "{serviceAccounts: [{name: reader}]}", 100),
			who:      robot,
			visible:  nil,
		},
		{
			name:     "policy for someone else does not apply",
			policies: allowAll("p", "{users: [bob], groups: [team-b]}", 100),
			who:      alice,
			visible:  nil,
		},
		{
			name: "disabled policy does not apply",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow, enabled: false}
  scope: {clusters: {rules: [{}]}}`,
			who:     alice,
			visible: nil,
		},
		{
			name: "validity windows checked at request time",
			policies: `
metadata: {name: not-yet}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [dev-1]}}]}}
  lifecycle: {validity: {notBefore: "2026-06-01T12:00:01Z"}}
---
metadata: {name: expired}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [staging]}}]}}
  lifecycle: {validity: {notAfter: "2026-06-01T11:59:59Z"}}
---
metadata: {name: current}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [prod-east]}}]}}
  lifecycle: {validity: {notBefore: "2026-06-01T12:00:00Z", notAfter: "2026-06-01T12:00:00Z"}}`,
			who:     alice,
			visible: []string{"prod-east"},
		},
		{
			name: "expired Deny policy does not count",
			policies: `
metadata: {name: deny}
spec:
  identity: {subjects: {users: [alice]}, priority: 500}
  access: {effect: Deny}
  scope: {clusters: {rules: [{selector: {matchNames: [prod-*]}}]}}
  lifecycle: {validity: {notAfter: "2026-01-01T00:00:00Z"}}
---
` + allowAll("allow", "{users: [alice]}", 100),
			who:     alice,
			visible: allClusters,
		},
		{
			name: "higher priority decides the clusters it matches",
			policies: `
metadata: {name: high}
spec:
  identity: {subjects: {users: [alice]}, priority: 200}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [prod-*]}, resources: [{type: nodes, visibility: none}]}]}}
---
` + allowAll("low", "{users: [alice]}", 100),
			who:     alice,
			visible: allClusters,
			views: map[string]view{
				"prod-east": allView().with(view{KindNodes: {}}),
				"prod-west": allView().with(view{KindNodes: {}}),
			},
		},
		{
			name: "a lower Allow is not additive: no custom type from it on clusters a higher Allow decided",
			policies: `
metadata: {name: high}
spec:
  identity: {subjects: {users: [alice]}, priority: 200}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [prod-east]}}]}}
---
metadata: {name: low}
spec:
  identity: {subjects: {users: [alice]}, priority: 100}
  access: {effect: Allow}
  scope: {clusters: {rules: [{permissions: {viewMetrics: true}, resources: [{type: pvcs}]}]}}`,
			who:     alice,
			visible: allClusters,
			metrics: []string{"dev-1", "nonprod-1", "prod-west", "staging"},
			views: map[string]view{
				"dev-1":     allView().with(allPVCs()),
				"nonprod-1": allView().with(allPVCs()),
				"prod-west": allView().with(allPVCs()),
				"staging":   allView().with(allPVCs()),
			},
		},
		{
			name: "Deny before Allow at equal priority",
			policies: `
metadata: {name: a-allow}
spec:
  identity: {subjects: {users: [alice]}, priority: 100}
  access: {effect: Allow}
  scope: {clusters: {rules: [{}]}}
---
metadata: {name: z-deny}
spec:
  identity: {subjects: {groups: [team-a]}, priority: 100}
  access: {effect: Deny}
  scope: {clusters: {rules: [{selector: {matchNames: [staging]}}]}}`,
			who:     alice,
			visible: []string{"dev-1", "nonprod-1", "prod-east", "prod-west"},
		},
		{
			name: "a higher Deny takes clusters away from a lower Allow",
			policies: `
metadata: {name: deny-prod}
spec:
  identity: {subjects: {groups: [team-a]}, priority: 300}
  access: {effect: Deny}
  scope: {clusters: {rules: [{selector: {matchPattern: "prod-.*"}}]}}
---
` + allowAll("allow", "{groups: [team-a]}", 100),
			who:     dave,
			visible: []string{"dev-1", "nonprod-1", "staging"},
		},
		{
			name: "a lower Deny does not take away what a higher Allow granted",
			policies: `
metadata: {name: deny-prod}
spec:
  identity: {subjects: {groups: [team-a]}, priority: 50}
  access: {effect: Deny}
  scope: {clusters: {rules: [{selector: {matchPattern: "prod-.*"}}]}}
---
` + allowAll("allow", "{groups: [team-a]}", 100),
			who:     dave,
			visible: allClusters,
		},
		{
			name: "exception by priority: team-a may not see prod, except alice",
			policies: `
metadata: {name: alice-prod}
spec:
  identity: {subjects: {users: [alice]}, priority: 300}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [prod-*]}}]}}
---
metadata: {name: team-a-no-prod}
spec:
  identity: {subjects: {groups: [team-a]}, priority: 200}
  access: {effect: Deny}
  scope: {clusters: {rules: [{selector: {matchNames: [prod-*]}}]}}
---
` + allowAll("team-a", "{groups: [team-a]}", 100),
			who:     alice,
			visible: allClusters,
		},
		{
			name: "exception by priority: another team-a member does not see prod",
			policies: `
metadata: {name: alice-prod}
spec:
  identity: {subjects: {users: [alice]}, priority: 300}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [prod-*]}}]}}
---
metadata: {name: team-a-no-prod}
spec:
  identity: {subjects: {groups: [team-a]}, priority: 200}
  access: {effect: Deny}
  scope: {clusters: {rules: [{selector: {matchNames: [prod-*]}}]}}
---
` + allowAll("team-a", "{groups: [team-a]}", 100),
			who:     dave,
			visible: []string{"dev-1", "nonprod-1", "staging"},
		},
		{
			name: "the first rule whose selector matches applies",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope:
    clusters:
      rules:
      - selector: {matchNames: [prod-east]}
        resources: [{type: nodes, visibility: none}]
      - selector: {}
        permissions: {viewMetrics: true}`,
			who:     alice,
			visible: allClusters,
			metrics: []string{"dev-1", "nonprod-1", "prod-west", "staging"},
			views:   map[string]view{"prod-east": allView().with(view{KindNodes: {}})},
		},
		{
			name: "default allow grants view on unselected clusters, built-ins unrestricted, no custom types (regression: did nothing)",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope:
    clusters:
      default: allow
      rules: [{selector: {matchNames: [prod-east]}, permissions: {viewMetrics: true}, resources: [{type: pvcs}, {type: pods, visibility: none}]}]`,
			who:     alice,
			visible: allClusters,
			metrics: []string{"prod-east"},
			views:   map[string]view{"prod-east": allView().with(allPVCs()).with(view{KindPods: {}})},
		},
		{
			name: "default deny hides unselected clusters and lower policies are not consulted",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}, priority: 200}
  access: {effect: Allow}
  scope: {clusters: {default: deny, rules: [{selector: {matchNames: [prod-east]}}]}}
---
` + allowAll("low", "{users: [alice]}", 100),
			who:     alice,
			visible: []string{"prod-east"},
		},
		{
			name: "default none lets lower policies decide",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}, priority: 200}
  access: {effect: Allow}
  scope: {clusters: {default: none, rules: [{selector: {matchNames: [prod-east]}, resources: [{type: nodes, visibility: none}]}]}}
---
` + allowAll("low", "{users: [alice]}", 100),
			who:     alice,
			visible: allClusters,
			views:   map[string]view{"prod-east": allView().with(view{KindNodes: {}})},
		},
		{
			name: "a Deny policy ignores default and denies only what its rules select",
			policies: `
metadata: {name: deny}
spec:
  identity: {subjects: {users: [alice]}, priority: 200}
  access: {effect: Deny}
  scope: {clusters: {default: allow, rules: [{selector: {matchNames: [prod-east]}}]}}
---
` + allowAll("low", "{users: [alice]}", 100),
			who:     alice,
			visible: []string{"dev-1", "nonprod-1", "prod-west", "staging"},
		},
		{
			name: "an Allow with no matching rule and default none matches nothing",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [nothing-here]}}]}}`,
			who:     alice,
			visible: nil,
		},
		{
			name: "selector fields are ANDed: matchNames and matchLabels",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: ["prod-*"], matchLabels: {team: a}}}]}}`,
			who:     alice,
			visible: []string{"prod-east"},
		},
		{
			name: "matchNames literal matches the whole name only",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [prod, staging]}}]}}`,
			who:     alice,
			visible: []string{"staging"},
		},
		{
			name: "matchNames wildcards * and ? (regression: treated literally)",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: ["prod-*", "dev-?", "stag?"]}}]}}`,
			who:     alice,
			visible: []string{"dev-1", "prod-east", "prod-west"},
		},
		{
			name: "matchPattern is anchored (regression: prod matched nonprod-1)",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchPattern: "prod"}}, {selector: {matchPattern: "(prod|dev)-[0-9]+"}}]}}`,
			who:     alice,
			visible: []string{"dev-1"},
		},
		{
			name: "matchPattern prod-.* selects prod-east and prod-west",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchPattern: "prod-.*"}}]}}`,
			who:     alice,
			visible: []string{"prod-east", "prod-west"},
		},
		{
			name: "matchLabels against ClusterConnection labels (regression: never matched)",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchLabels: {env: prod}}}, {selector: {matchLabels: {team: a, env: dev}}}]}}`,
			who:     alice,
			visible: []string{"nonprod-1", "prod-east", "prod-west"},
		},
		{
			name: "viewMetrics enforced: only where the rule grants it (regression: action ignored)",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope:
    clusters:
      rules:
      - selector: {matchNames: [prod-east]}
        permissions: {viewMetrics: true}
      - selector: {matchNames: [prod-west]}
        permissions: {view: true}
      - selector: {matchNames: [staging]}
        permissions: {}`,
			who:     alice,
			visible: []string{"prod-east", "prod-west", "staging"},
			metrics: []string{"prod-east"},
		},
		{
			name: "view false hides the cluster whatever viewMetrics says, and decides",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}, priority: 200}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [prod-*]}, permissions: {view: false, viewMetrics: true}}]}}
---
` + allowAll("low", "{users: [alice]}", 100),
			who:     alice,
			visible: []string{"dev-1", "nonprod-1", "staging"},
		},
		{
			name: "visibility none, filtered without filters, all with filters on built-in kinds",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope:
    clusters:
      rules:
      - resources:
        - {type: nodes, visibility: none}
        - {type: namespaces, visibility: filtered}
        - {type: pods, visibility: all, filters: {namespaces: {allowed: [team-a]}}}`,
			who:     alice,
			visible: allClusters,
			views: func() map[string]view {
				v := map[string]view{}
				for _, c := range allClusters {
					v[c] = allView().with(view{KindNodes: {}, KindPods: {"team-a/db", "team-a/web"}})
				}
				return v
			}(),
		},
		{
			name: "name filters: allowed globs, denied wins, deny-only passes the rest",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope:
    clusters:
      rules:
      - selector: {matchNames: [dev-1]}
        resources:
        - {type: nodes, visibility: filtered, filters: {names: {allowed: ["worker-*"], denied: [worker-2]}}}
        - {type: namespaces, visibility: filtered, filters: {names: {denied: ["kube-*"]}}}
        - {type: alerts, visibility: filtered, filters: {names: {allowed: ["node-???-ready"]}}}`,
			who:     alice,
			visible: []string{"dev-1"},
			views: map[string]view{"dev-1": allView().with(view{
				KindNodes:      {"worker-1"},
				KindNamespaces: {"default", "team-a", "team-b"},
				KindAlerts:     {"node-not-ready"},
			})},
		},
		{
			name: "labels filter on nodes and pods; every constraint of an entry must hold",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope:
    clusters:
      rules:
      - selector: {matchNames: [dev-1]}
        resources:
        - {type: nodes, visibility: filtered, filters: {labels: {role: worker}, names: {denied: [worker-1]}}}
        - {type: pods, visibility: filtered, filters: {labels: {app: web}, namespaces: {denied: [team-b]}}}`,
			who:     alice,
			visible: []string{"dev-1"},
			views: map[string]view{"dev-1": allView().with(view{
				KindNodes: {"worker-2"},
				KindPods:  {"team-a/web"},
			})},
		},
		{
			name: "operators pass when any target namespace passes, * passes, namespaces trimmed; kinds do not share filters",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope:
    clusters:
      rules:
      - selector: {matchNames: [dev-1]}
        resources:
        - {type: operators, visibility: filtered, filters: {namespaces: {allowed: ["team-a"]}}}
        - {type: namespaces, visibility: filtered, filters: {names: {allowed: [kube-system]}}}`,
			who:     alice,
			visible: []string{"dev-1"},
			views: map[string]view{"dev-1": allView().with(view{
				KindOperators:  {"op-a=team-a", "op-ab=team-a", "op-global=*"},
				KindNamespaces: {"kube-system"},
			})},
		},
		{
			name: "a namespaces filter on the namespaces kind filters them by name; events by namespace",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope:
    clusters:
      rules:
      - selector: {matchNames: [dev-1]}
        resources:
        - {type: namespaces, filters: {namespaces: {allowed: ["team-*"]}}}
        - {type: events, filters: {namespaces: {denied: ["kube-*"]}}}`,
			who:     alice,
			visible: []string{"dev-1"},
			views: map[string]view{"dev-1": allView().with(view{
				KindNamespaces: {"team-a", "team-b"},
				KindEvents:     {"team-a/ev1"},
			})},
		},
		{
			name: "objects without a namespace fail a namespaces allow list and pass a deny-only list",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope:
    clusters:
      rules:
      - selector: {matchNames: [dev-1]}
        resources:
        - {type: nodes, filters: {namespaces: {allowed: ["team-a"]}}}
        - {type: alerts, filters: {namespaces: {denied: ["team-a"]}}}`,
			who:     alice,
			visible: []string{"dev-1"},
			views:   map[string]view{"dev-1": allView().with(view{KindNodes: {}})},
		},
		{
			name: "custom types are implicitly denied",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{resources: [{type: nodes}]}]}}`,
			who:     alice,
			visible: allClusters,
		},
		{
			name: "custom type granted with visibility all",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [dev-1]}, resources: [{type: pvcs}]}]}}`,
			who:     alice,
			visible: []string{"dev-1"},
			views:   map[string]view{"dev-1": allView().with(allPVCs())},
		},
		{
			name: "custom visibility none is final: a lower policy cannot grant the type (regression)",
			policies: `
metadata: {name: high}
spec:
  identity: {subjects: {users: [alice]}, priority: 200}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [dev-1]}, resources: [{type: pvcs, visibility: none}]}]}}
---
metadata: {name: low}
spec:
  identity: {subjects: {users: [alice]}, priority: 100}
  access: {effect: Allow}
  scope: {clusters: {rules: [{resources: [{type: pvcs}]}]}}`,
			who:     alice,
			visible: allClusters,
			views: map[string]view{
				"nonprod-1": allView().with(allPVCs()),
				"prod-east": allView().with(allPVCs()),
				"prod-west": allView().with(allPVCs()),
				"staging":   allView().with(allPVCs()),
			},
		},
		{
			name: "custom type filtered by _namespace, _name and _labels (regression: label filter hid everything)",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope:
    clusters:
      rules:
      - selector: {matchNames: [dev-1]}
        resources: [{type: pvcs, visibility: filtered, filters: {labels: {app: db}}}]
      - selector: {matchNames: [staging]}
        resources: [{type: pvcs, visibility: all, filters: {namespaces: {allowed: ["team-*"]}, names: {denied: [logs]}}}]`,
			who:     alice,
			visible: []string{"dev-1", "staging"},
			views: map[string]view{
				"dev-1":   allView().with(allPVCs()).with(view{"pvcs": {"team-a/data"}}),
				"staging": allView().with(allPVCs()).with(view{"pvcs": {"team-a/data"}}),
			},
		},
		{
			name: "field filters apply to filterableFields only; numbers compare as text; a missing field fails an allow list",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope:
    clusters:
      rules:
      - selector: {matchNames: [dev-1]}
        resources: [{type: pvcs, visibility: filtered, filters: {fields: {class: {allowed: [fast]}, owner: {allowed: [nobody]}}}}]
      - selector: {matchNames: [staging]}
        resources: [{type: pvcs, visibility: filtered, filters: {fields: {size: {allowed: ["1?"]}}}}]
      - selector: {matchNames: [nonprod-1]}
        resources: [{type: pvcs, visibility: filtered, filters: {fields: {size: {denied: ["5"]}}}}]`,
			who:     alice,
			visible: []string{"dev-1", "nonprod-1", "staging"},
			views: map[string]view{
				"dev-1":     allView().with(allPVCs()).with(view{"pvcs": {"kube-system/etcd", "team-a/data"}}),
				"staging":   allView().with(allPVCs()).with(view{"pvcs": {"team-a/data"}}),
				"nonprod-1": allView().with(allPVCs()).with(view{"pvcs": {"kube-system/etcd", "team-a/data"}}),
			},
		},
		{
			name: "aggregations governed by include, else exclude",
			policies: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope:
    clusters:
      rules:
      - selector: {matchNames: [dev-1]}
        resources: [{type: pvcs, aggregations: {include: [count], exclude: [count]}}]
      - selector: {matchNames: [staging]}
        resources: [{type: pvcs, aggregations: {exclude: [total_size]}}]`,
			who:     alice,
			visible: []string{"dev-1", "staging"},
			views: map[string]view{
				"dev-1":   allView().with(allPVCs()).with(view{"pvcs/aggregations": {"count"}}),
				"staging": allView().with(allPVCs()).with(view{"pvcs/aggregations": {"by_class", "count"}}),
			},
		},
		{
			name: "a Deny policy in error fails closed for its subjects",
			policies: `
metadata: {name: broken-deny}
spec:
  identity: {subjects: {groups: [team-a]}, priority: 10}
  access: {effect: Deny}
  scope: {clusters: {rules: [{selector: {matchPattern: "prod-("}}]}}
---
` + allowAll("allow", "{users: [alice]}", 1000),
			who:     alice,
			visible: nil,
		},
		{
			name: "an Allow policy in error is not applied",
			policies: `
metadata: {name: broken-allow}
spec:
  identity: {subjects: {users: [alice]}, priority: 1000}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchPattern: "prod-("}}], default: deny}}
---
` + allowAll("allow", "{users: [alice]}", 10),
			who:     alice,
			visible: allClusters,
		},
		{
			name: "a disabled Deny policy in error does not apply",
			policies: `
metadata: {name: broken-deny}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Deny, enabled: false}
  lifecycle: {validity: {notBefore: "yesterday"}}
---
` + allowAll("allow", "{users: [alice]}", 10),
			who:     alice,
			visible: allClusters,
		},
		{
			name:     "no policies: nothing visible",
			policies: "",
			who:      alice,
			visible:  nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			compiled := compileFor(t, mustPolicies(t, tt.policies), tt.who)
			want := outcome{Visible: orEmpty(tt.visible), Metrics: orEmpty(tt.metrics), Views: map[string]view{}}
			for _, c := range fleet() {
				switch {
				case tt.views[c.Name] != nil:
					want.Views[c.Name] = tt.views[c.Name]
				case slices.Contains(tt.visible, c.Name):
					want.Views[c.Name] = allView()
				default:
					want.Views[c.Name] = noneView()
				}
			}
			got := evaluate(compiled)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("decisions (-want +got):\n%s", diff)
			}
			// Stored and read back, the policies decide the same.
			if diff := cmp.Diff(want, evaluate(roundTrip(t, compiled))); diff != "" {
				t.Errorf("decisions after JSON round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestDecisionDetails(t *testing.T) {
	policies := compileFor(t, mustPolicies(t, `
metadata: {name: deny-prod}
spec:
  identity: {subjects: {users: [alice]}, priority: 300}
  access: {effect: Deny}
  scope: {clusters: {rules: [{selector: {matchNames: [prod-west]}}]}}
---
metadata: {name: main}
spec:
  identity: {subjects: {users: [alice]}, priority: 100}
  access: {effect: Allow}
  scope:
    clusters:
      default: allow
      rules:
      - selector: {matchNames: [prod-east]}
        permissions: {viewMetrics: true}
        resources: [{type: pvcs}, {type: zebras}, {type: hidden, visibility: none}, {type: nodes}]
      - selector: {matchNames: [staging]}
        permissions: {view: false}`), alice)
	var e Engine
	type summary struct {
		Visible, ViewMetrics, Denied bool
		Policy                       string
		Permissions, CustomTypes     []string
	}
	got := map[string]summary{}
	for _, c := range fleet() {
		d := e.Decide(policies, c, testNow)
		got[c.Name] = summary{d.Visible, d.ViewMetrics, d.Denied, d.Policy, d.Permissions(), d.CustomTypes()}
	}
	want := map[string]summary{
		"dev-1":     {Visible: true, Policy: "ops/main", Permissions: []string{"view"}, CustomTypes: []string{}},
		"nonprod-1": {Visible: true, Policy: "ops/main", Permissions: []string{"view"}, CustomTypes: []string{}},
		"prod-east": {Visible: true, ViewMetrics: true, Policy: "ops/main", Permissions: []string{"view", "view_metrics"}, CustomTypes: []string{"pvcs", "zebras"}},
		"prod-west": {Denied: true, Policy: "ops/deny-prod", CustomTypes: []string{}},
		"staging":   {Denied: true, Policy: "ops/main", CustomTypes: []string{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}

	// Decide orders unsorted input itself.
	reversed := slices.Clone(policies)
	slices.Reverse(reversed)
	if d := e.Decide(reversed, ClusterInfo{Name: "prod-west"}, testNow); d.Policy != "ops/deny-prod" {
		t.Errorf("Decide on reversed policies: deciding policy %q, want ops/deny-prod", d.Policy)
	}
}

func TestMatcherHelpers(t *testing.T) {
	policies := compileFor(t, mustPolicies(t, `
metadata: {name: p}
spec:
  identity: {subjects: {users: [alice]}}
  access: {effect: Allow}
  scope:
    clusters:
      rules:
      - resources:
        - {type: pods, filters: {names: {allowed: ["web*"]}, namespaces: {allowed: [team-a]}, labels: {app: web}}}
        - {type: operators, filters: {namespaces: {denied: [team-b]}}}`), alice)
	d := (&Engine{}).Decide(policies, ClusterInfo{Name: "c"}, testNow)
	pods := d.Matcher(KindPods)
	ops := d.Matcher(KindOperators)
	nodes := d.Matcher(KindNodes)
	hidden := (&Engine{}).Decide(nil, ClusterInfo{Name: "c"}, testNow).Matcher(KindNodes)
	type item struct {
		Name string
		Ns   string
	}
	pods2 := Filter(pods, []item{{"web", "team-a"}, {"web", "team-b"}}, func(i item) Object {
		return Object{Name: i.Name, Namespace: i.Ns, Labels: map[string]string{"app": "web"}}
	})
	got := map[string]any{
		// Admits checks only what a request names: a pod name in an admitted namespace is
		// admitted (404 if missing), even though its labels are unknown.
		"admits web in team-a":          pods.Admits("web-1", "team-a"),
		"admits web in team-b":          pods.Admits("web-1", "team-b"),
		"admits db in team-a":           pods.Admits("db", "team-a"),
		"allows web without labels":     pods.Allows(Object{Name: "web", Namespace: "team-a"}),
		"namespace team-a allowed":      pods.NamespaceAllowed("team-a"),
		"namespace team-b allowed":      pods.NamespaceAllowed("team-b"),
		"pods unrestricted":             pods.Unrestricted(),
		"nodes unrestricted":            nodes.Unrestricted(),
		"operators trimmed":             ops.TrimNamespaces([]string{"team-a", "team-b", "team-c"}),
		"operators trimmed all":         ops.TrimNamespaces([]string{"*"}),
		"hidden none":                   hidden.None(),
		"hidden trimmed":                hidden.TrimNamespaces([]string{"*", "a"}),
		"hidden admits":                 hidden.Admits("x"),
		"hidden aggregation":            hidden.AggregationVisible("count"),
		"filter keeps allowed":          pods2,
		"filter on hidden never nil":    Filter(hidden, []item{{"a", "b"}}, func(i item) Object { return Object{Name: i.Name} }),
		"unknown kind is implicit deny": d.Matcher("zebras").None(),
	}
	want := map[string]any{
		"admits web in team-a":          true,
		"admits web in team-b":          false,
		"admits db in team-a":           false,
		"allows web without labels":     false,
		"namespace team-a allowed":      true,
		"namespace team-b allowed":      false,
		"pods unrestricted":             false,
		"nodes unrestricted":            true,
		"operators trimmed":             []string{"team-a", "team-c"},
		"operators trimmed all":         []string{"*"},
		"hidden none":                   true,
		"hidden trimmed":                []string{},
		"hidden admits":                 false,
		"hidden aggregation":            false,
		"filter keeps allowed":          []item{{"web", "team-a"}},
		"filter on hidden never nil":    []item{},
		"unknown kind is implicit deny": true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("matcher helpers (-want +got):\n%s", diff)
	}
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"fast", "fast"},
		{true, "true"},
		{int64(10), "10"},
		{10, "10"},
		{int32(-3), "-3"},
		{10.0, "10"},
		{2.5, "2.5"},
		{float32(0.5), "0.5"},
		{json.Number("7"), "7"},
		{[]int{1}, "[1]"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%T %v", tt.in, tt.in), func(t *testing.T) {
			if got := formatValue(tt.in); got != tt.want {
				t.Errorf("formatValue(%#v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// BenchmarkDecide measures deciding 1,000 clusters for a caller with three policies, as
// GET /api/v1/clusters does.
func BenchmarkDecide(b *testing.B) {
	var policies []*Compiled
	for _, doc := range []string{`
metadata: {name: deny-prod, namespace: ops}
spec:
  identity: {subjects: {groups: [team-a]}, priority: 300}
  access: {effect: Deny}
  scope: {clusters: {rules: [{selector: {matchPattern: "prod-9.*"}}]}}`, `
metadata: {name: team, namespace: ops}
spec:
  identity: {subjects: {groups: [team-a]}, priority: 200}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchLabels: {team: a}}, resources: [{type: pods, filters: {namespaces: {allowed: ["team-a-*"]}}}]}]}}`, `
metadata: {name: all, namespace: ops}
spec:
  identity: {subjects: {groups: [team-a]}, priority: 100}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: ["prod-*", "dev-?"]}}]}}`} {
		var p kube.MonitorAccessPolicy
		if err := yaml.Unmarshal([]byte(doc), &p); err != nil {
			b.Fatal(err)
		}
		c, err := Compile(&p, testNow)
		if err != nil {
			b.Fatal(err)
		}
		policies = append(policies, c)
	}
	Sort(policies)
	clusters := make([]ClusterInfo, 1000)
	for i := range clusters {
		team := "b"
		if i%2 == 0 {
			team = "a"
		}
		clusters[i] = ClusterInfo{Name: fmt.Sprintf("prod-%d", i), Labels: map[string]string{"team": team, "env": "prod"}}
	}
	var e Engine
	b.ReportAllocs()
	for b.Loop() {
		visible := 0
		for _, c := range clusters {
			if e.Decide(policies, c, testNow).Visible {
				visible++
			}
		}
		if visible != 889 {
			b.Fatalf("%d visible clusters, want 889", visible)
		}
	}
}
