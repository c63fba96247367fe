package expr

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// arity returns the argument counts of a built-in function; max < 0 means any number.
func arity(name string) (min, max int, ok bool) {
	switch name {
	case "now":
		return 0, 0, true
	case "lower", "upper", "len", "floor", "ceil", "abs", "age", "formatBytes", "toString", "toNumber":
		return 1, 1, true
	case "min", "max", "contains", "startsWith", "endsWith":
		return 2, 2, true
	case "round":
		return 1, 2, true
	case "substr":
		return 2, 3, true
	case "if":
		return 3, 3, true
	case "concat", "coalesce":
		return 1, -1, true
	}
	return 0, 0, false
}

func (c *compiler) call(n *node) (evalFn, error) {
	min, max, ok := arity(n.name)
	if !ok {
		return nil, &CompileError{Pos: n.pos, Msg: fmt.Sprintf("unknown function %q", n.name)}
	}
	if got := len(n.args); got < min || (max >= 0 && got > max) {
		want := strconv.Itoa(min)
		switch {
		case max < 0:
			want = "at least " + want
		case max > min:
			want += " or " + strconv.Itoa(max)
		}
		return nil, &CompileError{Pos: n.pos, Msg: fmt.Sprintf("function %s takes %s argument(s), got %d", n.name, want, got)}
	}
	args := make([]evalFn, len(n.args))
	for i, a := range n.args {
		f, err := c.compile(a)
		if err != nil {
			return nil, err
		}
		args[i] = f
	}
	return c.builtin(n.name, n.pos, args), nil
}

// numArg evaluates argument i of function name as a number via toNumber.
func numArg(vars []Value, args []evalFn, i, pos int, name string) (float64, error) {
	v, err := args[i](vars)
	if err != nil {
		return 0, err
	}
	if v.kind == KindNumber {
		return v.num, nil
	}
	if f, ok := toNumber(v); ok {
		return f, nil
	}
	return 0, convError(pos, fmt.Sprintf("%s argument %d", name, i+1), v)
}

// strArg evaluates argument i as a string via toString (null is "").
func strArg(vars []Value, args []evalFn, i int) (string, error) {
	v, err := args[i](vars)
	if err != nil {
		return "", err
	}
	return toString(v), nil
}

// math1 builds a one-argument numeric function.
func math1(args []evalFn, pos int, name string, f func(float64) float64) evalFn {
	return func(vars []Value) (Value, error) {
		x, err := numArg(vars, args, 0, pos, name)
		if err != nil {
			return Value{}, err
		}
		return Number(f(x)), nil
	}
}

// str2 builds a two-argument string predicate.
func str2(args []evalFn, f func(s, t string) bool) evalFn {
	return func(vars []Value) (Value, error) {
		s, err := strArg(vars, args, 0)
		if err != nil {
			return Value{}, err
		}
		t, err := strArg(vars, args, 1)
		if err != nil {
			return Value{}, err
		}
		return Bool(f(s, t)), nil
	}
}

// strMap builds a one-argument string mapping.
func strMap(args []evalFn, pos int, name string, f func(string) string) evalFn {
	return func(vars []Value) (Value, error) {
		s, err := strArg(vars, args, 0)
		if err != nil {
			return Value{}, err
		}
		s = f(s)
		if tooLong(s) {
			return Value{}, tooLongError(pos, name)
		}
		return String(s), nil
	}
}

