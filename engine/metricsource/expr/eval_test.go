package expr

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testNow is the fixed clock of every evaluation test.
func testNow() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 500_000_000, time.UTC) }

// compileVars parses and compiles src with one slot per name of vars (sorted), and returns the
// program and the slot values.
func compileVars(t testing.TB, src string, vars map[string]any) (*Program, []Value, error) {
	t.Helper()
	e, err := Parse(src)
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	slices.Sort(names)
	values := make([]Value, len(names))
	for i, n := range names {
		v, err := FromInterface(vars[n])
		if err != nil {
			v = Invalid(err.Error())
		}
		values[i] = v
	}
	resolve := func(name string) (int, bool) {
		i, ok := slices.BinarySearch(names, name)
		return i, ok
	}
	p, err := Compile(e, resolve, Options{Now: testNow})
	if err != nil {
		return nil, nil, err
	}
	return p, values, nil
}

// evalCase is one expression with its variables and the expected result: want is nil, bool,
// float64 or string; wantErr, when set, is a substring of the expected *EvalError.
type evalCase struct {
	name    string
	src     string
	vars    map[string]any
	want    any
	wantErr string
}

func runEvalCases(t *testing.T, tests []evalCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, vars, err := compileVars(t, tt.src, tt.vars)
			if err != nil {
				t.Fatalf("compile %q: %v", tt.src, err)
			}
			got, err := p.Eval(vars)
			if tt.wantErr != "" {
				var ee *EvalError
				if !errors.As(err, &ee) || !strings.Contains(ee.Msg, tt.wantErr) {
					t.Fatalf("Eval(%q) = %#v, %v; want *EvalError containing %q", tt.src, got, err, tt.wantErr)
				}
				if !got.IsNull() {
					t.Errorf("Eval(%q) value with error = %#v, want Null()", tt.src, got)
				}
				if want := "at position "; !strings.HasPrefix(err.Error(), want) {
					t.Errorf("Error() = %q, want prefix %q", err.Error(), want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Eval(%q): %v", tt.src, err)
			}
			if diff := cmp.Diff(tt.want, got.Interface()); diff != "" {
				t.Errorf("Eval(%q) mismatch (-want +got):\n%s", tt.src, diff)
			}
			if got.Kind() == KindNumber && (math.IsNaN(got.Num()) || math.IsInf(got.Num(), 0) || math.Signbit(got.Num()) && got.Num() == 0) {
				t.Errorf("Eval(%q) = %v leaves the engine", tt.src, got.Num())
			}
		})
	}
}

