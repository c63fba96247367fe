package engine

import "math"

// orEmpty returns s, or an empty non-nil slice when s is nil, so it marshals as [] not null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// orEmptyMap returns m, or an empty non-nil map when m is nil, so it marshals as {} not null.
func orEmptyMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}

// finite returns a copy of v in which every NaN or ±Inf float (at any depth of maps and slices)
// is replaced by nil. encoding/json refuses non-finite numbers; the original lost a cluster's
// whole custom collection to one `x % 0`. Here such a value becomes null instead.
func finite(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil
		}
	case map[string]any:
		return finiteMap(x)
	case map[string]float64:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = finite(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = finite(e)
		}
		return out
	}
	return v
}

// finiteMap is finite for a map; it returns a new map, nil only when m is nil.
func finiteMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		out[k] = finite(e)
	}
	return out
}
