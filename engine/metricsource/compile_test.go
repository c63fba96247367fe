package metricsource

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
)

// compileTestSource returns a valid MetricSource: PVC capacity and usage with computed fields
// and aggregations. Every compile test case mutates a fresh copy.
func compileTestSource() *kube.MetricSource {
	p95 := int32(95)
	ms := &kube.MetricSource{Spec: kube.MetricSourceSpec{
		Source: kube.ResourceTarget{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		Fields: []kube.FieldExtraction{
			{Name: "capacity", Path: ".status.capacity.storage", Type: "quantity"},
			{Name: "requested", Path: ".spec.resources.requests.storage", Type: "quantity"},
			{Name: "storageClass", Path: ".spec.storageClassName"},
			{Name: "phase", Path: ".status.phase"},
		},
		Computed: []kube.ComputedField{
			{Name: "capacityGi", Expression: "round(capacity / 1073741824, 1)", Type: "float"},
			{Name: "ratio", Expression: "requested / capacity * 100"},
		},
		Aggregations: []kube.Aggregation{
			{Name: "total", Function: "count"},
			{Name: "byClass", Field: "capacity", Function: "sum", GroupBy: "storageClass"},
			{Name: "p95", Field: "ratio", Function: "percentile", Percentile: &p95},
			{Name: "bound", Function: "count", Filter: &kube.AggregationFilter{Field: "phase", Operator: "equals", Value: "Bound"}},
			{Name: "byNamespace", Function: "count", GroupBy: "namespace"},
		},
		RBAC: kube.MetricSourceRBAC{ResourceTypeName: "pvc"},
	}}
	ms.Name, ms.Namespace = "pvc-usage", "monitoring"
	return ms
}

func TestCompileErrors(t *testing.T) {
	int32p := func(v int32) *int32 { return &v }
	strp := func(v string) *string { return &v }
	tests := []struct {
		name   string
		mutate func(ms *kube.MetricSource)
		want   []FieldError // Msg holds a substring of the expected message
	}{
		{"missing apiVersion", func(ms *kube.MetricSource) { ms.Spec.Source.APIVersion = "" },
			[]FieldError{{"spec.source.apiVersion", "required"}}},
		{"bad apiVersion", func(ms *kube.MetricSource) { ms.Spec.Source.APIVersion = "a/b/c" },
			[]FieldError{{"spec.source.apiVersion", "not \"v1\" or \"group/version\""}}},
		{"missing kind", func(ms *kube.MetricSource) { ms.Spec.Source.Kind = "" },
			[]FieldError{{"spec.source.kind", "required"}}},
		{"bad scope", func(ms *kube.MetricSource) { ms.Spec.Source.Scope = "Global" },
			[]FieldError{{"spec.source.scope", "not Namespaced or Cluster"}}},
		{"no fields", func(ms *kube.MetricSource) {
			ms.Spec.Fields, ms.Spec.Computed, ms.Spec.Aggregations = nil, nil, nil
		}, []FieldError{{"spec.fields", "at least one field"}}},
		{"empty field name", func(ms *kube.MetricSource) { ms.Spec.Fields[3].Name = "" },
			[]FieldError{{"spec.fields[3].name", "required"}, {"spec.aggregations[3].filter.field", `unknown field "phase"`}}},
		{"duplicate field name", func(ms *kube.MetricSource) { ms.Spec.Fields[3].Name = "capacity" },
			[]FieldError{{"spec.fields[3].name", `duplicate field name "capacity"`}, {"spec.aggregations[3].filter.field", `unknown field "phase"`}}},
		{"empty path", func(ms *kube.MetricSource) { ms.Spec.Fields[2].Path = "" },
			[]FieldError{{"spec.fields[2].path", "required"}}},
		{"path that does not parse", func(ms *kube.MetricSource) { ms.Spec.Fields[0].Path = ".status.capacity[storage" },
			[]FieldError{{"spec.fields[0].path", "position 17"}}},
		{"unknown field type", func(ms *kube.MetricSource) { ms.Spec.Fields[3].Type = "text" },
			[]FieldError{{"spec.fields[3].type", `unknown type "text"`}}},
		{"default that does not convert", func(ms *kube.MetricSource) { ms.Spec.Fields[0].Default = strp("lots") },
			[]FieldError{{"spec.fields[0].default", `default "lots"`}}},
		{"empty computed name", func(ms *kube.MetricSource) { ms.Spec.Computed[0].Name = "" },
			[]FieldError{{"spec.computed[0].name", "required"}}},
		{"computed name collides with a field", func(ms *kube.MetricSource) { ms.Spec.Computed[0].Name = "phase" },
			[]FieldError{{"spec.computed[0].name", `"phase" has the name of an extracted field`}}},
		{"duplicate computed name", func(ms *kube.MetricSource) { ms.Spec.Computed[1].Name = "capacityGi" },
			[]FieldError{{"spec.computed[1].name", `duplicate computed field name "capacityGi"`}, {"spec.aggregations[2].field", `unknown field "ratio"`}}},
		{"bad computed type", func(ms *kube.MetricSource) { ms.Spec.Computed[1].Type = "quantity" },
			[]FieldError{{"spec.computed[1].type", `unknown type "quantity"`}}},
		{"expression that does not parse", func(ms *kube.MetricSource) { ms.Spec.Computed[1].Expression = "requested = capacity" },
			[]FieldError{{"spec.computed[1].expression", "position 10"}}},
		{"unknown identifier", func(ms *kube.MetricSource) { ms.Spec.Computed[1].Expression = "used / capacity" },
			[]FieldError{{"spec.computed[1].expression", `unknown identifier "used"`}}},
		{"unknown function", func(ms *kube.MetricSource) { ms.Spec.Computed[1].Expression = "percent(requested, capacity)" },
			[]FieldError{{"spec.computed[1].expression", "percent"}}},
		{"wrong number of arguments", func(ms *kube.MetricSource) { ms.Spec.Computed[1].Expression = "round(requested, capacity, 2)" },
			[]FieldError{{"spec.computed[1].expression", "round"}}},
		{"dependency cycle", func(ms *kube.MetricSource) {
			ms.Spec.Computed = []kube.ComputedField{
				{Name: "a", Expression: "b + 1"},
				{Name: "b", Expression: "c * 2"},
				{Name: "c", Expression: "a - capacity"},
				{Name: "ratio", Expression: "capacity"},
			}
		}, []FieldError{{"spec.computed[0].expression", "dependency cycle among computed fields: a -> b -> c -> a"}}},
		{"self reference", func(ms *kube.MetricSource) { ms.Spec.Computed[1].Expression = "ratio + 1" },
			[]FieldError{{"spec.computed[1].expression", "ratio -> ratio"}}},
		{"aggregation on an unknown field", func(ms *kube.MetricSource) { ms.Spec.Aggregations[1].Field = "size" },
			[]FieldError{{"spec.aggregations[1].field", `unknown field "size"`}}},
		{"aggregation without field", func(ms *kube.MetricSource) { ms.Spec.Aggregations[1].Field = "" },
			[]FieldError{{"spec.aggregations[1].field", `required for function "sum"`}}},
		{"groupBy an unknown field", func(ms *kube.MetricSource) { ms.Spec.Aggregations[1].GroupBy = "class" },
			[]FieldError{{"spec.aggregations[1].groupBy", `unknown field "class"`}}},
		{"groupBy empty label key", func(ms *kube.MetricSource) { ms.Spec.Aggregations[1].GroupBy = "labels." },
			[]FieldError{{"spec.aggregations[1].groupBy", `unknown field "labels."`}}},
		{"unknown aggregation function", func(ms *kube.MetricSource) { ms.Spec.Aggregations[1].Function = "median" },
			[]FieldError{{"spec.aggregations[1].function", `unknown function "median"`}}},
		{"percentile missing", func(ms *kube.MetricSource) { ms.Spec.Aggregations[2].Percentile = nil },
			[]FieldError{{"spec.aggregations[2].percentile", "required"}}},
		{"percentile 0", func(ms *kube.MetricSource) { ms.Spec.Aggregations[2].Percentile = int32p(0) },
			[]FieldError{{"spec.aggregations[2].percentile", "percentile 0 is outside 1..100"}}},
		{"percentile 101", func(ms *kube.MetricSource) { ms.Spec.Aggregations[2].Percentile = int32p(101) },
			[]FieldError{{"spec.aggregations[2].percentile", "percentile 101 is outside 1..100"}}},
		{"bad regex in matches", func(ms *kube.MetricSource) {
			ms.Spec.Aggregations[3].Filter = &kube.AggregationFilter{Field: "storageClass", Operator: "matches", Value: "fast-(ssd"}
		}, []FieldError{{"spec.aggregations[3].filter.value", "bad regular expression"}}},
		{"unknown filter operator", func(ms *kube.MetricSource) { ms.Spec.Aggregations[3].Filter.Operator = "like" },
			[]FieldError{{"spec.aggregations[3].filter.operator", `unknown operator "like"`}}},
		{"filter on an unknown field", func(ms *kube.MetricSource) { ms.Spec.Aggregations[3].Filter.Field = "status" },
			[]FieldError{{"spec.aggregations[3].filter.field", `unknown field "status"`}}},
		{"duplicate aggregation name", func(ms *kube.MetricSource) { ms.Spec.Aggregations[4].Name = "total" },
			[]FieldError{{"spec.aggregations[4].name", `duplicate aggregation name "total"`}}},
		{"bad namespace patterns", func(ms *kube.MetricSource) {
			ms.Spec.Source.Namespaces = &kube.NamespaceSelector{Include: []string{"team-*", "Team_B"}, Exclude: []string{"", "kube-[a]"}}
		}, []FieldError{
			{"spec.source.namespaces.include[1]", `character 'T' at position 0`},
			{"spec.source.namespaces.exclude[0]", "empty namespace pattern"},
			{"spec.source.namespaces.exclude[1]", `character '['`},
		}},
		{"bad label selector", func(ms *kube.MetricSource) {
			ms.Spec.Source.LabelSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Near", Values: []string{"a"}}}}
		}, []FieldError{{"spec.source.labelSelector", "Near"}}},
		{"settings below minimum", func(ms *kube.MetricSource) {
			ms.Spec.Collection = kube.CollectionConfig{IntervalSeconds: 10, BatchSize: 5, RetryAttempts: -1}
		}, []FieldError{
			{"spec.collection.intervalSeconds", "10 is below the minimum 30"},
			{"spec.collection.batchSize", "5 is below the minimum 10"},
			{"spec.collection.retryAttempts", "-1 is below the minimum 0"},
		}},
		{"missing resource type name", func(ms *kube.MetricSource) { ms.Spec.RBAC.ResourceTypeName = "" },
			[]FieldError{{"spec.rbac.resourceTypeName", "required"}}},
		{"missing name", func(ms *kube.MetricSource) { ms.Name = "" },
			[]FieldError{{"metadata.name", "required"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := compileTestSource()
			tt.mutate(ms)
			c, err := Compile(ms)
			if err == nil {
				t.Fatalf("Compile() = %+v, want an error", c)
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile() error %v (%T) is not a *CompileError", err, err)
			}
			if !errors.Is(err, engine.ErrInvalid) {
				t.Errorf("Compile() error does not wrap engine.ErrInvalid")
			}
			var gotFields, wantFields []string
			for _, p := range ce.Problems {
				gotFields = append(gotFields, p.Field)
			}
			for _, p := range tt.want {
				wantFields = append(wantFields, p.Field)
			}
			if diff := cmp.Diff(wantFields, gotFields); diff != "" {
				t.Fatalf("problem fields (-want +got):\n%s\nerror: %v", diff, err)
			}
			for i, p := range tt.want {
				if !strings.Contains(ce.Problems[i].Msg, p.Msg) {
					t.Errorf("problem %s = %q, want it to contain %q", p.Field, ce.Problems[i].Msg, p.Msg)
				}
			}
		})
	}
}

func TestCompileListsEveryProblem(t *testing.T) {
	ms := compileTestSource()
	ms.Spec.Source.Kind = ""
	ms.Spec.Fields[1].Path = "spec..x"
	ms.Spec.Computed[0].Expression = "capacity $ 2"
	ms.Spec.Aggregations[0].Function = "mode"
	_, err := Compile(ms)
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("Compile() error = %v, want *CompileError", err)
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, p.Field)
	}
	want := []string{
		"spec.source.kind",
		"spec.fields[1].path",
		"spec.computed[0].expression",
		"spec.aggregations[0].function",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s\n%v", diff, err)
	}
}

