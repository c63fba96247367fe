package ingester

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/store"
)

// rateLimiter counts the requests of each cluster per one-second window in Redis, so the limit
// holds across every replica: ratelimit:ingester:{cluster}:{unix second}, INCR then EXPIRE.
// A fixed window lets up to twice the limit through around a window edge; that is good enough
// to stop a collector in a retry loop, which is what it is for.
type rateLimiter struct {
	store *store.Store
	limit int
	now   func() time.Time
}

// allow counts one request of cluster. When the window is full it returns false and how long
// to wait before the next window opens.
func (l *rateLimiter) allow(ctx context.Context, cluster string) (bool, time.Duration, error) {
	if l.limit <= 0 {
		return true, 0, nil
	}
	now := l.now()
	sec := now.Unix()
	key := l.store.Keys().Prefix + "ratelimit:ingester:" + cluster + ":" + strconv.FormatInt(sec, 10)
	pipe := l.store.Client().TxPipeline()
	incr := pipe.Incr(ctx, key)
	pipe.Expire(ctx, key, 2*time.Second)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, 0, fmt.Errorf("count requests of cluster %q: %w: %w", cluster, engine.ErrUnavailable, err)
	}
	if incr.Val() <= int64(l.limit) {
		return true, 0, nil
	}
	wait := time.Unix(sec+1, 0).Sub(now)
	if wait <= 0 {
		wait = time.Millisecond
	}
	return false, wait, nil
}

// rateLimited is the ResourceExhausted error of a full window, with the delay as a
// google.rpc.RetryInfo detail (gRPC clients know it) and a Retry-After header (whole seconds,
// for plain HTTP clients).
func rateLimited(cluster string, wait time.Duration) error {
	err := connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("too many requests for cluster %q; retry after %s", cluster, wait.Round(time.Millisecond)))
	if d, derr := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); derr == nil {
		err.AddDetail(d)
	}
	secs := int((wait + time.Second - 1) / time.Second)
	err.Meta().Set("Retry-After", strconv.Itoa(secs))
	return err
}

// limitInterceptor applies the per-cluster rate limit to every authenticated call: each unary
// call, and the opening of each stream. (Messages inside a stream are not limited: the original
// collectors send one batch per interval, and refusing one would lose it, since they do not
// re-send a batch whose send succeeded.) It must run after authInterceptor.
type limitInterceptor struct {
	limiter *rateLimiter
}

func (i limitInterceptor) check(ctx context.Context) error {
	cluster, ok := authenticatedCluster(ctx)
	if !ok {
		return nil
	}
	allowed, wait, err := i.limiter.allow(ctx, cluster)
	if err != nil {
		return toConnectError(err)
	}
	if !allowed {
		return rateLimited(cluster, wait)
	}
	return nil
}

func (i limitInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := i.check(ctx); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (i limitInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i limitInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := i.check(ctx); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}
