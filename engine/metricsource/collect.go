package metricsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/dynamic"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/metricsource/expr"
)

// The retry backoff of a transiently failed LIST: DefaultBackoff doubled per attempt, at most
// maxBackoff (or the server's Retry-After when it sends one, within the same cap).
const (
	DefaultBackoff = 250 * time.Millisecond
	maxBackoff     = 5 * time.Second
)

// CollectOptions are the per-call settings of Collect.
type CollectOptions struct {
	// Cluster is the name of the cluster collected, written into the result.
	Cluster string
	// Now is the clock for timestamps and durations; nil means time.Now.
	Now func() time.Time
	// Backoff is the first retry delay; zero means DefaultBackoff.
	Backoff time.Duration
}

// Result is what Collect gathered from one cluster for one source.
type Result struct {
	// Collection holds the kept resources (at most maxResources) in the original JSON shape.
	Collection engine.CustomCollection
	// Aggregations holds every aggregation computed over Collection.Resources.
	Aggregations engine.AggregationResults
	// Meta is the collection metadata; its ErrorCount adds up namespace errors, conversion
	// errors and evaluation errors.
	Meta engine.CustomMeta
	// ConversionErrors counts extracted values that were present but could not be converted
	// (stored as null).
	ConversionErrors int
	// EvalErrors counts computed values whose expression or type coercion failed (stored as
	// null).
	EvalErrors int
	// NamespaceErrors holds the failures of per-namespace LISTs; the other namespaces were
	// still collected.
	NamespaceErrors []error
}

// listFunc lists one page of the target in namespace ("" for all namespaces).
type listFunc func(ctx context.Context, namespace string, opts metav1.ListOptions) (*unstructured.UnstructuredList, error)

// Collect lists the resources of c from one cluster and turns them into the collection and
// aggregation results. target comes from c.Resolve with the same cluster's discovery.
//
//   - Paging: LIST with limit = batchSize and continue; the label selector goes to the server.
//     Each page is turned into CustomResources and dropped before the next one is fetched, so
//     memory grows with maxResources, not with the cluster.
//   - Namespaces: a cluster-scoped target, or a namespaced one without namespace settings, is
//     one cluster-wide LIST. When include holds only exact names, each included namespace that
//     is not excluded is listed on its own, parallelism at a time; a failed namespace is
//     reported in NamespaceErrors and the others go on (Collect fails only when all fail). With
//     any pattern in include, or exclude alone, it is one cluster-wide LIST filtered by
//     namespace on the client.
//   - Limit: resources beyond maxResources are not kept; Truncated is set only when a further
//     matching resource was actually seen (an exactly full result is not truncated).
//   - Time: the whole collection is bounded by timeoutSeconds.
//   - Retries: a LIST failing with a transient error (server timeout, 429, 500, 503, network
//     errors) is retried up to retryAttempts times with exponential backoff. A 410 Gone
//     (continue token expired) resumes with the token the server offers for an inconsistent
//     continuation; without one the LIST fails (restarting would duplicate what was kept).
//
// Per resource, the fields are extracted, then the computed fields evaluated in dependency
// order; a value that fails to convert or evaluate is null and counted. Errors wrap
// engine.ErrForbidden, engine.ErrNotFound or engine.ErrUnavailable.
func Collect(ctx context.Context, dc dynamic.Interface, target Target, c *Compiled, opts CollectOptions) (*Result, error) {
	ri := dc.Resource(target.GVR)
	list := func(ctx context.Context, ns string, o metav1.ListOptions) (*unstructured.UnstructuredList, error) {
		if ns == "" {
			return ri.List(ctx, o)
		}
		return ri.Namespace(ns).List(ctx, o)
	}
	return collect(ctx, list, target, c, opts)
}

