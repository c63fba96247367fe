package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
)

// redisReply is a server error reply, as go-redis returns them.
type redisReply string

func (e redisReply) Error() string { return string(e) }
func (redisReply) RedisError()     {}

func TestWrapClassifiesErrors(t *testing.T) {
	type kinds struct{ NotFound, Unavailable bool }
	tests := []struct {
		name string
		err  error
		want kinds
	}{
		{"missing key", redis.Nil, kinds{NotFound: true}},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, kinds{Unavailable: true}},
		{"connection closed", io.EOF, kinds{Unavailable: true}},
		{"pool timeout", redis.ErrPoolTimeout, kinds{Unavailable: true}},
		{"closed client", redis.ErrClosed, kinds{Unavailable: true}},
		{"deadline", context.DeadlineExceeded, kinds{Unavailable: true}},
		{"loading", redisReply("LOADING Redis is loading the dataset in memory"), kinds{Unavailable: true}},
		{"read-only replica", redisReply("READONLY You can't write against a read only replica."), kinds{Unavailable: true}},
		{"master down", redisReply("MASTERDOWN Link with MASTER is down"), kinds{Unavailable: true}},
		{"wrapped", fmt.Errorf("exec: %w", io.ErrUnexpectedEOF), kinds{Unavailable: true}},
		{"caller cancelled", context.Canceled, kinds{}},
		{"bad command", redisReply("ERR syntax error"), kinds{}},
		{"wrong type", redisReply("WRONGTYPE Operation against a key holding the wrong kind of value"), kinds{}},
		{"watch conflict", redis.TxFailedErr, kinds{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := wrap("op", tt.err)
			got := kinds{NotFound: errors.Is(err, engine.ErrNotFound), Unavailable: errors.Is(err, engine.ErrUnavailable)}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("wrap(%v) = %v: kinds mismatch (-want +got):\n%s", tt.err, err, diff)
			}
		})
	}
	if err := wrap("op", nil); err != nil {
		t.Errorf("wrap(nil) = %v, want nil", err)
	}
}

func TestOnceStateString(t *testing.T) {
	got := []string{OnceClaimed.String(), OnceDone.String(), OncePending.String(), OnceState(0).String()}
	want := []string{"claimed", "done", "pending", "OnceState(0)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OnceState.String (-want +got):\n%s", diff)
	}
}
