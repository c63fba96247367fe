package metricsource

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/clusterpulse/clusterpulse/engine/metricsource/expr"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
)

// The field types of FieldExtraction.Type. An empty type means FieldString.
const (
	FieldString      = "string"
	FieldInteger     = "integer"
	FieldFloat       = "float"
	FieldBoolean     = "boolean"
	FieldQuantity    = "quantity"
	FieldTimestamp   = "timestamp"
	FieldArrayLength = "arrayLength"
)

// Field extracts one typed value from a Kubernetes object. It is immutable and safe for
// concurrent use.
//
// Extract yields nil, a bool, a float64 or a string:
//   - string: strings as they are; numbers formatted like toString (65, 2.5, never an
//     exponent); bools as "true"/"false". Lists and objects are conversion errors.
//   - integer: numbers, bools (1/0) and numeric strings, truncated toward zero; a magnitude of
//     2^63 or more is a conversion error. The result is a float64 holding an integral value,
//     which encoding/json writes without a decimal point (3, not 3.0), so the JSON is the same
//     as for an int64.
//   - float: numbers, bools (1/0) and numeric strings (see EXPRESSIONS.md: no exponent, no hex).
//   - boolean: bools; numbers (≠ 0 is true); strings "true"/"false"/"1"/"0" in any case,
//     trimmed. Any other string is a conversion error (the original silently made it false).
//   - quantity: a Kubernetes quantity string parsed with resource.Quantity into base units —
//     cores for CPU, bytes for memory and storage: "500m" → 0.5, "2" → 2, "1Gi" → 1073741824.
//     This deliberately differs from the original, which gave millicores for "500m" but cores
//     for "2", and bytes for a "100m" default. A JSON number is taken as it is.
//   - timestamp: an RFC 3339 string (fractional seconds allowed), stored as a string normalised
//     to UTC in RFC 3339 with only the significant fractional digits
//     ("2024-05-01T12:00:00+02:00" → "2024-05-01T10:00:00Z").
//   - arrayLength: the number of elements of a list or entries of an object; a scalar is a
//     conversion error.
//
// A missing path, or an explicit null at the path, yields the default (already converted at
// NewField) or nil, without error. A value that cannot be converted yields nil and a non-nil
// error for the caller to count; it never becomes a silent zero or the default.
type Field struct {
	name  string
	typ   string
	path  Path
	def   any
	hasDf bool
}

// NewField validates f — its name, type and path — and converts its default with the field's
// type, so a default that does not convert is an error here rather than at every resource.
// Errors wrap engine.ErrInvalid.
func NewField(f kube.FieldExtraction) (*Field, error) {
	if f.Name == "" {
		return nil, fmt.Errorf("field: empty name: %w", engine.ErrInvalid)
	}
	typ := f.Type
	if typ == "" {
		typ = FieldString
	}
	switch typ {
	case FieldString, FieldInteger, FieldFloat, FieldBoolean, FieldQuantity, FieldTimestamp, FieldArrayLength:
	default:
		return nil, fmt.Errorf("field %q: unknown type %q (want string, integer, float, boolean, quantity, timestamp or arrayLength): %w",
			f.Name, f.Type, engine.ErrInvalid)
	}
	p, err := ParsePath(f.Path)
	if err != nil {
		return nil, fmt.Errorf("field %q: %w", f.Name, err)
	}
	out := &Field{name: f.Name, typ: typ, path: p}
	if f.Default != nil {
		v, err := convertDefault(typ, *f.Default)
		if err != nil {
			return nil, fmt.Errorf("field %q: default %q: %w: %w", f.Name, *f.Default, engine.ErrInvalid, err)
		}
		out.def, out.hasDf = v, true
	}
	return out, nil
}

// Name returns the field's name.
func (f *Field) Name() string { return f.name }

// Type returns the field's type, "string" when the spec left it empty.
func (f *Field) Type() string { return f.typ }

// Path returns the field's parsed path.
func (f *Field) Path() Path { return f.path }

// Extract reads the field from obj. See Field for the conversions. v is nil, bool, float64 or
// string; convErr is non-nil only when a present value could not be converted (v is then nil).
func (f *Field) Extract(obj map[string]any) (v any, convErr error) {
	raw, ok := f.path.Lookup(obj)
	if !ok || raw == nil {
		if f.hasDf {
			return f.def, nil
		}
		return nil, nil
	}
	v, err := convert(f.typ, raw)
	if err != nil {
		return nil, fmt.Errorf("field %q at %s: %w", f.name, f.path, err)
	}
	return v, nil
}

