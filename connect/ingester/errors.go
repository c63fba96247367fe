package ingester

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"github.com/clusterpulse/clusterpulse/engine"
)

// toConnectError maps the engine error kinds to Connect codes; it is the only place that does.
// A Connect error passes through. Anything unclassified becomes Unavailable: a sink failed for
// a reason the collector cannot fix, and retrying the same batch later is always safe.
func toConnectError(err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	switch {
	case errors.As(err, &ce):
		return err
	case errors.Is(err, engine.ErrInvalid):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, engine.ErrForbidden):
		return connect.NewError(connect.CodePermissionDenied, err)
	case errors.Is(err, engine.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	default:
		return connect.NewError(connect.CodeUnavailable, err)
	}
}
