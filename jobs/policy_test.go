package jobs

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/policy"
	"github.com/clusterpulse/clusterpulse/engine/store"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// policyEnv is one hub namespace with MonitorAccessPolicies and MetricSources, a Redis
// prefix, the policy store over it, and the environment a job run gets.
type policyEnv struct {
	kube  *testenv.Kube
	redis *testenv.Redis
	keys  store.Keys
	ps    *policy.Store
	env   map[string]string
}

func newPolicyEnv(t *testing.T) *policyEnv {
	t.Helper()
	testenv.InstallCRDs(t, "../deploy/crds")
	k := testenv.NewKube(t)
	r := testenv.NewRedis(t)
	host, port, _ := strings.Cut(r.Addr, ":")
	keys := store.Keys{Prefix: r.Prefix}
	return &policyEnv{
		kube:  k,
		redis: r,
		keys:  keys,
		ps:    policy.NewStore(r.Client, keys),
		env: map[string]string{
			"NAMESPACE": k.Namespace, "KUBECONFIG": kubeconfigPath(t),
			"REDIS_HOST": host, "REDIS_PORT": port, "REDIS_KEY_PREFIX": r.Prefix,
			"HOSTNAME": "test-pod", "LOG_LEVEL": "debug",
		},
	}
}

func (e *policyEnv) create(t *testing.T, gvr schema.GroupVersionResource, kind, name string, spec map[string]any) {
	t.Helper()
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": kube.GroupVersion.String(), "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": e.kube.Namespace},
		"spec":     spec,
	}}
	if _, err := e.kube.Dynamic.Resource(gvr).Namespace(e.kube.Namespace).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create %s %s: %v", kind, name, err)
	}
}

func (e *policyEnv) createPolicy(t *testing.T, name string, spec map[string]any) {
	t.Helper()
	e.create(t, kube.MonitorAccessPoliciesGVR, "MonitorAccessPolicy", name, spec)
}

