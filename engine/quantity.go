package engine

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
)

// ParseCPU parses a Kubernetes CPU quantity ("500m", "2", "1.5", "2e3") into cores.
// Negative quantities and anything resource.ParseQuantity rejects give an error wrapping
// ErrInvalid.
func ParseCPU(s string) (float64, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("parse cpu quantity %q: %w: %w", s, ErrInvalid, err)
	}
	if q.Sign() < 0 {
		return 0, fmt.Errorf("parse cpu quantity %q: negative: %w", s, ErrInvalid)
	}
	return CPUCores(q), nil
}

// ParseBytes parses a Kubernetes memory or storage quantity ("1Gi", "1.5Gi", "100M",
// "128974848", "129e6") into bytes, rounding a fractional byte up. Negative quantities and
// anything resource.ParseQuantity rejects give an error wrapping ErrInvalid.
func ParseBytes(s string) (int64, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("parse byte quantity %q: %w: %w", s, ErrInvalid, err)
	}
	if q.Sign() < 0 {
		return 0, fmt.Errorf("parse byte quantity %q: negative: %w", s, ErrInvalid)
	}
	return Bytes(q), nil
}

// CPUCores converts a CPU quantity to cores with millicore precision (Kubernetes' own CPU
// resolution), so "500m" is exactly 0.5 and "100m" is the float64 nearest to 0.1.
func CPUCores(q resource.Quantity) float64 {
	return float64(q.MilliValue()) / 1000
}

// Bytes converts a memory or storage quantity to bytes, rounding a fractional byte up.
func Bytes(q resource.Quantity) int64 {
	return q.Value()
}
