package expr

import (
	"errors"
	"math"
	"testing"
	"unicode/utf8"
)

// FuzzExpr checks, for any input: Parse never panics and reports errors as *SyntaxError inside
// the source; a parsed expression prints to a string that parses to an equal tree and prints
// the same again; compiling and evaluating it over numbers, strings, nulls and bools never
// panics, never returns NaN, ±Inf, −0 or an over-long string, and reports errors with the
// documented types. The seed corpus is in testdata/fuzz/FuzzExpr.
func FuzzExpr(f *testing.F) {
	for _, s := range []string{
		"used / capacity * 100",
		"round(used / capacity * 100, 2)",
		"coalesce(a, 0) + coalesce(b, 0)",
		"concat(namespace, '/', name)",
		`if(a > 1 && !b || c ?? d, "x\n\t\\\"", 'y\'')`,
		"substr(name, -1, len(name) - 2) == upper('x')",
		"a % 0 + -b - --c <= 3.25 != (d >= e)",
		"formatBytes(age(now())) + toString(toNumber(floor(ceil(abs(min(max(a, b), c))))))",
		"contains(a, b) && startsWith(a, 'x') || endsWith(b, nil) == TRUE",
	} {
		f.Add(s)
	}
	varSets := [][]Value{
		{Number(3), Number(0), Number(-2.5), Number(1e300), Number(7)},
		{String("42"), String(""), String("héllo"), String("1e3"), String(" -1 ")},
		{Null(), Bool(true), Bool(false), Null(), Invalid("list")},
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T, want *SyntaxError", src, err)
			}
			if n := utf8.RuneCountInString(src); se.Pos < 0 || se.Pos > n {
				t.Fatalf("Parse(%q) error position %d outside 0..%d", src, se.Pos, n)
			}
			return
		}
		printed := e.String()
		again, err := Parse(printed)
		if err != nil {
			t.Fatalf("Parse(%q) printed %q which does not parse: %v", src, printed, err)
		}
		if !again.Equal(e) {
			t.Fatalf("Parse(%q) printed %q which parses to a different tree", src, printed)
		}
		if p2 := again.String(); p2 != printed {
			t.Fatalf("printing is not stable: %q then %q", printed, p2)
		}

		names := e.Identifiers()
		resolve := func(name string) (int, bool) {
			for i, n := range names {
				if n == name {
					return i % len(varSets[0]), true
				}
			}
			return 0, false
		}
		p, err := Compile(e, resolve, Options{Now: testNow})
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile(%q) error %T, want *CompileError", src, err)
			}
			return
		}
		for _, vars := range varSets {
			v, err := p.Eval(vars)
			if err != nil {
				var ee *EvalError
				if !errors.As(err, &ee) {
					t.Fatalf("Eval(%q) error %T, want *EvalError", src, err)
				}
				if !v.IsNull() {
					t.Fatalf("Eval(%q) returned %#v with an error", src, v)
				}
				continue
			}
			switch v.Kind() {
			case KindNull, KindBool, KindString:
			case KindNumber:
				if x := v.Num(); math.IsNaN(x) || math.IsInf(x, 0) || x == 0 && math.Signbit(x) {
					t.Fatalf("Eval(%q) = %v", src, x)
				}
			default:
				t.Fatalf("Eval(%q) returned kind %v", src, v.Kind())
			}
			if utf8.RuneCountInString(v.Str()) > MaxStringLen {
				t.Fatalf("Eval(%q) returned a string of %d code points", src, utf8.RuneCountInString(v.Str()))
			}
			for _, typ := range []string{"string", "integer", "float", "boolean"} {
				if c, err := Coerce(v, typ); err != nil && !c.IsNull() {
					t.Fatalf("Coerce(%#v, %s) returned %#v with an error", v, typ, c)
				}
			}
		}
	})
}