func TestOperators(t *testing.T) {
	runEvalCases(t, []evalCase{
		// Arithmetic.
		{name: "add", src: "1 + 2", want: 3.0},
		{name: "precedence", src: "1 + 2 * 3", want: 7.0},
		{name: "parentheses", src: "(1 + 2) * 3", want: 9.0},
		{name: "left associative minus", src: "10 - 3 - 2", want: 5.0},
		{name: "left associative divide", src: "12 / 3 / 2", want: 2.0},
		{name: "fraction", src: "7 / 2", want: 3.5},
		{name: "mod", src: "7 % 3", want: 1.0},
		{name: "mod takes the sign of the dividend", src: "-7 % 3", want: -1.0},
		{name: "mod by a negative", src: "7 % -3", want: 1.0},
		{name: "mod of fractions", src: "5.5 % 2", want: 1.5},
		{name: "divide by zero is null", src: "1 / 0", want: nil},
		{name: "zero by zero is null", src: "0 / 0", want: nil},
		{name: "mod by zero is null", src: "5 % 0", want: nil},
		{name: "mod by zero variable is null", src: "x % y", vars: map[string]any{"x": 5, "y": 0.0}, want: nil},
		{name: "unary minus", src: "-3", want: -3.0},
		{name: "double unary minus", src: "--3", want: 3.0},
		{name: "minus zero is zero", src: "-0", want: 0.0},
		{name: "zero times minus one is zero", src: "0 * -1", want: 0.0},
		{name: "overflow is null", src: "x * x", vars: map[string]any{"x": 1e300}, want: nil},
		{name: "bool in arithmetic", src: "true + true * 2", want: 3.0},
		{name: "numeric string in arithmetic", src: "'3' * 2", want: 6.0},
		{name: "numeric string with spaces", src: "' 3 ' - 1", want: 2.0},
		{name: "non-numeric string in arithmetic is an error", src: "'abc' * 2", wantErr: `operator *: cannot use string "abc" as a number`},
		{name: "null in arithmetic is an error", src: "x - 1", vars: map[string]any{"x": nil}, wantErr: "operator -: cannot use null as a number"},
		{name: "null plus number is an error", src: "null + 1", wantErr: "operator +: cannot use null as a number"},
		{name: "unary minus on string", src: "-'x'", wantErr: "operator -: cannot use string"},
		{name: "unary minus on numeric string", src: "-'4'", want: -4.0},
		{name: "division by zero then arithmetic is an error", src: "1 / 0 + 1", wantErr: "cannot use null"},

		// + with strings concatenates.
		{name: "string plus number", src: `"5" + 1`, want: "51"},
		{name: "number plus string", src: `1 + "5"`, want: "15"},
		{name: "string plus string", src: `"a" + "b"`, want: "ab"},
		{name: "null plus string", src: `null + "a"`, want: "a"},
		{name: "bool plus string", src: `true + "!"`, want: "true!"},
		{name: "fraction plus string", src: `2.5 + "x"`, want: "2.5x"},
		{name: "left to right", src: `1 + 2 + "a"`, want: "3a"},

		// Equality.
		{name: "number equals number", src: "3 == 3.0", want: true},
		{name: "number not equal", src: "3 != 4", want: true},
		{name: "number equals numeric string", src: `5 == "5"`, want: true},
		{name: "numeric string equals number", src: `"5" == 5`, want: true},
		{name: "number equals padded numeric string", src: `5 == " 5.0 "`, want: true},
		{name: "number vs non-numeric string", src: `5 == "5x"`, want: false},
		{name: "strings compare as strings", src: `"3" == "3.0"`, want: false},
		{name: "equal strings", src: `"ab" == 'ab'`, want: true},
		{name: "bool equals bool", src: "true == TRUE", want: true},
		{name: "bool vs string compares text", src: `true == "true"`, want: true},
		{name: "string vs bool compares text", src: `"false" == false`, want: true},
		{name: "bool vs number", src: "true == 1", want: false},
		{name: "number vs bool", src: "0 == false", want: false},
		{name: "null equals null", src: "null == nil", want: true},
		{name: "null vs zero", src: "null == 0", want: false},
		{name: "null vs empty string", src: `"" == null`, want: false},
		{name: "null not equal false", src: "null != false", want: true},
		{name: "missing variable equals null", src: "x == null", vars: map[string]any{"x": nil}, want: true},

		// Ordering.
		{name: "less", src: "1 < 2", want: true},
		{name: "less or equal", src: "2 <= 2", want: true},
		{name: "greater", src: "1 > 2", want: false},
		{name: "greater or equal", src: "3 >= 2", want: true},
		{name: "strings order by code points", src: `"10" < "9"`, want: true},
		{name: "string order", src: `"b" > "a"`, want: true},
		{name: "string order by code point not locale", src: `"Z" < "a"`, want: true},
		{name: "number vs numeric string orders numerically", src: `10 < "9"`, want: false},
		{name: "bool orders as number", src: "true > 0", want: true},
		{name: "chained comparison", src: "1 < 2 < 3", want: true},
		{name: "null in ordering is an error", src: "null < 1", wantErr: "operator <: cannot use null as a number"},
		{name: "non-numeric string vs number is an error", src: `"a" >= 1`, wantErr: `operator >=: cannot use string "a"`},

		// Logic.
		{name: "and", src: "true && false", want: false},
		{name: "or", src: "false || 1", want: true},
		{name: "and returns bool", src: "1 && 'x'", want: true},
		{name: "or of falsy values", src: "0 || ''", want: false},
		{name: "and short-circuits", src: "false && 'x' * 2", want: false},
		{name: "or short-circuits", src: "true || 'x' * 2", want: true},
		{name: "and evaluates right side", src: "true && 'x' * 2", wantErr: "operator *"},
		{name: "not", src: "!0", want: true},
		{name: "not of string false", src: `!"false"`, want: false},
		{name: "not of null", src: "!null", want: true},
		{name: "or binds looser than and", src: "true || false && false", want: true},

		// Coalesce.
		{name: "coalesce left", src: "1 ?? 2", want: 1.0},
		{name: "coalesce right", src: "null ?? 2", want: 2.0},
		{name: "coalesce keeps false", src: "false ?? 2", want: false},
		{name: "coalesce keeps empty string", src: "'' ?? 2", want: ""},
		{name: "coalesce is lazy", src: "1 ?? 'x' * 2", want: 1.0},
		{name: "coalesce does not catch errors", src: "'x' * 2 ?? 3", wantErr: "operator *"},
		{name: "coalesce of division by zero", src: "x / y ?? 0", vars: map[string]any{"x": 1, "y": 0}, want: 0.0},
		{name: "coalesce chain", src: "a ?? b ?? 3", vars: map[string]any{"a": nil, "b": nil}, want: 3.0},
		{name: "coalesce binds loosest", src: "null ?? 1 + 2", want: 3.0},

		// Chains of one level are evaluated in a loop; the same rules apply to every link.
		{name: "mixed additive chain", src: "10 - 2 + 3 - 1", want: 10.0},
		{name: "mixed multiplicative chain", src: "100 / 4 * 3 % 7", want: 5.0},
		{name: "chain turns into concatenation", src: "1 + 2 + 'a' + 1 + 2", want: "3a12"},
		{name: "chain divide by zero then multiply is an error", src: "1 / 0 * 2", wantErr: "operator *: cannot use null"},
		{name: "chain error position", src: "1 + 2 - 'x'", wantErr: `operator -: cannot use string "x"`},
		{name: "equality chain", src: "1 == 1 == true", want: true},
		{name: "ordering chain", src: "3 > 2 > 1", want: false},
		{name: "and chain", src: "1 && 'a' && true", want: true},
		{name: "and chain short-circuits", src: "1 && 0 && 'x' * 2", want: false},
		{name: "and chain error", src: "1 && 'x' * 2 && 0", wantErr: "operator *"},
		{name: "or chain", src: "0 || '' || null", want: false},
		{name: "or chain short-circuits", src: "0 || 2 || 'x' * 2", want: true},
		{name: "coalesce chain lazy", src: "null ?? 0 ?? 'x' * 2", want: 0.0},
		{name: "coalesce chain all null", src: "null ?? null ?? null", want: nil},
		{name: "coalesce chain error", src: "null ?? 'x' * 2 ?? 1", wantErr: "operator *"},
		{name: "parenthesised chain joins the chain", src: "(10 - 2) - 3", want: 5.0},
		{name: "right parenthesised chain stays apart", src: "10 - (2 - 3)", want: 11.0},
		{name: "long chain", src: "0" + strings.Repeat(" + 1", 100000), want: 100000.0},
		{name: "long and chain", src: "true" + strings.Repeat(" && true", 100000), want: true},
	})
}

