package expr

import (
	"slices"
	"strconv"
	"strings"
)

// MaxDepth is the deepest nesting of parentheses, call parentheses and unary operators that
// Parse accepts. It bounds the recursion of parsing, compiling and evaluating; long flat chains
// such as a + b + c do not count.
const MaxDepth = 100

type nodeKind uint8

const (
	nLiteral nodeKind = iota
	nIdent
	nUnary
	nBinary
	nCall
)

// node is one node of the syntax tree.
//
// A binary node is a whole left-associative chain of operators of one precedence level,
// args[0] ops[0].op args[1] ops[1].op args[2] …, so that printing, comparing, compiling and
// evaluating a long flat chain (a + b + … ) loops instead of recursing once per operator. The
// recursion depth of every tree walk is therefore bounded by the nesting limit MaxDepth times
// the number of precedence levels.
type node struct {
	kind nodeKind
	pos  int     // code-point offset of the literal, identifier, unary operator or function name
	op   op      // nUnary
	ops  []opPos // nBinary: len(args)-1 operators
	lit  Value   // nLiteral
	name string  // nIdent, nCall
	args []*node
}

// opPos is a binary operator and its code-point offset.
type opPos struct {
	op  op
	pos int
}

// Expr is a parsed expression: its syntax tree, not yet bound to variables or functions.
type Expr struct {
	root *node
}

// Parse parses src. It checks syntax only; identifiers, function names and arity are checked
// by Compile. Errors are *SyntaxError.
func Parse(src string) (*Expr, error) {
	p := &parser{lx: lexer{src: src}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tEOF {
		return nil, &SyntaxError{Pos: p.tok.pos, Msg: "empty expression"}
	}
	root, err := p.binary(precCoalesce)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, &SyntaxError{Pos: p.tok.pos, Msg: "unexpected " + p.tok.describe() + " after a complete expression"}
	}
	return &Expr{root: root}, nil
}

