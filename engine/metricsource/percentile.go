package metricsource

import (
	"math"
	"math/bits"
	"slices"
)

// Percentile returns the p-th percentile (p in 0..100, clamped) of values with linear
// interpolation between the closest ranks — numpy's default ("linear") method:
// rank = p/100·(n−1), result = lerp(v[floor(rank)], v[ceil(rank)], rank−floor(rank)) of the
// sorted values. It returns NaN for no values; values must not contain NaN.
//
// It works on a scratch copy (values is left untouched) and finds the two ranks by selection,
// O(n) on average and O(n log n) at worst, instead of sorting everything.
func Percentile(values []float64, p float64) float64 {
	if len(values) == 0 {
		return math.NaN()
	}
	scratch := slices.Clone(values)
	return percentileInPlace(scratch, p)
}

// percentileInPlace is Percentile on a slice it may reorder.
func percentileInPlace(a []float64, p float64) float64 {
	n := len(a)
	if n == 0 {
		return math.NaN()
	}
	switch {
	case p <= 0 || math.IsNaN(p):
		p = 0
	case p >= 100:
		p = 100
	}
	rank := p / 100 * float64(n-1)
	lo := int(math.Floor(rank))
	if lo > n-1 {
		lo = n - 1
	}
	frac := rank - float64(lo)
	selectKth(a, lo)
	lower := a[lo]
	if frac == 0 || lo == n-1 {
		return lower
	}
	// After selection every element right of lo is >= a[lo]; the next rank is their minimum.
	upper := slices.Min(a[lo+1:])
	return lerp(lower, upper, frac)
}

// lerp interpolates like numpy's _lerp: from a when t < 0.5 and from b otherwise, which keeps
// the result inside [a, b] and exact at both ends.
func lerp(a, b, t float64) float64 {
	if a == b {
		return a
	}
	d := b - a
	if math.IsInf(d, 0) { // a and b of opposite signs near the float64 limits
		return a*(1-t) + b*t
	}
	if t >= 0.5 {
		return b - d*(1-t)
	}
	return a + d*t
}

// insertionCutoff is the size below which selection finishes with an insertion sort.
const insertionCutoff = 12

// selectKth reorders a so that a[k] is the element a sorted copy would have at k, everything
// left of k is <= a[k] and everything right of it is >= a[k]. It is introselect: quickselect
// with a median-of-three pivot and three-way partitioning (so runs of equal values, common in
// resource sizes, finish at once), falling back to a sort of the remaining range when the pivots
// keep being poor, which bounds the worst case to O(n log n).
func selectKth(a []float64, k int) {
	lo, hi := 0, len(a)
	budget := 2 * bits.Len(uint(len(a)))
	for hi-lo > insertionCutoff {
		if budget == 0 {
			slices.Sort(a[lo:hi])
			return
		}
		budget--
		pivot := medianOf3(a[lo], a[lo+(hi-lo)/2], a[hi-1])
		lt, gt := partition3(a, lo, hi, pivot)
		switch {
		case k < lt:
			hi = lt
		case k >= gt:
			lo = gt
		default:
			return
		}
	}
	insertionSort(a[lo:hi])
}

// partition3 rearranges a[lo:hi] into a[lo:lt] < pivot, a[lt:gt] == pivot, a[gt:hi] > pivot.
func partition3(a []float64, lo, hi int, pivot float64) (lt, gt int) {
	lt, i, gt := lo, lo, hi
	for i < gt {
		switch v := a[i]; {
		case v < pivot:
			a[lt], a[i] = a[i], a[lt]
			lt++
			i++
		case v > pivot:
			gt--
			a[i], a[gt] = a[gt], a[i]
		default:
			i++
		}
	}
	return lt, gt
}

func medianOf3(x, y, z float64) float64 {
	if x > y {
		x, y = y, x
	}
	if y > z {
		y = z
	}
	if x > y {
		return x
	}
	return y
}

func insertionSort(a []float64) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}