func TestVariables(t *testing.T) {
	runEvalCases(t, []evalCase{
		{name: "int64 equals literal", src: "x == 3", vars: map[string]any{"x": int64(3)}, want: true},
		{name: "literal equals int64", src: "3 == x", vars: map[string]any{"x": int64(3)}, want: true},
		{name: "int32 and float64", src: "x == y", vars: map[string]any{"x": int32(2), "y": 2.0}, want: true},
		{name: "uint64 arithmetic", src: "x + 1", vars: map[string]any{"x": uint64(41)}, want: 42.0},
		{name: "string variable", src: "concat(ns, '/', n)", vars: map[string]any{"ns": "default", "n": "web"}, want: "default/web"},
		{name: "case-sensitive identifiers", src: "a + A", vars: map[string]any{"a": 1, "A": 10}, want: 11.0},
		{name: "list variable is an error when used", src: "x", vars: map[string]any{"x": []any{1}}, wantErr: `variable "x": lists and objects cannot be used in expressions`},
		{name: "object variable is an error when used", src: "x + 1", vars: map[string]any{"x": map[string]any{}}, wantErr: "lists and objects"},
		{name: "list variable not used", src: "y ?? x", vars: map[string]any{"x": []any{1}, "y": 2}, want: 2.0},
	})
}

