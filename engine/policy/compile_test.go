package policy

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
)

func TestCompileErrors(t *testing.T) {
	long := strings.Repeat("a", MaxPatternLength+1)
	tests := []struct {
		name    string
		policy  string
		mutate  func(*kube.MonitorAccessPolicy)
		wantErr string
	}{
		{
			name: "invalid regex",
			policy: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [a]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchPattern: "prod-(["}}]}}`,
			wantErr: "invalid matchPattern",
		},
		{
			name: "regex that only parses once wrapped",
			policy: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [a]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchPattern: "a)|(b"}}]}}`,
			wantErr: "invalid matchPattern",
		},
		{
			name: "pattern of 257 characters",
			policy: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [a]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchPattern: "` + long + `"}}]}}`,
			wantErr: "longer than 256",
		},
		{
			name: "repetition beyond RE2 limits",
			policy: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [a]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchPattern: "((a{1000}){1000}){1000}"}}]}}`,
			wantErr: "invalid matchPattern",
		},
		{
			name: "glob of 257 characters in matchNames",
			policy: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [a]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: ["*` + long[1:] + `"]}}]}}`,
			wantErr: "longer than 256",
		},
		{
			name: "bad glob in a filter (invalid UTF-8)",
			policy: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [a]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{resources: [{type: pods, filters: {names: {denied: [placeholder]}}}]}]}}`,
			mutate: func(p *kube.MonitorAccessPolicy) {
				p.Spec.Scope.Clusters.Rules[0].Resources[0].Filters.Names.Denied[0] = "x*\xff"
			},
			wantErr: "not valid UTF-8",
		},
		{
			name: "unparsable notBefore",
			policy: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [a]}}
  access: {effect: Allow}
  lifecycle: {validity: {notBefore: "2026-13-01"}}`,
			wantErr: "validity notBefore",
		},
		{
			name: "unparsable notAfter",
			policy: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [a]}}
  access: {effect: Allow}
  lifecycle: {validity: {notAfter: "tomorrow"}}`,
			wantErr: "validity notAfter",
		},
		{
			name: "inverted validity window",
			policy: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [a]}}
  access: {effect: Allow}
  lifecycle: {validity: {notBefore: "2026-02-01T00:00:00Z", notAfter: "2026-01-01T00:00:00Z"}}`,
			wantErr: "is after notAfter",
		},
		{
			name: "unknown effect",
			policy: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [a]}}
  access: {effect: Permit}`,
			wantErr: "effect",
		},
		{
			name: "priority out of range",
			policy: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [a]}, priority: 10001}
  access: {effect: Allow}`,
			wantErr: "priority 10001",
		},
		{
			name: "unknown default",
			policy: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [a]}}
  access: {effect: Allow}
  scope: {clusters: {default: maybe}}`,
			wantErr: "default",
		},
		{
			name: "unknown visibility",
			policy: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [a]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{resources: [{type: pods, visibility: some}]}]}}`,
			wantErr: "visibility",
		},
		{
			name: "service account without a name",
			policy: `
metadata: {name: p}
spec:
  identity: {subjects: {serviceAccounts: [{namespace: x}]}}
  access: {effect: Allow}`,
			wantErr: "service account",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPolicies(t, tt.policy)[0]
			if tt.mutate != nil {
				tt.mutate(p)
			}
			c, err := Compile(p, testNow)
			if err == nil {
				t.Fatalf("Compile succeeded, want error containing %q", tt.wantErr)
			}
			if c != nil {
				t.Errorf("Compile returned a policy with the error")
			}
			if !errors.Is(err, engine.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want ErrInvalid containing %q", err, tt.wantErr)
			}
			f := Failed(p, testNow, err)
			state, msg := f.State(testNow)
			if state != StateError || !strings.Contains(msg, tt.wantErr) {
				t.Errorf("Failed state = %s %q, want Error mentioning %q", state, msg, tt.wantErr)
			}
		})
	}
}

func TestCompiledJSON(t *testing.T) {
	p := mustPolicies(t, `
