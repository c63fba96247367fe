package jobs

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/clusterpulse/clusterpulse/engine"
)

// Shard selects the part of the units one job process handles: unit names are spread over
// Count shards by a stable hash (FNV-1a 64 of the name, modulo Count), so every process of an
// Indexed Job agrees without talking to the others. The zero Shard (or Count 1) owns all.
type Shard struct {
	Index, Count int
}

// ParseShard reads "i/n" (0 <= i < n); errors wrap engine.ErrInvalid.
func ParseShard(s string) (Shard, error) {
	is, ns, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q is not i/n: %w", s, engine.ErrInvalid)
	}
	return NewShard(is, ns)
}

// NewShard builds a Shard from the decimal index and count (as in JOB_COMPLETION_INDEX and
// JOB_COMPLETIONS); errors wrap engine.ErrInvalid.
func NewShard(index, count string) (Shard, error) {
	i, err1 := strconv.Atoi(strings.TrimSpace(index))
	n, err2 := strconv.Atoi(strings.TrimSpace(count))
	switch {
	case err1 != nil || err2 != nil:
		return Shard{}, fmt.Errorf("shard %s/%s: index and count must be integers: %w", index, count, engine.ErrInvalid)
	case n < 1:
		return Shard{}, fmt.Errorf("shard %d/%d: count must be at least 1: %w", i, n, engine.ErrInvalid)
	case i < 0 || i >= n:
		return Shard{}, fmt.Errorf("shard %d/%d: index must be in [0, %d): %w", i, n, n, engine.ErrInvalid)
	}
	return Shard{Index: i, Count: n}, nil
}

// Owns reports whether name belongs to this shard.
func (s Shard) Owns(name string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()%uint64(s.Count) == uint64(s.Index)
}

// String returns "i/n", or "" for the shard that owns everything.
func (s Shard) String() string {
	if s.Count <= 1 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}