func TestFunctions(t *testing.T) {
	runEvalCases(t, []evalCase{
		// concat
		{name: "concat one", src: "concat('a')", want: "a"},
		{name: "concat mixed", src: "concat('a', 1, true, null, 2.5)", want: "a1true2.5"},
		{name: "concat many", src: "concat(1,2,3,4,5,6,7,8,9,10)", want: "12345678910"},
		{name: "concat error in argument", src: "concat('a', 'b' * 2)", wantErr: "operator *"},
		// lower, upper
		{name: "lower", src: "lower('HeLLo ÄÖ')", want: "hello äö"},
		{name: "upper", src: "upper('straße')", want: "STRAßE"},
		{name: "lower of number", src: "lower(12)", want: "12"},
		{name: "upper of null", src: "upper(null)", want: ""},
		// len
		{name: "len counts code points", src: "len('héllo')", want: 5.0},
		{name: "len of number", src: "len(1234)", want: 4.0},
		{name: "len of null", src: "len(null)", want: 0.0},
		{name: "len of bool", src: "len(false)", want: 5.0},
		// substr
		{name: "substr from", src: "substr('hello', 1)", want: "ello"},
		{name: "substr from and length", src: "substr('hello', 1, 3)", want: "ell"},
		{name: "substr on code points", src: "substr('héllo', 1, 2)", want: "él"},
		{name: "substr negative start is zero", src: "substr('hello', -2, 2)", want: "he"},
		{name: "substr start at end", src: "substr('hello', 5)", want: ""},
		{name: "substr start past end", src: "substr('hello', 99, 1)", want: ""},
		{name: "substr negative length", src: "substr('hello', 1, -1)", want: ""},
		{name: "substr zero length", src: "substr('hello', 1, 0)", want: ""},
		{name: "substr length past end is clamped", src: "substr('hello', 3, 100)", want: "lo"},
		{name: "substr fractions are truncated", src: "substr('hello', 1.9, 2.9)", want: "el"},
		{name: "substr huge arguments", src: "substr('hello', 0, 100000000000000000000000)", want: "hello"},
		{name: "substr huge start", src: "substr('hello', 100000000000000000000000)", want: ""},
		{name: "substr huge negative start", src: "substr('hello', -100000000000000000000000, 1)", want: "h"},
		{name: "substr numeric string arguments", src: "substr('hello', '1', '2')", want: "el"},
		{name: "substr of number", src: "substr(12345, 1, 2)", want: "23"},
		{name: "substr null start is an error", src: "substr('hello', null)", wantErr: "substr argument 2: cannot use null as a number"},
		{name: "substr bad length is an error", src: "substr('hello', 1, 'x')", wantErr: "substr argument 3"},
		{name: "substr of empty", src: "substr('', 0, 1)", want: ""},
		// round
		{name: "round", src: "round(2.4)", want: 2.0},
		{name: "round half away from zero", src: "round(2.5)", want: 3.0},
		{name: "round negative half away from zero", src: "round(-2.5)", want: -3.0},
		{name: "round decimals", src: "round(3.14159, 2)", want: 3.14},
		{name: "round decimals half up", src: "round(1.125, 2)", want: 1.13},
		{name: "round negative decimals", src: "round(1234, -2)", want: 1200.0},
		{name: "round fractional decimals truncated", src: "round(3.14159, 2.9)", want: 3.14},
		{name: "round many decimals keeps value", src: "round(1.5, 400)", want: 1.5},
		{name: "round very negative decimals is zero", src: "round(123, -400)", want: 0.0},
		{name: "round huge value with decimals", src: "round(x, 2)", vars: map[string]any{"x": 1e307}, want: 1e307},
		{name: "round negative to zero is zero", src: "round(-0.4)", want: 0.0},
		{name: "round string", src: "round('2.6')", want: 3.0},
		{name: "round bad argument", src: "round('x')", wantErr: "round argument 1"},
		// floor, ceil, abs
		{name: "floor", src: "floor(2.7)", want: 2.0},
		{name: "floor negative", src: "floor(-2.1)", want: -3.0},
		{name: "ceil", src: "ceil(2.1)", want: 3.0},
		{name: "ceil negative to zero", src: "ceil(-0.5)", want: 0.0},
		{name: "abs", src: "abs(-4)", want: 4.0},
		{name: "abs null is an error", src: "abs(null)", wantErr: "abs argument 1: cannot use null"},
		// min, max
		{name: "min", src: "min(3, 2)", want: 2.0},
		{name: "max", src: "max(3, '7')", want: 7.0},
		{name: "max error", src: "max(1, 'x')", wantErr: "max argument 2"},
		// coalesce
		{name: "coalesce first non-null", src: "coalesce(null, null, 3, 4)", want: 3.0},
		{name: "coalesce all null", src: "coalesce(null, nil)", want: nil},
		{name: "coalesce keeps zero", src: "coalesce(0, 1)", want: 0.0},
		{name: "coalesce is lazy", src: "coalesce(1, 'x' * 2)", want: 1.0},
		{name: "coalesce does not catch errors", src: "coalesce('x' * 2, 1)", wantErr: "operator *"},
		// if
		{name: "if true", src: "if(1 < 2, 'yes', 'no')", want: "yes"},
		{name: "if false", src: "if(0, 'yes', 'no')", want: "no"},
		{name: "if null condition", src: "if(null, 1, 2)", want: 2.0},
		{name: "if is lazy", src: "if(true, 1, 'x' * 2)", want: 1.0},
		{name: "if is lazy on the other side", src: "if(false, 'x' * 2, 2)", want: 2.0},
		{name: "if condition error", src: "if('x' * 2, 1, 2)", wantErr: "operator *"},
		// now, age
		{name: "now", src: "now()", want: "2026-03-01T12:00:00Z"},
		{name: "age", src: "age('2026-03-01T11:59:00Z')", want: 60.5},
		{name: "age with offset", src: "age('2026-03-01T13:59:00+02:00')", want: 60.5},
		{name: "age with fraction", src: "age('2026-03-01T11:59:59.25Z')", want: 1.25},
		{name: "age in the future is negative", src: "age('2026-03-01T12:01:00.5Z')", want: -60.0},
		{name: "age long ago does not saturate", src: "age('1026-03-01T12:00:00Z')", want: 31556995200.5},
		{name: "age of now()", src: "age(now())", want: 0.5},
		{name: "age empty", src: "age('')", want: nil},
		{name: "age null", src: "age(null)", want: nil},
		{name: "age invalid", src: "age('yesterday')", want: nil},
		{name: "age not RFC 3339", src: "age('2026-03-01 11:59:00')", want: nil},
		{name: "age without zone", src: "age('2026-03-01T11:59:00')", want: nil},
		{name: "age of number", src: "age(1700000000)", want: nil},
		// formatBytes
		{name: "formatBytes bytes", src: "formatBytes(512)", want: "512.00B"},
		{name: "formatBytes zero", src: "formatBytes(0)", want: "0.00B"},
		{name: "formatBytes just below Ki", src: "formatBytes(1023)", want: "1023.00B"},
		{name: "formatBytes Ki", src: "formatBytes(1024)", want: "1.00Ki"},
		{name: "formatBytes Ki fraction", src: "formatBytes(1536)", want: "1.50Ki"},
		{name: "formatBytes Mi", src: "formatBytes(1048576 * 3)", want: "3.00Mi"},
		{name: "formatBytes Gi", src: "formatBytes(1024 * 1024 * 1024 * 1.5)", want: "1.50Gi"},
		{name: "formatBytes Ti", src: "formatBytes(1024 * 1024 * 1024 * 1024)", want: "1.00Ti"},
		{name: "formatBytes Pi", src: "formatBytes(1024 * 1024 * 1024 * 1024 * 1024 * 2048)", want: "2048.00Pi"},
		{name: "formatBytes negative stays in bytes", src: "formatBytes(-2048)", want: "-2048.00B"},
		{name: "formatBytes tiny negative", src: "formatBytes(-0.001)", want: "0.00B"},
		{name: "formatBytes string", src: "formatBytes('2048')", want: "2.00Ki"},
		{name: "formatBytes null is an error", src: "formatBytes(null)", wantErr: "formatBytes argument 1"},
		// contains, startsWith, endsWith
		{name: "contains", src: "contains('hello', 'ell')", want: true},
		{name: "contains not", src: "contains('hello', 'xyz')", want: false},
		{name: "contains number", src: "contains(12345, 34)", want: true},
		{name: "contains empty", src: "contains('a', '')", want: true},
		{name: "contains null", src: "contains(null, '')", want: true},
		{name: "startsWith", src: "startsWith('kube-system', 'kube-')", want: true},
		{name: "startsWith not", src: "startsWith('kube-system', 'system')", want: false},
		{name: "endsWith", src: "endsWith('kube-system', 'system')", want: true},
		{name: "endsWith not", src: "endsWith('kube-system', 'kube')", want: false},
		// toString
		{name: "toString number", src: "toString(65)", want: "65"},
		{name: "toString fraction", src: "toString(2.5)", want: "2.5"},
		{name: "toString bool", src: "toString(true)", want: "true"},
		{name: "toString null", src: "toString(null)", want: ""},
		{name: "toString big number", src: "toString(x)", vars: map[string]any{"x": 1e21}, want: "1000000000000000000000"},
		// toNumber
		{name: "toNumber numeric string", src: "toNumber('42')", want: 42.0},
		{name: "toNumber padded", src: "toNumber(' -3.5 ')", want: -3.5},
		{name: "toNumber non-numeric is null", src: "toNumber('abc')", want: nil},
		{name: "toNumber exponent is null", src: "toNumber('1e3')", want: nil},
		{name: "toNumber null", src: "toNumber(null)", want: nil},
		{name: "toNumber bool", src: "toNumber(true)", want: 1.0},
		{name: "toNumber number", src: "toNumber(7)", want: 7.0},
		{name: "toNumber minus zero string", src: "toNumber('-0')", want: 0.0},
		{name: "toNumber propagates argument errors", src: "toNumber('x' * 1)", wantErr: "operator *"},
	})
}

