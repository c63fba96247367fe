package metricsource

import (
	"encoding/json"
	"errors"
	"github.com/clusterpulse/clusterpulse/engine/metricsource/expr"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
)

func defaultStr(s string) *string { return &s }

// extractCase extracts the value raw (placed at .v of an object; omitted when missing) with a
// field of type typ.
type extractCase struct {
	name    string
	typ     string
	raw     any
	missing bool
	def     *string
	want    any
	wantErr bool
}

func runExtractCases(t *testing.T, tests []extractCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewField(kube.FieldExtraction{Name: "f", Path: ".v", Type: tt.typ, Default: tt.def})
			if err != nil {
				t.Fatalf("NewField: %v", err)
			}
			obj := map[string]any{}
			if !tt.missing {
				obj["v"] = tt.raw
			}
			got, convErr := f.Extract(obj)
			if (convErr != nil) != tt.wantErr {
				t.Fatalf("Extract error = %v, wantErr %v", convErr, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Extract (-want +got):\n%s", diff)
			}
			if f, ok := got.(float64); ok && math.Signbit(f) && f == 0 {
				t.Errorf("Extract returned -0")
			}
		})
	}
}

func TestExtractQuantity(t *testing.T) {
	runExtractCases(t, []extractCase{
		{name: "500m is half a core", typ: "quantity", raw: "500m", want: 0.5},
		{name: "2 cores", typ: "quantity", raw: "2", want: 2.0},
		{name: "2000m is 2 cores, not 2000", typ: "quantity", raw: "2000m", want: 2.0},
		{name: "100m", typ: "quantity", raw: "100m", want: 0.1},
		{name: "1Gi in bytes", typ: "quantity", raw: "1Gi", want: 1073741824.0},
		{name: "1.5Gi", typ: "quantity", raw: "1.5Gi", want: 1610612736.0},
		{name: "100M decimal", typ: "quantity", raw: "100M", want: 1e8},
		{name: "128974848 plain bytes", typ: "quantity", raw: "128974848", want: 128974848.0},
		{name: "129e6 exponent", typ: "quantity", raw: "129e6", want: 129e6},
		{name: "plain 1.5", typ: "quantity", raw: "1.5", want: 1.5},
		{name: "10Ti", typ: "quantity", raw: "10Ti", want: 10 * 1099511627776.0},
		{name: "JSON number kept", typ: "quantity", raw: int64(3), want: 3.0},
		{name: "bad quantity", typ: "quantity", raw: "lots", want: nil, wantErr: true},
		{name: "lowercase binary suffix is not a quantity", typ: "quantity", raw: "1gi", want: nil, wantErr: true},
		{name: "bool is not a quantity", typ: "quantity", raw: true, want: nil, wantErr: true},
		{name: "missing without default", typ: "quantity", missing: true, want: nil},
		{name: "default 100m is 0.1 cores, not 104857600", typ: "quantity", missing: true, def: defaultStr("100m"), want: 0.1},
		{name: "default 1Gi", typ: "quantity", missing: true, def: defaultStr("1Gi"), want: 1073741824.0},
		{name: "bad value does not fall back to the default", typ: "quantity", raw: "lots", def: defaultStr("1"), want: nil, wantErr: true},
	})
}

func TestExtractString(t *testing.T) {
	runExtractCases(t, []extractCase{
		{name: "string", typ: "string", raw: "Bound", want: "Bound"},
		{name: "empty type is string", typ: "", raw: "Bound", want: "Bound"},
		{name: "integral float without decimals", typ: "string", raw: 65.0, want: "65"},
		{name: "int64", typ: "string", raw: int64(3), want: "3"},
		{name: "fraction", typ: "string", raw: 2.5, want: "2.5"},
		{name: "large number never in exponent form", typ: "string", raw: 1e21, want: "1000000000000000000000"},
		{name: "bool", typ: "string", raw: true, want: "true"},
		{name: "list is a conversion error", typ: "string", raw: []any{"a"}, want: nil, wantErr: true},
		{name: "object is a conversion error", typ: "string", raw: map[string]any{}, want: nil, wantErr: true},
		{name: "null is missing", typ: "string", raw: nil, want: nil},
		{name: "null takes the default", typ: "string", raw: nil, def: defaultStr("none"), want: "none"},
		{name: "default", typ: "string", missing: true, def: defaultStr("standard"), want: "standard"},
		{name: "empty string is a value", typ: "string", raw: "", def: defaultStr("x"), want: ""},
	})
}

