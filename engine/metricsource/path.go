package metricsource

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/clusterpulse/clusterpulse/engine"
)

// Path is a parsed field path such as `.spec.containers[0].image` or
// `.metadata.labels['app.kubernetes.io/name']`. The zero Path is empty and finds nothing.
//
// Syntax (a strict superset of the original's):
//   - an optional leading `.`;
//   - `.name` selects a map key; a bare name is any run of characters other than
//     `. [ ] ' " { } *`, backslash and whitespace;
//   - `['key']` or `["key"]` selects a map key containing any characters (dots, slashes, …);
//     inside the quotes a backslash escapes the next character;
//   - `[n]` selects element n (0-based, decimal digits) of a list.
//
// Wildcards, filters and JSONPath braces are not supported and are rejected with an error
// rather than silently matching nothing.
type Path struct {
	segs []segment
}

// segment is one step of a Path: a map key, or a list index when isIndex is set.
type segment struct {
	key     string
	index   int
	isIndex bool
}

// maxIndex bounds list indices so that parsing never overflows int on any platform.
const maxIndex = 1<<31 - 1

// ParsePath parses a field path. Errors wrap engine.ErrInvalid and give the 0-based code-point
// position of the problem and what is wrong there.
func ParsePath(s string) (Path, error) {
	p := pathParser{src: s}
	segs, err := p.parse()
	if err != nil {
		return Path{}, fmt.Errorf("path %q: %w: %w", s, engine.ErrInvalid, err)
	}
	return Path{segs: segs}, nil
}

// pathParser walks the source by byte offset and reports positions in code points.
type pathParser struct {
	src string
	off int // byte offset
}

// errAt builds an error at the current position.
func (p *pathParser) errAt(off int, format string, args ...any) error {
	pos := utf8.RuneCountInString(p.src[:off])
	return fmt.Errorf("position %d: %s", pos, fmt.Sprintf(format, args...))
}

func (p *pathParser) parse() ([]segment, error) {
	if p.src == "" {
		return nil, p.errAt(0, "empty path")
	}
	var segs []segment
	if p.src[0] == '.' {
		p.off++
		if p.off == len(p.src) {
			return nil, p.errAt(p.off, "empty path: expected a name after the leading '.'")
		}
		if p.src[p.off] != '[' {
			name, err := p.bareName()
			if err != nil {
				return nil, err
			}
			segs = append(segs, segment{key: name})
		}
	} else if p.src[0] != '[' {
		name, err := p.bareName()
		if err != nil {
			return nil, err
		}
		segs = append(segs, segment{key: name})
	}
	for p.off < len(p.src) {
		switch c := p.src[p.off]; c {
		case '.':
			p.off++
			name, err := p.bareName()
			if err != nil {
				return nil, err
			}
			segs = append(segs, segment{key: name})
		case '[':
			seg, err := p.bracket()
			if err != nil {
				return nil, err
			}
			segs = append(segs, seg)
		default:
			r, _ := utf8.DecodeRuneInString(p.src[p.off:])
			return nil, p.errAt(p.off, "unexpected %q: expected '.' or '['", r)
		}
	}
	return segs, nil
}

// bareName reads a non-empty unquoted name at the current position.
func (p *pathParser) bareName() (string, error) {
	start := p.off
	for p.off < len(p.src) {
		r, size := utf8.DecodeRuneInString(p.src[p.off:])
		if r == '.' || r == '[' {
			break
		}
		if !bareRune(r) {
			if r == utf8.RuneError && size <= 1 {
				return "", p.errAt(p.off, "invalid UTF-8")
			}
			hint := ""
			switch r {
			case '*':
				hint = " (wildcards are not supported)"
			case '{', '}':
				hint = " (JSONPath braces are not supported; write the path without them)"
			case ']':
				hint = " (no matching '[')"
			default:
				hint = " (use ['...'] for keys with special characters)"
			}
			return "", p.errAt(p.off, "unexpected %q in a name%s", r, hint)
		}
		p.off += size
	}
	if p.off == start {
		if p.off == len(p.src) {
			return "", p.errAt(p.off, "expected a name after '.', found the end of the path")
		}
		return "", p.errAt(p.off, "expected a name after '.', found %q", p.src[p.off])
	}
	return p.src[start:p.off], nil
}