// TestOriginalBugs pins every silent failure of the original expression engine
// (reference §5.3, §10.3) to its fixed behaviour.
func TestOriginalBugs(t *testing.T) {
	runEvalCases(t, []evalCase{
		{name: "toNumber of a numeric string was 0", src: "toNumber('42')", want: 42.0},
		{name: "int64 on the left of == was always false", src: "x == 3", vars: map[string]any{"x": int64(3)}, want: true},
		{name: "int64 on the left of != was always true", src: "x != 3", vars: map[string]any{"x": int64(3)}, want: false},
		{name: "% by zero was NaN", src: "5 % 0", want: nil},
		{name: "substr with negative length panicked", src: "substr('hello', 1, -1)", want: ""},
		{name: "len counted bytes", src: "len('héllo')", want: 5.0},
		{name: "substr indexed bytes", src: "substr('héllo', 0, 2)", want: "hé"},
		{name: "number == numeric string was false", src: "5 == '5'", want: true},
		{name: "strings were 0 in arithmetic", src: "'abc' * 2", wantErr: "cannot use string"},
		{name: "numeric strings were 0 in arithmetic", src: "'21' * 2", want: 42.0},
		{name: "null was 0 in arithmetic", src: "x + 1", vars: map[string]any{"x": nil}, wantErr: "cannot use null"},
		{name: "strings compared as 0 in ordering", src: "'b' > 'a'", want: true},
	})

	// Compile-time errors that the original detected only at evaluation or never.
	compileErrors := []struct {
		name, src, want string
		pos             int
	}{
		{"truncation at =", "a = b", "unexpected character '='", 2},
		{"truncation at .", "a.b + 1", "unexpected character '.'", 1},
		{"unknown function was null at runtime", "sum(a)", `unknown function "sum"`, 0},
		{"wrong arity was null at runtime", "min(a)", "function min takes 2 argument(s), got 1", 0},
	}
	for _, tt := range compileErrors {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := compileVars(t, tt.src, map[string]any{"a": 1, "b": 2})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("compile %q error = %v, want containing %q", tt.src, err, tt.want)
			}
			if want := "at position " + string(rune('0'+tt.pos)) + ":"; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q, want prefix %q", err, want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		wantPos int
		wantMsg string
	}{
		{"unknown identifier", "a + zz", 4, `unknown identifier "zz"`},
		{"unknown function", "1 + frob(a)", 4, `unknown function "frob"`},
		{"function names are case-sensitive", "Concat(a)", 0, `unknown function "Concat"`},
		{"unknown identifier inside call", "concat(a, q)", 10, `unknown identifier "q"`},
		{"now takes none", "now(1)", 0, "function now takes 0 argument(s), got 1"},
		{"lower takes one", "lower()", 0, "function lower takes 1 argument(s), got 0"},
		{"contains takes two", "contains(a)", 0, "function contains takes 2 argument(s), got 1"},
		{"round takes one or two", "round(1, 2, 3)", 0, "function round takes 1 or 2 argument(s), got 3"},
		{"substr takes two or three", "substr(a)", 0, "function substr takes 2 or 3 argument(s), got 1"},
		{"if takes three", "if(a, 1)", 0, "function if takes 3 argument(s), got 2"},
		{"concat takes at least one", "concat()", 0, "function concat takes at least 1 argument(s), got 0"},
		{"coalesce takes at least one", "coalesce()", 0, "function coalesce takes at least 1 argument(s), got 0"},
		{"function name as variable", "a + if", 4, `unknown identifier "if"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := compileVars(t, tt.src, map[string]any{"a": 1})
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("compile %q error = %v, want *CompileError", tt.src, err)
			}
			if ce.Pos != tt.wantPos || ce.Msg != tt.wantMsg {
				t.Errorf("compile %q = %q at %d, want %q at %d", tt.src, ce.Msg, ce.Pos, tt.wantMsg, tt.wantPos)
			}
		})
	}

	t.Run("negative slot", func(t *testing.T) {
		e, _ := Parse("a")
		_, err := Compile(e, func(string) (int, bool) { return -1, true }, Options{})
		if err == nil {
			t.Fatal("Compile with slot -1 succeeded")
		}
	})
	t.Run("nil resolve", func(t *testing.T) {
		e, _ := Parse("a")
		if _, err := Compile(e, nil, Options{}); err == nil {
			t.Fatal("Compile with nil resolve and an identifier succeeded")
		}
		e, _ = Parse("1 + 2")
		p, err := Compile(e, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Eval(nil)
		if err != nil || got.Num() != 3 {
			t.Errorf("Eval = %#v, %v; want 3", got, err)
		}
	})
	t.Run("nil expression", func(t *testing.T) {
		if _, err := Compile(nil, nil, Options{}); err == nil {
			t.Fatal("Compile(nil) succeeded")
		}
	})
}

func TestEvalBounds(t *testing.T) {
	big := strings.Repeat("x", MaxStringLen)
	runEvalCases(t, []evalCase{
		{name: "string at the limit", src: "len(s + '')", vars: map[string]any{"s": big}, want: float64(MaxStringLen)},
		{name: "plus over the limit", src: "s + 'y'", vars: map[string]any{"s": big}, wantErr: "operator +: result longer than 65536 characters"},
		{name: "concat over the limit", src: "concat(s, 'y')", vars: map[string]any{"s": big}, wantErr: "concat: result longer than 65536"},
		{name: "limit counts code points", src: "len(s + 'é')", vars: map[string]any{"s": strings.Repeat("é", MaxStringLen-1)}, want: float64(MaxStringLen)},
		{name: "doubling is stopped", src: "concat(s, s, s, s, s, s, s, s, s, s)", vars: map[string]any{"s": strings.Repeat("ab", 10000)}, wantErr: "result longer"},
		{name: "four-byte characters", src: "s + s", vars: map[string]any{"s": strings.Repeat("😀", MaxStringLen/2)}, want: strings.Repeat("😀", MaxStringLen)},
		{name: "lower of an over-long variable", src: "lower(s)", vars: map[string]any{"s": big + "X"}, wantErr: "lower: result longer"},
		{name: "deep nesting evaluates", src: strings.Repeat("-(", 50) + "1" + strings.Repeat(")", 50), want: 1.0},
	})

	t.Run("missing slot is an error, not a panic", func(t *testing.T) {
		e, _ := Parse("a + 1")
		p, err := Compile(e, func(string) (int, bool) { return 5, true }, Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Eval([]Value{Number(1)})
		var ee *EvalError
		if !errors.As(err, &ee) || ee.Pos != 0 || !strings.Contains(ee.Msg, `variable "a" has no value`) {
			t.Errorf("Eval error = %v, want missing-slot EvalError at 0", err)
		}
	})
	t.Run("default clock is time.Now", func(t *testing.T) {
		e, _ := Parse("age(now())")
		p, err := Compile(e, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Eval(nil)
		if err != nil || got.Kind() != KindNumber || got.Num() > 1 || got.Num() < -1 {
			t.Errorf("age(now()) = %#v, %v; want about 0", got, err)
		}
	})
}

// TestNumericEvalDoesNotAllocate holds the promise that numeric expressions allocate nothing.
func TestNumericEvalDoesNotAllocate(t *testing.T) {
	tests := []string{
		"used / capacity * 100",
		"round(used / capacity * 100, 2)",
		"coalesce(a, 0) + coalesce(b, 0)",
		"if(used > capacity && !(a == null), min(used, capacity), max(-used % 7, floor(capacity)))",
		"abs(ceil(used - capacity)) >= 3 || a ?? b <= 2",
		"used / 0 ?? 1",
		"x == 3",
	}
	vars := map[string]any{"used": 12.5, "capacity": 40, "a": nil, "b": 2, "x": int64(3)}
	for _, src := range tests {
		t.Run(src, func(t *testing.T) {
			p, values, err := compileVars(t, src, vars)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Eval(values); err != nil {
				t.Fatal(err)
			}
			allocs := testing.AllocsPerRun(100, func() { _, _ = p.Eval(values) })
			if allocs != 0 {
				t.Errorf("Eval allocates %v times per run, want 0", allocs)
			}
		})
	}
}

func TestConcurrentEval(t *testing.T) {
	p, values, err := compileVars(t, "concat(n, '-', round(x / 3, 2))", map[string]any{"n": "a", "x": 10})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 8)
	for range 8 {
		go func() {
			v, _ := p.Eval(values)
			done <- v.Str()
		}()
	}
	for range 8 {
		if got := <-done; got != "a-3.33" {
			t.Errorf("concurrent Eval = %q, want %q", got, "a-3.33")
		}
	}
}
