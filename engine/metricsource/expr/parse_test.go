package expr

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePrint(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{"a", "a"},
		{"  a\t\r\n", "a"},
		{"42", "42"},
		{"3.50", "3.5"},
		{"007", "7"},
		{"0.000", "0"},
		{"123456789012345678901234567890", "123456789012345680000000000000"},
		{"'it' + 's'", `"it" + "s"`},
		{`'single'`, `"single"`},
		{`"dou\"ble"`, `"dou\"ble"`},
		{`'a\'b'`, `"a'b"`},
		{`"tab\tnl\nback\\slash\q"`, `"tab\tnl\nback\\slashq"`},
		{`"ünï ✓"`, `"ünï ✓"`},
		{"TRUE", "true"},
		{"False", "false"},
		{"NULL", "null"},
		{"nil", "null"},
		{"NiL", "null"},
		{"_x1", "_x1"},
		{"trueish", "trueish"},
		{"a+b*c", "a + b * c"},
		{"(a+b)*c", "(a + b) * c"},
		{"a-b-c", "a - b - c"},
		{"a-(b-c)", "a - (b - c)"},
		{"(a-b)-c", "a - b - c"},
		{"a/(b*c)", "a / (b * c)"},
		{"a%b*c", "a % b * c"},
		{"a ?? b ?? c", "a ?? b ?? c"},
		{"a ?? (b ?? c)", "a ?? (b ?? c)"},
		{"a || b && c", "a || b && c"},
		{"(a || b) && c", "(a || b) && c"},
		{"a == b != c", "a == b != c"},
		{"a < b == c >= d", "a < b == c >= d"},
		{"1 < 2 < 3", "1 < 2 < 3"},
		{"a <= b > c", "a <= b > c"},
		{"!a", "!a"},
		{"!!a", "!!a"},
		{"- -a", "--a"},
		{"-a*b", "-a * b"},
		{"-(a*b)", "-(a * b)"},
		{"!(a && b)", "!(a && b)"},
		{"a - -3", "a - -3"},
		{"((((a))))", "a"},
		{"f()", "f()"},
		{"now( )", "now()"},
		{"concat(a,'/',b)", `concat(a, "/", b)`},
		{"round(used / capacity * 100, 2)", "round(used / capacity * 100, 2)"},
		{"if(a>1, (b), c ?? d)", "if(a > 1, b, c ?? d)"},
		{"f (a)", "f(a)"},
		{"a ?? b || c", "a ?? b || c"},
		{"(a ?? b) || c", "(a ?? b) || c"},
		{"a + (b ?? c)", "a + (b ?? c)"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := Parse(tt.src)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.src, err)
			}
			got := e.String()
			if got != tt.want {
				t.Errorf("Parse(%q).String() = %q, want %q", tt.src, got, tt.want)
			}
			again, err := Parse(got)
			if err != nil {
				t.Fatalf("re-parse %q: %v", got, err)
			}
			if !again.Equal(e) {
				t.Errorf("re-parsed %q is not equal to the tree of %q", got, tt.src)
			}
		})
	}
}