// bracket reads `[n]`, `['key']` or `["key"]` starting at the '['.
func (p *pathParser) bracket() (segment, error) {
	p.off++ // '['
	if p.off == len(p.src) {
		return segment{}, p.errAt(p.off, "unterminated '[': expected an index or a quoted key")
	}
	switch c := p.src[p.off]; {
	case c == '\'' || c == '"':
		key, err := p.quoted(c)
		if err != nil {
			return segment{}, err
		}
		if p.off == len(p.src) || p.src[p.off] != ']' {
			return segment{}, p.errAt(p.off, "expected ']' after the quoted key")
		}
		p.off++
		return segment{key: key}, nil
	case c >= '0' && c <= '9':
		start := p.off
		for p.off < len(p.src) && p.src[p.off] >= '0' && p.src[p.off] <= '9' {
			p.off++
		}
		n, err := strconv.Atoi(p.src[start:p.off])
		if err != nil || n > maxIndex {
			return segment{}, p.errAt(start, "index %s is too large", p.src[start:p.off])
		}
		if p.off == len(p.src) || p.src[p.off] != ']' {
			return segment{}, p.errAt(p.off, "expected ']' after the index")
		}
		p.off++
		return segment{index: n, isIndex: true}, nil
	case c == '*':
		return segment{}, p.errAt(p.off, "wildcards are not supported")
	case c == '-':
		return segment{}, p.errAt(p.off, "negative indices are not supported")
	case c == '?':
		return segment{}, p.errAt(p.off, "filters are not supported")
	default:
		r, _ := utf8.DecodeRuneInString(p.src[p.off:])
		return segment{}, p.errAt(p.off, "unexpected %q after '[': expected an index or a quoted key", r)
	}
}

// quoted reads a key quoted with q, the current byte being the opening quote.
func (p *pathParser) quoted(q byte) (string, error) {
	open := p.off
	p.off++
	var b strings.Builder
	for p.off < len(p.src) {
		c := p.src[p.off]
		switch {
		case c == q:
			p.off++
			return b.String(), nil
		case c == '\\':
			p.off++
			if p.off == len(p.src) {
				return "", p.errAt(open, "unterminated quoted key")
			}
			r, size := utf8.DecodeRuneInString(p.src[p.off:])
			if r == utf8.RuneError && size <= 1 {
				return "", p.errAt(p.off, "invalid UTF-8")
			}
			b.WriteString(p.src[p.off : p.off+size])
			p.off += size
		default:
			r, size := utf8.DecodeRuneInString(p.src[p.off:])
			if r == utf8.RuneError && size <= 1 {
				return "", p.errAt(p.off, "invalid UTF-8")
			}
			b.WriteString(p.src[p.off : p.off+size])
			p.off += size
		}
	}
	return "", p.errAt(open, "unterminated quoted key")
}

// bareRune reports whether r may appear in an unquoted name.
func bareRune(r rune) bool {
	switch r {
	case '.', '[', ']', '\'', '"', '{', '}', '*', '\\', utf8.RuneError:
		return false
	}
	return !unicode.IsSpace(r) && unicode.IsPrint(r)
}

// Lookup returns the value at the path in obj and whether it exists. A missing key, an index
// out of range, or a step into a value of the wrong kind (a key on a list, an index on a map, any
// step into a scalar) is "not found". An explicit JSON null is found with the value nil.
// Lookup does not allocate.
func (p Path) Lookup(obj map[string]any) (any, bool) {
	if len(p.segs) == 0 || obj == nil {
		return nil, false
	}
	var cur any = obj
	for i := range p.segs {
		s := &p.segs[i]
		if s.isIndex {
			list, ok := cur.([]any)
			if !ok || s.index >= len(list) {
				return nil, false
			}
			cur = list[s.index]
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[s.key]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// String returns the canonical form of the path: a leading '.', bare names where possible,
// `['…']` for other keys and `[n]` for indices. ParsePath(p.String()) equals p.
func (p Path) String() string {
	var b strings.Builder
	for _, s := range p.segs {
		switch {
		case s.isIndex:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		case isBareName(s.key):
			b.WriteByte('.')
			b.WriteString(s.key)
		default:
			b.WriteString("['")
			for _, r := range s.key {
				if r == '\'' || r == '\\' {
					b.WriteByte('\\')
				}
				b.WriteRune(r)
			}
			b.WriteString("']")
		}
	}
	return b.String()
}

// isBareName reports whether key can be written without brackets.
func isBareName(key string) bool {
	if key == "" || !utf8.ValidString(key) {
		return false
	}
	for _, r := range key {
		if !bareRune(r) {
			return false
		}
	}
	return true
}
