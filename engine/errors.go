package engine

import "errors"

// The error kinds shared by every component. Code wraps them with context
// (fmt.Errorf("read cluster %q: %w", name, ErrNotFound)) and each edge maps them exactly once:
// HTTP status in httpapi, Connect code in the ingester, exit status in a job.
var (
	// ErrNotFound means the requested object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid means the input is malformed or violates a constraint.
	ErrInvalid = errors.New("invalid")
	// ErrForbidden means the caller may not see or do this.
	ErrForbidden = errors.New("forbidden")
	// ErrUnavailable means a dependency (Redis, a cluster API, a registry) could not be reached;
	// retrying later may succeed.
	ErrUnavailable = errors.New("unavailable")
)