type parser struct {
	lx    lexer
	tok   token
	depth int
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// enter counts one nesting level opened at pos.
func (p *parser) enter(pos int) error {
	p.depth++
	if p.depth > MaxDepth {
		return &SyntaxError{Pos: pos, Msg: "expression nested deeper than " + strconv.Itoa(MaxDepth) + " levels"}
	}
	return nil
}

// binary parses a left-associative chain of operators of level prec and above.
func (p *parser) binary(prec int) (*node, error) {
	if prec == precUnary {
		return p.unary()
	}
	left, err := p.binary(prec + 1)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tOp || p.tok.op.precedence() != prec {
		return left, nil
	}
	chain := left
	// A left operand of the same level can only be a parenthesised chain: (a + b) + c means
	// a + b + c, so it is extended rather than nested. This keeps one tree per meaning.
	if left.kind != nBinary || left.level() != prec {
		chain = &node{kind: nBinary, pos: p.tok.pos, args: []*node{left}}
	}
	for p.tok.kind == tOp && p.tok.op.precedence() == prec {
		o := opPos{op: p.tok.op, pos: p.tok.pos}
		if err := p.advance(); err != nil {
			return nil, err
		}
		right, err := p.binary(prec + 1)
		if err != nil {
			return nil, err
		}
		chain.ops = append(chain.ops, o)
		chain.args = append(chain.args, right)
	}
	return chain, nil
}

func (p *parser) unary() (*node, error) {
	if p.tok.kind != tOp || (p.tok.op != opNot && p.tok.op != opSub) {
		return p.primary()
	}
	o, pos := p.tok.op, p.tok.pos
	if o == opSub {
		o = opNeg
	}
	if err := p.enter(pos); err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	x, err := p.unary()
	if err != nil {
		return nil, err
	}
	p.depth--
	return &node{kind: nUnary, pos: pos, op: o, args: []*node{x}}, nil
}

func (p *parser) primary() (*node, error) {
	t := p.tok
	var n *node
	switch t.kind {
	case tNumber:
		n = &node{kind: nLiteral, pos: t.pos, lit: Number(t.num)}
	case tString:
		n = &node{kind: nLiteral, pos: t.pos, lit: String(t.text)}
	case tTrue, tFalse:
		n = &node{kind: nLiteral, pos: t.pos, lit: Bool(t.kind == tTrue)}
	case tNull:
		n = &node{kind: nLiteral, pos: t.pos, lit: Null()}
	case tIdent:
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tLParen {
			return &node{kind: nIdent, pos: t.pos, name: t.text}, nil
		}
		args, err := p.callArgs()
		if err != nil {
			return nil, err
		}
		return &node{kind: nCall, pos: t.pos, name: t.text, args: args}, nil
	case tLParen:
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.binary(precCoalesce)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			return nil, &SyntaxError{Pos: p.tok.pos, Msg: "expected ')' to close '(' at position " + strconv.Itoa(t.pos) + ", found " + p.tok.describe()}
		}
		p.depth--
		n = x
	default:
		return nil, &SyntaxError{Pos: t.pos, Msg: "expected an expression, found " + t.describe()}
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return n, nil
}

// callArgs parses "(" [expr {"," expr}] ")" with the current token at "(".
func (p *parser) callArgs() ([]*node, error) {
	open := p.tok.pos
	if err := p.enter(open); err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	var args []*node
	if p.tok.kind != tRParen {
		for {
			a, err := p.binary(precCoalesce)
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			if p.tok.kind == tComma {
				if err := p.advance(); err != nil {
					return nil, err
				}
				continue
			}
			if p.tok.kind != tRParen {
				return nil, &SyntaxError{Pos: p.tok.pos, Msg: "expected ',' or ')' in the call opened at position " + strconv.Itoa(open) + ", found " + p.tok.describe()}
			}
			break
		}
	}
	p.depth--
	if err := p.advance(); err != nil {
		return nil, err
	}
	return args, nil
}

// String prints the expression canonically: single spaces around binary operators, strings in
// double quotes, parentheses only where precedence or associativity needs them. Parsing the
// result gives an equal tree.
func (e *Expr) String() string {
	var b strings.Builder
	e.root.write(&b)
	return b.String()
}

// level is the binding strength of a node when printed.
func (n *node) level() int {
	switch n.kind {
	case nBinary:
		return n.ops[0].op.precedence()
	case nUnary:
		return precUnary
	}
	return precPrimary
}

func (n *node) write(b *strings.Builder) {
	switch n.kind {
	case nLiteral:
		writeLiteral(b, n.lit)
	case nIdent:
		b.WriteString(n.name)
	case nUnary:
		b.WriteString(n.op.symbol())
		writeOperand(b, n.args[0], n.args[0].level() < precUnary)
	case nBinary:
		prec := n.level()
		writeOperand(b, n.args[0], n.args[0].level() < prec)
		for i, o := range n.ops {
			b.WriteByte(' ')
			b.WriteString(o.op.symbol())
			b.WriteByte(' ')
			// Left associativity: an operand of the same level on the right needs parentheses.
			writeOperand(b, n.args[i+1], n.args[i+1].level() <= prec)
		}
	case nCall:
		b.WriteString(n.name)
		b.WriteByte('(')
		for i, a := range n.args {
			if i > 0 {
				b.WriteString(", ")
			}
			a.write(b)
		}
		b.WriteByte(')')
	}
}

func writeOperand(b *strings.Builder, n *node, paren bool) {
	if paren {
		b.WriteByte('(')
	}
	n.write(b)
	if paren {
		b.WriteByte(')')
	}
}

func writeLiteral(b *strings.Builder, v Value) {
	switch v.kind {
	case KindNull:
		b.WriteString("null")
	case KindBool, KindNumber:
		b.WriteString(toString(v))
	case KindString:
		b.WriteByte('"')
		for i := 0; i < len(v.str); i++ {
			switch c := v.str[i]; c {
			case '"', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case '\n':
				b.WriteString(`\n`)
			case '\t':
				b.WriteString(`\t`)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
	}
}

// Identifiers returns the variable names the expression references, sorted and unique.
// Function names are not included.
func (e *Expr) Identifiers() []string {
	var names []string
	var walk func(n *node)
	walk = func(n *node) {
		if n.kind == nIdent {
			names = append(names, n.name)
		}
		for _, a := range n.args {
			walk(a)
		}
	}
	walk(e.root)
	slices.Sort(names)
	return slices.Compact(names)
}

// Equal reports whether e and f have the same syntax tree. Positions and redundant
// parentheses are ignored; literals compare by kind and value (so 3 and 3.0 are equal, as are
// null and nil).
func (e *Expr) Equal(f *Expr) bool {
	if e == nil || f == nil {
		return e == f
	}
	return e.root.equal(f.root)
}

func (n *node) equal(m *node) bool {
	if n.kind != m.kind || n.op != m.op || n.name != m.name || !n.lit.Equal(m.lit) || len(n.args) != len(m.args) || len(n.ops) != len(m.ops) {
		return false
	}
	for i := range n.ops {
		if n.ops[i].op != m.ops[i].op {
			return false
		}
	}
	for i := range n.args {
		if !n.args[i].equal(m.args[i]) {
			return false
		}
	}
	return true
}
