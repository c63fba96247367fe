package store

import (
	"context"
	"fmt"
	"time"

	"github.com/clusterpulse/clusterpulse/engine"
)

// AcquireLease takes the lease name for owner for ttl (SET NX PX). It returns false when another
// owner holds it. The owner token must be unique to the holder (e.g. pod name plus a random
// suffix), because renew and release compare it.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if err := checkLease(name, owner, ttl); err != nil {
		return false, err
	}
	ok, err := s.client.SetNX(ctx, s.keys.Lease(name), owner, ttl).Result()
	if err != nil {
		return false, wrap(fmt.Sprintf("acquire lease %q", name), err)
	}
	return ok, nil
}

// RenewLease extends the lease name to ttl from now if owner still holds it. It returns false
// when the lease was lost (expired, or taken by another owner); the caller must then stop the
// work the lease guarded.
func (s *Store) RenewLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if err := checkLease(name, owner, ttl); err != nil {
		return false, err
	}
	n, err := s.scripts.renewLease.Run(ctx, s.client, []string{s.keys.Lease(name)}, owner, ttl.Milliseconds()).Int()
	if err != nil {
		return false, wrap(fmt.Sprintf("renew lease %q", name), err)
	}
	return n == 1, nil
}

// ReleaseLease deletes the lease name if owner holds it. It returns false, and leaves the lease
// alone, when owner does not hold it.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) (bool, error) {
	if err := checkLease(name, owner, time.Millisecond); err != nil {
		return false, err
	}
	n, err := s.scripts.releaseLease.Run(ctx, s.client, []string{s.keys.Lease(name)}, owner).Int()
	if err != nil {
		return false, wrap(fmt.Sprintf("release lease %q", name), err)
	}
	return n == 1, nil
}

// LeaseOwner returns the current holder of the lease name, or "" when nobody holds it.
func (s *Store) LeaseOwner(ctx context.Context, name string) (string, error) {
	v, err := s.client.Get(ctx, s.keys.Lease(name)).Result()
	if err != nil {
		if isNil(err) {
			return "", nil
		}
		return "", wrap(fmt.Sprintf("read lease %q", name), err)
	}
	return v, nil
}

func checkLease(name, owner string, ttl time.Duration) error {
	switch {
	case name == "":
		return fmt.Errorf("lease: empty name: %w", engine.ErrInvalid)
	case owner == "":
		return fmt.Errorf("lease %q: empty owner: %w", name, engine.ErrInvalid)
	case ttl < time.Millisecond:
		return fmt.Errorf("lease %q: ttl %v is below 1ms: %w", name, ttl, engine.ErrInvalid)
	}
	return nil
}
