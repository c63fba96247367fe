package policy

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// MaxPatternLength is the longest matchPattern, glob or literal a policy may contain, in bytes.
const MaxPatternLength = 256

// Pair is a compiled pattern as it is stored in the compiled JSON: the original string and the
// regular expression it became, e.g. ["prod-*", "^(?s)prod-.*$"].
type Pair [2]string

// isGlob reports whether s uses the wildcards * or ?; other strings are literals.
func isGlob(s string) bool { return strings.ContainsAny(s, "*?") }

// globRegex translates a glob into an anchored regular expression: * matches any run of
// characters (including none), ? exactly one character, and every other character matches
// itself (all regex metacharacters are quoted, so no glob is an invalid regex).
func globRegex(glob string) (string, error) {
	if len(glob) > MaxPatternLength {
		return "", fmt.Errorf("pattern %.32q... is longer than %d characters", glob, MaxPatternLength)
	}
	if !utf8.ValidString(glob) {
		return "", fmt.Errorf("pattern %q is not valid UTF-8", glob)
	}
	var b strings.Builder
	b.WriteString("^(?s)")
	lit := 0
	flush := func(i int) {
		b.WriteString(regexp.QuoteMeta(glob[lit:i]))
	}
	for i, r := range glob {
		switch r {
		case '*':
			flush(i)
			b.WriteString(".*")
			lit = i + 1
		case '?':
			flush(i)
			b.WriteString(".")
			lit = i + 1
		}
	}
	flush(len(glob))
	b.WriteString("$")
	return b.String(), nil
}

// compileGlob compiles a glob into its Pair and regexp.
func compileGlob(glob string) (Pair, *regexp.Regexp, error) {
	src, err := globRegex(glob)
	if err != nil {
		return Pair{}, nil, err
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return Pair{}, nil, fmt.Errorf("pattern %q: %w", glob, err)
	}
	return Pair{glob, src}, re, nil
}

// compileAnchored compiles a matchPattern: an RE2 expression that must match the whole name.
// The pattern is checked on its own first, so that wrapping it in ^(?:...)$ cannot change its
// meaning (a pattern like `a)|(b` is rejected instead of becoming a different regex).
func compileAnchored(pattern string) (Pair, *regexp.Regexp, error) {
	if len(pattern) > MaxPatternLength {
		return Pair{}, nil, fmt.Errorf("matchPattern is longer than %d characters", MaxPatternLength)
	}
	if _, err := regexp.Compile(pattern); err != nil {
		return Pair{}, nil, fmt.Errorf("invalid matchPattern %q: %w", pattern, err)
	}
	src := "^(?:" + pattern + ")$"
	re, err := regexp.Compile(src)
	if err != nil {
		return Pair{}, nil, fmt.Errorf("invalid matchPattern %q: %w", pattern, err)
	}
	return Pair{pattern, src}, re, nil
}

// matchSpec is an allow list and a deny list of literals and patterns. The zero value (and a
// nil *matchSpec) accepts everything.
type matchSpec struct {
	allow   map[string]struct{}
	allowRe []*regexp.Regexp
	deny    map[string]struct{}
	denyRe  []*regexp.Regexp
}

// restricts reports whether the spec can reject anything.
func (m *matchSpec) restricts() bool {
	return m != nil && (len(m.allow) > 0 || len(m.allowRe) > 0 || len(m.deny) > 0 || len(m.denyRe) > 0)
}

// hasAllow reports whether the spec has an allow list.
func (m *matchSpec) hasAllow() bool {
	return m != nil && (len(m.allow) > 0 || len(m.allowRe) > 0)
}

// match applies the spec to s: a deny hit rejects; a non-empty allow list must match; with
// only a deny list everything not denied passes.
func (m *matchSpec) match(s string) bool {
	if m == nil {
		return true
	}
	if _, ok := m.deny[s]; ok {
		return false
	}
	for _, re := range m.denyRe {
		if re.MatchString(s) {
			return false
		}
	}
	if !m.hasAllow() {
		return true
	}
	if _, ok := m.allow[s]; ok {
		return true
	}
	for _, re := range m.allowRe {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// splitPatterns separates literals from globs and compiles the globs.
func splitPatterns(values []string) (literals []string, pairs []Pair, err error) {
	for _, v := range values {
		if !isGlob(v) {
			if len(v) > MaxPatternLength {
				return nil, nil, fmt.Errorf("value %.32q... is longer than %d characters", v, MaxPatternLength)
			}
			literals = append(literals, v)
			continue
		}
		p, _, err := compileGlob(v)
		if err != nil {
			return nil, nil, err
		}
		pairs = append(pairs, p)
	}
	return literals, pairs, nil
}

// newMatchSpec builds a matchSpec from stored literals and pairs; the regex of each pair is
// compiled again (it comes from Redis, so it is checked, never trusted to compile).
func newMatchSpec(allow []string, allowPairs []Pair, deny []string, denyPairs []Pair) (*matchSpec, error) {
	m := &matchSpec{}
	var err error
	if m.allowRe, err = compilePairs(allowPairs); err != nil {
		return nil, err
	}
	if m.denyRe, err = compilePairs(denyPairs); err != nil {
		return nil, err
	}
	m.allow = toSet(allow)
	m.deny = toSet(deny)
	if !m.restricts() {
		return nil, nil
	}
	return m, nil
}

func compilePairs(pairs []Pair) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, p := range pairs {
		re, err := regexp.Compile(p[1])
		if err != nil {
			return nil, fmt.Errorf("stored pattern %q: %w", p[0], err)
		}
		out = append(out, re)
	}
	return out, nil
}

func toSet(values []string) map[string]struct{} {
	if len(values) == 0 {
		return nil
	}
	s := make(map[string]struct{}, len(values))
	for _, v := range values {
		s[v] = struct{}{}
	}
	return s
}