func (e *policyEnv) status(t *testing.T, name string) kube.MonitorAccessPolicyStatus {
	t.Helper()
	u, err := e.kube.Dynamic.Resource(kube.MonitorAccessPoliciesGVR).Namespace(e.kube.Namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get MonitorAccessPolicy %s: %v", name, err)
	}
	p, err := kube.Decode[kube.MonitorAccessPolicy](u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Status
}

func (e *policyEnv) run(t *testing.T, args ...string) (Summary, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Run(context.Background(), append([]string{"policy"}, args...), envFunc(e.env), &out, &errOut)
	if err != nil {
		t.Fatalf("job policy %q: %v\nstdout:\n%s\nstderr:\n%s", args, err, out.String(), errOut.String())
	}
	return lastSummary(t, out.String()), out.String()
}

func (e *policyEnv) generation(t *testing.T) int64 {
	t.Helper()
	g, err := e.ps.Generation(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// names returns the stored policies of the test namespace, without the namespace.
func (e *policyEnv) names(t *testing.T) []string {
	t.Helper()
	all, err := e.ps.Names(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, n := range all {
		if ns, name, _ := strings.Cut(n, "/"); ns == e.kube.Namespace {
			out = append(out, name)
		}
	}
	return out
}

// policiesOf returns "name:effect:error?" of the stored policies that name p, in evaluation
// order.
func (e *policyEnv) policiesOf(t *testing.T, p policy.Principal) []string {
	t.Helper()
	cs, err := e.ps.ForPrincipal(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, c := range cs {
		s := c.PolicyName + ":" + c.Effect
		if c.Error != "" {
			s += ":error"
		}
		out = append(out, s)
	}
	return out
}

var ignoreDuration = cmp.FilterPath(func(p cmp.Path) bool {
	s := p.Last().String()
	return s == ".Duration" || s == ".DurationMS"
}, cmp.Ignore())

func TestJobPolicy(t *testing.T) {
	e := newPolicyEnv(t)
	ctx := context.Background()
	ns := e.kube.Namespace
	hour := time.Hour
	rfc := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }

	e.create(t, kube.MetricSourcesGVR, "MetricSource", "pvc-usage", map[string]any{
		"source": map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim"},
		"fields": []any{map[string]any{"name": "phase", "path": ".status.phase"}},
		"rbac":   map[string]any{"resourceTypeName": "pvcs", "filterableFields": []any{"phase"}},
	})

	e.createPolicy(t, "allow", map[string]any{
		"identity": map[string]any{"priority": 200, "subjects": map[string]any{
			"users": []any{"alice"}, "groups": []any{"devs"},
			"serviceAccounts": []any{map[string]any{"name": "bot", "namespace": ns}},
		}},
		"access": map[string]any{"effect": "Allow"},
		"scope": map[string]any{"clusters": map[string]any{"rules": []any{map[string]any{
			"selector":    map[string]any{"matchNames": []any{"prod-*"}},
			"permissions": map[string]any{"viewMetrics": true},
			"resources": []any{map[string]any{"type": "pvcs", "visibility": "filtered", "filters": map[string]any{
				"fields": map[string]any{"phase": map[string]any{"allowed": []any{"Bound"}}, "size": map[string]any{"denied": []any{"0"}}},
			}}},
		}}}},
	})
	e.createPolicy(t, "disabled", map[string]any{
		"identity": map[string]any{"subjects": map[string]any{"users": []any{"alice"}}},
		"access":   map[string]any{"effect": "Allow", "enabled": false},
	})
	e.createPolicy(t, "future", map[string]any{
		"identity":  map[string]any{"subjects": map[string]any{"users": []any{"alice"}}},
		"access":    map[string]any{"effect": "Allow"},
		"lifecycle": map[string]any{"validity": map[string]any{"notBefore": rfc(hour)}},
	})
	e.createPolicy(t, "expired", map[string]any{
		"identity":  map[string]any{"subjects": map[string]any{"users": []any{"alice"}}},
		"access":    map[string]any{"effect": "Allow"},
		"lifecycle": map[string]any{"validity": map[string]any{"notBefore": rfc(-2 * hour), "notAfter": rfc(-hour)}},
	})
	// The CRD only limits the length of matchPattern: "(" is accepted by the apiserver.
	e.createPolicy(t, "bad-pattern", map[string]any{
		"identity": map[string]any{"priority": 50, "subjects": map[string]any{"groups": []any{"devs"}}},
		"access":   map[string]any{"effect": "Deny"},
		"scope": map[string]any{"clusters": map[string]any{"rules": []any{map[string]any{
			"selector": map[string]any{"matchPattern": "("},
		}}}},
	})
	e.createPolicy(t, "unknown-type", map[string]any{
		"identity": map[string]any{"subjects": map[string]any{"users": []any{"bob"}}},
		"access":   map[string]any{"effect": "Allow"},
		"scope": map[string]any{"clusters": map[string]any{"rules": []any{map[string]any{
			"resources": []any{map[string]any{"type": "certificates"}, map[string]any{"type": "pvcs"}},
		}}}},
	})

	// A stored policy of this namespace without its object (removed by the job), and one of
	// another namespace (left alone: it is not this job's).
	for _, p := range []*kube.MonitorAccessPolicy{
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gone"}, Spec: kube.PolicySpec{Access: kube.PolicyAccess{Effect: "Allow"}, Identity: kube.PolicyIdentity{Subjects: kube.Subjects{Users: []string{"alice"}}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns + "-other", Name: "elsewhere"}, Spec: kube.PolicySpec{Access: kube.PolicyAccess{Effect: "Allow"}}},
	} {
		c, err := policy.Compile(p, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.ps.Save(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	gen0 := e.generation(t)

	sum, out := e.run(t)
	t.Logf("first run, stdout:\n%s", out)
	want := Summary{Job: "policy", Attempted: 6, Succeeded: 5, Failed: 1, Deleted: 1}
	if d := cmp.Diff(want, sum, ignoreDuration); d != "" {
		t.Errorf("summary (-want +got):\n%s\nstdout:\n%s", d, out)
	}
	for _, line := range []string{
		"policy allow: succeeded in ", "policy disabled: succeeded in ", "policy expired: succeeded in ",
		"policy bad-pattern: failed in ", "policy gone: deleted in ",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("stdout lacks progress line %q:\n%s", line, out)
		}
	}

	// Statuses.
	type brief struct {
		State                             string
		Users, Groups, SAs, Types         int32
		CustomResourceWarnings, Warnings  []string
		HasHash, HasCompiledAt, Evaluated bool
	}
	wantStatus := map[string]struct {
		brief
		msgHas string
	}{
		"allow": {brief{State: "Active", Users: 1, Groups: 1, SAs: 1, Types: 1,
			Warnings: []string{`rule 0: field filter on pvcs.size is ignored: "size" is not in the MetricSource's rbac.filterableFields`}}, "Policy is active"},
		"disabled":    {brief{State: "Inactive", Users: 1}, "disabled"},
		"future":      {brief{State: "Inactive", Users: 1}, "not yet valid"},
		"expired":     {brief{State: "Expired", Users: 1}, "expired"},
		"bad-pattern": {brief{State: "Error", Groups: 1}, "Compilation failed"},
		"unknown-type": {brief{State: "Active", Users: 1, Types: 2,
			CustomResourceWarnings: []string{`no MetricSource provides resource type "certificates"`}}, "Policy is active"},
	}
	for name, w := range wantStatus {
		st := e.status(t, name)
		got := brief{State: st.State, Users: st.AffectedUsers, Groups: st.AffectedGroups, SAs: st.AffectedServiceAccounts,
			Types: st.CustomResourceTypes, CustomResourceWarnings: st.CustomResourceWarnings, Warnings: st.Warnings,
			HasHash: len(st.Hash) == 16, HasCompiledAt: st.CompiledAt != "",
			Evaluated: st.LastEvaluated != nil && time.Since(st.LastEvaluated.Time) < time.Minute}
		w.HasHash, w.HasCompiledAt, w.Evaluated = true, true, true
		if d := cmp.Diff(w.brief, got); d != "" {
			t.Errorf("status of %s (-want +got):\n%s", name, d)
		}
		if !strings.Contains(st.Message, w.msgHas) {
			t.Errorf("status message of %s = %q, want it to contain %q", name, st.Message, w.msgHas)
		}
	}
	if st := e.status(t, "bad-pattern"); !strings.Contains(st.Message, "matchPattern") {
		t.Errorf("status message of bad-pattern = %q, want the compile error naming matchPattern", st.Message)
	}

	// Redis: every policy of the namespace is stored, the gone one is removed, the other
	// namespace's stays; the indexes name the enabled policies only; the bad Deny policy is
	// stored as failed so it fails closed.
	if d := cmp.Diff([]string{"allow", "bad-pattern", "disabled", "expired", "future", "unknown-type"}, e.names(t)); d != "" {
		t.Errorf("stored policies (-want +got):\n%s", d)
	}
	all, err := e.ps.Names(ctx)
	if err != nil || !slices.Contains(all, ns+"-other/elsewhere") {
		t.Errorf("the policy of another namespace was touched: %v %v", all, err)
	}
	for _, tt := range []struct {
		name string
		p    policy.Principal
		want []string
	}{
		{name: "alice", p: policy.Principal{Username: "alice"}, want: []string{"allow:Allow", "expired:Allow", "future:Allow"}},
		{name: "devs", p: policy.Principal{Username: "carol", Groups: []string{"devs"}}, want: []string{"allow:Allow", "bad-pattern:Deny:error"}},
		{name: "service account", p: policy.Principal{Username: "system:serviceaccount:" + ns + ":bot"}, want: []string{"allow:Allow"}},
		{name: "bob", p: policy.Principal{Username: "bob"}, want: []string{"unknown-type:Allow"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := e.policiesOf(t, tt.p)
			slices.Sort(got)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("policies naming %s (-want +got):\n%s", tt.name, d)
			}
		})
	}
	members, err := e.redis.Client.SMembers(ctx, e.keys.PolicySubject("customtype", "pvcs")).Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(members)
	if d := cmp.Diff([]string{e.keys.Policy(ns, "allow"), e.keys.Policy(ns, "unknown-type")}, members); d != "" {
		t.Errorf("policy:customtype:pvcs (-want +got):\n%s", d)
	}
	gen1 := e.generation(t)
	if gen1 <= gen0 {
		t.Errorf("generation %d after the first run, was %d: want it incremented", gen1, gen0)
	}

	// A second run right away: every policy is compiled again (no interval), nothing changed,
	// the generation stays.
	sum, out = e.run(t)
	if d := cmp.Diff(Summary{Job: "policy", Attempted: 6, Succeeded: 5, Failed: 1}, sum, ignoreDuration); d != "" {
		t.Errorf("second run summary (-want +got):\n%s\nstdout:\n%s", d, out)
	}
	if !strings.Contains(out, "policy allow: succeeded in ") || !strings.Contains(out, "unchanged") {
		t.Errorf("second run stdout:\n%s", out)
	}
	if g := e.generation(t); g != gen1 {
		t.Errorf("generation %d after an unchanged run, want %d", g, gen1)
	}

	// Fixing the pattern: Active, stored without the error, generation incremented.
	patch := []byte(`{"spec":{"scope":{"clusters":{"rules":[{"selector":{"matchPattern":"prod-.*"}}]}}}}`)
	if _, err := e.kube.Dynamic.Resource(kube.MonitorAccessPoliciesGVR).Namespace(ns).Patch(ctx, "bad-pattern", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	sum, _ = e.run(t)
	if sum.Failed != 0 || sum.Succeeded != 6 {
		t.Errorf("summary after fixing the pattern: %+v", sum)
	}
	if st := e.status(t, "bad-pattern"); st.State != "Active" || st.Message != "Policy is active" {
		t.Errorf("status after fixing the pattern: %+v", st)
	}
	if d := cmp.Diff([]string{"allow:Allow", "bad-pattern:Deny"}, sorted(e.policiesOf(t, policy.Principal{Username: "carol", Groups: []string{"devs"}}))); d != "" {
		t.Errorf("policies of devs after the fix (-want +got):\n%s", d)
	}
	gen2 := e.generation(t)
	if gen2 <= gen1 {
		t.Errorf("generation %d after a change, was %d: want it incremented", gen2, gen1)
	}

	// Deleting an object removes its policy on the next run.
	if err := e.kube.Dynamic.Resource(kube.MonitorAccessPoliciesGVR).Namespace(ns).Delete(ctx, "allow", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	sum, out = e.run(t)
	if sum.Deleted != 1 || sum.Attempted != 5 || !strings.Contains(out, "policy allow: deleted in ") {
		t.Errorf("run after deleting allow: %+v\n%s", sum, out)
	}
	if d := cmp.Diff([]string{"bad-pattern", "disabled", "expired", "future", "unknown-type"}, e.names(t)); d != "" {
		t.Errorf("stored policies after deleting allow (-want +got):\n%s", d)
	}
	if got := e.policiesOf(t, policy.Principal{Username: "system:serviceaccount:" + ns + ":bot"}); len(got) != 0 {
		t.Errorf("the service account still has policies %v", got)
	}
	if g := e.generation(t); g <= gen2 {
		t.Errorf("generation %d after a removal, was %d: want it incremented", g, gen2)
	}

	// Shards split the policies: together they attempt each once.
	total := 0
	for i := range 3 {
		s, _ := e.run(t, "--shard", strconv.Itoa(i)+"/3")
		total += s.Attempted
	}
	if total != 5 {
		t.Errorf("shards attempted %d policies together, want 5", total)
	}
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

// TestJobPolicyCannotRun checks the exit statuses and the summary line of a run that cannot
// start or cannot do its pass.
func TestJobPolicyCannotRun(t *testing.T) {
	e := newPolicyEnv(t)
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range e.env {
			m[a] = b
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		wantMsg  string
	}{
		{name: "ok", env: e.env},
		{name: "unknown flag", args: []string{"--bogus"}, env: e.env, wantCode: ExitUsage, wantMsg: "flag provided but not defined: -bogus"},
		{name: "bad concurrency", args: []string{"--concurrency", "0"}, env: e.env, wantCode: ExitUsage, wantMsg: "--concurrency must be at least 1"},
		{name: "redis down", env: with("REDIS_PORT", strconv.Itoa(testenv.FreePort(t))), wantCode: ExitCannotRun, wantMsg: "redis unusable"},
		{name: "no kubeconfig", env: with("KUBECONFIG", t.TempDir()+"/missing"), wantCode: ExitCannotRun, wantMsg: "hub API unusable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := Run(context.Background(), append([]string{"policy"}, tt.args...), envFunc(tt.env), &out, &errOut)
			if got := exitCode(err); got != tt.wantCode {
				t.Fatalf("exit code %d (%v), want %d\nstdout:\n%s", got, err, tt.wantCode, out.String())
			}
			if tt.wantMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.wantMsg)) {
				t.Errorf("error %v, want it to contain %q", err, tt.wantMsg)
			}
			if tt.wantCode == ExitCannotRun {
				if s := lastSummary(t, out.String()); !strings.Contains(s.Error, tt.wantMsg) {
					t.Errorf("summary error %q, want it to contain %q", s.Error, tt.wantMsg)
				}
			}
			if tt.wantCode == 0 {
				if d := cmp.Diff(Summary{Job: "policy"}, lastSummary(t, out.String()), ignoreDuration); d != "" {
					t.Errorf("summary of an empty namespace (-want +got):\n%s", d)
				}
			}
		})
	}
}

func TestPolicyStatusPatch(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c := &policy.Compiled{
		Users: []string{"a", "b"}, Groups: []string{"g"}, ServiceAccounts: []string{},
		CustomResourceTypes: []string{"pvcs"}, CompiledAt: "2030-01-02T03:04:05Z", Hash: "0123456789abcdef",
		Warnings: []string{"spec warning"},
	}
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{
			"state": "Active", "message": "Policy is active", "compiledAt": "2030-01-02T03:04:05Z",
			"hash": "0123456789abcdef", "affectedUsers": 2, "affectedGroups": 1, "affectedServiceAccounts": 0,
			"customResourceTypes": 1, "lastEvaluated": "2030-01-02T03:04:05Z",
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name            string
		c               *policy.Compiled
		missing, fields []string
		typesErr        error
		want            map[string]any
	}{
		{
			name: "no warnings clears both lists",
			c:    &policy.Compiled{Users: c.Users, Groups: c.Groups, ServiceAccounts: []string{}, CustomResourceTypes: c.CustomResourceTypes, CompiledAt: c.CompiledAt, Hash: c.Hash},
			want: base(map[string]any{"warnings": nil, "customResourceWarnings": nil}),
		},
		{
			name: "spec and field warnings, missing types", c: c,
			missing: []string{"no MetricSource provides resource type \"x\""}, fields: []string{"field warning"},
			want: base(map[string]any{"warnings": []string{"spec warning", "field warning"}, "customResourceWarnings": []string{"no MetricSource provides resource type \"x\""}}),
		},
		{
			name: "MetricSources not listed keeps customResourceWarnings", c: c, typesErr: errors.New("forbidden"),
			want: base(map[string]any{"warnings": []string{"spec warning", "custom resource types not checked: list MetricSources: forbidden"}}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := policyStatusPatch(tt.c, "Active", "Policy is active", now, tt.missing, tt.fields, tt.typesErr)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("patch (-want +got):\n%s", d)
			}
			if c.Warnings[0] != "spec warning" || len(c.Warnings) != 1 {
				t.Errorf("the compiled policy's warnings were modified: %v", c.Warnings)
			}
		})
	}
}

func TestLenientPolicy(t *testing.T) {
	tests := []struct {
		name string
		obj  map[string]any
		want kube.MonitorAccessPolicy
	}{
		{
			name: "identity and access read, bad scope ignored",
			obj: map[string]any{
				"metadata": map[string]any{"name": "p", "namespace": "ns"},
				"spec": map[string]any{
					"identity": map[string]any{"priority": int64(5), "subjects": map[string]any{"groups": []any{"g"}}},
					"access":   map[string]any{"effect": "Deny"},
					"scope":    "not an object",
				},
			},
			want: kube.MonitorAccessPolicy{
				ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
				Spec: kube.PolicySpec{
					Identity: kube.PolicyIdentity{Priority: 5, Subjects: kube.Subjects{Groups: []string{"g"}}},
					Access:   kube.PolicyAccess{Effect: "Deny"},
				},
			},
		},
		{
			name: "bad identity ignored, access read",
			obj: map[string]any{
				"metadata": map[string]any{"name": "p", "namespace": "ns"},
				"spec": map[string]any{
					"identity": map[string]any{"priority": "high"},
					"access":   map[string]any{"effect": "Allow"},
				},
			},
			want: kube.MonitorAccessPolicy{
				ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
				Spec:       kube.PolicySpec{Access: kube.PolicyAccess{Effect: "Allow"}},
			},
		},
		{
			name: "no spec",
			obj:  map[string]any{"metadata": map[string]any{"name": "p", "namespace": "ns"}},
			want: kube.MonitorAccessPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lenientPolicy(&unstructured.Unstructured{Object: tt.obj})
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("lenientPolicy (-want +got):\n%s", d)
			}
		})
	}
}
