package expr

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxStringLen is the longest string, in code points, that evaluation may produce. Anything
// longer is an evaluation error, so no expression can exhaust memory.
const MaxStringLen = 65536

// Kind is the type tag of a Value.
type Kind uint8

// The kinds of Value. KindInvalid marks a variable whose content cannot take part in an
// expression (a list or an object); reading it is an evaluation error.
const (
	KindNull Kind = iota
	KindBool
	KindNumber
	KindString
	KindInvalid
)

// String returns the kind's name as used in error messages.
func (k Kind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindBool:
		return "bool"
	case KindNumber:
		return "number"
	case KindString:
		return "string"
	case KindInvalid:
		return "invalid"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is a tagged expression value: null, bool, number (float64) or string. It is a plain
// struct rather than an interface so that numeric evaluation does not allocate. A Value never
// holds NaN, ±Inf or −0. The zero Value is null.
type Value struct {
	kind Kind
	num  float64 // the number; 1 or 0 for a bool
	str  string  // the string; the reason for KindInvalid
}

// Null returns the null value.
func Null() Value { return Value{} }

// Bool returns a bool value.
func Bool(b bool) Value {
	if b {
		return Value{kind: KindBool, num: 1}
	}
	return Value{kind: KindBool}
}

// Number returns a number value. NaN and ±Inf become null and −0 becomes 0, so that no such
// number ever leaves the engine.
func Number(f float64) Value {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Value{}
	}
	if f == 0 {
		f = 0 // turns −0 into +0
	}
	return Value{kind: KindNumber, num: f}
}

// String returns a string value.
func String(s string) Value { return Value{kind: KindString, str: s} }

// Invalid returns a value that makes any expression reading it fail with an evaluation error
// carrying reason. Callers use it for a variable whose content FromInterface rejected (a list
// or an object), so that the error surfaces only when an evaluation actually reads it.
func Invalid(reason string) Value { return Value{kind: KindInvalid, str: reason} }

// Kind returns the value's type tag.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.kind == KindNull }

// Num returns the number held by v, or 0 if v is not a number.
func (v Value) Num() float64 {
	if v.kind != KindNumber {
		return 0
	}
	return v.num
}

// Str returns the string held by v, or "" if v is not a string.
func (v Value) Str() string {
	if v.kind != KindString {
		return ""
	}
	return v.str
}

// BoolVal returns the bool held by v, or false if v is not a bool.
func (v Value) BoolVal() bool { return v.kind == KindBool && v.num != 0 }

// Interface returns v as nil, bool, float64 or string (nil for an invalid value).
func (v Value) Interface() any {
	switch v.kind {
	case KindBool:
		return v.num != 0
	case KindNumber:
		return v.num
	case KindString:
		return v.str
	}
	return nil
}

// Equal reports whether v and w are the same value: same kind and same content. It is
// identity, not the == operator of the language (which converts).
func (v Value) Equal(w Value) bool {
	return v.kind == w.kind && v.num == w.num && v.str == w.str
}

// GoString prints v for test failure messages.
func (v Value) GoString() string {
	switch v.kind {
	case KindNull:
		return "Null()"
	case KindBool:
		return "Bool(" + strconv.FormatBool(v.num != 0) + ")"
	case KindNumber:
		return "Number(" + strconv.FormatFloat(v.num, 'g', -1, 64) + ")"
	case KindString:
		return "String(" + strconv.Quote(v.str) + ")"
	}
	return "Invalid(" + strconv.Quote(v.str) + ")"
}

