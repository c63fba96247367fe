package jobs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
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
	good := collectorEnv{Namespace: DefaultCollectorNamespace, Name: DefaultCollectorName, Image: DefaultCollectorImage,
		ServiceName: DefaultIngesterServiceName, CAConfigMap: DefaultCollectorCAConfigMap, CAKey: DefaultCollectorCAKey}
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
		{name: "TLS defaults", mutate: func(e *collectorEnv) { e.TLS = true }},
		{name: "TLS settings unchecked without TLS", mutate: func(e *collectorEnv) { e.ServiceName, e.CAKey = "Bad Name", "a/b" }},
		{name: "TLS bad service name", mutate: func(e *collectorEnv) { e.TLS, e.ServiceName = true, "ingester.svc" }, wantErr: "INGESTER_SERVICE_NAME"},
		{name: "TLS server name replaces the service name", mutate: func(e *collectorEnv) {
			e.TLS, e.ServiceName, e.TLSServerName = true, "", "ingester.example.com"
		}},
		{name: "TLS bad server name", mutate: func(e *collectorEnv) { e.TLS, e.TLSServerName = true, "https://x" }, wantErr: "COLLECTOR_INGESTER_TLS_SERVER_NAME"},
		{name: "TLS bad CA config map", mutate: func(e *collectorEnv) { e.TLS, e.CAConfigMap = true, "" }, wantErr: "COLLECTOR_CA_CONFIGMAP"},
		{name: "TLS bad CA namespace", mutate: func(e *collectorEnv) { e.TLS, e.CANamespace = true, "Hub_NS" }, wantErr: "COLLECTOR_CA_NAMESPACE"},
		{name: "TLS bad CA key", mutate: func(e *collectorEnv) { e.TLS, e.CAKey = true, "a/b" }, wantErr: "COLLECTOR_CA_KEY"},
		{name: "TLS system CA: no CA settings needed", mutate: func(e *collectorEnv) {
			e.TLS, e.UseSystemCA, e.CAConfigMap, e.CAKey = true, true, "", ""
		}},
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
	same := func(*kube.ClusterConnection) {}
	base := in.hash(cc(same), 3, collectorTLS{})
	if again := in.hash(cc(same), 3, collectorTLS{}); again != base {
		t.Fatalf("hash not stable: %s != %s", again, base)
	}
	// Without TLS the hash is the one installs recorded before the TLS settings existed, so
	// upgrading job pull re-applies nothing.
	old, _ := json.Marshal([]any{installRevision, "prod", "ns", "c", "img", "v1", "ing:9443", "https://a:6443", int64(3)})
	sum := sha256.Sum256(old)
	if want := hex.EncodeToString(sum[:]); base != want {
		t.Errorf("hash without TLS = %s, want the pre-TLS hash %s", base, want)
	}
	tlsCA := collectorTLS{enabled: true, serverName: "clusterpulse-ingester.hub.svc", ca: "CA1"}
	withCA := in.hash(cc(same), 3, tlsCA)
	changes := []struct {
		name       string
		hash, from string
	}{
		{"collector version", in.hash(cc(func(c *kube.ClusterConnection) { c.Spec.CollectorVersion = "v2" }), 3, collectorTLS{}), base},
		{"ingester address", in.hash(cc(func(c *kube.ClusterConnection) { c.Spec.IngesterAddress = "other:9443" }), 3, collectorTLS{}), base},
		{"endpoint", in.hash(cc(func(c *kube.ClusterConnection) { c.Spec.Endpoint = "https://b:6443" }), 3, collectorTLS{}), base},
		{"MetricSource version", in.hash(cc(same), 4, collectorTLS{}), base},
		{"cluster name", in.hash(cc(func(c *kube.ClusterConnection) { c.Name = "dev" }), 3, collectorTLS{}), base},
		{"image", (&installer{env: collectorEnv{Namespace: "ns", Name: "c", Image: "img2"}}).hash(cc(same), 3, collectorTLS{}), base},
		{"TLS enabled", withCA, base},
		{"TLS with the system roots", in.hash(cc(same), 3, collectorTLS{enabled: true, serverName: tlsCA.serverName}), withCA},
		{"TLS server name", in.hash(cc(same), 3, collectorTLS{enabled: true, serverName: "other.hub.svc", ca: "CA1"}), withCA},
		{"CA bundle", in.hash(cc(same), 3, collectorTLS{enabled: true, serverName: tlsCA.serverName, ca: "CA2"}), withCA},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			if c.hash == c.from {
				t.Errorf("a change of the %s leaves the install hash unchanged", c.name)
			}
		})
	}
}

func TestTLSEnv(t *testing.T) {
	env := func(tc collectorTLS) []corev1.EnvVar {
		var out []corev1.EnvVar
		for _, e := range tlsEnv(tc) {
			out = append(out, corev1.EnvVar{Name: *e.Name, Value: *e.Value})
		}
		return out
	}
	tests := []struct {
		name string
		tc   collectorTLS
		want []corev1.EnvVar
	}{
		{name: "no TLS"},
		{
			name: "system roots",
			tc:   collectorTLS{enabled: true, serverName: "clusterpulse-ingester.hub.svc"},
			want: []corev1.EnvVar{{Name: "INGESTER_TLS_ENABLED", Value: "true"}, {Name: "INGESTER_TLS_SERVER_NAME", Value: "clusterpulse-ingester.hub.svc"}},
		},
		{
			name: "CA bundle",
			tc:   collectorTLS{enabled: true, serverName: "clusterpulse-ingester.hub.svc", ca: "PEM"},
			want: []corev1.EnvVar{{Name: "INGESTER_TLS_ENABLED", Value: "true"}, {Name: "INGESTER_TLS_SERVER_NAME", Value: "clusterpulse-ingester.hub.svc"},
				{Name: "INGESTER_TLS_CA", Value: "/etc/ingester-ca/service-ca.crt"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, env(tt.tc)); diff != "" {
				t.Errorf("TLS env mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
