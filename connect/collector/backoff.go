package collector

import (
	"math/rand/v2"
	"time"
)

// Backoff is exponential backoff with full jitter: the n-th wait after a failure (n from 0) is
// uniform in [0, min(Max, Min·2ⁿ)). Full jitter spreads the reconnects of a fleet of collectors
// that lost the ingester at the same moment. It is not safe for concurrent use.
type Backoff struct {
	// Min is the ceiling of the first wait; Max caps every ceiling.
	Min, Max time.Duration
	// Rand returns a number in [0, 1); nil means math/rand/v2.Float64.
	Rand func() float64

	attempt int
}

// Ceiling returns the upper bound of the next wait.
func (b *Backoff) Ceiling() time.Duration {
	c := b.Min
	for i := 0; i < b.attempt && c < b.Max; i++ {
		c *= 2
	}
	if c > b.Max {
		c = b.Max
	}
	return c
}

// Next returns the next wait and moves to the following attempt.
func (b *Backoff) Next() time.Duration {
	c := b.Ceiling()
	r := rand.Float64
	if b.Rand != nil {
		r = b.Rand
	}
	f := r()
	if f < 0 || f >= 1 {
		f = 0
	}
	if c < b.Max {
		b.attempt++
	}
	return time.Duration(f * float64(c))
}

// Reset starts over after a success.
func (b *Backoff) Reset() { b.attempt = 0 }