metadata: {name: team-a, namespace: monitoring}
spec:
  identity:
    subjects:
      users: [alice, alice, bob@example.com]
      groups: [team-a]
      serviceAccounts: [{name: reader, namespace: mon}, {name: bot}]
    priority: 250
  access: {effect: Allow}
  scope:
    clusters:
      default: allow
      rules:
      - selector: {matchNames: [prod-east, "prod-*"], matchPattern: "prod-.*", matchLabels: {env: prod}}
        permissions: {viewMetrics: true}
        resources:
        - type: pods
          visibility: filtered
          filters:
            names: {allowed: [web, "api-*"], denied: ["*-debug", secret]}
            namespaces: {allowed: ["team-?"], denied: [kube-system]}
            labels: {app: web}
        - type: pvcs
          filters: {fields: {class: {allowed: [fast, "ssd-*"], denied: [slow]}}}
          aggregations: {include: [count], exclude: [sum]}
      - {}
  lifecycle: {validity: {notAfter: "2027-01-01T00:00:00Z"}}`)[0]
	c, err := Compile(p, testNow)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal([]byte(`{
  "policy_name": "team-a",
  "namespace": "monitoring",
  "priority": 250,
  "effect": "Allow",
  "enabled": true,
  "users": ["alice", "bob@example.com"],
  "groups": ["team-a"],
  "service_accounts": ["system:serviceaccount:mon:reader", "system:serviceaccount:default:bot"],
  "default_cluster_access": "allow",
  "cluster_rules": [
    {
      "cluster_selector": {
        "matchNames": ["prod-east", "prod-*"],
        "name_patterns": [["prod-*", "^(?s)prod-.*$"]],
        "matchPattern": "prod-.*",
        "pattern_regex": "^(?:prod-.*)$",
        "matchLabels": {"env": "prod"}
      },
      "permissions": {"view": true, "viewMetrics": true},
      "resources": [
        {
          "type": "pods",
          "visibility": "filtered",
          "allowed_names": ["web"],
          "denied_names": ["secret"],
          "name_patterns": [["api-*", "^(?s)api-.*$"]],
          "deny_name_patterns": [["*-debug", "^(?s).*-debug$"]],
          "denied_ns": ["kube-system"],
          "ns_patterns": [["team-?", "^(?s)team-.$"]],
          "labels": {"app": "web"}
        },
        {
          "type": "pvcs",
          "visibility": "all",
          "field_filters": {"class": {"allowed_literals": ["fast"], "denied_literals": ["slow"], "allowed_patterns": [["ssd-*", "^(?s)ssd-.*$"]]}},
          "aggregation_rules": {"include": ["count"], "exclude": ["sum"]}
        }
      ]
    },
    {"cluster_selector": {}, "permissions": {"view": true, "viewMetrics": false}, "resources": []}
  ],
  "not_before": null,
  "not_after": "2027-01-01T00:00:00Z",
  "compiled_at": "2026-06-01T12:00:00Z",
  "hash": "`+c.Hash+`",
  "custom_resource_types": ["pvcs"]
}`), &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("compiled JSON (-want +got):\n%s", diff)
	}
	if len(c.Hash) != 16 {
		t.Errorf("hash %q is not 16 hex digits", c.Hash)
	}
	// The hash depends on the spec only.
	later, err := Compile(p, testNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.Identity.Priority = 251
	changed, err := Compile(p, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if later.Hash != c.Hash || changed.Hash == c.Hash {
		t.Errorf("hash: same spec later %s, changed spec %s, want %s and something else", later.Hash, changed.Hash, c.Hash)
	}
}

func TestCompileDefaults(t *testing.T) {
	// A spec that skipped the apiserver's defaulting (local mode reads YAML files).
	c, err := Compile(mustPolicies(t, `
