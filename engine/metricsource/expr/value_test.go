package expr

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestConstructors(t *testing.T) {
	negZero := math.Copysign(0, -1)
	tests := []struct {
		name     string
		v        Value
		wantKind Kind
		want     any
	}{
		{"null", Null(), KindNull, nil},
		{"zero value is null", Value{}, KindNull, nil},
		{"true", Bool(true), KindBool, true},
		{"false", Bool(false), KindBool, false},
		{"number", Number(2.5), KindNumber, 2.5},
		{"NaN becomes null", Number(math.NaN()), KindNull, nil},
		{"+Inf becomes null", Number(math.Inf(1)), KindNull, nil},
		{"-Inf becomes null", Number(math.Inf(-1)), KindNull, nil},
		{"string", String("x"), KindString, "x"},
		{"empty string is not null", String(""), KindString, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.v.Kind(); got != tt.wantKind {
				t.Errorf("Kind() = %v, want %v", got, tt.wantKind)
			}
			if diff := cmp.Diff(tt.want, tt.v.Interface()); diff != "" {
				t.Errorf("Interface() mismatch (-want +got):\n%s", diff)
			}
			if got, want := tt.v.IsNull(), tt.wantKind == KindNull; got != want {
				t.Errorf("IsNull() = %v, want %v", got, want)
			}
		})
	}
	t.Run("negative zero becomes zero", func(t *testing.T) {
		if got := Number(negZero).Num(); math.Signbit(got) {
			t.Errorf("Number(-0).Num() = %v with sign bit set, want +0", got)
		}
	})
	t.Run("accessors of other kinds are zero", func(t *testing.T) {
		if got := String("3").Num(); got != 0 {
			t.Errorf(`String("3").Num() = %v, want 0`, got)
		}
		if got := Number(3).Str(); got != "" {
			t.Errorf("Number(3).Str() = %q, want empty", got)
		}
		if got := Number(1).BoolVal(); got {
			t.Errorf("Number(1).BoolVal() = true, want false")
		}
		if got := Bool(true).BoolVal(); !got {
			t.Errorf("Bool(true).BoolVal() = false, want true")
		}
	})
}