// builtin returns the closure of a function whose name and arity Compile has checked.
func (c *compiler) builtin(name string, pos int, args []evalFn) evalFn {
	switch name {
	case "concat":
		return func(vars []Value) (Value, error) {
			var buf [8]string
			parts := buf[:0]
			for i := range args {
				s, err := strArg(vars, args, i)
				if err != nil {
					return Value{}, err
				}
				parts = append(parts, s)
			}
			return concat(pos, "concat", parts...)
		}
	case "lower":
		return strMap(args, pos, name, strings.ToLower)
	case "upper":
		return strMap(args, pos, name, strings.ToUpper)
	case "toString":
		return func(vars []Value) (Value, error) {
			s, err := strArg(vars, args, 0)
			if err != nil {
				return Value{}, err
			}
			return String(s), nil
		}
	case "len":
		return func(vars []Value) (Value, error) {
			s, err := strArg(vars, args, 0)
			if err != nil {
				return Value{}, err
			}
			return Number(float64(utf8.RuneCountInString(s))), nil
		}
	case "substr":
		return func(vars []Value) (Value, error) { return substr(vars, args, pos) }
	case "round":
		return func(vars []Value) (Value, error) {
			x, err := numArg(vars, args, 0, pos, name)
			if err != nil {
				return Value{}, err
			}
			if len(args) == 1 {
				return Number(math.Round(x)), nil
			}
			d, err := numArg(vars, args, 1, pos, name)
			if err != nil {
				return Value{}, err
			}
			return Number(roundTo(x, d)), nil
		}
	case "floor":
		return math1(args, pos, name, math.Floor)
	case "ceil":
		return math1(args, pos, name, math.Ceil)
	case "abs":
		return math1(args, pos, name, math.Abs)
	case "min", "max":
		pick := math.Min
		if name == "max" {
			pick = math.Max
		}
		return func(vars []Value) (Value, error) {
			x, err := numArg(vars, args, 0, pos, name)
			if err != nil {
				return Value{}, err
			}
			y, err := numArg(vars, args, 1, pos, name)
			if err != nil {
				return Value{}, err
			}
			return Number(pick(x, y)), nil
		}
	case "coalesce":
		return func(vars []Value) (Value, error) {
			for _, a := range args {
				v, err := a(vars)
				if err != nil || v.kind != KindNull {
					return v, err
				}
			}
			return Null(), nil
		}
	case "if":
		return func(vars []Value) (Value, error) {
			v, err := args[0](vars)
			if err != nil {
				return Value{}, err
			}
			if toBool(v) {
				return args[1](vars)
			}
			return args[2](vars)
		}
	case "now":
		now := c.now
		return func([]Value) (Value, error) {
			return String(now().UTC().Format("2006-01-02T15:04:05Z")), nil
		}
	case "age":
		now := c.now
		return func(vars []Value) (Value, error) {
			s, err := strArg(vars, args, 0)
			if err != nil {
				return Value{}, err
			}
			return age(now(), s), nil
		}
	case "formatBytes":
		return func(vars []Value) (Value, error) {
			x, err := numArg(vars, args, 0, pos, name)
			if err != nil {
				return Value{}, err
			}
			return String(formatBytes(x)), nil
		}
	case "contains":
		return str2(args, strings.Contains)
	case "startsWith":
		return str2(args, strings.HasPrefix)
	case "endsWith":
		return str2(args, strings.HasSuffix)
	case "toNumber":
		return func(vars []Value) (Value, error) {
			v, err := args[0](vars)
			if err != nil {
				return Value{}, err
			}
			if f, ok := toNumber(v); ok {
				return Number(f), nil
			}
			return Null(), nil
		}
	}
	// arity accepted a name this switch does not know: a bug, reported rather than panicking.
	return func([]Value) (Value, error) {
		return Value{}, &EvalError{Pos: pos, Msg: fmt.Sprintf("function %s is not implemented", name)}
	}
}

// substr(s, start[, length]) on code points: start < 0 counts as 0, start at or past the end
// gives "", a negative length gives "", a length past the end is clamped, fractions are
// truncated. Bounds are compared as floats before any conversion to int, so no argument can
// overflow or panic.
func substr(vars []Value, args []evalFn, pos int) (Value, error) {
	s, err := strArg(vars, args, 0)
	if err != nil {
		return Value{}, err
	}
	start, err := numArg(vars, args, 1, pos, "substr")
	if err != nil {
		return Value{}, err
	}
	n := utf8.RuneCountInString(s)
	start = math.Max(math.Trunc(start), 0)
	if start >= float64(n) {
		return String(""), nil
	}
	from := int(start)
	count := n - from
	if len(args) == 3 {
		l, err := numArg(vars, args, 2, pos, "substr")
		if err != nil {
			return Value{}, err
		}
		l = math.Trunc(l)
		if l < 0 {
			return String(""), nil
		}
		if l < float64(count) {
			count = int(l)
		}
	}
	// Find the byte offsets of code points from and from+count.
	b, e, i := len(s), len(s), 0
	for off := range s {
		if i == from {
			b = off
		}
		if i == from+count {
			e = off
			break
		}
		i++
	}
	return String(s[b:e]), nil
}

// roundTo rounds x half away from zero to d decimals (d truncated; negative d rounds to tens,
// hundreds, ...) computed in float64 as math.Round(x*10^d)/10^d. Where that formula would
// overflow, x has no digits left to round and is returned as is; where 10^d underflows to 0,
// the result is 0.
func roundTo(x, d float64) float64 {
	d = math.Trunc(d)
	if d > 400 {
		return x
	}
	if d < -400 {
		return 0
	}
	p := math.Pow10(int(d))
	if p == 0 {
		return 0
	}
	y := x * p
	if math.IsInf(p, 0) || math.IsInf(y, 0) {
		return x
	}
	return math.Round(y) / p
}

// age returns the seconds since the RFC 3339 time s (negative for the future), or null if s is
// empty or not a valid RFC 3339 time. It avoids time.Duration, which saturates at 292 years.
func age(now time.Time, s string) Value {
	if s == "" {
		return Null()
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return Null()
	}
	secs := float64(now.Unix()-t.Unix()) + float64(now.Nanosecond()-t.Nanosecond())/1e9
	return Number(secs)
}

// formatBytes prints x in binary units with two decimals, dividing by 1024 while x ≥ 1024.
func formatBytes(x float64) string {
	units := [...]string{"B", "Ki", "Mi", "Gi", "Ti", "Pi"}
	i := 0
	for x >= 1024 && i < len(units)-1 {
		x /= 1024
		i++
	}
	s := strconv.FormatFloat(x, 'f', 2, 64)
	if s == "-0.00" {
		s = "0.00"
	}
	return s + units[i]
}
