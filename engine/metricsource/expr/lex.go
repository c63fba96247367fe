package expr

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SyntaxError is a parse error. Pos is the 0-based code-point offset in the source.
type SyntaxError struct {
	Pos int
	Msg string
}

// Error returns "at position N: msg".
func (e *SyntaxError) Error() string { return "at position " + strconv.Itoa(e.Pos) + ": " + e.Msg }

// op is an operator, binary or unary.
type op uint8

const (
	opNone op = iota
	opCoalesce
	opOr
	opAnd
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
	opAdd
	opSub
	opMul
	opDiv
	opMod
	opNot // unary !
	opNeg // unary -
)

// symbol returns the operator as written.
func (o op) symbol() string {
	switch o {
	case opCoalesce:
		return "??"
	case opOr:
		return "||"
	case opAnd:
		return "&&"
	case opEq:
		return "=="
	case opNe:
		return "!="
	case opLt:
		return "<"
	case opLe:
		return "<="
	case opGt:
		return ">"
	case opGe:
		return ">="
	case opAdd:
		return "+"
	case opSub, opNeg:
		return "-"
	case opMul:
		return "*"
	case opDiv:
		return "/"
	case opMod:
		return "%"
	case opNot:
		return "!"
	}
	return "?"
}

// Binary precedence levels, low to high; unary operators and primaries bind tighter.
const (
	precCoalesce = 1 + iota
	precOr
	precAnd
	precEquality
	precOrdering
	precAdditive
	precMultiplicative
	precUnary
	precPrimary
)

// precedence returns the level of a binary operator (0 for a unary one).
func (o op) precedence() int {
	switch o {
	case opCoalesce:
		return precCoalesce
	case opOr:
		return precOr
	case opAnd:
		return precAnd
	case opEq, opNe:
		return precEquality
	case opLt, opLe, opGt, opGe:
		return precOrdering
	case opAdd, opSub:
		return precAdditive
	case opMul, opDiv, opMod:
		return precMultiplicative
	}
	return 0
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tNumber
	tString
	tIdent
	tTrue
	tFalse
	tNull
	tLParen
	tRParen
	tComma
	tOp
)

type token struct {
	kind tokKind
	pos  int     // code-point offset
	op   op      // for tOp; '!' and '-' are reported as opNot and opSub
	text string  // identifier name or decoded string literal
	num  float64 // number literal
}

// describe names the token for an error message.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tNumber:
		return "number " + formatNumber(t.num)
	case tString:
		return "string " + strconv.Quote(truncate(t.text))
	case tIdent:
		return "identifier " + t.text
	case tTrue:
		return "true"
	case tFalse:
		return "false"
	case tNull:
		return "null"
	case tLParen:
		return "'('"
	case tRParen:
		return "')'"
	case tComma:
		return "','"
	}
	return "'" + t.op.symbol() + "'"
}

// lexer produces tokens on demand so that the first error in reading order is reported.
type lexer struct {
	src string
	off int // byte offset
	pos int // code-point offset of off
}

// peekByte returns the byte at off+k, or 0 past the end.
func (l *lexer) peekByte(k int) byte {
	if l.off+k < len(l.src) {
		return l.src[l.off+k]
	}
	return 0
}

// advance moves past n ASCII bytes.
func (l *lexer) advance(n int) {
	l.off += n
	l.pos += n
}

func (l *lexer) errorf(pos int, msg string) error { return &SyntaxError{Pos: pos, Msg: msg} }

func isIdentStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isIdentPart(c byte) bool { return isIdentStart(c) || isDigit(c) }