func collect(ctx context.Context, list listFunc, target Target, c *Compiled, opts CollectOptions) (*Result, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	backoff := opts.Backoff
	if backoff <= 0 {
		backoff = DefaultBackoff
	}
	start := now()
	ctx, cancel := context.WithTimeout(ctx, c.Collection.Timeout)
	defer cancel()

	run := &collection{
		c:       c,
		target:  target,
		list:    list,
		backoff: backoff,
		limit:   &limiter{max: c.Collection.MaxResources},
	}
	var streams []*stream
	exact, perNamespace := c.Namespaces.ExactNamespaces()
	switch {
	case !target.Namespaced:
		streams = []*stream{{}}
	case perNamespace:
		for _, ns := range exact {
			streams = append(streams, &stream{namespace: ns})
		}
	default:
		streams = []*stream{{filter: !c.Namespaces.IsEmpty()}}
	}
	if len(streams) == 1 {
		run.run(ctx, streams[0])
	} else {
		sem := make(chan struct{}, max(1, c.Collection.Parallelism))
		var wg sync.WaitGroup
		for _, s := range streams {
			wg.Go(func() {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					s.err = run.wrap(s.namespace, fmt.Errorf("%w: %w", engine.ErrUnavailable, ctx.Err()))
					return
				}
				defer func() { <-sem }()
				run.run(ctx, s)
			})
		}
		wg.Wait()
	}

	res := &Result{}
	var resources []engine.CustomResource
	var firstValueErr error
	failed := 0
	for _, s := range streams {
		res.ConversionErrors += s.proc.convErrs
		res.EvalErrors += s.proc.evalErrs
		if firstValueErr == nil {
			firstValueErr = s.proc.firstErr
		}
		if s.err != nil {
			failed++
			res.NamespaceErrors = append(res.NamespaceErrors, s.err)
			continue
		}
		resources = append(resources, s.out...)
	}
	if failed > 0 && ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("collect %s from cluster %q: timed out after %v: %w", c.ID, opts.Cluster, c.Collection.Timeout, engine.ErrUnavailable)
		}
		return nil, fmt.Errorf("collect %s from cluster %q: %w: %w", c.ID, opts.Cluster, engine.ErrUnavailable, ctx.Err())
	}
	if failed > 0 && (failed == len(streams) || !perNamespace) {
		return nil, fmt.Errorf("collect %s from cluster %q: %w", c.ID, opts.Cluster, errors.Join(res.NamespaceErrors...))
	}

	aggStart := now()
	values := c.Aggregate(resources)
	end := now()
	duration := end.Sub(start).Milliseconds()
	truncated := run.limit.truncated()
	res.Collection = engine.CustomCollection{
		CollectedAt:   engine.NewTime(end),
		SourceID:      c.ID,
		ClusterName:   opts.Cluster,
		ResourceCount: len(resources),
		Truncated:     truncated,
		DurationMs:    duration,
		Resources:     resources,
	}
	res.Aggregations = engine.AggregationResults{
		ComputedAt: engine.NewTime(end),
		SourceID:   c.ID,
		DurationMs: end.Sub(aggStart).Milliseconds(),
		Values:     values,
	}
	res.Meta = engine.CustomMeta{
		SourceID:           c.ID,
		ClusterName:        opts.Cluster,
		LastCollectionTime: engine.NewTime(end),
		DurationMs:         duration,
		ResourceCount:      len(resources),
		Truncated:          truncated,
		ErrorCount:         len(res.NamespaceErrors) + res.ConversionErrors + res.EvalErrors,
	}
	switch {
	case len(res.NamespaceErrors) > 0:
		res.Meta.LastError = res.NamespaceErrors[len(res.NamespaceErrors)-1].Error()
	case firstValueErr != nil:
		res.Meta.LastError = firstValueErr.Error()
	}
	return res, nil
}

// collection is the shared state of one Collect call.
type collection struct {
	c       *Compiled
	target  Target
	list    listFunc
	backoff time.Duration
	limit   *limiter
}

// stream is one sequence of paged LISTs: cluster-wide or one namespace. It owns its processor
// (the variable vector is reused per item) and its output, so streams run in parallel without
// sharing anything but the limiter.
type stream struct {
	namespace string
	filter    bool // filter items by namespace on the client
	proc      processor
	out       []engine.CustomResource
	err       error
}

// limiter enforces maxResources across streams.
type limiter struct {
	mu   sync.Mutex
	max  int
	n    int
	over bool
}

// take reserves room for one more resource; false means the cap is reached, which is then
// recorded as truncation (an item was left out).
func (l *limiter) take() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n >= l.max {
		l.over = true
		return false
	}
	l.n++
	return true
}

func (l *limiter) truncated() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.over
}

// run pages through one stream until the end, the cap or an error.
func (r *collection) run(ctx context.Context, s *stream) {
	s.proc.init(r.c)
	nsCache := make(map[string]bool)
	token := ""
	for {
		page, err := r.page(ctx, s.namespace, token)
		if err != nil {
			s.err = err
			return
		}
		for i := range page.Items {
			obj := page.Items[i].Object
			if s.filter {
				ns := objectNamespace(obj)
				ok, seen := nsCache[ns]
				if !seen {
					ok = r.c.Namespaces.Allows(ns)
					nsCache[ns] = ok
				}
				if !ok {
					continue
				}
			}
			if !r.limit.take() {
				return
			}
			s.out = append(s.out, s.proc.resource(obj))
		}
		token = page.GetContinue()
		if token == "" {
			return
		}
	}
}