metadata: {name: p}
spec:
  identity: {subjects: {groups: [g]}}
  access: {effect: Deny}
  scope: {clusters: {rules: [{resources: [{type: alerts}]}]}}`)[0], testNow)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{c.Priority, c.Enabled, c.DefaultClusterAccess, c.ClusterRules[0].Permissions, c.ClusterRules[0].Resources[0].Visibility, c.CustomResourceTypes, c.Users, c.ServiceAccounts, c.NotBefore}
	want := []any{100, true, "none", Permissions{View: true}, "all", []string{}, []string{}, []string{}, (*string)(nil)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name   string
		policy string
		want   []string
	}{
		{
			name: "clean Allow policy",
			policy: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [a]}}
  access: {effect: Allow}
  scope: {clusters: {default: deny, rules: [{resources: [{type: pods}]}]}}`,
			want: nil,
		},
		{
			name: "Deny with default, resources and permissions",
			policy: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [a]}}
  access: {effect: Deny}
  scope: {clusters: {default: allow, rules: [{permissions: {view: true}}, {resources: [{type: pods}]}]}}`,
			want: []string{
				`scope.clusters.default "allow" is ignored: a Deny policy denies exactly the clusters its rules select`,
				"rule 0: permissions and resources are ignored: a Deny policy hides the whole cluster",
				"rule 1: permissions and resources are ignored: a Deny policy hides the whole cluster",
			},
		},
		{
			name: "Deny without rules, nobody named",
			policy: `
metadata: {name: p}
spec:
  identity: {subjects: {}}
  access: {effect: Deny}
  scope: {clusters: {default: none}}`,
			want: []string{
				"the Deny policy has no rules and denies nothing",
				"the policy names no users, groups or service accounts and applies to nobody",
			},
		},
		{
			name: "duplicate type, aggregations on a built-in",
			policy: `
metadata: {name: p}
spec:
  identity: {subjects: {users: [a]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{resources: [{type: pvcs}, {type: pvcs, visibility: none}, {type: nodes, aggregations: {include: [x]}}]}]}}`,
			want: []string{
				`rule 0: resource type "pvcs" is listed more than once; only the first entry applies`,
				`rule 0: aggregations on built-in type "nodes" are ignored`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compile(mustPolicies(t, tt.policy)[0], testNow)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, c.Warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTypeWarnings(t *testing.T) {
	c, err := Compile(mustPolicies(t, `
metadata: {name: p}
spec:
  identity: {subjects: {users: [a]}}
  access: {effect: Allow}
  scope:
    clusters:
      rules:
      - resources:
        - {type: pvcs, filters: {fields: {class: {allowed: [fast]}, owner: {allowed: [me]}}}}
        - {type: ghosts}
        - {type: pods, filters: {fields: {phase: {allowed: [Running]}}}}`)[0], testNow)
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(typ string) ([]string, bool) {
		if typ == "pvcs" {
			return []string{"class"}, true
		}
		return nil, false
	}
	missing, fields := c.TypeWarnings(lookup)
	got := [][]string{missing, fields}
	want := [][]string{
		{`no MetricSource provides resource type "ghosts"`},
		{`rule 0: field filter on pvcs.owner is ignored: "owner" is not in the MetricSource's rbac.filterableFields`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("type warnings (-want +got):\n%s", diff)
	}
}

func TestState(t *testing.T) {
	policy := func(enabled, validity string) string {
		return `
metadata: {name: p}
spec:
  identity: {subjects: {users: [a]}}
  access: {effect: Allow, enabled: ` + enabled + `}
  lifecycle: {validity: ` + validity + `}`
	}
	tests := []struct {
		name, policy, state string
	}{
		{"active", policy("true", "{}"), StateActive},
		{"disabled", policy("false", "{}"), StateInactive},
		{"not yet valid", policy("true", `{notBefore: "2026-06-02T00:00:00Z"}`), StateInactive},
		{"expired", policy("true", `{notAfter: "2026-05-31T00:00:00Z"}`), StateExpired},
		{"inside window", policy("true", `{notBefore: "2026-05-31T00:00:00Z", notAfter: "2026-06-02T00:00:00Z"}`), StateActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compile(mustPolicies(t, tt.policy)[0], testNow)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := c.State(testNow); got != tt.state {
				t.Errorf("State = %s, want %s", got, tt.state)
			}
			if got, want := c.Active(testNow), tt.state == StateActive; got != want {
				t.Errorf("Active = %v, want %v", got, want)
			}
		})
	}
}

