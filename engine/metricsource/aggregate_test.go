package metricsource

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
)

// pvcItems are collected PVCs: size in bytes, storage class, phase, plus a few odd values.
func pvcItems() []engine.CustomResource {
	type pvc struct {
		ns, name, class, phase string
		size                   any
		labels                 map[string]string
	}
	pvcs := []pvc{
		{"shop", "db-0", "fast", "Bound", 10.0, map[string]string{"app": "db"}},
		{"shop", "db-1", "fast", "Bound", 20.0, map[string]string{"app": "db"}},
		{"shop", "cache", "slow", "Pending", 5.0, nil},
		{"blog", "uploads", "slow", "Bound", 40.0, map[string]string{"app": "blog"}},
		{"blog", "tmp", "", "Bound", nil, nil},
		{"blog", "weird", "fast", "Lost", "30", nil}, // a numeric string is not a number
	}
	var items []engine.CustomResource
	for _, p := range pvcs {
		values := map[string]any{"size": p.size, "phase": p.phase}
		if p.class != "" {
			values["class"] = p.class
		}
		items = append(items, engine.CustomResource{
			ID: p.ns + "/" + p.name, Namespace: p.ns, Name: p.name, Labels: p.labels, Values: values,
		})
	}
	return items
}

func percentileP(p int32) *int32 { return &p }