// next returns the next token.
func (l *lexer) next() (token, error) {
	for l.off < len(l.src) {
		c := l.src[l.off]
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			break
		}
		l.advance(1)
	}
	start := l.pos
	if l.off >= len(l.src) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := l.src[l.off]
	switch {
	case isDigit(c):
		return l.number()
	case isIdentStart(c):
		b := l.off
		for l.off < len(l.src) && isIdentPart(l.src[l.off]) {
			l.advance(1)
		}
		word := l.src[b:l.off]
		switch {
		case strings.EqualFold(word, "true"):
			return token{kind: tTrue, pos: start}, nil
		case strings.EqualFold(word, "false"):
			return token{kind: tFalse, pos: start}, nil
		case strings.EqualFold(word, "null"), strings.EqualFold(word, "nil"):
			return token{kind: tNull, pos: start}, nil
		}
		return token{kind: tIdent, pos: start, text: word}, nil
	case c == '\'' || c == '"':
		return l.str(c)
	}
	two := func(o op) (token, error) {
		l.advance(2)
		return token{kind: tOp, pos: start, op: o}, nil
	}
	one := func(k tokKind, o op) (token, error) {
		l.advance(1)
		return token{kind: k, pos: start, op: o}, nil
	}
	n := l.peekByte(1)
	switch c {
	case '(':
		return one(tLParen, opNone)
	case ')':
		return one(tRParen, opNone)
	case ',':
		return one(tComma, opNone)
	case '+':
		return one(tOp, opAdd)
	case '-':
		return one(tOp, opSub)
	case '*':
		return one(tOp, opMul)
	case '/':
		return one(tOp, opDiv)
	case '%':
		return one(tOp, opMod)
	case '?':
		if n == '?' {
			return two(opCoalesce)
		}
		return token{}, l.errorf(start, "unexpected character '?' (the only operator with '?' is '??')")
	case '|':
		if n == '|' {
			return two(opOr)
		}
		return token{}, l.errorf(start, "unexpected character '|' (did you mean '||'?)")
	case '&':
		if n == '&' {
			return two(opAnd)
		}
		return token{}, l.errorf(start, "unexpected character '&' (did you mean '&&'?)")
	case '=':
		if n == '=' {
			return two(opEq)
		}
		return token{}, l.errorf(start, "unexpected character '=' (did you mean '=='?)")
	case '!':
		if n == '=' {
			return two(opNe)
		}
		return one(tOp, opNot)
	case '<':
		if n == '=' {
			return two(opLe)
		}
		return one(tOp, opLt)
	case '>':
		if n == '=' {
			return two(opGe)
		}
		return one(tOp, opGt)
	}
	r, size := utf8.DecodeRuneInString(l.src[l.off:])
	if r == utf8.RuneError && size == 1 {
		return token{}, l.errorf(start, "invalid UTF-8 byte")
	}
	return token{}, l.errorf(start, "unexpected character "+strconv.QuoteRune(r))
}

// number lexes [0-9]+(\.[0-9]+)?.
func (l *lexer) number() (token, error) {
	start, b := l.pos, l.off
	for l.off < len(l.src) && isDigit(l.src[l.off]) {
		l.advance(1)
	}
	if l.peekByte(0) == '.' {
		if !isDigit(l.peekByte(1)) {
			return token{}, l.errorf(l.pos, "a decimal point must be followed by a digit")
		}
		l.advance(1)
		for l.off < len(l.src) && isDigit(l.src[l.off]) {
			l.advance(1)
		}
	}
	f, err := strconv.ParseFloat(l.src[b:l.off], 64)
	if err != nil || math.IsInf(f, 0) {
		return token{}, l.errorf(start, "number "+truncate(l.src[b:l.off])+" is out of range")
	}
	return token{kind: tNumber, pos: start, num: f}, nil
}

// str lexes a string literal quoted by q. \n and \t are newline and tab; a backslash before
// any other character yields that character. Bytes inside the literal are kept as they are.
func (l *lexer) str(q byte) (token, error) {
	start := l.pos
	l.advance(1)
	var b strings.Builder
	for {
		if l.off >= len(l.src) {
			return token{}, l.errorf(start, "unterminated string")
		}
		c := l.src[l.off]
		switch c {
		case q:
			l.advance(1)
			return token{kind: tString, pos: start, text: b.String()}, nil
		case '\\':
			l.advance(1)
			if l.off >= len(l.src) {
				return token{}, l.errorf(start, "unterminated string")
			}
			switch l.src[l.off] {
			case 'n':
				b.WriteByte('\n')
				l.advance(1)
				continue
			case 't':
				b.WriteByte('\t')
				l.advance(1)
				continue
			}
		}
		_, size := utf8.DecodeRuneInString(l.src[l.off:])
		b.WriteString(l.src[l.off : l.off+size])
		l.off += size
		l.pos++
	}
}
