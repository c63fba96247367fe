package metricsource

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sortPercentile is the reference implementation: sort everything, then interpolate between
// the closest ranks exactly as Percentile does.
func sortPercentile(values []float64, p float64) float64 {
	if len(values) == 0 {
		return math.NaN()
	}
	s := slices.Clone(values)
	slices.Sort(s)
	p = min(max(p, 0), 100)
	rank := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(rank))
	hi := int(math.Ceil(rank))
	return lerp(s[lo], s[hi], rank-float64(lo))
}

func TestPercentile(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		p      float64
		want   float64
	}{
		// Expected values are numpy.percentile(values, p) (method="linear").
		{"median of 4 interpolates", []float64{1, 2, 3, 4}, 50, 2.5},
		{"p25 of 4", []float64{4, 1, 3, 2}, 25, 1.75},
		{"p90 of 1..10", []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 90, 9.1},
		{"p95 of 1..5", []float64{1, 2, 3, 4, 5}, 95, 4.8},
		{"p100 is the max", []float64{3, 1, 2}, 100, 3},
		{"p1 near the min", []float64{0, 100}, 1, 1},
		{"p0 is the min", []float64{3, 1, 2}, 0, 1},
		{"single value", []float64{7}, 99, 7},
		{"duplicates", []float64{5, 5, 5, 5, 1}, 50, 5},
		{"negative values", []float64{-10, -20, 0}, 50, -10},
		{"p clamped above", []float64{1, 2}, 150, 2},
		{"p clamped below", []float64{1, 2}, -3, 1},
		{"extremes do not overflow", []float64{-math.MaxFloat64, math.MaxFloat64}, 50, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.values)
			got := Percentile(in, tt.p)
			if math.Abs(got-tt.want) > 1e-9*math.Max(1, math.Abs(tt.want)) {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tt.values, tt.p, got, tt.want)
			}
			if diff := cmp.Diff(tt.values, in); diff != "" {
				t.Errorf("Percentile modified its input (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPercentileEmpty(t *testing.T) {
	if got := Percentile(nil, 50); !math.IsNaN(got) {
		t.Errorf("Percentile(nil) = %v, want NaN", got)
	}
}

// TestPercentileMatchesSort is the property test: on random inputs (sizes around the
// insertion-sort cutoff and far above it, few and many distinct values), selection gives
// exactly the sort-based result.
func TestPercentileMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{1, 2, 3, 11, 12, 13, 50, 257, 1000, 10_000}
	for _, n := range sizes {
		for _, distinct := range []int{1, 3, 1 << 30} {
			for trial := range 20 {
				values := make([]float64, n)
				for i := range values {
					values[i] = float64(rng.IntN(distinct)) - float64(distinct/2)
					if distinct > 3 {
						values[i] = rng.NormFloat64() * 1e6
					}
				}
				p := float64(1 + rng.IntN(100))
				if trial == 0 {
					p = rng.Float64() * 100
				}
				got, want := Percentile(values, p), sortPercentile(values, p)
				if got != want {
					t.Fatalf("n=%d distinct=%d p=%v: selection %v, sort %v", n, distinct, p, got, want)
				}
			}
		}
	}
}

// TestSelectKthAdversarial feeds inputs that defeat median-of-three pivots (sorted, reversed,
// organ-pipe, sawtooth); the depth budget must still give the right element.
func TestSelectKthAdversarial(t *testing.T) {
	n := 5000
	shapes := map[string]func(i int) float64{
		"sorted":     func(i int) float64 { return float64(i) },
		"reversed":   func(i int) float64 { return float64(n - i) },
		"organ pipe": func(i int) float64 { return float64(min(i, n-i)) },
		"sawtooth":   func(i int) float64 { return float64(i % 17) },
	}
	for name, shape := range shapes {
		t.Run(name, func(t *testing.T) {
			values := make([]float64, n)
			for i := range values {
				values[i] = shape(i)
			}
			sorted := slices.Sorted(slices.Values(values))
			for _, k := range []int{0, 1, n / 3, n / 2, n - 2, n - 1} {
				a := slices.Clone(values)
				selectKth(a, k)
				if a[k] != sorted[k] {
					t.Fatalf("selectKth(k=%d) = %v, want %v", k, a[k], sorted[k])
				}
				if m := slices.Max(a[:k+1]); m != a[k] {
					t.Fatalf("element left of k greater than a[k]: %v > %v", m, a[k])
				}
				if m := slices.Min(a[k:]); m != a[k] {
					t.Fatalf("element right of k less than a[k]: %v < %v", m, a[k])
				}
			}
		})
	}
}

func benchValues() []float64 {
	rng := rand.New(rand.NewPCG(3, 4))
	values := make([]float64, 100_000)
	for i := range values {
		values[i] = rng.Float64() * 1e9
	}
	return values
}

// BenchmarkPercentile100k compares selection (Percentile) with the sort-based reference on
// 100,000 random values, p95.
func BenchmarkPercentile100k(b *testing.B) {
	values := benchValues()
	b.Run("selection", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Percentile(values, 95)
		}
	})
	b.Run("sort", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sortPercentile(values, 95)
		}
	})
}
