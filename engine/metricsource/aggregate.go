package metricsource

import (
	"fmt"
	"math"
	"strings"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
)

// The aggregation functions of Aggregation.Function.
const (
	FuncCount      = "count"
	FuncSum        = "sum"
	FuncAvg        = "avg"
	FuncMin        = "min"
	FuncMax        = "max"
	FuncPercentile = "percentile"
	FuncDistinct   = "distinct"
)

// UnknownGroup is the group key of resources whose groupBy field is missing or null.
const UnknownGroup = "_unknown_"

// Aggregator computes one aggregation over collected resources. It is the only
// implementation: collection uses it on everything collected and the API on the subset a
// filtered caller may see, so both get the same maths. It is immutable and safe for concurrent
// use.
//
// Field names (for the aggregated field, the filter field and groupBy): `namespace` and `name`
// are the resource's own (an empty namespace, as for cluster-scoped resources, is missing);
// `labels.<key>` reads a label; anything else reads Values[field]. Missing and null are alike,
// and so are values that are neither a string, a bool nor a number (lists, objects), which the
// engine never stores.
//
// The filter, if any, applies first. A missing or null field fails every operator except
// notEquals, which it passes. equals/notEquals compare numerically when the field is a number
// and the value a numeric string ("2.0" equals 2), otherwise toString(field) with the value;
// contains, startsWith and endsWith work on toString(field); greaterThan and lessThan hold only
// for a number field and a numeric value; in takes "a,b" or "[a, b]" (items trimmed, empty
// items dropped) and matches by string or, for a number field, numerically; matches is an
// unanchored RE2 search on toString(field). Then:
//   - count: the resources that passed, whatever their field value.
//   - sum: the sum of the numbers, 0 when there are none.
//   - avg: the mean of the numbers, nil when there are none.
//   - min, max: when every present value is a string, the least or greatest string in
//     code-point order (a string result); otherwise over the numbers only, nil when none.
//   - percentile: see Percentile; nil when there are no numbers.
//   - distinct: the number of distinct present values; numbers are equal as numbers (1 = 1.0),
//     and strings, bools and numbers never equal each other ("1" ≠ 1, true ≠ 1).
//
// "Numbers" are JSON numbers only: bools and numeric strings are not summed or averaged. A
// result that would be NaN or infinite (a sum overflowing float64) is nil; −0 is 0.
type Aggregator struct {
	name     string
	field    string
	function string
	groupBy  string
	p        float64
	filter   *filter
}

// NewAggregator validates a and compiles its filter. It rejects an unknown function or filter
// operator, a missing field for any function but count, a percentile function without a
// percentile in 1..100 and an invalid `matches` regex. Whether the field, filter field and
// groupBy name existing fields is for the caller to check (see Field, FilterField, GroupBy).
// Errors wrap engine.ErrInvalid.
func NewAggregator(a kube.Aggregation) (*Aggregator, error) {
	if a.Name == "" {
		return nil, fmt.Errorf("aggregation: empty name: %w", engine.ErrInvalid)
	}
	out := &Aggregator{name: a.Name, field: a.Field, function: a.Function, groupBy: a.GroupBy}
	switch a.Function {
	case FuncCount:
	case FuncSum, FuncAvg, FuncMin, FuncMax, FuncDistinct, FuncPercentile:
		if a.Field == "" {
			return nil, fmt.Errorf("aggregation %q: function %s needs a field: %w", a.Name, a.Function, engine.ErrInvalid)
		}
	default:
		return nil, fmt.Errorf("aggregation %q: unknown function %q (want count, sum, avg, min, max, percentile or distinct): %w",
			a.Name, a.Function, engine.ErrInvalid)
	}
	if a.Function == FuncPercentile {
		if a.Percentile == nil {
			return nil, fmt.Errorf("aggregation %q: function percentile needs percentile (1..100): %w", a.Name, engine.ErrInvalid)
		}
		if p := *a.Percentile; p < 1 || p > 100 {
			return nil, fmt.Errorf("aggregation %q: percentile %d is outside 1..100: %w", a.Name, p, engine.ErrInvalid)
		}
		out.p = float64(*a.Percentile)
	}
	if a.Filter != nil {
		f, err := newFilter(*a.Filter)
		if err != nil {
			return nil, fmt.Errorf("aggregation %q: %w", a.Name, err)
		}
		out.filter = f
	}
	return out, nil
}

// Name returns the aggregation's name.
func (a *Aggregator) Name() string { return a.name }

// Function returns the aggregation function.
func (a *Aggregator) Function() string { return a.function }

// Field returns the aggregated field; it may be empty for count.
func (a *Aggregator) Field() string { return a.field }

// GroupBy returns the groupBy field, empty when the aggregation is not grouped.
func (a *Aggregator) GroupBy() string { return a.groupBy }

// FilterField returns the field the filter tests, empty without a filter.
func (a *Aggregator) FilterField() string {
	if a.filter == nil {
		return ""
	}
	return a.filter.field
}

