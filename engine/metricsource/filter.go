package metricsource

import (
	"fmt"
	"github.com/clusterpulse/clusterpulse/engine/metricsource/expr"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
)

// The aggregation filter operators of AggregationFilter.Operator.
const (
	OpEquals      = "equals"
	OpNotEquals   = "notEquals"
	OpContains    = "contains"
	OpStartsWith  = "startsWith"
	OpEndsWith    = "endsWith"
	OpGreaterThan = "greaterThan"
	OpLessThan    = "lessThan"
	OpIn          = "in"
	OpMatches     = "matches"
)

// filter is a compiled AggregationFilter. Its rules (EXPRESSIONS.md, "Aggregations"):
//   - A missing or null field fails every operator except notEquals, which it passes.
//   - equals/notEquals: numerically when the field is a number and the value a numeric string
//     ("2.0" equals 2), otherwise toString(field) against the value.
//   - contains, startsWith, endsWith: on toString(field).
//   - greaterThan, lessThan: only when the field is a number and the value numeric; otherwise
//     the resource fails.
//   - in: the value is trimmed, one surrounding [ ] dropped, split on ',', items trimmed and
//     empty items dropped; a resource passes when toString(field) equals an item, or the field
//     is a number equal to a numeric item.
//   - matches: RE2, an unanchored search on toString(field).
//
// "Number" means a JSON number only; a bool or a numeric string is not a number here.
type filter struct {
	field string
	op    string
	value string

	num   float64 // value as a number, when isNum
	isNum bool
	items []string // in
	nums  []float64
	re    *regexp.Regexp // matches
}

// newFilter validates and compiles f. Errors wrap engine.ErrInvalid.
func newFilter(f kube.AggregationFilter) (*filter, error) {
	if f.Field == "" {
		return nil, fmt.Errorf("filter: empty field: %w", engine.ErrInvalid)
	}
	out := &filter{field: f.Field, op: f.Operator, value: f.Value}
	out.num, out.isNum = expr.ParseNumeric(f.Value)
	switch f.Operator {
	case OpEquals, OpNotEquals, OpContains, OpStartsWith, OpEndsWith, OpGreaterThan, OpLessThan:
	case OpIn:
		out.items = splitInList(f.Value)
		out.nums = make([]float64, 0, len(out.items))
		for _, it := range out.items {
			if n, ok := expr.ParseNumeric(it); ok {
				out.nums = append(out.nums, n)
			}
		}
	case OpMatches:
		re, err := regexp.Compile(f.Value)
		if err != nil {
			return nil, fmt.Errorf("filter on %q: invalid regex %q: %w: %w", f.Field, f.Value, engine.ErrInvalid, err)
		}
		out.re = re
	default:
		return nil, fmt.Errorf("filter on %q: unknown operator %q (want equals, notEquals, contains, startsWith, endsWith, greaterThan, lessThan, in or matches): %w",
			f.Field, f.Operator, engine.ErrInvalid)
	}
	return out, nil
}

// splitInList parses the value of an `in` filter: "a, b", "[a,b]" and "[ 1, 2 ]" all work.
func splitInList(s string) []string {
	s = strings.TrimFunc(s, unicode.IsSpace)
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	var items []string
	for it := range strings.SplitSeq(s, ",") {
		if it = strings.TrimFunc(it, unicode.IsSpace); it != "" {
			items = append(items, it)
		}
	}
	return items
}

// pass reports whether the resource passes the filter.
func (f *filter) pass(r *engine.CustomResource) bool {
	v := lookupField(r, f.field)
	if v == nil {
		return f.op == OpNotEquals
	}
	n, isNum := jsonNumber(v)
	switch f.op {
	case OpEquals:
		return f.equals(v, n, isNum)
	case OpNotEquals:
		return !f.equals(v, n, isNum)
	case OpContains:
		return strings.Contains(scalarString(v), f.value)
	case OpStartsWith:
		return strings.HasPrefix(scalarString(v), f.value)
	case OpEndsWith:
		return strings.HasSuffix(scalarString(v), f.value)
	case OpGreaterThan:
		return isNum && f.isNum && n > f.num
	case OpLessThan:
		return isNum && f.isNum && n < f.num
	case OpIn:
		s := scalarString(v)
		for _, it := range f.items {
			if it == s {
				return true
			}
		}
		if isNum {
			for _, m := range f.nums {
				if m == n {
					return true
				}
			}
		}
		return false
	case OpMatches:
		return f.re.MatchString(scalarString(v))
	}
	return false
}

func (f *filter) equals(v any, n float64, isNum bool) bool {
	if isNum && f.isNum {
		return n == f.num
	}
	return scalarString(v) == f.value
}

// scalarString is toString for a present scalar value (string, bool or number).
func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	}
	if n, ok := jsonNumber(v); ok {
		return formatNumber(n)
	}
	return ""
}
