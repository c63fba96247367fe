package jobs

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/collect"
	"github.com/clusterpulse/clusterpulse/engine/kube"
)

// grantsSecrets reports whether a rule lets its subject read Secrets (directly or through a
// wildcard).
func grantsSecrets(rules []rbacv1.PolicyRule) bool {
	for _, r := range rules {
		group := slices.Contains(r.APIGroups, "") || slices.Contains(r.APIGroups, "*")
		res := slices.Contains(r.Resources, "secrets") || slices.Contains(r.Resources, "*")
		if group && res {
			return true
		}
	}
	return false
}

func TestCollectorRules(t *testing.T) {
	base := collect.PolicyRules()
	tests := []struct {
		name  string
		extra []schema.GroupResource
		want  []rbacv1.PolicyRule
	}{
		{name: "no MetricSource", want: base},
		{
			name: "merged per group, sorted, deduplicated, Secrets and empty resources left out",
			extra: []schema.GroupResource{
				{Group: "cert-manager.io", Resource: "certificates"},
				{Group: "", Resource: "persistentvolumeclaims"},
				{Group: "", Resource: "secrets"},
				{Group: "cert-manager.io", Resource: "certificates"},
				{Group: "cert-manager.io", Resource: "issuers"},
				{Group: "apps", Resource: ""},
			},
			want: append(slices.Clone(base),
				rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"persistentvolumeclaims"}, Verbs: []string{"get", "list"}},
				rbacv1.PolicyRule{APIGroups: []string{"cert-manager.io"}, Resources: []string{"certificates", "issuers"}, Verbs: []string{"get", "list"}},
			),
		},
		{
			name:  "only Secrets",
			extra: []schema.GroupResource{{Group: "", Resource: "secrets"}},
			want:  base,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := collectorRules(tt.extra)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rules mismatch (-want +got):\n%s", diff)
			}
			if grantsSecrets(got) {
				t.Errorf("rules grant Secrets: %+v", got)
			}
			for _, r := range got {
				for _, v := range r.Verbs {
					if v != "get" && v != "list" {
						t.Errorf("rule %+v has verb %q: the collector only reads", r, v)
					}
				}
			}
		})
	}
}

func TestApplyRules(t *testing.T) {
	rules := collectorRules([]schema.GroupResource{{Group: "x.io", Resource: "things"}})
	got := applyRules(rules)
	if len(got) != len(rules) {
		t.Fatalf("%d apply rules, want %d", len(got), len(rules))
	}
	for i, r := range rules {
		back := rbacv1.PolicyRule{Verbs: got[i].Verbs, APIGroups: got[i].APIGroups, Resources: got[i].Resources,
			ResourceNames: got[i].ResourceNames, NonResourceURLs: got[i].NonResourceURLs}
		if diff := cmp.Diff(r, back); diff != "" {
			t.Errorf("rule %d mismatch (-want +got):\n%s", i, diff)
		}
	}
}

func TestCollectorVersion(t *testing.T) {
	tests := []struct {
		name, spec, build, want string
	}{
		{"spec wins", " v2.0.1 ", "v1.0.0", "v2.0.1"},
		{"build version", "", "v1.0.0", "v1.0.0"},
		{"dev build", "", "dev", "latest"},
		{"unset build", "", "", "latest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := engine.Version
			engine.Version = tt.build
			t.Cleanup(func() { engine.Version = old })
			if got := collectorVersion(tt.spec); got != tt.want {
				t.Errorf("collectorVersion(%q) with build %q = %q, want %q", tt.spec, tt.build, got, tt.want)
			}
		})
	}
}

func TestLabelValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"v1.2.3", "v1.2.3"},
		{"v1.2.3+build.7", "v1.2.3_build.7"},
		{"-x-", "x"},
		{strings.Repeat("a", 70), strings.Repeat("a", 63)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := labelValue(tt.in); got != tt.want {
				t.Errorf("labelValue(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCollectorEnvValidate(t *testing.T) {
	good := collectorEnv{Namespace: DefaultCollectorNamespace, Name: DefaultCollectorName, Image: DefaultCollectorImage}
	tests := []struct {
		name    string
		mutate  func(*collectorEnv)
		wantErr string
	}{
		{name: "defaults", mutate: func(*collectorEnv) {}},
		{name: "bad namespace", mutate: func(e *collectorEnv) { e.Namespace = "Cluster_Pulse" }, wantErr: "COLLECTOR_NAMESPACE"},
		{name: "empty name", mutate: func(e *collectorEnv) { e.Name = "" }, wantErr: "COLLECTOR_NAME"},
		{name: "digest in image", mutate: func(e *collectorEnv) { e.Image = "quay.io/x@sha256:ab" }, wantErr: "COLLECTOR_IMAGE"},
		{name: "empty image", mutate: func(e *collectorEnv) { e.Image = " " }, wantErr: "COLLECTOR_IMAGE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := good
			tt.mutate(&e)
			err := e.validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("validate() = %v, want an error naming %s", err, tt.wantErr)
			}
		})
	}
}

func TestInstallHash(t *testing.T) {
	in := &installer{env: collectorEnv{Namespace: "ns", Name: "c", Image: "img"}}
	cc := func(mut func(*kube.ClusterConnection)) *kube.ClusterConnection {
		c := &kube.ClusterConnection{Spec: kube.ClusterConnectionSpec{Endpoint: "https://a:6443", IngesterAddress: "ing:9443", CollectorVersion: "v1"}}
		c.Name = "prod"
		mut(c)
		return c
	}
	base := in.hash(cc(func(*kube.ClusterConnection) {}), 3)
	if again := in.hash(cc(func(*kube.ClusterConnection) {}), 3); again != base {
		t.Fatalf("hash not stable: %s != %s", again, base)
	}
	changes := []struct {
		name string
		hash string
	}{
		{"collector version", in.hash(cc(func(c *kube.ClusterConnection) { c.Spec.CollectorVersion = "v2" }), 3)},
		{"ingester address", in.hash(cc(func(c *kube.ClusterConnection) { c.Spec.IngesterAddress = "other:9443" }), 3)},
		{"endpoint", in.hash(cc(func(c *kube.ClusterConnection) { c.Spec.Endpoint = "https://b:6443" }), 3)},
		{"MetricSource version", in.hash(cc(func(*kube.ClusterConnection) {}), 4)},
		{"cluster name", in.hash(cc(func(c *kube.ClusterConnection) { c.Name = "dev" }), 3)},
		{"image", (&installer{env: collectorEnv{Namespace: "ns", Name: "c", Image: "img2"}}).hash(cc(func(*kube.ClusterConnection) {}), 3)},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			if c.hash == base {
				t.Errorf("a change of the %s leaves the install hash unchanged", c.name)
			}
		})
	}
}
