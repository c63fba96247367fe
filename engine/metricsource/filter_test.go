package metricsource

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
)

// filterItems are resources named after their value of field "v"; "missing" has no v, "null"
// an explicit null.
func filterItems() []engine.CustomResource {
	vals := []struct {
		name string
		v    any
	}{
		{"int2", 2.0},
		{"int2-int64", int64(2)},
		{"frac", 2.5},
		{"big", 10.0},
		{"neg", -1.0},
		{"s2", "2"},
		{"s2.0", "2.0"},
		{"bound", "Bound"},
		{"pending", "Pending"},
		{"true", true},
		{"false", false},
		{"empty", ""},
		{"null", nil},
		{"list", []any{"Bound"}},
	}
	items := []engine.CustomResource{{ID: "ns/missing", Namespace: "ns", Name: "missing", Values: map[string]any{}}}
	for _, v := range vals {
		items = append(items, engine.CustomResource{ID: "ns/" + v.name, Namespace: "ns", Name: v.name, Values: map[string]any{"v": v.v}})
	}
	return items
}

func TestFilterOperators(t *testing.T) {
	tests := []struct {
		name  string
		op    string
		value string
		want  []string // names of passing resources, in item order
	}{
		{"equals number numerically", "equals", "2", []string{"int2", "int2-int64", "s2"}},
		{"equals 2.0 matches number 2 (int64 regression)", "equals", "2.0", []string{"int2", "int2-int64", "s2.0"}},
		{"equals string", "equals", "Bound", []string{"bound"}},
		{"equals bool by toString", "equals", "true", []string{"true"}},
		{"equals empty string", "equals", "", []string{"empty"}},
		{"notEquals passes missing and null", "notEquals", "Bound", []string{"missing", "int2", "int2-int64", "frac", "big", "neg", "s2", "s2.0", "pending", "true", "false", "empty", "null", "list"}},
		{"notEquals number", "notEquals", "2", []string{"missing", "frac", "big", "neg", "s2.0", "bound", "pending", "true", "false", "empty", "null", "list"}},
		{"contains", "contains", "ound", []string{"bound"}},
		{"contains on number toString", "contains", ".5", []string{"frac"}},
		{"startsWith", "startsWith", "P", []string{"pending"}},
		{"startsWith does not match everything", "startsWith", "zzz", nil},
		{"endsWith", "endsWith", "ing", []string{"pending"}},
		{"endsWith on number", "endsWith", "0", []string{"big", "s2.0"}},
		{"greaterThan numbers only", "greaterThan", "2", []string{"frac", "big"}},
		{"greaterThan negative", "greaterThan", "-5", []string{"int2", "int2-int64", "frac", "big", "neg"}},
		{"greaterThan non-numeric value", "greaterThan", "abc", nil},
		{"lessThan", "lessThan", "2.5", []string{"int2", "int2-int64", "neg"}},
		{"lessThan ignores numeric strings", "lessThan", "100", []string{"int2", "int2-int64", "frac", "big", "neg"}},
		{"in plain list", "in", "Bound, Pending", []string{"bound", "pending"}},
		{"in bracketed list matches (API regression)", "in", "[Bound,Pending]", []string{"bound", "pending"}},
		{"in numbers numerically", "in", "[ 2.0, 10 ]", []string{"int2", "int2-int64", "big", "s2.0"}},
		{"in by string for strings", "in", "2", []string{"int2", "int2-int64", "s2"}},
		{"in drops empty items", "in", "Bound,,", []string{"bound"}},
		{"in empty list", "in", "[]", nil},
		{"in bools by toString", "in", "false", []string{"false"}},
		{"matches unanchored", "matches", "ou", []string{"bound"}},
		{"matches anchored pattern", "matches", "^P.*g$", []string{"pending"}},
		{"matches numbers by toString", "matches", `^\d+$`, []string{"int2", "int2-int64", "big", "s2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := newFilter(kube.AggregationFilter{Field: "v", Operator: tt.op, Value: tt.value})
			if err != nil {
				t.Fatalf("newFilter: %v", err)
			}
			var got []string
			items := filterItems()
			for i := range items {
				if f.pass(&items[i]) {
					got = append(got, items[i].Name)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("passing (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFilterMissingValueRule(t *testing.T) {
	// Every operator but notEquals fails a missing or null field, whatever the value.
	ops := []struct {
		op, value string
		want      bool
	}{
		{"equals", "", false}, {"notEquals", "", true}, {"contains", "", false},
		{"startsWith", "", false}, {"endsWith", "", false}, {"greaterThan", "-1", false},
		{"lessThan", "1", false}, {"in", ",", false}, {"matches", ".*", false},
	}
	items := []engine.CustomResource{
		{ID: "missing", Name: "missing", Values: map[string]any{}},
		{ID: "null", Name: "null", Values: map[string]any{"v": nil}},
		{ID: "nil-values", Name: "nil-values"},
	}
	for _, o := range ops {
		t.Run(o.op, func(t *testing.T) {
			f, err := newFilter(kube.AggregationFilter{Field: "v", Operator: o.op, Value: o.value})
			if err != nil {
				t.Fatal(err)
			}
			for i := range items {
				if got := f.pass(&items[i]); got != o.want {
					t.Errorf("%s on %s = %v, want %v", o.op, items[i].Name, got, o.want)
				}
			}
		})
	}
}

func TestFilterBuiltinFields(t *testing.T) {
	items := []engine.CustomResource{
		{ID: "a/x", Namespace: "a", Name: "x", Labels: map[string]string{"tier": "web"}},
		{ID: "b/y", Namespace: "b", Name: "y", Labels: map[string]string{"tier": "db"}},
		{ID: "z", Name: "z", Values: map[string]any{"namespace": "a"}},
	}
	tests := []struct {
		name   string
		filter kube.AggregationFilter
		want   []string
	}{
		{"namespace is the resource's own", kube.AggregationFilter{Field: "namespace", Operator: "equals", Value: "a"}, []string{"x"}},
		{"cluster-scoped namespace is missing", kube.AggregationFilter{Field: "namespace", Operator: "notEquals", Value: "a"}, []string{"y", "z"}},
		{"name", kube.AggregationFilter{Field: "name", Operator: "in", Value: "x,z"}, []string{"x", "z"}},
		{"label", kube.AggregationFilter{Field: "labels.tier", Operator: "equals", Value: "db"}, []string{"y"}},
		{"missing label", kube.AggregationFilter{Field: "labels.team", Operator: "notEquals", Value: "a"}, []string{"x", "y", "z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := newFilter(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i := range items {
				if f.pass(&items[i]) {
					got = append(got, items[i].Name)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("passing (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewFilterErrors(t *testing.T) {
	tests := []struct {
		name   string
		filter kube.AggregationFilter
		want   string
	}{
		{"unknown operator", kube.AggregationFilter{Field: "v", Operator: "like", Value: "a"}, `unknown operator "like"`},
		{"empty operator", kube.AggregationFilter{Field: "v", Value: "a"}, `unknown operator ""`},
		{"bad regex", kube.AggregationFilter{Field: "v", Operator: "matches", Value: "a("}, "invalid regex"},
		{"empty field", kube.AggregationFilter{Operator: "equals", Value: "a"}, "empty field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newFilter(tt.filter)
			if err == nil {
				t.Fatalf("newFilter succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !errors.Is(err, engine.ErrInvalid) {
				t.Errorf("error %q: want it to contain %q and wrap engine.ErrInvalid", err, tt.want)
			}
		})
	}
}

func TestSplitInList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a,b", []string{"a", "b"}},
		{" [ a , b ] ", []string{"a", "b"}},
		{"[[a]]", []string{"[a]"}},
		{"a,,b,", []string{"a", "b"}},
		{"", nil},
		{"[]", nil},
		{"[", []string{"["}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, splitInList(tt.in)); diff != "" {
				t.Errorf("splitInList(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