func TestAggregatorCompute(t *testing.T) {
	tests := []struct {
		name string
		agg  kube.Aggregation
		want any
	}{
		{"count", kube.Aggregation{Function: "count"}, 6.0},
		{"count ignores the field", kube.Aggregation{Function: "count", Field: "nope"}, 6.0},
		{"count with filter", kube.Aggregation{Function: "count", Filter: &kube.AggregationFilter{Field: "phase", Operator: "equals", Value: "Bound"}}, 4.0},
		{"sum numbers only", kube.Aggregation{Function: "sum", Field: "size"}, 75.0},
		{"avg numbers only", kube.Aggregation{Function: "avg", Field: "size"}, 18.75},
		{"min", kube.Aggregation{Function: "min", Field: "size"}, 5.0},
		{"max", kube.Aggregation{Function: "max", Field: "size"}, 40.0},
		{"min of strings", kube.Aggregation{Function: "min", Field: "phase"}, "Bound"},
		{"max of strings", kube.Aggregation{Function: "max", Field: "phase"}, "Pending"},
		{"max of names", kube.Aggregation{Function: "max", Field: "name"}, "weird"},
		{"percentile p50 interpolates", kube.Aggregation{Function: "percentile", Field: "size", Percentile: percentileP(50)}, 15.0},
		{"percentile p100", kube.Aggregation{Function: "percentile", Field: "size", Percentile: percentileP(100)}, 40.0},
		{"distinct strings", kube.Aggregation{Function: "distinct", Field: "class"}, 2.0},
		{"distinct namespaces", kube.Aggregation{Function: "distinct", Field: "namespace"}, 2.0},
		{"distinct label", kube.Aggregation{Function: "distinct", Field: "labels.app"}, 2.0},
		{"sum with filter", kube.Aggregation{Function: "sum", Field: "size", Filter: &kube.AggregationFilter{Field: "class", Operator: "equals", Value: "fast"}}, 30.0},
		{"sum with label filter", kube.Aggregation{Function: "sum", Field: "size", Filter: &kube.AggregationFilter{Field: "labels.app", Operator: "equals", Value: "db"}}, 30.0},
		{"sum filtered to nothing is 0", kube.Aggregation{Function: "sum", Field: "size", Filter: &kube.AggregationFilter{Field: "phase", Operator: "equals", Value: "Gone"}}, 0.0},
		{"avg filtered to nothing is null", kube.Aggregation{Function: "avg", Field: "size", Filter: &kube.AggregationFilter{Field: "phase", Operator: "equals", Value: "Gone"}}, nil},
		{"avg of only non-numbers is null", kube.Aggregation{Function: "avg", Field: "phase"}, nil},
		{"min of a missing field is null", kube.Aggregation{Function: "min", Field: "nope"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.agg.Name = "a"
			a, err := NewAggregator(tt.agg)
			if err != nil {
				t.Fatalf("NewAggregator: %v", err)
			}
			got := a.Compute(pvcItems())
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Compute (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAggregatorGrouped(t *testing.T) {
	tests := []struct {
		name string
		agg  kube.Aggregation
		want any
	}{
		{"count by class, missing is _unknown_", kube.Aggregation{Function: "count", GroupBy: "class"},
			map[string]any{"fast": 3.0, "slow": 2.0, "_unknown_": 1.0}},
		{"sum by namespace", kube.Aggregation{Function: "sum", Field: "size", GroupBy: "namespace"},
			map[string]any{"shop": 35.0, "blog": 40.0}},
		{"avg by class, group with no numbers is null", kube.Aggregation{Function: "avg", Field: "size", GroupBy: "class"},
			map[string]any{"fast": 15.0, "slow": 22.5, "_unknown_": nil}},
		{"count by name", kube.Aggregation{Function: "count", GroupBy: "name", Filter: &kube.AggregationFilter{Field: "namespace", Operator: "equals", Value: "shop"}},
			map[string]any{"db-0": 1.0, "db-1": 1.0, "cache": 1.0}},
		{"count by label", kube.Aggregation{Function: "count", GroupBy: "labels.app"},
			map[string]any{"db": 2.0, "blog": 1.0, "_unknown_": 3.0}},
		{"only groups with a passing resource", kube.Aggregation{Function: "count", GroupBy: "class", Filter: &kube.AggregationFilter{Field: "phase", Operator: "equals", Value: "Pending"}},
			map[string]any{"slow": 1.0}},
		{"nothing passes gives {}", kube.Aggregation{Function: "sum", Field: "size", GroupBy: "class", Filter: &kube.AggregationFilter{Field: "phase", Operator: "equals", Value: "Gone"}},
			map[string]any{}},
		{"grouped percentile honours p", kube.Aggregation{Function: "percentile", Field: "size", GroupBy: "namespace", Percentile: percentileP(90)},
			map[string]any{"shop": 18.0, "blog": 40.0}},
		{"grouped min of strings", kube.Aggregation{Function: "min", Field: "phase", GroupBy: "namespace"},
			map[string]any{"shop": "Bound", "blog": "Bound"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.agg.Name = "a"
			a, err := NewAggregator(tt.agg)
			if err != nil {
				t.Fatalf("NewAggregator: %v", err)
			}
			got := a.Compute(pvcItems())
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Compute (-want +got):\n%s", diff)
			}
		})
	}
}

// valueItems builds one resource per value of field "v" (nil means the field is absent).
func valueItems(values ...any) []engine.CustomResource {
	items := make([]engine.CustomResource, len(values))
	for i, v := range values {
		vals := map[string]any{}
		if v != nil {
			vals["v"] = v
		}
		items[i] = engine.CustomResource{ID: "ns/r", Namespace: "ns", Name: "r", Values: vals}
	}
	return items
}

func TestGroupKeyFormatting(t *testing.T) {
	tests := []struct {
		name  string
		value any
		want  string
	}{
		{"integral float is not a rune (regression: 65 gave \"A\")", 65.0, "65"},
		{"fraction", 2.5, "2.5"},
		{"int64 is not _unknown_ (regression)", int64(65), "65"},
		{"large integral never in exponent form", 1e21, "1000000000000000000000"},
		{"bool true (regression: gave _unknown_)", true, "true"},
		{"bool false", false, "false"},
		{"string as is", "fast", "fast"},
		{"empty string", "", ""},
		{"missing", nil, "_unknown_"},
		{"list is treated as missing", []any{1}, "_unknown_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := NewAggregator(kube.Aggregation{Name: "a", Function: "count", GroupBy: "v"})
			if err != nil {
				t.Fatal(err)
			}
			got := a.Compute(valueItems(tt.value))
			want := map[string]any{tt.want: 1.0}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Compute (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAggregatorEmptyInput(t *testing.T) {
	tests := []struct {
		function string
		want     any
	}{
		{"count", 0.0}, {"sum", 0.0}, {"distinct", 0.0},
		{"avg", nil}, {"min", nil}, {"max", nil}, {"percentile", nil},
	}
	for _, tt := range tests {
		t.Run(tt.function, func(t *testing.T) {
			spec := kube.Aggregation{Name: "a", Field: "v", Function: tt.function, Percentile: percentileP(50)}
			a, err := NewAggregator(spec)
			if err != nil {
				t.Fatal(err)
			}
			for _, items := range [][]engine.CustomResource{nil, {}} {
				if diff := cmp.Diff(tt.want, a.Compute(items)); diff != "" {
					t.Errorf("Compute(%#v) (-want +got):\n%s", items, diff)
				}
			}
			spec.GroupBy = "namespace"
			g, err := NewAggregator(spec)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(map[string]any{}, g.Compute(nil)); diff != "" {
				t.Errorf("grouped Compute(nil) (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAggregatorValueKinds(t *testing.T) {
	tests := []struct {
		name     string
		function string
		values   []any
		want     any
	}{
		{"distinct 1 and 1.0 are one (regression)", "distinct", []any{1.0, int64(1), 1}, 1.0},
		{"distinct -0 and 0 are one", "distinct", []any{0.0, math.Copysign(0, -1)}, 1.0},
		{"distinct kinds stay apart", "distinct", []any{1.0, "1", true, "true", false, 0.0}, 6.0},
		{"distinct ignores missing", "distinct", []any{nil, "a", nil, "a"}, 1.0},
		{"sum over int64 and float64", "sum", []any{int64(2), 0.5, json.Number("1.5")}, 4.0},
		{"sum ignores bools and numeric strings", "sum", []any{true, "3", 1.0}, 1.0},
		{"sum overflow is null, not +Inf", "sum", []any{math.MaxFloat64, math.MaxFloat64}, nil},
		{"avg overflow is null", "avg", []any{math.MaxFloat64, math.MaxFloat64}, nil},
		{"sum of -0 is 0", "sum", []any{math.Copysign(0, -1)}, 0.0},
		{"NaN values are treated as missing", "avg", []any{math.NaN(), 4.0}, 4.0},
		{"min with mixed strings and numbers uses numbers", "min", []any{"a", 3.0, 2.0}, 2.0},
		{"max with strings and bools has no numbers", "max", []any{"a", true}, nil},
		{"min of strings in code-point order", "min", []any{"b", "B", "ä", "a"}, "B"},
		{"max of strings in code-point order", "max", []any{"b", "B", "ä", "a"}, "ä"},
		{"min of numeric strings is lexical", "min", []any{"9", "10"}, "10"},
		{"percentile ignores non-numbers", "percentile", []any{"x", 1.0, 3.0}, 2.0},
		{"percentile of only strings is null", "percentile", []any{"x"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := NewAggregator(kube.Aggregation{Name: "a", Field: "v", Function: tt.function, Percentile: percentileP(50)})
			if err != nil {
				t.Fatal(err)
			}
			got := a.Compute(valueItems(tt.values...))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Compute (-want +got):\n%s", diff)
			}
			if f, ok := got.(float64); ok && math.Signbit(f) {
				t.Errorf("Compute returned negative zero or negative %v", f)
			}
		})
	}
}

// TestPercentileRegressions pins the original's percentile bugs: p defaulted to 0 on the
// collector and 95 (without interpolation) in the API.
func TestPercentileRegressions(t *testing.T) {
	items := valueItems(1.0, 2.0, 3.0, 4.0)
	a, err := NewAggregator(kube.Aggregation{Name: "p50", Field: "v", Function: "percentile", Percentile: percentileP(50)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(any(2.5), a.Compute(items)); diff != "" {
		t.Errorf("p50 of 1..4 (-want +got):\n%s", diff)
	}
	if _, err := NewAggregator(kube.Aggregation{Name: "p", Field: "v", Function: "percentile"}); err == nil {
		t.Errorf("percentile without percentile compiled; the original silently used p0 or p95")
	}
}

func TestNewAggregatorErrors(t *testing.T) {
	tests := []struct {
		name string
		agg  kube.Aggregation
		want string
	}{
		{"empty name", kube.Aggregation{Function: "count"}, "empty name"},
		{"unknown function", kube.Aggregation{Name: "a", Field: "v", Function: "median"}, `unknown function "median"`},
		{"empty function", kube.Aggregation{Name: "a", Field: "v"}, `unknown function ""`},
		{"sum needs a field", kube.Aggregation{Name: "a", Function: "sum"}, "needs a field"},
		{"distinct needs a field", kube.Aggregation{Name: "a", Function: "distinct"}, "needs a field"},
		{"percentile missing", kube.Aggregation{Name: "a", Field: "v", Function: "percentile"}, "needs percentile"},
		{"percentile 0", kube.Aggregation{Name: "a", Field: "v", Function: "percentile", Percentile: percentileP(0)}, "percentile 0 is outside 1..100"},
		{"percentile 101", kube.Aggregation{Name: "a", Field: "v", Function: "percentile", Percentile: percentileP(101)}, "percentile 101 is outside 1..100"},
		{"unknown operator", kube.Aggregation{Name: "a", Function: "count", Filter: &kube.AggregationFilter{Field: "v", Operator: "gt", Value: "1"}}, `unknown operator "gt"`},
		{"bad regex", kube.Aggregation{Name: "a", Function: "count", Filter: &kube.AggregationFilter{Field: "v", Operator: "matches", Value: "[a"}}, "invalid regex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewAggregator(tt.agg)
			if err == nil {
				t.Fatalf("NewAggregator succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !errors.Is(err, engine.ErrInvalid) {
				t.Errorf("error %q: want it to contain %q and wrap engine.ErrInvalid", err, tt.want)
			}
		})
	}
}

func TestAggregatorAccessors(t *testing.T) {
	a, err := NewAggregator(kube.Aggregation{
		Name: "bound", Field: "size", Function: "sum", GroupBy: "class",
		Filter: &kube.AggregationFilter{Field: "phase", Operator: "equals", Value: "Bound"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{a.Name(), a.Field(), a.Function(), a.GroupBy(), a.FilterField()}
	want := []string{"bound", "size", "sum", "class", "phase"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("accessors (-want +got):\n%s", diff)
	}
	c, err := NewAggregator(kube.Aggregation{Name: "n", Function: "count"})
	if err != nil {
		t.Fatal(err)
	}
	if c.FilterField() != "" || c.GroupBy() != "" || c.Field() != "" {
		t.Errorf("count without options: FilterField %q GroupBy %q Field %q, want all empty", c.FilterField(), c.GroupBy(), c.Field())
	}
}

// TestComputeAfterJSONRoundTrip checks that the API, which reads resources back from Redis
// JSON, gets the same results as collection did on the Go values.
func TestComputeAfterJSONRoundTrip(t *testing.T) {
	items := pvcItems()
	items[0].Values["size"] = int64(10) // as built in Go
	data, err := json.Marshal(items)
	if err != nil {
		t.Fatal(err)
	}
	var decoded []engine.CustomResource
	if err := json.Unmarshal(data, &decoded); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []kube.Aggregation{
		{Name: "sum", Field: "size", Function: "sum"},
		{Name: "p", Field: "size", Function: "percentile", Percentile: percentileP(75), GroupBy: "namespace"},
		{Name: "d", Field: "size", Function: "distinct"},
		{Name: "c", Function: "count", GroupBy: "class", Filter: &kube.AggregationFilter{Field: "size", Operator: "greaterThan", Value: "9"}},
	} {
		t.Run(spec.Name, func(t *testing.T) {
			a, err := NewAggregator(spec)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(a.Compute(items), a.Compute(decoded)); diff != "" {
				t.Errorf("Go values vs JSON round trip (-go +json):\n%s", diff)
			}
		})
	}
}