func TestExtractInteger(t *testing.T) {
	runExtractCases(t, []extractCase{
		{name: "int64 becomes float64", typ: "integer", raw: int64(42), want: 42.0},
		{name: "float truncated", typ: "integer", raw: 2.9, want: 2.0},
		{name: "negative float truncated toward zero", typ: "integer", raw: -2.9, want: -2.0},
		{name: "-0.5 truncates to 0, not -0", typ: "integer", raw: -0.5, want: 0.0},
		{name: "numeric string", typ: "integer", raw: " 7 ", want: 7.0},
		{name: "decimal string truncated", typ: "integer", raw: "2.5", want: 2.0},
		{name: "bool", typ: "integer", raw: true, want: 1.0},
		{name: "json.Number", typ: "integer", raw: json.Number("12"), want: 12.0},
		{name: "non-numeric string", typ: "integer", raw: "abc", want: nil, wantErr: true},
		{name: "exponent string is not numeric", typ: "integer", raw: "1e3", want: nil, wantErr: true},
		{name: "hex string is not numeric", typ: "integer", raw: "0x10", want: nil, wantErr: true},
		{name: "2^63 out of range", typ: "integer", raw: 9223372036854775808.0, want: nil, wantErr: true},
		{name: "list", typ: "integer", raw: []any{}, want: nil, wantErr: true},
		{name: "default", typ: "integer", missing: true, def: defaultStr("5"), want: 5.0},
	})
}

func TestExtractFloat(t *testing.T) {
	runExtractCases(t, []extractCase{
		{name: "float", typ: "float", raw: 2.5, want: 2.5},
		{name: "int64", typ: "float", raw: int64(3), want: 3.0},
		{name: "int", typ: "float", raw: 4, want: 4.0},
		{name: "numeric string", typ: "float", raw: "-3.5", want: -3.5},
		{name: "trailing dot", typ: "float", raw: "5.", want: 5.0},
		{name: "leading dot", typ: "float", raw: ".5", want: 0.5},
		{name: "empty string", typ: "float", raw: "", want: nil, wantErr: true},
		{name: "Inf string", typ: "float", raw: "Inf", want: nil, wantErr: true},
		{name: "thousands separator", typ: "float", raw: "1,000", want: nil, wantErr: true},
		{name: "bool false", typ: "float", raw: false, want: 0.0},
		{name: "NaN is not a number", typ: "float", raw: math.NaN(), want: nil, wantErr: true},
		{name: "default", typ: "float", missing: true, def: defaultStr("0.25"), want: 0.25},
	})
}

func TestExtractBoolean(t *testing.T) {
	runExtractCases(t, []extractCase{
		{name: "true", typ: "boolean", raw: true, want: true},
		{name: "false", typ: "boolean", raw: false, want: false},
		{name: "string TRUE", typ: "boolean", raw: " TRUE ", want: true},
		{name: "string false", typ: "boolean", raw: "false", want: false},
		{name: "string 1", typ: "boolean", raw: "1", want: true},
		{name: "string 0", typ: "boolean", raw: "0", want: false},
		{name: "number nonzero", typ: "boolean", raw: 2.0, want: true},
		{name: "number zero", typ: "boolean", raw: int64(0), want: false},
		{name: "other string is an error, not false", typ: "boolean", raw: "yes please", want: nil, wantErr: true},
		{name: "object", typ: "boolean", raw: map[string]any{}, want: nil, wantErr: true},
		{name: "default false", typ: "boolean", missing: true, def: defaultStr("false"), want: false},
	})
}

func TestExtractTimestamp(t *testing.T) {
	runExtractCases(t, []extractCase{
		{name: "UTC kept", typ: "timestamp", raw: "2024-05-01T12:00:00Z", want: "2024-05-01T12:00:00Z"},
		{name: "offset normalised to UTC", typ: "timestamp", raw: "2024-05-01T12:00:00+02:00", want: "2024-05-01T10:00:00Z"},
		{name: "fraction kept, trailing zeros dropped", typ: "timestamp", raw: "2024-05-01T12:00:00.120Z", want: "2024-05-01T12:00:00.12Z"},
		{name: "date only is invalid", typ: "timestamp", raw: "2024-05-01", want: nil, wantErr: true},
		{name: "garbage", typ: "timestamp", raw: "yesterday", want: nil, wantErr: true},
		{name: "number", typ: "timestamp", raw: 1714564800.0, want: nil, wantErr: true},
		{name: "default", typ: "timestamp", missing: true, def: defaultStr("1970-01-01T00:00:00Z"), want: "1970-01-01T00:00:00Z"},
	})
}

func TestExtractArrayLength(t *testing.T) {
	runExtractCases(t, []extractCase{
		{name: "list", typ: "arrayLength", raw: []any{1, 2, 3}, want: 3.0},
		{name: "empty list", typ: "arrayLength", raw: []any{}, want: 0.0},
		{name: "object entries", typ: "arrayLength", raw: map[string]any{"a": 1, "b": 2}, want: 2.0},
		{name: "string is a conversion error", typ: "arrayLength", raw: "abc", want: nil, wantErr: true},
		{name: "number is a conversion error", typ: "arrayLength", raw: 3.0, want: nil, wantErr: true},
		{name: "missing", typ: "arrayLength", missing: true, want: nil},
		{name: "default", typ: "arrayLength", missing: true, def: defaultStr("0"), want: 0.0},
	})
}

