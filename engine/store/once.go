package store

import (
	"context"
	"fmt"
	"time"

	"github.com/clusterpulse/clusterpulse/engine"
)

// onceDone is the value of a de-duplication key whose work is complete.
const onceDone = "done"

// OnceState is the outcome of BeginOnce.
type OnceState int

// The outcomes of BeginOnce.
const (
	// OnceClaimed: the caller now owns the work and must call CompleteOnce or AbortOnce.
	OnceClaimed OnceState = iota + 1
	// OnceDone: the work was already completed; skip it (a duplicate).
	OnceDone
	// OncePending: another owner is doing the work right now; retry later.
	OncePending
)

// String names the state for logs.
func (o OnceState) String() string {
	switch o {
	case OnceClaimed:
		return "claimed"
	case OnceDone:
		return "done"
	case OncePending:
		return "pending"
	}
	return fmt.Sprintf("OnceState(%d)", int(o))
}

// MarkOnce marks key as seen for ttl (SET NX EX). first is true for the first caller within ttl
// and false for every duplicate.
func (s *Store) MarkOnce(ctx context.Context, key string, ttl time.Duration) (first bool, err error) {
	if err := checkOnce(key, ttl); err != nil {
		return false, err
	}
	first, err = s.client.SetNX(ctx, s.keys.Once(key), onceDone, ttl).Result()
	if err != nil {
		return false, wrap(fmt.Sprintf("mark once %q", key), err)
	}
	return first, nil
}

// BeginOnce claims key for owner for claimTTL, for work that counts as done only after every
// step succeeded: on OnceClaimed do the work, then CompleteOnce on success or AbortOnce on
// failure. If the owner crashes, the claim lapses after claimTTL and the work can be retried.
func (s *Store) BeginOnce(ctx context.Context, key, owner string, claimTTL time.Duration) (OnceState, error) {
	if err := checkOnce(key, claimTTL); err != nil {
		return 0, err
	}
	if owner == "" {
		return 0, fmt.Errorf("begin once %q: empty owner: %w", key, engine.ErrInvalid)
	}
	v, err := s.scripts.beginOnce.Run(ctx, s.client, []string{s.keys.Once(key)}, pending(owner), claimTTL.Milliseconds()).Text()
	if err != nil {
		return 0, wrap(fmt.Sprintf("begin once %q", key), err)
	}
	switch v {
	case "":
		return OnceClaimed, nil
	case onceDone:
		return OnceDone, nil
	default:
		return OncePending, nil
	}
}

// CompleteOnce marks key done for ttl, so BeginOnce and MarkOnce report it as a duplicate.
func (s *Store) CompleteOnce(ctx context.Context, key string, ttl time.Duration) error {
	if err := checkOnce(key, ttl); err != nil {
		return err
	}
	return wrap(fmt.Sprintf("complete once %q", key), s.client.Set(ctx, s.keys.Once(key), onceDone, ttl).Err())
}

// AbortOnce releases owner's claim on key so the work can be retried at once. It returns false
// when owner no longer holds the claim (it lapsed, or the work was completed).
func (s *Store) AbortOnce(ctx context.Context, key, owner string) (bool, error) {
	n, err := s.scripts.abortOnce.Run(ctx, s.client, []string{s.keys.Once(key)}, pending(owner)).Int()
	if err != nil {
		return false, wrap(fmt.Sprintf("abort once %q", key), err)
	}
	return n == 1, nil
}

func pending(owner string) string { return "pending:" + owner }

func checkOnce(key string, ttl time.Duration) error {
	switch {
	case key == "":
		return fmt.Errorf("once: empty key: %w", engine.ErrInvalid)
	case ttl < time.Millisecond:
		return fmt.Errorf("once %q: ttl %v is below 1ms: %w", key, ttl, engine.ErrInvalid)
	}
	return nil
}