// FromInterface converts a Go value as produced by field extraction or JSON decoding into a
// Value. It accepts nil, bool, every Go integer and float kind, string and json.Number. Lists,
// objects and other types give (Null(), error); see Invalid for deferring that error.
func FromInterface(x any) (Value, error) {
	switch x := x.(type) {
	case nil:
		return Null(), nil
	case bool:
		return Bool(x), nil
	case string:
		return String(x), nil
	case float64:
		return Number(x), nil
	case float32:
		return Number(float64(x)), nil
	case int:
		return Number(float64(x)), nil
	case int8:
		return Number(float64(x)), nil
	case int16:
		return Number(float64(x)), nil
	case int32:
		return Number(float64(x)), nil
	case int64:
		return Number(float64(x)), nil
	case uint:
		return Number(float64(x)), nil
	case uint8:
		return Number(float64(x)), nil
	case uint16:
		return Number(float64(x)), nil
	case uint32:
		return Number(float64(x)), nil
	case uint64:
		return Number(float64(x)), nil
	case uintptr:
		return Number(float64(x)), nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return Null(), fmt.Errorf("json number %q: %w", truncate(string(x)), err)
		}
		return Number(f), nil
	case []any, map[string]any:
		return Null(), errors.New("lists and objects cannot be used in expressions")
	}
	return Null(), fmt.Errorf("values of type %T cannot be used in expressions", x)
}

// ParseNumeric parses a numeric string as EXPRESSIONS.md defines it: after trimming Unicode
// whitespace, [+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+). A numeric string outside the float64 range is
// not numeric, since it could only become ±Inf. The aggregation filters use the same rule.
func ParseNumeric(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if i != len(s) || digits == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	if f == 0 {
		f = 0
	}
	return f, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// toNumber converts for arithmetic, ordering and numeric function arguments: a number is
// itself, a bool is 1 or 0, a numeric string is its value; anything else is not convertible.
func toNumber(v Value) (float64, bool) {
	switch v.kind {
	case KindNumber, KindBool:
		return v.num, true
	case KindString:
		return ParseNumeric(v.str)
	}
	return 0, false
}

// toString converts for concatenation and string function arguments.
func toString(v Value) string {
	switch v.kind {
	case KindString:
		return v.str
	case KindNumber:
		return formatNumber(v.num)
	case KindBool:
		if v.num != 0 {
			return "true"
		}
		return "false"
	}
	return ""
}

// formatNumber prints a number without exponent and, when integral, without a decimal point.
func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// toBool converts for &&, ||, ! and if: null is false, a number is true when not 0, a string is
// true when not empty.
func toBool(v Value) bool {
	switch v.kind {
	case KindBool, KindNumber:
		return v.num != 0
	case KindString:
		return v.str != ""
	}
	return false
}

// tooLong reports whether s has more than MaxStringLen code points. The byte length bounds the
// code-point count from above, so short strings are not scanned.
func tooLong(s string) bool {
	return len(s) > MaxStringLen && utf8.RuneCountInString(s) > MaxStringLen
}

// truncate shortens s for an error message.
func truncate(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// describe names a value for an error message.
func describe(v Value) string {
	switch v.kind {
	case KindString:
		return "string " + strconv.Quote(truncate(v.str))
	case KindNumber:
		return "number " + formatNumber(v.num)
	}
	return v.kind.String()
}

// two63 is 2^63, the first magnitude an int64 cannot hold.
const two63 = 9223372036854775808.0

// Coerce converts an expression result to the declared computed-field type: "string" →
// toString, "integer" → the number truncated toward zero (an error when |x| ≥ 2^63), "float" →
// toNumber, "boolean" → toBool. Null stays null for every type. An unconvertible value or an
// unknown type is an error.
func Coerce(v Value, typ string) (Value, error) {
	if v.kind == KindInvalid {
		return Null(), fmt.Errorf("coerce to %s: %s", typ, v.str)
	}
	switch typ {
	case "string", "integer", "float", "boolean":
	default:
		return Null(), fmt.Errorf("coerce: unknown type %q (want string, integer, float or boolean)", typ)
	}
	if v.kind == KindNull {
		return v, nil
	}
	switch typ {
	case "string":
		return String(toString(v)), nil
	case "boolean":
		return Bool(toBool(v)), nil
	}
	f, ok := toNumber(v)
	if !ok {
		return Null(), fmt.Errorf("coerce %s to %s: not a number", describe(v), typ)
	}
	if typ == "float" {
		return Number(f), nil
	}
	t := math.Trunc(f)
	if math.Abs(t) >= two63 {
		return Null(), fmt.Errorf("coerce %s to integer: out of the int64 range", describe(v))
	}
	return Number(t), nil
}
