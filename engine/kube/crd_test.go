package kube_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/yaml"

	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// TestCRDsMatchTypes regenerates the CRD manifests and the deepcopy methods from the Go types
// and fails when the committed files differ.
func TestCRDsMatchTypes(t *testing.T) {
	bin := filepath.Join(testenv.BinDir(t), "controller-gen")
	root := testenv.RepoRoot(t)
	crdDir, objDir := t.TempDir(), t.TempDir()
	cmd := exec.Command("bash", filepath.Join(root, "testenv/scripts/generate-crds.sh"), crdDir, objDir)
	cmd.Env = append(os.Environ(), "CONTROLLER_GEN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generate-crds.sh: %v\n%s", err, out)
	}

	const fix = "the generated files are out of date: run `make generate`"
	committed := yamlFiles(t, filepath.Join(root, "deploy/crds"))
	generated := yamlFiles(t, crdDir)
	if diff := cmp.Diff(generated, committed); diff != "" {
		t.Errorf("deploy/crds differs from the CRDs generated from engine/kube (-generated +committed); %s:\n%s", fix, diff)
	}
	wantObj, err := os.ReadFile(filepath.Join(objDir, "zz_generated.deepcopy.go"))
	if err != nil {
		t.Fatalf("read generated deepcopy: %v", err)
	}
	gotObj, err := os.ReadFile(filepath.Join(root, "engine/kube/zz_generated.deepcopy.go"))
	if err != nil {
		t.Fatalf("read committed deepcopy: %v", err)
	}
	if diff := cmp.Diff(string(wantObj), string(gotObj)); diff != "" {
		t.Errorf("engine/kube/zz_generated.deepcopy.go is stale (-generated +committed); %s:\n%s", fix, diff)
	}
}

// yamlFiles maps the base name of every *.yaml file in dir to its content.
func yamlFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatalf("list %s: %v", dir, err)
	}
	files := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		files[filepath.Base(p)] = string(b)
	}
	return files
}

// typedObject returns a new, empty Go value of the ClusterPulse kind.
func typedObject(kind string) (runtime.Object, bool) {
	switch kind {
	case "ClusterConnection":
		return &kube.ClusterConnection{}, true
	case "RegistryConnection":
		return &kube.RegistryConnection{}, true
	case "MetricSource":
		return &kube.MetricSource{}, true
	case "MonitorAccessPolicy":
		return &kube.MonitorAccessPolicy{}, true
	}
	return nil, false
}

// decodeStrict decodes a YAML manifest into the Go type of its kind, refusing unknown fields.
func decodeStrict(manifest []byte) (runtime.Object, error) {
	js, err := yaml.YAMLToJSON(manifest)
	if err != nil {
		return nil, err
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return nil, err
	}
	if tm.APIVersion != kube.GroupVersion.String() {
		return nil, fmt.Errorf("apiVersion %q is not %s", tm.APIVersion, kube.GroupVersion)
	}
	obj, ok := typedObject(tm.Kind)
	if !ok {
		return nil, fmt.Errorf("unknown kind %q", tm.Kind)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// exampleFiles returns the paths of deploy/examples/*.yaml.
func exampleFiles(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(testenv.RepoRoot(t), "deploy/examples/*.yaml"))
	if err != nil {
		t.Fatalf("list examples: %v", err)
	}
	sort.Strings(paths)
	return paths
}

// TestExamplesDecodeStrictly shows that every example uses only fields of the Go types, and
// that there is an example of every kind.
func TestExamplesDecodeStrictly(t *testing.T) {
	kinds := map[string]int{}
	for _, p := range exampleFiles(t) {
		t.Run(filepath.Base(p), func(t *testing.T) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			obj, err := decodeStrict(b)
			if err != nil {
				t.Fatalf("decode %s strictly: %v", p, err)
			}
			kind := obj.GetObjectKind().GroupVersionKind().Kind
			kinds[kind]++
			if ns := obj.(metav1.Object).GetNamespace(); ns != "clusterpulse" {
				t.Errorf("namespace = %q, want clusterpulse", ns)
			}
		})
	}
	for _, kind := range []string{"ClusterConnection", "RegistryConnection", "MetricSource", "MonitorAccessPolicy"} {
		if kinds[kind] == 0 {
			t.Errorf("deploy/examples has no %s", kind)
		}
	}

	// The strict decoder is what makes the check above worth anything.
	bad := []struct {
		name, manifest string
	}{
		{"unknown spec field", "apiVersion: clusterpulse.io/v1alpha1\nkind: ClusterConnection\nspec:\n  endpoint: x\n  insecure: true\n"},
		{"misspelt nested field", "apiVersion: clusterpulse.io/v1alpha1\nkind: MonitorAccessPolicy\nspec:\n  identity:\n    priorty: 5\n"},
		{"unknown kind", "apiVersion: clusterpulse.io/v1alpha1\nkind: Cluster\n"},
		{"other group", "apiVersion: clusterpulse.io/v1\nkind: ClusterConnection\n"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeStrict([]byte(tc.manifest)); err == nil {
				t.Errorf("decodeStrict accepted %q", tc.manifest)
			}
		})
	}
}

