package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/clusterpulse/clusterpulse/engine"
)

// SetPresence records that name of kind (for example a collector of a cluster) is alive, with v
// as JSON, for ttl. Refreshing it before ttl passes keeps it alive; letting it lapse is how
// absence is detected, so no process has to clean up after a crash.
func (s *Store) SetPresence(ctx context.Context, kind, name string, v any, ttl time.Duration) error {
	if kind == "" || name == "" {
		return fmt.Errorf("set presence %q/%q: empty kind or name: %w", kind, name, engine.ErrInvalid)
	}
	if ttl < time.Millisecond {
		return fmt.Errorf("set presence %s/%s: ttl %v is below 1ms: %w", kind, name, ttl, engine.ErrInvalid)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode presence %s/%s: %w", kind, name, err)
	}
	return wrap(fmt.Sprintf("set presence %s/%s", kind, name),
		s.client.Set(ctx, s.keys.Presence(kind, name), b, ttl).Err())
}

// Presence reads the presence of name of kind into out. found is false when it is absent
// (never set, expired or cleared); out is then untouched.
func (s *Store) Presence(ctx context.Context, kind, name string, out any) (found bool, err error) {
	b, err := s.client.Get(ctx, s.keys.Presence(kind, name)).Bytes()
	if err != nil {
		if isNil(err) {
			return false, nil
		}
		return false, wrap(fmt.Sprintf("read presence %s/%s", kind, name), err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return false, fmt.Errorf("decode presence %s/%s: %w", kind, name, err)
	}
	return true, nil
}

// ClearPresence removes the presence of name of kind (a clean shutdown).
func (s *Store) ClearPresence(ctx context.Context, kind, name string) error {
	return wrap(fmt.Sprintf("clear presence %s/%s", kind, name),
		s.client.Del(ctx, s.keys.Presence(kind, name)).Err())
}
