package metricsource

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// maxNamespaceLen is the longest namespace name Kubernetes accepts (a DNS label).
const maxNamespaceLen = 63

// NamespaceFilter decides which namespaces a MetricSource collects from. It is built from
// spec.source.namespaces: Include (empty means every namespace) and Exclude, which wins over
// Include. Entries are exact names or glob patterns with `*` (any run of characters) and `?`
// (one character), matched against the whole name.
//
// The zero NamespaceFilter allows every namespace. A NamespaceFilter is immutable and safe for
// concurrent use.
type NamespaceFilter struct {
	include []nsMatcher
	exclude []nsMatcher
}

// nsMatcher matches one include or exclude entry: an exact name, or an anchored regexp built
// from a glob.
type nsMatcher struct {
	exact string
	re    *regexp.Regexp
}

func (m nsMatcher) match(ns string) bool {
	if m.re != nil {
		return m.re.MatchString(ns)
	}
	return m.exact == ns
}

// newNamespaceFilter compiles include and exclude. It returns one error per bad entry, keyed
// by its index in the list ("include[2]").
func newNamespaceFilter(include, exclude []string) (NamespaceFilter, []FieldError) {
	var f NamespaceFilter
	var problems []FieldError
	for i, p := range include {
		m, err := compileNamespacePattern(p)
		if err != nil {
			problems = append(problems, FieldError{Field: fmt.Sprintf("include[%d]", i), Msg: err.Error()})
			continue
		}
		f.include = append(f.include, m)
	}
	for i, p := range exclude {
		m, err := compileNamespacePattern(p)
		if err != nil {
			problems = append(problems, FieldError{Field: fmt.Sprintf("exclude[%d]", i), Msg: err.Error()})
			continue
		}
		f.exclude = append(f.exclude, m)
	}
	return f, problems
}

// compileNamespacePattern turns one entry into a matcher. Besides the wildcards only the
// characters of a namespace name (lowercase letters, digits, '-') are allowed, so a typo such as
// "Kube-System" or "team_a" is reported instead of silently matching nothing. The glob becomes a
// regexp with every literal run quoted (regexp.QuoteMeta), so no entry can inject regexp syntax.
func compileNamespacePattern(p string) (nsMatcher, error) {
	if p == "" {
		return nsMatcher{}, fmt.Errorf("empty namespace pattern")
	}
	if len(p) > maxNamespaceLen {
		return nsMatcher{}, fmt.Errorf("namespace pattern %q is longer than %d characters", p, maxNamespaceLen)
	}
	for i, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '*' || r == '?') {
			return nsMatcher{}, fmt.Errorf("namespace pattern %q: character %q at position %d is not allowed (use lowercase letters, digits, '-', and the wildcards '*' and '?')", p, r, i)
		}
	}
	if !strings.ContainsAny(p, "*?") {
		return nsMatcher{exact: p}, nil
	}
	var b strings.Builder
	b.WriteString("^")
	lit := 0
	for i := 0; i < len(p); i++ {
		if p[i] != '*' && p[i] != '?' {
			continue
		}
		b.WriteString(regexp.QuoteMeta(p[lit:i]))
		if p[i] == '*' {
			b.WriteString(".*")
		} else {
			b.WriteString(".")
		}
		lit = i + 1
	}
	b.WriteString(regexp.QuoteMeta(p[lit:]))
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nsMatcher{}, fmt.Errorf("namespace pattern %q: %w", p, err)
	}
	return nsMatcher{re: re}, nil
}

// Allows reports whether resources in namespace ns are collected: ns matches an Include entry
// (or Include is empty) and no Exclude entry.
func (f NamespaceFilter) Allows(ns string) bool {
	for _, m := range f.exclude {
		if m.match(ns) {
			return false
		}
	}
	if len(f.include) == 0 {
		return true
	}
	for _, m := range f.include {
		if m.match(ns) {
			return true
		}
	}
	return false
}

// IsEmpty reports whether the filter allows every namespace (no Include and no Exclude).
func (f NamespaceFilter) IsEmpty() bool {
	return len(f.include) == 0 && len(f.exclude) == 0
}

// ExactNamespaces returns the namespaces to list one by one when Include holds only exact
// names: those names in order, without duplicates and without the excluded ones. ok is false
// when Include is empty or holds a pattern; the caller then lists cluster-wide and filters with
// Allows.
func (f NamespaceFilter) ExactNamespaces() (names []string, ok bool) {
	if len(f.include) == 0 {
		return nil, false
	}
	for _, m := range f.include {
		if m.re != nil {
			return nil, false
		}
	}
	for _, m := range f.include {
		if f.Allows(m.exact) && !slices.Contains(names, m.exact) {
			names = append(names, m.exact)
		}
	}
	return names, true
}