// convertDefault converts a spec default, a string, with the field type. arrayLength defaults
// are non-negative integers; every other type converts the string as it would convert a string
// found in the resource.
func convertDefault(typ, s string) (any, error) {
	if typ == FieldArrayLength {
		n, ok := expr.ParseNumeric(s)
		if !ok || n < 0 || n != math.Trunc(n) {
			return nil, errors.New("not a non-negative integer")
		}
		return n + 0, nil
	}
	return convert(typ, s)
}

// convert converts a non-nil raw JSON value to typ.
func convert(typ string, raw any) (any, error) {
	switch typ {
	case FieldString:
		switch x := raw.(type) {
		case string:
			return x, nil
		case bool:
			return strconv.FormatBool(x), nil
		}
		if n, ok := jsonNumber(raw); ok {
			return formatNumber(n), nil
		}
		return nil, fmt.Errorf("cannot convert %s to string", kindOf(raw))
	case FieldInteger:
		n, err := toNumber(raw)
		if err != nil {
			return nil, err
		}
		n = math.Trunc(n)
		if math.Abs(n) >= 1<<63 {
			return nil, fmt.Errorf("integer %s out of range", formatNumber(n))
		}
		return n + 0, nil // + 0 turns -0 into 0
	case FieldFloat:
		return toNumber(raw)
	case FieldBoolean:
		switch x := raw.(type) {
		case bool:
			return x, nil
		case string:
			switch strings.ToLower(strings.TrimFunc(x, unicode.IsSpace)) {
			case "true", "1":
				return true, nil
			case "false", "0":
				return false, nil
			}
			return nil, fmt.Errorf("cannot convert string %q to boolean", x)
		}
		if n, ok := jsonNumber(raw); ok {
			return n != 0, nil
		}
		return nil, fmt.Errorf("cannot convert %s to boolean", kindOf(raw))
	case FieldQuantity:
		if s, ok := raw.(string); ok {
			return parseQuantity(s)
		}
		if n, ok := jsonNumber(raw); ok {
			return n + 0, nil
		}
		return nil, fmt.Errorf("cannot convert %s to quantity", kindOf(raw))
	case FieldTimestamp:
		s, ok := raw.(string)
		if !ok {
			return nil, fmt.Errorf("cannot convert %s to timestamp", kindOf(raw))
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("timestamp %q is not RFC 3339", s)
		}
		return t.UTC().Format(time.RFC3339Nano), nil
	case FieldArrayLength:
		switch x := raw.(type) {
		case []any:
			return float64(len(x)), nil
		case map[string]any:
			return float64(len(x)), nil
		}
		return nil, fmt.Errorf("cannot take the length of %s", kindOf(raw))
	}
	return nil, fmt.Errorf("unknown type %q", typ)
}

// parseQuantity parses a Kubernetes quantity into base units. The decimal form of the
// quantity is parsed by strconv, so the result is the float64 nearest to the exact value
// (0.1 for "100m").
func parseQuantity(s string) (float64, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("quantity %q: %w", s, err)
	}
	d := q.AsDec()
	f, err := strconv.ParseFloat(d.String(), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, fmt.Errorf("quantity %q out of range", s)
	}
	return f + 0, nil
}

// toNumber converts a JSON value to a number as EXPRESSIONS.md's toNumber does: numbers as they
// are, bools 1/0, numeric strings by value; anything else is an error.
func toNumber(raw any) (float64, error) {
	switch x := raw.(type) {
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case string:
		n, ok := expr.ParseNumeric(x)
		if !ok {
			return 0, fmt.Errorf("string %q is not a number", x)
		}
		return n, nil
	}
	if n, ok := jsonNumber(raw); ok {
		return n + 0, nil
	}
	return 0, fmt.Errorf("cannot convert %s to a number", kindOf(raw))
}

// jsonNumber returns the value of a finite number of any Go numeric type that decoding JSON or
// building unstructured objects produces.
func jsonNumber(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case int64:
		f = float64(x)
	case int:
		f = float64(x)
	case int32:
		f = float64(x)
	case float32:
		f = float64(x)
	case uint64:
		f = float64(x)
	case uint32:
		f = float64(x)
	case json.Number:
		n, err := x.Float64()
		if err != nil {
			return 0, false
		}
		f = n
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// formatNumber formats a number like EXPRESSIONS.md's toString: integral values without a
// decimal point and never in exponent form; -0 as "0".
func formatNumber(f float64) string {
	return strconv.FormatFloat(f+0, 'f', -1, 64)
}

// kindOf names the JSON kind of v for error messages.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	if _, ok := jsonNumber(v); ok {
		return "a number"
	}
	return fmt.Sprintf("a value of type %T", v)
}