func TestParseStructure(t *testing.T) {
	// Equal must distinguish what precedence and associativity decide.
	tests := []struct {
		a, b string
		want bool
	}{
		{"a + b * c", "a + (b * c)", true},
		{"a + b * c", "(a + b) * c", false},
		{"a - b - c", "(a - b) - c", true},
		{"a - b - c", "a - (b - c)", false},
		{"(a - b) + c", "a - b + c", true},
		{"(a + b) - c", "a + (b - c)", false},
		{"(a * b) * c", "a * b * c", true},
		{"a + b", "a + b + c", false},
		{"a + b - c", "a - b + c", false},
		{"a ?? b || c", "a ?? (b || c)", true},
		{"-a * b", "(-a) * b", true},
		{"!a == b", "(!a) == b", true},
		{"3", "3.0", true},
		{"null", "nil", true},
		{"'a'", `"a"`, true},
		{"'1'", "1", false},
		{"true", "1", false},
		{"null", "false", false},
		{"f(a)", "f(a, b)", false},
		{"f(a)", "g(a)", false},
		{"a", "A", false},
		{"x < y", "x <= y", false},
		{"-a", "!a", false},
	}
	for _, tt := range tests {
		t.Run(tt.a+" vs "+tt.b, func(t *testing.T) {
			a, err := Parse(tt.a)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Parse(tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Equal(b); got != tt.want {
				t.Errorf("Equal = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("nil", func(t *testing.T) {
		a, _ := Parse("a")
		if a.Equal(nil) {
			t.Error("a.Equal(nil) = true")
		}
		var n *Expr
		if !n.Equal(nil) {
			t.Error("nil.Equal(nil) = false")
		}
	})
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		wantPos int
		wantMsg string
	}{
		// The original silently truncated at these characters; each is now an error.
		{"single equals", "a = b", 2, "unexpected character '='"},
		{"dot", "a.b + 1", 1, "unexpected character '.'"},
		{"single ampersand", "a & b", 2, "unexpected character '&'"},
		{"single pipe", "a | b", 2, "unexpected character '|'"},
		{"ternary", "a ? b : c", 2, "unexpected character '?'"},
		{"dollar", "$a", 0, "unexpected character '$'"},
		{"bracket", "a[0]", 1, "unexpected character '['"},
		{"colon", "a:b", 1, "unexpected character ':'"},
		{"non-ASCII letter", "a + é", 4, "unexpected character 'é'"},
		{"position counts code points", "'ééé' + é", 8, "unexpected character 'é'"},
		{"non-breaking space", "a +\u00a0b", 3, "unexpected character"},
		{"invalid UTF-8", "a + \xff", 4, "invalid UTF-8"},
		{"number with two dots", "1.2.3", 3, "unexpected character '.'"},
		{"trailing dot", "5.", 1, "decimal point must be followed by a digit"},
		{"leading dot", ".5", 0, "unexpected character '.'"},
		{"exponent", "1e3", 1, "unexpected identifier e3 after a complete expression"},
		{"huge number", "1" + strings.Repeat("0", 400), 0, "out of range"},
		{"empty", "", 0, "empty expression"},
		{"blank", "  \t", 3, "empty expression"},
		{"trailing input", "a b", 2, "unexpected identifier b after a complete expression"},
		{"trailing paren", "a)", 1, "unexpected ')'"},
		{"missing operand", "a +", 3, "expected an expression, found end of input"},
		{"operator first", "* a", 0, "expected an expression, found '*'"},
		{"unclosed paren", "(a + b", 6, "expected ')' to close '(' at position 0"},
		{"empty parens", "()", 1, "expected an expression, found ')'"},
		{"unclosed call", "f(a, b", 6, "expected ',' or ')'"},
		{"trailing comma", "f(a,)", 4, "expected an expression, found ')'"},
		{"leading comma", "f(,a)", 2, "expected an expression"},
		{"unterminated string", "a + 'abc", 4, "unterminated string"},
		{"backslash at end", `"abc\`, 0, "unterminated string"},
		{"keyword call", "true(1)", 4, "unexpected '('"},
		{"not equal alone", "a !", 2, "unexpected '!' after a complete expression"},
		{"double comparison operator", "a === b", 4, "unexpected character '='"},
		{"lex error after parse error is not reported first", "(a b $", 3, "expected ')'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.src)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error = %v, want *SyntaxError", tt.src, err)
			}
			if se.Pos != tt.wantPos || !strings.Contains(se.Msg, tt.wantMsg) {
				t.Errorf("Parse(%q) = %q at %d, want %q at %d", tt.src, se.Msg, se.Pos, tt.wantMsg, tt.wantPos)
			}
			if want := "at position "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", err.Error(), want)
			}
		})
	}
}

func TestParseDepth(t *testing.T) {
	nest := func(open, close string, n int) string {
		return strings.Repeat(open, n) + "a" + strings.Repeat(close, n)
	}
	calls := func(n int) string { return nest("f(", ")", n) }
	tests := []struct {
		name    string
		src     string
		wantErr bool
	}{
		{"100 parentheses", nest("(", ")", MaxDepth), false},
		{"101 parentheses", nest("(", ")", MaxDepth+1), true},
		{"100 calls", calls(MaxDepth), false},
		{"101 calls", calls(MaxDepth + 1), true},
		{"100 unary", strings.Repeat("!", MaxDepth) + "a", false},
		{"101 unary", strings.Repeat("-", MaxDepth+1) + "a", true},
		{"mixed 50 parentheses and 51 unary", nest("(-", ")", 50) + " + " + "-a", false},
		{"mixed 51 parentheses and 50 unary", "-" + nest("(-", ")", 50), true},
		{"siblings do not add up", nest("(", ")", 60) + " + " + nest("(", ")", 60), false},
		{"long flat chain", "a" + strings.Repeat(" + a", 100000), false},
		{"long mixed chains", "a" + strings.Repeat(" * b - c ?? d", 50000), false},
		{"long flat argument list", "concat(a" + strings.Repeat(", a", 10000) + ")", false},
		{"100000 parentheses fail fast", nest("(", ")", 100000), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.src)
			if tt.wantErr {
				var se *SyntaxError
				if !errors.As(err, &se) || !strings.Contains(se.Msg, "nested deeper than 100") {
					t.Fatalf("Parse error = %v, want nesting error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			again, err := Parse(e.String())
			if err != nil || !again.Equal(e) {
				t.Errorf("round trip failed: %v", err)
			}
		})
	}
}

func TestIdentifiers(t *testing.T) {
	tests := []struct {
		src  string
		want []string
	}{
		{"1 + 2", nil},
		{"b + a + b", []string{"a", "b"}},
		{"concat(name, '/', namespace) ?? name", []string{"name", "namespace"}},
		{"f(x) + if(y, z, null)", []string{"x", "y", "z"}},
		{"now()", nil},
		{"B + b", []string{"B", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := Parse(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, e.Identifiers()); diff != "" {
				t.Errorf("Identifiers mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