func TestExtractFromRealObject(t *testing.T) {
	tests := []struct {
		field kube.FieldExtraction
		want  any
	}{
		{kube.FieldExtraction{Name: "app", Path: ".metadata.labels['app.kubernetes.io/name']"}, "web"},
		{kube.FieldExtraction{Name: "cpu", Path: ".spec.containers[0].resources.requests.cpu", Type: "quantity"}, 0.5},
		{kube.FieldExtraction{Name: "mem", Path: ".spec.containers[0].resources.requests.memory", Type: "quantity"}, 1073741824.0},
		{kube.FieldExtraction{Name: "restarts", Path: ".status.restartCount", Type: "integer"}, 3.0},
		{kube.FieldExtraction{Name: "containers", Path: ".spec.containers", Type: "arrayLength"}, 2.0},
		{kube.FieldExtraction{Name: "created", Path: ".metadata.creationTimestamp", Type: "timestamp"}, "2024-05-01T12:00:00Z"},
		{kube.FieldExtraction{Name: "node", Path: ".spec.nodeName", Default: defaultStr("unscheduled")}, "unscheduled"},
	}
	for _, tt := range tests {
		t.Run(tt.field.Name, func(t *testing.T) {
			f, err := NewField(tt.field)
			if err != nil {
				t.Fatal(err)
			}
			if f.Name() != tt.field.Name {
				t.Errorf("Name() = %q, want %q", f.Name(), tt.field.Name)
			}
			got, err := f.Extract(samplePod())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Extract (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIntegerMarshalsAsInteger(t *testing.T) {
	f, err := NewField(kube.FieldExtraction{Name: "n", Path: ".n", Type: "integer"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.Extract(map[string]any{"n": int64(1073741824)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "1073741824"; got != want {
		t.Errorf("json.Marshal = %s, want %s", got, want)
	}
}

func TestNewFieldErrors(t *testing.T) {
	tests := []struct {
		name  string
		field kube.FieldExtraction
		want  string
	}{
		{"empty name", kube.FieldExtraction{Path: ".a"}, "empty name"},
		{"unknown type", kube.FieldExtraction{Name: "a", Path: ".a", Type: "number"}, `unknown type "number"`},
		{"bad path", kube.FieldExtraction{Name: "a", Path: ".a[", Type: "string"}, "position 3"},
		{"empty path", kube.FieldExtraction{Name: "a", Type: "string"}, "empty path"},
		{"bad quantity default", kube.FieldExtraction{Name: "a", Path: ".a", Type: "quantity", Default: defaultStr("big")}, `default "big"`},
		{"bad integer default", kube.FieldExtraction{Name: "a", Path: ".a", Type: "integer", Default: defaultStr("ten")}, `default "ten"`},
		{"bad boolean default", kube.FieldExtraction{Name: "a", Path: ".a", Type: "boolean", Default: defaultStr("maybe")}, `default "maybe"`},
		{"bad timestamp default", kube.FieldExtraction{Name: "a", Path: ".a", Type: "timestamp", Default: defaultStr("now")}, `default "now"`},
		{"negative arrayLength default", kube.FieldExtraction{Name: "a", Path: ".a", Type: "arrayLength", Default: defaultStr("-1")}, "not a non-negative integer"},
		{"fractional arrayLength default", kube.FieldExtraction{Name: "a", Path: ".a", Type: "arrayLength", Default: defaultStr("1.5")}, "not a non-negative integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewField(tt.field)
			if err == nil {
				t.Fatalf("NewField succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !errors.Is(err, engine.ErrInvalid) {
				t.Errorf("error %q does not wrap engine.ErrInvalid", err)
			}
		})
	}
}

func TestParseNumeric(t *testing.T) {
	tests := []struct {
		in     string
		want   float64
		wantOK bool
	}{
		{"42", 42, true}, {" 7 ", 7, true}, {"-3.5", -3.5, true}, {"5.", 5, true}, {".5", 0.5, true},
		{"+1", 1, true}, {"\u00a08\u2003", 8, true},
		{"", 0, false}, {"1e3", 0, false}, {"0x10", 0, false}, {"Inf", 0, false}, {"NaN", 0, false},
		{"1,000", 0, false}, {".", 0, false}, {"-", 0, false}, {"1.2.3", 0, false}, {"1 2", 0, false},
		{strings.Repeat("9", 400), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := expr.ParseNumeric(tt.in)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("expr.ParseNumeric(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