func TestCompileValid(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ms := compileTestSource()
	ms.Spec.Source.APIVersion = "gateway.networking.k8s.io/v1"
	ms.Spec.Source.Kind = "Gateway"
	ms.Spec.Source.LabelSelector = &metav1.LabelSelector{
		MatchLabels:      map[string]string{"team": "a", "app": "web"},
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"gold", "silver"}}},
	}
	ms.Spec.Source.Namespaces = &kube.NamespaceSelector{Include: []string{"team-*"}, Exclude: []string{"team-tmp"}}
	c, err := CompileWithOptions(ms, Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	type view struct {
		Name, Namespace, ID string
		CompiledAt          time.Time
		GroupVersion        schema.GroupVersion
		Scope               string
		LabelSelector       string
		Collection          Collection
		RBAC                RBAC
		FieldNames          []string
		HashLen             int
	}
	got := view{c.Name, c.Namespace, c.ID, c.CompiledAt, c.GroupVersion, c.Scope, c.LabelSelector, c.Collection, c.RBAC, c.FieldNames(), len(c.Hash)}
	want := view{
		Name: "pvc-usage", Namespace: "monitoring", ID: "monitoring/pvc-usage",
		CompiledAt:    at,
		GroupVersion:  schema.GroupVersion{Group: "gateway.networking.k8s.io", Version: "v1"},
		Scope:         ScopeNamespaced,
		LabelSelector: "app=web,team=a,tier in (gold,silver)",
		Collection: Collection{Interval: 60 * time.Second, Timeout: 30 * time.Second, MaxResources: 5000,
			BatchSize: 500, RetryAttempts: 0, Parallelism: 3},
		RBAC:       RBAC{ResourceTypeName: "pvc", FilterAggregations: true},
		FieldNames: []string{"capacity", "requested", "storageClass", "phase", "capacityGi", "ratio"},
		HashLen:    16,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("compiled (-want +got):\n%s", diff)
	}
	var aggs []string
	for _, a := range c.Aggregators() {
		aggs = append(aggs, a.Name())
	}
	if diff := cmp.Diff([]string{"total", "byClass", "p95", "bound", "byNamespace"}, aggs); diff != "" {
		t.Errorf("aggregators (-want +got):\n%s", diff)
	}
	for ns, want := range map[string]bool{"team-a": true, "team-tmp": false, "default": false} {
		if got := c.Namespaces.Allows(ns); got != want {
			t.Errorf("Namespaces.Allows(%q) = %v, want %v", ns, got, want)
		}
	}
}