// Compute aggregates items. Without groupBy the result is a float64, a string (min or max over
// strings) or nil. With groupBy it is a map[string]any from group key to such a result: the key
// is toString of the groupBy value (65 → "65", 2.5 → "2.5", true → "true"), UnknownGroup when
// it is missing; only groups with a resource passing the filter appear, so nothing passing
// gives an empty map.
func (a *Aggregator) Compute(items []engine.CustomResource) any {
	if a.groupBy == "" {
		var acc accumulator
		for i := range items {
			r := &items[i]
			if a.filter != nil && !a.filter.pass(r) {
				continue
			}
			a.add(&acc, r)
		}
		return a.result(&acc)
	}
	groups := make(map[string]*accumulator)
	for i := range items {
		r := &items[i]
		if a.filter != nil && !a.filter.pass(r) {
			continue
		}
		key := UnknownGroup
		if v := lookupField(r, a.groupBy); v != nil {
			key = scalarString(v)
		}
		acc := groups[key]
		if acc == nil {
			acc = &accumulator{}
			groups[key] = acc
		}
		a.add(acc, r)
	}
	out := make(map[string]any, len(groups))
	for k, acc := range groups {
		out[k] = a.result(acc)
	}
	return out
}

// accumulator holds what one function needs of the resources seen so far.
type accumulator struct {
	count int

	// sum, avg, min, max over numbers
	sum    float64
	nums   int
	numMin float64
	numMax float64

	// min, max over strings
	strMin, strMax string
	strs           int
	nonStr         bool // a present value that is not a string

	values   []float64 // percentile
	distinct map[distinctKey]struct{}
}

// distinctKey identifies a value for distinct: numbers by value, strings and bools apart.
type distinctKey struct {
	kind byte // 'n' number, 's' string, 'b' bool
	num  float64
	str  string
}

func (a *Aggregator) add(acc *accumulator, r *engine.CustomResource) {
	acc.count++
	if a.function == FuncCount {
		return
	}
	v := lookupField(r, a.field)
	if v == nil {
		return
	}
	n, isNum := jsonNumber(v)
	switch a.function {
	case FuncSum, FuncAvg:
		if isNum {
			acc.sum += n
			acc.nums++
		}
	case FuncMin, FuncMax:
		if s, ok := v.(string); ok {
			if acc.strs == 0 || s < acc.strMin {
				acc.strMin = s
			}
			if acc.strs == 0 || s > acc.strMax {
				acc.strMax = s
			}
			acc.strs++
			return
		}
		acc.nonStr = true
		if isNum {
			if acc.nums == 0 || n < acc.numMin {
				acc.numMin = n
			}
			if acc.nums == 0 || n > acc.numMax {
				acc.numMax = n
			}
			acc.nums++
		}
	case FuncPercentile:
		if isNum {
			acc.values = append(acc.values, n)
		}
	case FuncDistinct:
		if acc.distinct == nil {
			acc.distinct = make(map[distinctKey]struct{})
		}
		var k distinctKey
		switch x := v.(type) {
		case string:
			k = distinctKey{kind: 's', str: x}
		case bool:
			k = distinctKey{kind: 'b'}
			if x {
				k.num = 1
			}
		default:
			k = distinctKey{kind: 'n', num: n + 0} // + 0 makes -0 and 0 one key
		}
		acc.distinct[k] = struct{}{}
	}
}

func (a *Aggregator) result(acc *accumulator) any {
	switch a.function {
	case FuncCount:
		return float64(acc.count)
	case FuncSum:
		return finiteOrNil(acc.sum)
	case FuncAvg:
		if acc.nums == 0 {
			return nil
		}
		return finiteOrNil(acc.sum / float64(acc.nums))
	case FuncMin, FuncMax:
		if acc.strs > 0 && !acc.nonStr {
			if a.function == FuncMin {
				return acc.strMin
			}
			return acc.strMax
		}
		if acc.nums == 0 {
			return nil
		}
		if a.function == FuncMin {
			return finiteOrNil(acc.numMin)
		}
		return finiteOrNil(acc.numMax)
	case FuncPercentile:
		if len(acc.values) == 0 {
			return nil
		}
		return finiteOrNil(percentileInPlace(acc.values, a.p))
	case FuncDistinct:
		return float64(len(acc.distinct))
	}
	return nil
}

// finiteOrNil returns f (with −0 as 0), or nil for NaN and ±Inf.
func finiteOrNil(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f + 0
}

// lookupField reads a field of r by aggregation field name. It returns nil for a missing or
// null value and for anything that is not a string, a bool or a finite number.
func lookupField(r *engine.CustomResource, field string) any {
	switch field {
	case "namespace":
		if r.Namespace == "" {
			return nil
		}
		return r.Namespace
	case "name":
		if r.Name == "" {
			return nil
		}
		return r.Name
	}
	if key, ok := strings.CutPrefix(field, "labels."); ok {
		v, ok := r.Labels[key]
		if !ok {
			return nil
		}
		return v
	}
	v := r.Values[field]
	switch v.(type) {
	case nil:
		return nil
	case string, bool:
		return v
	}
	if _, ok := jsonNumber(v); ok {
		return v
	}
	return nil
}