func TestFromInterface(t *testing.T) {
	tests := []struct {
		name    string
		in      any
		want    any
		wantErr string
	}{
		{"nil", nil, nil, ""},
		{"bool", true, true, ""},
		{"string", "a", "a", ""},
		{"float64", 1.5, 1.5, ""},
		{"float32", float32(0.5), 0.5, ""},
		{"float NaN is null", math.NaN(), nil, ""},
		{"int", int(-3), -3.0, ""},
		{"int8", int8(-8), -8.0, ""},
		{"int16", int16(16), 16.0, ""},
		{"int32", int32(32), 32.0, ""},
		{"int64", int64(3), 3.0, ""},
		{"uint", uint(7), 7.0, ""},
		{"uint8", uint8(8), 8.0, ""},
		{"uint16", uint16(16), 16.0, ""},
		{"uint32", uint32(32), 32.0, ""},
		{"uint64", uint64(1 << 40), float64(1 << 40), ""},
		{"uintptr", uintptr(9), 9.0, ""},
		{"json.Number", json.Number("12.25"), 12.25, ""},
		{"bad json.Number", json.Number("x"), nil, "json number"},
		{"list", []any{1}, nil, "lists and objects cannot be used in expressions"},
		{"object", map[string]any{"a": 1}, nil, "lists and objects cannot be used in expressions"},
		{"other type", struct{}{}, nil, "values of type struct {} cannot be used"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := FromInterface(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("FromInterface(%#v) error = %v, want containing %q", tt.in, err, tt.wantErr)
				}
				if !v.IsNull() {
					t.Errorf("FromInterface(%#v) value = %#v with error, want Null()", tt.in, v)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromInterface(%#v): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, v.Interface()); diff != "" {
				t.Errorf("FromInterface(%#v) mismatch (-want +got):\n%s", tt.in, diff)
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
		{"42", 42, true},
		{" 7 ", 7, true},
		{"\u00a07\u2003", 7, true}, // Unicode whitespace is trimmed
		{"-3.5", -3.5, true},
		{"+2", 2, true},
		{"5.", 5, true},
		{".5", 0.5, true},
		{"-0", 0, true},
		{"007", 7, true},
		{"", 0, false},
		{" ", 0, false},
		{".", 0, false},
		{"-", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
		{"Inf", 0, false},
		{"NaN", 0, false},
		{"1,000", 0, false},
		{"1.2.3", 0, false},
		{"1 2", 0, false},
		{"--1", 0, false},
		{"1" + strings.Repeat("0", 400), 0, false}, // beyond float64: not numeric
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := ParseNumeric(tt.in)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("ParseNumeric(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
			if math.Signbit(got) && got == 0 {
				t.Errorf("ParseNumeric(%q) returned -0", tt.in)
			}
		})
	}
}

func TestConversions(t *testing.T) {
	tests := []struct {
		name     string
		v        Value
		wantStr  string
		wantBool bool
		wantNum  any // float64, or nil when not convertible
	}{
		{"null", Null(), "", false, nil},
		{"true", Bool(true), "true", true, 1.0},
		{"false", Bool(false), "false", false, 0.0},
		{"integral number", Number(65), "65", true, 65.0},
		{"fraction", Number(2.5), "2.5", true, 2.5},
		{"zero", Number(0), "0", false, 0.0},
		{"large number has no exponent", Number(1e21), "1000000000000000000000", true, 1e21},
		{"small number has no exponent", Number(1e-7), "0.0000001", true, 1e-7},
		{"numeric string", String("42"), "42", true, 42.0},
		{"string false is true", String("false"), "false", true, nil},
		{"empty string", String(""), "", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := toString(tt.v); got != tt.wantStr {
				t.Errorf("toString = %q, want %q", got, tt.wantStr)
			}
			if got := toBool(tt.v); got != tt.wantBool {
				t.Errorf("toBool = %v, want %v", got, tt.wantBool)
			}
			var got any
			if f, ok := toNumber(tt.v); ok {
				got = f
			}
			if diff := cmp.Diff(tt.wantNum, got); diff != "" {
				t.Errorf("toNumber mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCoerce(t *testing.T) {
	tests := []struct {
		name    string
		v       Value
		typ     string
		want    any
		wantErr string
	}{
		{"null string", Null(), "string", nil, ""},
		{"null integer", Null(), "integer", nil, ""},
		{"null float", Null(), "float", nil, ""},
		{"null boolean", Null(), "boolean", nil, ""},
		{"number to string", Number(3), "string", "3", ""},
		{"bool to string", Bool(true), "string", "true", ""},
		{"truncate positive", Number(2.9), "integer", 2.0, ""},
		{"truncate negative toward zero", Number(-2.9), "integer", -2.0, ""},
		{"numeric string to integer", String(" 42.7 "), "integer", 42.0, ""},
		{"bool to integer", Bool(true), "integer", 1.0, ""},
		{"largest int64-safe float", Number(9223372036854774784), "integer", 9223372036854774784.0, ""},
		{"2^63 is out of range", Number(two63), "integer", nil, "out of the int64 range"},
		{"-2^63 is out of range", Number(-two63), "integer", nil, "out of the int64 range"},
		{"non-numeric string to integer", String("abc"), "integer", nil, "not a number"},
		{"string to float", String("2.5"), "float", 2.5, ""},
		{"non-numeric string to float", String("x"), "float", nil, "not a number"},
		{"number to float", Number(7), "float", 7.0, ""},
		{"string to boolean", String("false"), "boolean", true, ""},
		{"zero to boolean", Number(0), "boolean", false, ""},
		{"unknown type", Number(1), "int", nil, "unknown type"},
		{"unknown type with null", Null(), "date", nil, "unknown type"},
		{"invalid value", Invalid("a list"), "string", nil, "a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Coerce(tt.v, tt.typ)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Coerce(%#v, %q) error = %v, want containing %q", tt.v, tt.typ, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Coerce(%#v, %q): %v", tt.v, tt.typ, err)
			}
			if diff := cmp.Diff(tt.want, got.Interface()); diff != "" {
				t.Errorf("Coerce(%#v, %q) mismatch (-want +got):\n%s", tt.v, tt.typ, diff)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	got := []string{KindNull.String(), KindBool.String(), KindNumber.String(), KindString.String(), KindInvalid.String(), Kind(9).String()}
	want := []string{"null", "bool", "number", "string", "invalid", "kind(9)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Kind.String mismatch (-want +got):\n%s", diff)
	}
}

func TestGoString(t *testing.T) {
	got := []string{Null().GoString(), Bool(true).GoString(), Number(2.5).GoString(), String("a").GoString(), Invalid("list").GoString()}
	want := []string{"Null()", "Bool(true)", "Number(2.5)", `String("a")`, `Invalid("list")`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GoString mismatch (-want +got):\n%s", diff)
	}
}