// TestCompileForwardReferences checks that computed fields may use each other in any order:
// the evaluation order follows the dependencies, not the spec order.
func TestCompileForwardReferences(t *testing.T) {
	ms := &kube.MetricSource{Spec: kube.MetricSourceSpec{
		Source: kube.ResourceTarget{APIVersion: "v1", Kind: "ConfigMap"},
		Fields: []kube.FieldExtraction{{Name: "n", Path: ".data.n", Type: "integer"}},
		Computed: []kube.ComputedField{
			{Name: "quadrupled", Expression: "doubled * 2"},
			{Name: "label", Expression: "concat('n=', quadrupled, '/', doubled)", Type: "string"},
			{Name: "doubled", Expression: "n * 2", Type: "integer"},
		},
		RBAC: kube.MetricSourceRBAC{ResourceTypeName: "cm"},
	}}
	ms.Name = "fwd"
	c, err := Compile(ms)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	var order []string
	for _, cf := range c.computed {
		order = append(order, cf.name)
	}
	if diff := cmp.Diff([]string{"doubled", "quadrupled", "label"}, order); diff != "" {
		t.Errorf("evaluation order (-want +got):\n%s", diff)
	}
	var p processor
	p.init(c)
	got := p.resource(map[string]any{
		"metadata": map[string]any{"name": "x", "namespace": "ns"},
		"data":     map[string]any{"n": "21"},
	})
	want := engine.CustomResource{ID: "ns/x", Namespace: "ns", Name: "x", Values: map[string]any{
		"n": 21.0, "doubled": 42.0, "quadrupled": 84.0, "label": "n=84/42",
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resource (-want +got):\n%s", diff)
	}
}

func TestCompileHash(t *testing.T) {
	build := func(mutate func(ms *kube.MetricSource)) string {
		t.Helper()
		ms := compileTestSource()
		if mutate != nil {
			mutate(ms)
		}
		c, err := Compile(ms)
		if err != nil {
			t.Fatalf("Compile: %v", err)
		}
		return c.Hash
	}
	base := build(nil)
	withLabels := func(keys ...string) func(ms *kube.MetricSource) {
		return func(ms *kube.MetricSource) {
			ms.Spec.Source.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{}}
			for _, k := range keys {
				ms.Spec.Source.LabelSelector.MatchLabels[k] = "v-" + k
			}
		}
	}
	tests := []struct {
		name   string
		mutate func(ms *kube.MetricSource)
		same   bool
	}{
		{"unchanged", func(ms *kube.MetricSource) {}, true},
		{"explicit defaults", func(ms *kube.MetricSource) {
			ms.Spec.Source.Scope = "Namespaced"
			ms.Spec.Fields[2].Type = "string"
			ms.Spec.Computed[1].Type = "float"
			ms.Spec.Collection = kube.CollectionConfig{IntervalSeconds: 60, TimeoutSeconds: 30, MaxResources: 5000, BatchSize: 500, Parallelism: 3}
		}, true},
		{"name and namespace are not spec", func(ms *kube.MetricSource) { ms.Name = "other" }, true},
		{"field path", func(ms *kube.MetricSource) { ms.Spec.Fields[0].Path = ".status.capacity['storage']" }, false},
		{"expression", func(ms *kube.MetricSource) { ms.Spec.Computed[0].Expression = "round(capacity / 1073741824, 2)" }, false},
		{"percentile", func(ms *kube.MetricSource) { p := int32(90); ms.Spec.Aggregations[2].Percentile = &p }, false},
		{"interval", func(ms *kube.MetricSource) { ms.Spec.Collection.IntervalSeconds = 120 }, false},
		{"label selector", withLabels("a"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := build(tt.mutate)
			if (got == base) != tt.same {
				t.Errorf("hash %s vs base %s: same = %v, want %v", got, base, got == base, tt.same)
			}
		})
	}
	t.Run("stable across map insertion order", func(t *testing.T) {
		keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
		want := build(withLabels(keys...))
		for i := 0; i < 20; i++ {
			rev := make([]string, len(keys))
			for j, k := range keys {
				rev[(j*5+i)%len(keys)] = k
			}
			if got := build(withLabels(rev...)); got != want {
				t.Fatalf("hash with insertion order %v = %s, want %s", rev, got, want)
			}
		}
	})
}

func TestCompiledJSONRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ms := compileTestSource()
	ms.Spec.Source.Namespaces = &kube.NamespaceSelector{Include: []string{"team-*"}}
	ms.Spec.Source.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}
	c, err := CompileWithOptions(ms, Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	// The original's top-level shape (reference §7.2) must be there for existing readers.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	var keys []string
	for k := range top {
		keys = append(keys, k)
	}
	wantKeys := []string{"aggregations", "collection", "compiledAt", "computed", "fields", "hash", "name", "namespace", "rbac", "source", "spec"}
	slices.Sort(keys)
	if diff := cmp.Diff(wantKeys, keys); diff != "" {
		t.Errorf("top-level keys (-want +got):\n%s", diff)
	}
	var src map[string]any
	if err := json.Unmarshal(top["source"], &src); err != nil {
		t.Fatalf("source: %v", err)
	}
	wantSrc := map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "scope": "Namespaced", "group": "", "version": "v1",
		"labelSelector": "app=db", "namespaces": map[string]any{"include": []any{"team-*"}}}
	if diff := cmp.Diff(wantSrc, src); diff != "" {
		t.Errorf("source (-want +got):\n%s", diff)
	}

	loaded, err := Load(data)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	type view struct {
		ID, Hash      string
		CompiledAt    time.Time
		LabelSelector string
		Collection    Collection
		RBAC          RBAC
		Names         []string
	}
	want := view{c.ID, c.Hash, c.CompiledAt, c.LabelSelector, c.Collection, c.RBAC, c.FieldNames()}
	got := view{loaded.ID, loaded.Hash, loaded.CompiledAt, loaded.LabelSelector, loaded.Collection, loaded.RBAC, loaded.FieldNames()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("loaded (-want +got):\n%s", diff)
	}
	again, err := json.Marshal(loaded)
	if err != nil {
		t.Fatalf("marshal loaded: %v", err)
	}
	if diff := cmp.Diff(string(data), string(again)); diff != "" {
		t.Errorf("stored form changed after Load (-first +second):\n%s", diff)
	}

	for _, bad := range []string{`{`, `{"name":"x"}`, `{"name":"x","spec":{"source":{}}}`} {
		if _, err := Load([]byte(bad)); !errors.Is(err, engine.ErrInvalid) {
			t.Errorf("Load(%s) error = %v, want ErrInvalid", bad, err)
		}
	}
}