// Minimal valid objects of every kind; the apiserver test derives defaults and invalid
// variants from them.
const (
	minimalCC = `
apiVersion: clusterpulse.io/v1alpha1
kind: ClusterConnection
metadata: {name: minimal-cc}
spec:
  endpoint: https://api.minimal.example.com:6443
  credentialsRef: {name: minimal-credentials}
`
	minimalRC = `
apiVersion: clusterpulse.io/v1alpha1
kind: RegistryConnection
metadata: {name: minimal-rc}
spec:
  endpoint: registry.example.com
`
	minimalMS = `
apiVersion: clusterpulse.io/v1alpha1
kind: MetricSource
metadata: {name: minimal-ms}
spec:
  source: {apiVersion: v1, kind: ConfigMap}
  fields:
  - {name: size, path: .data.size, type: integer}
  computed:
  - {name: double, expression: size * 2}
  aggregations:
  - {name: total, function: count}
  - {name: p50, field: size, function: percentile, percentile: 50}
  rbac: {resourceTypeName: configmaps}
`
	minimalMAP = `
apiVersion: clusterpulse.io/v1alpha1
kind: MonitorAccessPolicy
metadata: {name: minimal-map}
spec:
  identity:
    subjects:
      serviceAccounts: [{name: dashboard}]
  access: {effect: Allow}
  scope:
    clusters:
      rules:
      - selector: {matchNames: [dev-*]}
        resources: [{type: nodes}]
`
	noScopeMAP = `
apiVersion: clusterpulse.io/v1alpha1
kind: MonitorAccessPolicy
metadata: {name: no-scope-map}
spec:
  access: {effect: Deny}
  identity: {subjects: {groups: [contractors]}}
`
)

// parseObject turns a YAML manifest into an unstructured object in namespace ns.
func parseObject(t *testing.T, manifest, ns string) *unstructured.Unstructured {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(manifest))
	if err != nil {
		t.Fatalf("yaml to json: %v", err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		t.Fatalf("parse object: %v", err)
	}
	u.SetNamespace(ns)
	return u
}

// gvrOf returns the resource of a ClusterPulse kind.
func gvrOf(t *testing.T, kind string) schema.GroupVersionResource {
	t.Helper()
	switch kind {
	case "ClusterConnection":
		return kube.ClusterConnectionsGVR
	case "RegistryConnection":
		return kube.RegistryConnectionsGVR
	case "MetricSource":
		return kube.MetricSourcesGVR
	case "MonitorAccessPolicy":
		return kube.MonitorAccessPoliciesGVR
	}
	t.Fatalf("unknown kind %q", kind)
	return schema.GroupVersionResource{}
}

// jsonValue round-trips v through JSON so that values from different decoders compare equal
// (all numbers become float64).
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return out
}

