package expr

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CompileError is a compile error: an unknown identifier, an unknown function or a wrong
// number of arguments. Pos is the 0-based code-point offset in the source.
type CompileError struct {
	Pos int
	Msg string
}

// Error returns "at position N: msg".
func (e *CompileError) Error() string { return "at position " + strconv.Itoa(e.Pos) + ": " + e.Msg }

// EvalError is an evaluation error: a value that cannot be converted, a string over
// MaxStringLen, a variable that cannot be used. Pos is the code-point offset of the operator,
// function or variable that failed. The caller makes the computed value null and counts it.
type EvalError struct {
	Pos int
	Msg string
}

// Error returns "at position N: msg".
func (e *EvalError) Error() string { return "at position " + strconv.Itoa(e.Pos) + ": " + e.Msg }

// Options configures Compile.
type Options struct {
	// Now is the clock of now() and age(); nil means time.Now.
	Now func() time.Time
}

// Program is a compiled expression, safe for concurrent use.
type Program struct {
	root evalFn
}

// evalFn evaluates one node. The compiled form is a tree of these closures.
type evalFn func(vars []Value) (Value, error)

// Compile binds e to variable slots and built-in functions. resolve maps a variable name to the
// index of its value in the slice given to Eval. An unknown identifier, an unknown function or
// a wrong number of arguments is a *CompileError naming it.
func Compile(e *Expr, resolve func(name string) (slot int, ok bool), opts Options) (*Program, error) {
	if e == nil || e.root == nil {
		return nil, &CompileError{Msg: "no expression"}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &compiler{resolve: resolve, now: opts.Now}
	root, err := c.compile(e.root)
	if err != nil {
		return nil, err
	}
	return &Program{root: root}, nil
}

// Eval evaluates the program over vars, indexed by the slots resolve returned. Errors are
// *EvalError; the result is then Null().
func (p *Program) Eval(vars []Value) (Value, error) {
	v, err := p.root(vars)
	if err != nil {
		return Null(), err
	}
	return v, nil
}

type compiler struct {
	resolve func(string) (int, bool)
	now     func() time.Time
}

func (c *compiler) compile(n *node) (evalFn, error) {
	switch n.kind {
	case nLiteral:
		v := n.lit
		return func([]Value) (Value, error) { return v, nil }, nil
	case nIdent:
		return c.ident(n)
	case nCall:
		return c.call(n)
	}
	args := make([]evalFn, len(n.args))
	for i, a := range n.args {
		f, err := c.compile(a)
		if err != nil {
			return nil, err
		}
		args[i] = f
	}
	if n.kind == nUnary {
		return unary(n.op, n.pos, args[0]), nil
	}
	if len(args) == 2 {
		return binary(n.ops[0].op, n.ops[0].pos, args[0], args[1]), nil
	}
	return chain(n.ops, args), nil
}

func (c *compiler) ident(n *node) (evalFn, error) {
	var slot int
	var ok bool
	if c.resolve != nil {
		slot, ok = c.resolve(n.name)
	}
	if !ok {
		return nil, &CompileError{Pos: n.pos, Msg: fmt.Sprintf("unknown identifier %q", n.name)}
	}
	if slot < 0 {
		return nil, &CompileError{Pos: n.pos, Msg: fmt.Sprintf("identifier %q resolved to negative slot %d", n.name, slot)}
	}
	name, pos := n.name, n.pos
	return func(vars []Value) (Value, error) {
		if slot >= len(vars) {
			return Value{}, &EvalError{Pos: pos, Msg: fmt.Sprintf("variable %q has no value (slot %d, %d values given)", name, slot, len(vars))}
		}
		v := vars[slot]
		if v.kind == KindInvalid {
			return Value{}, &EvalError{Pos: pos, Msg: fmt.Sprintf("variable %q: %s", name, v.str)}
		}
		return v, nil
	}, nil
}

// convError reports a value that an operator or function cannot use as a number.
func convError(pos int, what string, v Value) error {
	return &EvalError{Pos: pos, Msg: fmt.Sprintf("%s: cannot use %s as a number", what, describe(v))}
}

func opName(o op) string { return "operator " + o.symbol() }

// num converts an operand of o; the fast path for numbers is inlined by the compiler.
func num(v Value, pos int, o op) (float64, error) {
	if v.kind == KindNumber {
		return v.num, nil
	}
	if f, ok := toNumber(v); ok {
		return f, nil
	}
	return 0, convError(pos, opName(o), v)
}

func unary(o op, pos int, x evalFn) evalFn {
	if o == opNot {
		return func(vars []Value) (Value, error) {
			v, err := x(vars)
			if err != nil {
				return Value{}, err
			}
			return Bool(!toBool(v)), nil
		}
	}
	return func(vars []Value) (Value, error) {
		v, err := x(vars)
		if err != nil {
			return Value{}, err
		}
		f, err := num(v, pos, o)
		if err != nil {
			return Value{}, err
		}
		return Number(-f), nil
	}
}

// binary builds one binary operator.
func binary(o op, pos int, l, r evalFn) evalFn {
	switch o {
	case opCoalesce:
		return func(vars []Value) (Value, error) {
			v, err := l(vars)
			if err != nil || v.kind != KindNull {
				return v, err
			}
			return r(vars)
		}
	case opAnd, opOr:
		// Short-circuit: && stops at a false left side, || at a true one.
		stop := o == opOr
		return func(vars []Value) (Value, error) {
			v, err := l(vars)
			if err != nil {
				return Value{}, err
			}
			if toBool(v) == stop {
				return Bool(stop), nil
			}
			if v, err = r(vars); err != nil {
				return Value{}, err
			}
			return Bool(toBool(v)), nil
		}
	}
	return func(vars []Value) (Value, error) {
		a, b, err := both(vars, l, r)
		if err != nil {
			return Value{}, err
		}
		return apply(o, pos, a, b)
	}
}

// chain builds a left-associative chain of operators of one level (see node) as a loop, so
// that evaluating a + b + … does not recurse once per operator.
func chain(ops []opPos, args []evalFn) evalFn {
	ops = slices.Clone(ops)
	first, rest := args[0], args[1:]
	switch ops[0].op {
	case opCoalesce:
		return func(vars []Value) (Value, error) {
			v, err := first(vars)
			for _, f := range rest {
				if err != nil || v.kind != KindNull {
					break
				}
				v, err = f(vars)
			}
			return v, err
		}
	case opAnd, opOr:
		stop := ops[0].op == opOr
		return func(vars []Value) (Value, error) {
			v, err := first(vars)
			for _, f := range rest {
				if err != nil {
					return Value{}, err
				}
				if toBool(v) == stop {
					return Bool(stop), nil
				}
				v, err = f(vars)
			}
			if err != nil {
				return Value{}, err
			}
			return Bool(toBool(v)), nil
		}
	}
	return func(vars []Value) (Value, error) {
		acc, err := first(vars)
		if err != nil {
			return Value{}, err
		}
		for i, f := range rest {
			b, err := f(vars)
			if err != nil {
				return Value{}, err
			}
			if acc, err = apply(ops[i].op, ops[i].pos, acc, b); err != nil {
				return Value{}, err
			}
		}
		return acc, nil
	}
}

// apply evaluates a binary operator that needs both operands (all but ??, && and ||).
func apply(o op, pos int, a, b Value) (Value, error) {
	if a.kind == KindNumber && b.kind == KindNumber && o >= opAdd {
		return arith(o, a.num, b.num), nil
	}
	switch o {
	case opEq:
		return Bool(equal(a, b)), nil
	case opNe:
		return Bool(!equal(a, b)), nil
	case opLt, opLe, opGt, opGe:
		c, err := compare(a, b, pos, o)
		if err != nil {
			return Value{}, err
		}
		switch o {
		case opLt:
			return Bool(c < 0), nil
		case opLe:
			return Bool(c <= 0), nil
		case opGt:
			return Bool(c > 0), nil
		}
		return Bool(c >= 0), nil
	case opAdd:
		if a.kind == KindString || b.kind == KindString {
			return concat(pos, "operator +", toString(a), toString(b))
		}
	case opSub, opMul, opDiv, opMod:
	default:
		// The parser builds no other binary operator.
		return Value{}, &EvalError{Pos: pos, Msg: "unknown operator " + o.symbol()}
	}
	x, y, err := nums(a, b, pos, o)
	if err != nil {
		return Value{}, err
	}
	return arith(o, x, y), nil
}

// arith is the numeric operators. Division and remainder by zero are null; Number turns any
// NaN or ±Inf (overflow) into null too.
func arith(o op, x, y float64) Value {
	switch o {
	case opAdd:
		return Number(x + y)
	case opSub:
		return Number(x - y)
	case opMul:
		return Number(x * y)
	case opDiv:
		if y == 0 {
			return Null()
		}
		return Number(x / y)
	case opMod:
		if y == 0 {
			return Null()
		}
		return Number(math.Mod(x, y))
	}
	return Null()
}

func both(vars []Value, l, r evalFn) (Value, Value, error) {
	a, err := l(vars)
	if err != nil {
		return Value{}, Value{}, err
	}
	b, err := r(vars)
	if err != nil {
		return Value{}, Value{}, err
	}
	return a, b, nil
}

func nums(a, b Value, pos int, o op) (float64, float64, error) {
	x, err := num(a, pos, o)
	if err != nil {
		return 0, 0, err
	}
	y, err := num(b, pos, o)
	if err != nil {
		return 0, 0, err
	}
	return x, y, nil
}

// equal is the == operator: null equals only null; numbers, and a number against a numeric
// string, compare numerically; two strings or two bools compare by equality; any other pair
// compares toString of both.
func equal(a, b Value) bool {
	if a.kind == KindNull || b.kind == KindNull {
		return a.kind == b.kind
	}
	if a.kind == b.kind {
		return a.num == b.num && a.str == b.str
	}
	if a.kind == KindString {
		a, b = b, a
	}
	// Now a is a number or a bool and b is anything but null and a.kind.
	if a.kind == KindNumber && b.kind == KindString {
		if f, ok := ParseNumeric(b.str); ok {
			return a.num == f
		}
	}
	// The toString of a number is always a numeric string, so a number never equals a bool or
	// a non-numeric string; only a bool against a string remains to compare as text.
	if a.kind == KindBool && b.kind == KindString {
		return toString(a) == b.str
	}
	return false
}

// compare is the ordering operators: two strings compare by code points, any other pair
// numerically via toNumber.
func compare(a, b Value, pos int, o op) (int, error) {
	if a.kind == KindString && b.kind == KindString {
		return strings.Compare(a.str, b.str), nil
	}
	x, y, err := nums(a, b, pos, o)
	if err != nil {
		return 0, err
	}
	switch {
	case x < y:
		return -1, nil
	case x > y:
		return 1, nil
	}
	return 0, nil
}

// concat joins parts, refusing results over MaxStringLen code points before building them
// when the byte length already proves it.
func concat(pos int, what string, parts ...string) (Value, error) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n > utf8MaxBytes*MaxStringLen {
		return Value{}, tooLongError(pos, what)
	}
	var b strings.Builder
	b.Grow(n)
	for _, p := range parts {
		b.WriteString(p)
	}
	s := b.String()
	if tooLong(s) {
		return Value{}, tooLongError(pos, what)
	}
	return String(s), nil
}

// utf8MaxBytes is the longest UTF-8 encoding of a code point.
const utf8MaxBytes = 4

func tooLongError(pos int, what string) error {
	return &EvalError{Pos: pos, Msg: fmt.Sprintf("%s: result longer than %d characters", what, MaxStringLen)}
}