// page fetches one page, retrying transient failures with exponential backoff.
func (r *collection) page(ctx context.Context, ns, token string) (*unstructured.UnstructuredList, error) {
	opts := metav1.ListOptions{
		Limit:         int64(r.c.Collection.BatchSize),
		Continue:      token,
		LabelSelector: r.c.LabelSelector,
	}
	delay := r.backoff
	for attempt := 0; ; attempt++ {
		page, err := r.list(ctx, ns, opts)
		if err == nil {
			return page, nil
		}
		if ctx.Err() != nil {
			return nil, r.wrap(ns, fmt.Errorf("%w: %w", engine.ErrUnavailable, ctx.Err()))
		}
		if attempt >= r.c.Collection.RetryAttempts {
			return nil, r.wrap(ns, listError(err))
		}
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			next := inconsistentContinue(err)
			if next == "" {
				return nil, r.wrap(ns, listError(err))
			}
			opts.Continue = next
			continue
		}
		if !transient(err) {
			return nil, r.wrap(ns, listError(err))
		}
		wait := delay
		if s, ok := apierrors.SuggestsClientDelay(err); ok && s > 0 {
			wait = time.Duration(s) * time.Second
		}
		wait = min(wait, maxBackoff)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, r.wrap(ns, fmt.Errorf("%w: %w (last error: %w)", engine.ErrUnavailable, ctx.Err(), err))
		case <-t.C:
		}
		delay = min(delay*2, maxBackoff)
	}
}

func (r *collection) wrap(ns string, err error) error {
	if ns == "" {
		return fmt.Errorf("list %s: %w", r.target.GVR.String(), err)
	}
	return fmt.Errorf("list %s in namespace %q: %w", r.target.GVR.String(), ns, err)
}

// listError attaches the engine error kind to a LIST failure.
func listError(err error) error {
	switch {
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return fmt.Errorf("%w: %w", engine.ErrForbidden, err)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%w: %w", engine.ErrNotFound, err)
	}
	return fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
}

// inconsistentContinue returns the continue token a 410 response offers for carrying on
// without a consistent snapshot, or "".
func inconsistentContinue(err error) string {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return st.Status().ListMeta.Continue
	}
	return ""
}

// transient reports whether a LIST error may go away on its own.
func transient(err error) bool {
	switch {
	case apierrors.IsServerTimeout(err), apierrors.IsTimeout(err), apierrors.IsTooManyRequests(err),
		apierrors.IsInternalError(err), apierrors.IsServiceUnavailable(err), apierrors.IsUnexpectedServerError(err):
		return true
	case errors.Is(err, io.ErrUnexpectedEOF), utilnet.IsProbableEOF(err), utilnet.IsConnectionReset(err),
		utilnet.IsConnectionRefused(err):
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// objectNamespace reads metadata.namespace without allocating.
func objectNamespace(obj map[string]any) string {
	md, _ := obj["metadata"].(map[string]any)
	ns, _ := md["namespace"].(string)
	return ns
}

// processor turns objects into CustomResources. It is not safe for concurrent use: each stream
// has its own.
type processor struct {
	c        *Compiled
	vars     []expr.Value
	convErrs int
	evalErrs int
	firstErr error
}

func (p *processor) init(c *Compiled) {
	p.c = c
	p.vars = make([]expr.Value, len(c.names))
}

// resource extracts the fields of obj and evaluates the computed fields.
func (p *processor) resource(obj map[string]any) engine.CustomResource {
	md, _ := obj["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	ns, _ := md["namespace"].(string)
	r := engine.CustomResource{
		ID:        sourceID(ns, name),
		Namespace: ns,
		Name:      name,
		Values:    make(map[string]any, len(p.c.names)),
	}
	if labels, ok := md["labels"].(map[string]any); ok && len(labels) > 0 {
		r.Labels = make(map[string]string, len(labels))
		for k, v := range labels {
			if s, ok := v.(string); ok {
				r.Labels[k] = s
			}
		}
	}
	for i, f := range p.c.fields {
		v, err := f.Extract(obj)
		if err != nil {
			p.noteErr(&p.convErrs, fmt.Errorf("resource %s: %w", r.ID, err))
		}
		r.Values[f.Name()] = v
		x, err := expr.FromInterface(v)
		if err != nil {
			x = expr.Invalid(err.Error())
		}
		p.vars[i] = x
	}
	for _, cf := range p.c.computed {
		v, err := cf.prog.Eval(p.vars)
		if err == nil {
			v, err = expr.Coerce(v, cf.typ)
		}
		if err != nil {
			p.noteErr(&p.evalErrs, fmt.Errorf("resource %s: computed field %q: %w", r.ID, cf.name, err))
			v = expr.Null()
		}
		p.vars[cf.slot] = v
		r.Values[cf.name] = v.Interface()
	}
	return r
}

func (p *processor) noteErr(counter *int, err error) {
	*counter++
	if p.firstErr == nil {
		p.firstErr = err
	}
}