// missingIn lists the paths of the leaves of want that got lacks or holds with a different
// value, i.e. what the apiserver pruned or changed.
func missingIn(want, got any, path string) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{path}
		}
		var out []string
		for k, v := range w {
			out = append(out, missingIn(v, g[k], path+"."+k)...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{path}
		}
		var out []string
		for i := range w {
			out = append(out, missingIn(w[i], g[i], fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	default:
		if !cmp.Equal(want, got) {
			return []string{path}
		}
		return nil
	}
}

func ptr[T any](v T) *T { return &v }

// TestCRDsOnAPIServer installs the generated CRDs in the real kube-apiserver, creates every
// example and minimal objects (checking the defaults the apiserver fills in), and shows that
// the apiserver itself rejects invalid objects.
func TestCRDsOnAPIServer(t *testing.T) {
	k := testenv.NewKube(t)
	root := testenv.RepoRoot(t)
	testenv.InstallCRDs(t, filepath.Join(root, "deploy/crds"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// No namespace controller runs in the test apiserver: delete the objects explicitly so
	// they do not outlive the test namespace in etcd.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, gvr := range []schema.GroupVersionResource{kube.ClusterConnectionsGVR, kube.RegistryConnectionsGVR, kube.MetricSourcesGVR, kube.MonitorAccessPoliciesGVR} {
			if err := k.Dynamic.Resource(gvr).Namespace(k.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
				t.Logf("delete %s in %s: %v", gvr.Resource, k.Namespace, err)
			}
		}
	})

	t.Run("discovery", func(t *testing.T) {
		dc, err := discovery.NewDiscoveryClientForConfig(k.Config)
		if err != nil {
			t.Fatal(err)
		}
		var list *metav1.APIResourceList
		testenv.Eventually(t, 30*time.Second, func() error {
			list, err = dc.ServerResourcesForGroupVersion(kube.GroupVersion.String())
			return err
		})
		got := map[string][]string{}
		for _, r := range list.APIResources {
			if !r.Namespaced {
				t.Errorf("%s is not namespaced", r.Name)
			}
			got[r.Name] = r.ShortNames
		}
		want := map[string][]string{
			"clusterconnections":           {"cc"},
			"clusterconnections/status":    nil,
			"registryconnections":          {"rc", "regcon"},
			"registryconnections/status":   nil,
			"metricsources":                {"ms", "metricsrc"},
			"metricsources/status":         nil,
			"monitoraccesspolicies":        {"map", "policy"},
			"monitoraccesspolicies/status": nil,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("resources and short names (-want +got):\n%s", diff)
		}
	})

	t.Run("examples", func(t *testing.T) {
		for _, p := range exampleFiles(t) {
			t.Run(filepath.Base(p), func(t *testing.T) {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				u := parseObject(t, string(b), k.Namespace)
				r := k.Dynamic.Resource(gvrOf(t, u.GetKind())).Namespace(k.Namespace)
				if _, err := r.Create(ctx, u, metav1.CreateOptions{FieldValidation: "Strict"}); err != nil {
					t.Fatalf("create %s: %v", p, err)
				}
				got, err := r.Get(ctx, u.GetName(), metav1.GetOptions{})
				if err != nil {
					t.Fatalf("get %s: %v", u.GetName(), err)
				}
				if lost := missingIn(jsonValue(t, u.Object["spec"]), jsonValue(t, got.Object["spec"]), "spec"); len(lost) > 0 {
					sort.Strings(lost)
					t.Errorf("the apiserver pruned or changed %v", lost)
				}
			})
		}
	})

	t.Run("defaults", func(t *testing.T) {
		tests := []struct {
			name     string
			manifest string
			want     any // the spec after defaulting
		}{
			{"ClusterConnection", minimalCC, kube.ClusterConnectionSpec{
				Endpoint:       "https://api.minimal.example.com:6443",
				CredentialsRef: kube.CredentialsRef{Name: "minimal-credentials"},
				Monitoring:     kube.MonitoringConfig{Interval: 30, Timeout: 10},
				CollectionMode: "pull",
			}},
			{"RegistryConnection", minimalRC, kube.RegistryConnectionSpec{
				Endpoint:         "registry.example.com",
				Monitoring:       kube.RegistryMonitoring{Interval: 60, Timeout: 10, MaxCatalogEntries: 100},
				HealthCheckPaths: []string{"/v2/"},
			}},
			{"MetricSource", minimalMS, kube.MetricSourceSpec{
				Source:       kube.ResourceTarget{APIVersion: "v1", Kind: "ConfigMap", Scope: "Namespaced"},
				Fields:       []kube.FieldExtraction{{Name: "size", Path: ".data.size", Type: "integer"}},
				Computed:     []kube.ComputedField{{Name: "double", Expression: "size * 2", Type: "float"}},
				Aggregations: []kube.Aggregation{{Name: "total", Function: "count"}, {Name: "p50", Field: "size", Function: "percentile", Percentile: ptr[int32](50)}},
				Collection:   kube.CollectionConfig{IntervalSeconds: 60, TimeoutSeconds: 30, MaxResources: 5000, BatchSize: 500, RetryAttempts: 3, Parallelism: 3},
				RBAC:         kube.MetricSourceRBAC{ResourceTypeName: "configmaps", FilterAggregations: ptr(true)},
			}},
			{"MonitorAccessPolicy", minimalMAP, kube.PolicySpec{
				Identity: kube.PolicyIdentity{
					Subjects: kube.Subjects{ServiceAccounts: []kube.ServiceAccountRef{{Name: "dashboard", Namespace: "default"}}},
					Priority: 100,
				},
				Access: kube.PolicyAccess{Effect: "Allow", Enabled: ptr(true)},
				Scope: kube.PolicyScope{Clusters: kube.ClusterScope{Default: "none", Rules: []kube.ClusterRule{{
					Selector:  kube.ClusterSelector{MatchNames: []string{"dev-*"}},
					Resources: []kube.ResourceFilter{{Type: "nodes", Visibility: "all"}},
				}}}},
			}},
			{"MonitorAccessPolicy without scope", noScopeMAP, kube.PolicySpec{
				Identity: kube.PolicyIdentity{Subjects: kube.Subjects{Groups: []string{"contractors"}}, Priority: 100},
				Access:   kube.PolicyAccess{Effect: "Deny", Enabled: ptr(true)},
				Scope:    kube.PolicyScope{Clusters: kube.ClusterScope{Default: "none"}},
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				u := parseObject(t, tc.manifest, k.Namespace)
				r := k.Dynamic.Resource(gvrOf(t, u.GetKind())).Namespace(k.Namespace)
				if _, err := r.Create(ctx, u, metav1.CreateOptions{}); err != nil {
					t.Fatalf("create: %v", err)
				}
				got, err := r.Get(ctx, u.GetName(), metav1.GetOptions{})
				if err != nil {
					t.Fatalf("get: %v", err)
				}
				obj, _ := typedObject(u.GetKind())
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(got.Object, obj); err != nil {
					t.Fatalf("convert: %v", err)
				}
				var spec any
				switch o := obj.(type) {
				case *kube.ClusterConnection:
					spec = o.Spec
				case *kube.RegistryConnection:
					spec = o.Spec
				case *kube.MetricSource:
					spec = o.Spec
				case *kube.MonitorAccessPolicy:
					spec = o.Spec
				}
				if diff := cmp.Diff(tc.want, spec); diff != "" {
					t.Errorf("spec after defaulting (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("invalid", func(t *testing.T) {
		set := func(value any, path ...string) func(map[string]any) error {
			return func(o map[string]any) error { return unstructured.SetNestedField(o, value, path...) }
		}
		del := func(path ...string) func(map[string]any) error {
			return func(o map[string]any) error { unstructured.RemoveNestedField(o, path...); return nil }
		}
		// setIn sets a field of the i-th element of the list at path.
		setIn := func(i int, field string, value any, path ...string) func(map[string]any) error {
			return func(o map[string]any) error {
				list, _, err := unstructured.NestedSlice(o, path...)
				if err != nil {
					return err
				}
				list[i].(map[string]any)[field] = value
				return unstructured.SetNestedSlice(o, list, path...)
			}
		}
		tests := []struct {
			name      string
			manifest  string
			mutate    func(map[string]any) error
			wantField string // appears in the apiserver's message
		}{
			{"cluster without endpoint", minimalCC, del("spec", "endpoint"), "spec.endpoint"},
			{"cluster with empty endpoint", minimalCC, set("", "spec", "endpoint"), "spec.endpoint"},
			{"cluster without credentialsRef", minimalCC, del("spec", "credentialsRef"), "spec.credentialsRef"},
			{"cluster collectionMode poll", minimalCC, set("poll", "spec", "collectionMode"), "spec.collectionMode"},
			{"cluster interval 10", minimalCC, set(int64(10), "spec", "monitoring", "interval"), "spec.monitoring.interval"},
			{"cluster timeout 4", minimalCC, set(int64(4), "spec", "monitoring", "timeout"), "spec.monitoring.timeout"},
			{"registry without endpoint", minimalRC, del("spec", "endpoint"), "spec.endpoint"},
			{"registry interval 29", minimalRC, set(int64(29), "spec", "monitoring", "interval"), "spec.monitoring.interval"},
			{"policy priority 0", minimalMAP, set(int64(0), "spec", "identity", "priority"), "spec.identity.priority"},
			{"policy priority 10001", minimalMAP, set(int64(10001), "spec", "identity", "priority"), "spec.identity.priority"},
			{"policy effect Maybe", minimalMAP, set("Maybe", "spec", "access", "effect"), "spec.access.effect"},
			{"policy without effect", minimalMAP, del("spec", "access", "effect"), "spec.access.effect"},
			{"policy default maybe", minimalMAP, set("maybe", "spec", "scope", "clusters", "default"), "spec.scope.clusters.default"},
			{"policy visibility some", minimalMAP, func(o map[string]any) error {
				return unstructured.SetNestedSlice(o, []any{map[string]any{"resources": []any{map[string]any{"type": "pods", "visibility": "some"}}}}, "spec", "scope", "clusters", "rules")
			}, "visibility"},
			{"policy matchPattern of 257 characters", minimalMAP, func(o map[string]any) error {
				return unstructured.SetNestedSlice(o, []any{map[string]any{"selector": map[string]any{"matchPattern": strings.Repeat("a", 257)}}}, "spec", "scope", "clusters", "rules")
			}, "matchPattern"},
			{"metricsource field type bogus", minimalMS, setIn(0, "type", "bogus", "spec", "fields"), "type"},
			{"metricsource without fields", minimalMS, del("spec", "fields"), "spec.fields"},
			{"metricsource duplicate field names", minimalMS, func(o map[string]any) error {
				return unstructured.SetNestedSlice(o, []any{
					map[string]any{"name": "size", "path": ".a"}, map[string]any{"name": "size", "path": ".b"},
				}, "spec", "fields")
			}, "spec.fields"},
			{"metricsource computed named like a field", minimalMS, setIn(0, "name", "size", "spec", "computed"), "computed field names"},
			{"metricsource aggregation function median", minimalMS, setIn(0, "function", "median", "spec", "aggregations"), "function"},
			{"metricsource percentile 0", minimalMS, setIn(1, "percentile", int64(0), "spec", "aggregations"), "percentile"},
			{"metricsource percentile 101", minimalMS, setIn(1, "percentile", int64(101), "spec", "aggregations"), "percentile"},
			{"metricsource percentile function without percentile", minimalMS, func(o map[string]any) error {
				return unstructured.SetNestedSlice(o, []any{map[string]any{"name": "p", "field": "size", "function": "percentile"}}, "spec", "aggregations")
			}, "percentile is required"},
			{"metricsource sum without field", minimalMS, setIn(0, "function", "sum", "spec", "aggregations"), "field is required"},
			{"metricsource filter operator like", minimalMS, setIn(0, "filter", map[string]any{"field": "size", "operator": "like", "value": "1"}, "spec", "aggregations"), "operator"},
			{"metricsource intervalSeconds 5", minimalMS, set(int64(5), "spec", "collection", "intervalSeconds"), "spec.collection.intervalSeconds"},
			{"metricsource batchSize 9", minimalMS, set(int64(9), "spec", "collection", "batchSize"), "spec.collection.batchSize"},
			{"metricsource scope Global", minimalMS, set("Global", "spec", "source", "scope"), "spec.source.scope"},
			{"metricsource without resourceTypeName", minimalMS, del("spec", "rbac", "resourceTypeName"), "spec.rbac.resourceTypeName"},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				u := parseObject(t, tc.manifest, k.Namespace)
				u.SetName(fmt.Sprintf("%s-invalid-%d", u.GetName(), i))
				if err := tc.mutate(u.Object); err != nil {
					t.Fatalf("mutate: %v", err)
				}
				r := k.Dynamic.Resource(gvrOf(t, u.GetKind())).Namespace(k.Namespace)
				_, err := r.Create(ctx, u, metav1.CreateOptions{})
				if !apierrors.IsInvalid(err) {
					t.Fatalf("create: got error %v, want 422 Invalid", err)
				}
				if !strings.Contains(err.Error(), tc.wantField) {
					t.Errorf("error %q does not mention %q", err, tc.wantField)
				}
				if _, err := r.Get(ctx, u.GetName(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					t.Errorf("get after rejected create: got %v, want NotFound", err)
				}
			})
		}
	})

	// The limits themselves are accepted, so the rejections above come from the bounds.
	t.Run("limits", func(t *testing.T) {
		set := func(value any, path ...string) func(map[string]any) error {
			return func(o map[string]any) error { return unstructured.SetNestedField(o, value, path...) }
		}
		tests := []struct {
			name     string
			manifest string
			mutate   func(map[string]any) error
		}{
			{"policy priority 1", minimalMAP, set(int64(1), "spec", "identity", "priority")},
			{"policy priority 10000", minimalMAP, set(int64(10000), "spec", "identity", "priority")},
			{"policy matchPattern of 256 characters", minimalMAP, func(o map[string]any) error {
				return unstructured.SetNestedSlice(o, []any{map[string]any{"selector": map[string]any{"matchPattern": strings.Repeat("a", 256)}}}, "spec", "scope", "clusters", "rules")
			}},
			{"cluster interval 30 and timeout 5", minimalCC, func(o map[string]any) error {
				return unstructured.SetNestedMap(o, map[string]any{"interval": int64(30), "timeout": int64(5)}, "spec", "monitoring")
			}},
			{"cluster push with insecureSkipTLSVerify", minimalCC, func(o map[string]any) error {
				return unstructured.SetNestedMap(o, map[string]any{
					"endpoint": "https://10.0.0.1:6443", "credentialsRef": map[string]any{"name": "s", "namespace": "other"},
					"collectionMode": "push", "ingesterAddress": "ingester:443", "insecureSkipTLSVerify": true,
				}, "spec")
			}},
			{"metricsource percentile 1 and 100", minimalMS, func(o map[string]any) error {
				return unstructured.SetNestedSlice(o, []any{
					map[string]any{"name": "p1", "field": "size", "function": "percentile", "percentile": int64(1)},
					map[string]any{"name": "p100", "field": "double", "function": "percentile", "percentile": int64(100)},
				}, "spec", "aggregations")
			}},
			{"metricsource intervalSeconds 30", minimalMS, set(int64(30), "spec", "collection", "intervalSeconds")},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				u := parseObject(t, tc.manifest, k.Namespace)
				u.SetName(fmt.Sprintf("%s-limit-%d", u.GetName(), i))
				if err := tc.mutate(u.Object); err != nil {
					t.Fatalf("mutate: %v", err)
				}
				r := k.Dynamic.Resource(gvrOf(t, u.GetKind())).Namespace(k.Namespace)
				if _, err := r.Create(ctx, u, metav1.CreateOptions{FieldValidation: "Strict"}); err != nil {
					t.Fatalf("create: %v", err)
				}
			})
		}
	})
}