func TestDecodeRejectsBadStoredPatterns(t *testing.T) {
	tests := []struct {
		name, data string
	}{
		{"not JSON", `{`},
		{"bad pattern pair", `{"policy_name":"p","namespace":"n","cluster_rules":[{"cluster_selector":{},"resources":[{"type":"pods","name_patterns":[["x*","^(x$"]]}]}]}`},
		{"bad pattern regex", `{"policy_name":"p","namespace":"n","cluster_rules":[{"cluster_selector":{"matchPattern":"(","pattern_regex":"^(?:()$"}}]}`},
		{"bad not_before", `{"policy_name":"p","namespace":"n","not_before":"soon"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := Decode([]byte(tt.data)); err == nil {
				t.Errorf("Decode = %+v, want error", c)
			}
		})
	}
}

func TestGlobRegex(t *testing.T) {
	tests := []struct {
		glob     string
		match    []string
		mismatch []string
	}{
		{"prod-*", []string{"prod-", "prod-east", "prod-a-b"}, []string{"nonprod-1", "prod", "xprod-east"}},
		{"dev-?", []string{"dev-1", "dev-é"}, []string{"dev-", "dev-12"}},
		{"a.b", []string{"a.b"}, []string{"axb"}},
		{"*(x)+[y]|z*", []string{"(x)+[y]|z", "q(x)+[y]|zq"}, []string{"xxy"}},
		{"*", []string{"", "anything\nat all"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.glob, func(t *testing.T) {
			_, re, err := compileGlob(tt.glob)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.match {
				if !re.MatchString(s) {
					t.Errorf("%q does not match %q", tt.glob, s)
				}
			}
			for _, s := range tt.mismatch {
				if re.MatchString(s) {
					t.Errorf("%q matches %q", tt.glob, s)
				}
			}
		})
	}
}

// FuzzGlob checks that any glob either compiles or returns an error (never panics), and that
// a compiled glob matches the string it describes with each * taken as "" or "zz" and each ?
// as "x", and, without *, never matches that string with a character added at either end.
func FuzzGlob(f *testing.F) {
	for _, s := range []string{"prod-*", "dev-?", "", "*", "a.b(c)[d]{2}|e", "x*\xff", "??*?", "\\*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, glob string) {
		pair, re, err := compileGlob(glob)
		if err != nil {
			return
		}
		if pair[0] != glob {
			t.Fatalf("pair original %q, want %q", pair[0], glob)
		}
		again, err := regexp.Compile(pair[1])
		if err != nil || again.String() != re.String() {
			t.Fatalf("stored regex %q does not compile back: %v", pair[1], err)
		}
		empty := strings.NewReplacer("*", "", "?", "x").Replace(glob)
		long := strings.NewReplacer("*", "zz", "?", "x").Replace(glob)
		if !re.MatchString(empty) || !re.MatchString(long) {
			t.Fatalf("glob %q (regex %s) does not match %q or %q", glob, pair[1], empty, long)
		}
		if !strings.Contains(glob, "*") && (re.MatchString(empty+"!") || re.MatchString("!"+empty)) {
			t.Fatalf("glob %q without * matches %q with a character added: not anchored", glob, empty)
		}
	})
}

// FuzzMatchPattern checks that any matchPattern either compiles or returns an error (never
// panics), that a compiled one matches exactly the names the pattern matches as a whole
// (anchored), and that a quoted literal matches only itself.
func FuzzMatchPattern(f *testing.F) {
	for _, s := range [][2]string{{"prod", "nonprod-1"}, {"prod-.*", "prod-east"}, {"a)|(b", "a"}, {"(", ""}, {"[a-z]+", "abc"}, {"x{1001}", "x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		_, re, err := compileAnchored(pattern)
		if err != nil {
			return
		}
		plain := regexp.MustCompile(pattern) // compileAnchored compiled it alone first
		// Leftmost-longest: the first match starts at 0 and is the longest there, so it spans
		// the whole name exactly when some match of the pattern does.
		plain.Longest()
		loc := plain.FindStringIndex(name)
		full := loc != nil && loc[0] == 0 && loc[1] == len(name)
		if full != re.MatchString(name) {
			t.Fatalf("pattern %q matches all of %q: %v, anchored regex: %v", pattern, name, full, !full)
		}
		if len(name) <= MaxPatternLength {
			_, lit, err := compileAnchored(regexp.QuoteMeta(name))
			if err == nil && (!lit.MatchString(name) || lit.MatchString(name+"x") || lit.MatchString("x"+name)) {
				t.Fatalf("quoted literal %q does not match exactly itself", name)
			}
		}
	})
}
