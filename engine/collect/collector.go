package collect

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/clusterpulse/clusterpulse/engine"
)

// DefaultPageSize is the limit of every paginated LIST.
const DefaultPageSize = 500

// csvPageSize caps the page size of the ClusterServiceVersion LIST: a CSV carries its whole
// install strategy and a base64 icon, so pages of 500 would be tens of megabytes.
const csvPageSize = 50

// Client defaults for a rest.Config that sets no rate limit (client-go's default of 5 QPS
// would throttle the pod LIST of a large cluster); the original's values.
const (
	defaultQPS   = 100
	defaultBurst = 200
)

const protobufContentType = "application/vnd.kubernetes.protobuf"

// Parts of a collection pass: the keys of Result.Errors and Result.Timings.
const (
	// PartNodes and PartPods are the critical parts: when either fails, Collect fails.
	PartNodes = "nodes"
	PartPods  = "pods"

	PartNamespaces       = "namespaces"
	PartDeployments      = "deployments"
	PartServices         = "services"
	PartStatefulSets     = "statefulsets"
	PartDaemonSets       = "daemonsets"
	PartNodeMetrics      = "node_metrics"
	PartInfo             = "info"
	PartConsole          = "console"
	PartOperators        = "operators"
	PartClusterOperators = "cluster_operators"
)

// Options tune one collection pass. The zero value collects everything.
type Options struct {
	// APIURL is the cluster's API URL as users know it: ClusterInfo.APIURL, and the base of
	// the derived OpenShift console URL. Default: the rest.Config's Host.
	APIURL string
	// PageSize is the limit of each paginated LIST. Default DefaultPageSize.
	PageSize int64
	// SkipInfo leaves out the cluster info (State.Info stays nil).
	SkipInfo bool
	// SkipOperators leaves out OLM operators and OpenShift ClusterOperators (State.Operators
	// and State.ClusterOperators stay nil), for passes where the operator scan is throttled.
	SkipOperators bool
	// Now returns the collection time. Default time.Now.
	Now func() time.Time
}

// Result is the outcome of one collection pass.
type Result struct {
	// State holds what was collected; the fields of parts that failed stay nil (see
	// engine.ClusterState: nil keeps the stored value). Status, Spec and Events are left to
	// the caller. Nodes are sorted by name.
	State engine.ClusterState
	// Errors holds the error of each part that failed, keyed by Part*. An API that is not
	// served is not an error.
	Errors map[string]error
	// Timings holds the wall time of each part that ran, keyed by Part*.
	Timings map[string]time.Duration
}

// Collector collects one cluster. It holds only clients: one Collector may run Collect any
// number of times, also concurrently.
type Collector struct {
	core   kubernetes.Interface
	dyn    dynamic.Interface
	apiURL string
}

// New returns a Collector for the cluster described by cfg. The typed client speaks protobuf;
// the dynamic client (for CRDs and metrics.k8s.io) speaks JSON; both share one connection
// pool. cfg is not modified. New makes no request.
func New(cfg *rest.Config) (*Collector, error) {
	if cfg == nil {
		return nil, fmt.Errorf("collector: no rest config: %w", engine.ErrInvalid)
	}
	c := rest.CopyConfig(cfg)
	c.ContentType = protobufContentType
	c.AcceptContentTypes = protobufContentType + ",application/json"
	if c.QPS == 0 && c.RateLimiter == nil {
		c.QPS, c.Burst = defaultQPS, defaultBurst
	}
	hc, err := rest.HTTPClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("collector http client for %s: %w", c.Host, err)
	}
	core, err := kubernetes.NewForConfigAndClient(c, hc)
	if err != nil {
		return nil, fmt.Errorf("collector client for %s: %w", c.Host, err)
	}
	dyn, err := dynamic.NewForConfigAndClient(c, hc)
	if err != nil {
		return nil, fmt.Errorf("collector dynamic client for %s: %w", c.Host, err)
	}
	return &Collector{core: core, dyn: dyn, apiURL: c.Host}, nil
}

// pass is the state of one Collect call, shared by its goroutines. Each part writes only its
// own fields; errors and timings go through mu.
type pass struct {
	c        *Collector
	opts     Options
	now      time.Time
	pageSize int64

	mu      sync.Mutex
	errs    map[string]error
	timings map[string]time.Duration

	nodes        []engine.Node
	pods         PodReduction
	namespaces   []string
	deployments  map[string]int
	deployTotal  int
	services     map[string]int
	statefulSets map[string]int
	daemonSets   map[string]int
	usage        map[string]NodeUsage
	info         *engine.ClusterInfo
	operators    []engine.Operator
	clusterOps   []engine.ClusterOperator
}

// Collect runs one collection pass over the cluster. Its parts run concurrently; each LIST is
// paginated and reduced page by page. The error is non-nil only when node collection (the
// node or pod LIST) failed; the Result is returned in every case, with the parts that did
// succeed. Errors wrap the engine error kinds (ErrForbidden for 401/403, ErrUnavailable for
// unreachable servers and timeouts, ErrInvalid for malformed objects).
func (c *Collector) Collect(ctx context.Context, opts Options) (*Result, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.APIURL == "" {
		opts.APIURL = c.apiURL
	}
	p := &pass{
		c:        c,
		opts:     opts,
		now:      opts.Now(),
		pageSize: cmp.Or(opts.PageSize, DefaultPageSize),
		errs:     map[string]error{},
		timings:  map[string]time.Duration{},
	}
	if p.pageSize < 0 {
		p.pageSize = DefaultPageSize
	}

	parts := map[string]func(context.Context) error{
		PartNodes:        p.collectNodes,
		PartPods:         p.collectPods,
		PartNamespaces:   p.collectNamespaces,
		PartDeployments:  p.collectDeployments,
		PartServices:     p.collectServices,
		PartStatefulSets: p.collectStatefulSets,
		PartDaemonSets:   p.collectDaemonSets,
		PartNodeMetrics:  p.collectNodeMetrics,
	}
	if !opts.SkipInfo {
		parts[PartInfo] = p.collectInfo
	}
	if !opts.SkipOperators {
		parts[PartOperators] = p.collectOperators
		parts[PartClusterOperators] = p.collectClusterOperators
	}
	var wg sync.WaitGroup
	for name, run := range parts {
		wg.Go(func() {
			start := time.Now()
			err := run(ctx)
			p.mu.Lock()
			defer p.mu.Unlock()
			p.timings[name] = time.Since(start)
			if err != nil {
				p.errs[name] = err
			}
		})
	}
	wg.Wait()
	return p.result()
}

// result assembles the state from the parts that succeeded.
func (p *pass) result() (*Result, error) {
	res := &Result{Errors: p.errs, Timings: p.timings}
	st := &res.State
	failed := func(names ...string) bool {
		for _, n := range names {
			if p.errs[n] != nil {
				return true
			}
		}
		return false
	}
	if !failed(PartNamespaces) {
		ns := engine.NewNamespaces(p.namespaces, p.now)
		st.Namespaces = &ns
	}
	if !p.opts.SkipInfo && !failed(PartInfo) {
		st.Info = p.info
	}
	if !p.opts.SkipOperators {
		if !failed(PartOperators) {
			st.Operators = p.operators
		}
		if !failed(PartClusterOperators) {
			st.ClusterOperators = p.clusterOps
		}
	}
	if failed(PartNodes, PartPods) {
		return res, fmt.Errorf("collect nodes: %w", errors.Join(p.errs[PartNodes], p.errs[PartPods]))
	}

	for i := range p.nodes {
		n := &p.nodes[i]
		p.pods.Node(n.Name).ApplyTo(n)
		if u, ok := p.usage[n.Name]; ok {
			u.ApplyTo(n)
		}
	}
	slices.SortFunc(p.nodes, func(a, b engine.Node) int { return cmp.Compare(a.Name, b.Name) })
	st.Nodes = p.nodes
	if st.Nodes == nil {
		st.Nodes = []engine.Node{}
	}
	if !failed(PartNamespaces, PartDeployments) {
		m := ClusterMetricsFrom(st.Nodes, len(st.Namespaces.Namespaces), &p.pods, p.deployTotal, p.now)
		st.Metrics = &m
	}
	if !failed(PartNamespaces, PartDeployments, PartServices, PartStatefulSets, PartDaemonSets) {
		st.NamespaceCounts = NamespaceCounts(p.namespaces, NamespaceTally{
			Pods:         p.pods.ByNamespace,
			Deployments:  p.deployments,
			Services:     p.services,
			StatefulSets: p.statefulSets,
			DaemonSets:   p.daemonSets,
		})
	}
	return res, nil
}

func (p *pass) collectNodes(ctx context.Context) error {
	err := paginate(ctx, p.pageSize, func() { p.nodes = p.nodes[:0] }, func(ctx context.Context, o metav1.ListOptions) (string, error) {
		l, err := p.c.core.CoreV1().Nodes().List(ctx, o)
		if err != nil {
			return "", err
		}
		for i := range l.Items {
			p.nodes = append(p.nodes, NodeFromAPI(&l.Items[i], PodAccumulator{}, p.now))
		}
		return l.Continue, nil
	})
	return wrap("list nodes", err)
}

func (p *pass) collectPods(ctx context.Context) error {
	err := paginate(ctx, p.pageSize, func() { p.pods = PodReduction{} }, func(ctx context.Context, o metav1.ListOptions) (string, error) {
		l, err := p.c.core.CoreV1().Pods("").List(ctx, o)
		if err != nil {
			return "", err
		}
		p.pods.AddList(l)
		return l.Continue, nil
	})
	return wrap("list pods", err)
}

func (p *pass) collectNamespaces(ctx context.Context) error {
	err := paginate(ctx, p.pageSize, func() { p.namespaces = p.namespaces[:0] }, func(ctx context.Context, o metav1.ListOptions) (string, error) {
		l, err := p.c.core.CoreV1().Namespaces().List(ctx, o)
		if err != nil {
			return "", err
		}
		p.namespaces = NamespaceNames(p.namespaces, l)
		return l.Continue, nil
	})
	return wrap("list namespaces", err)
}

func (p *pass) collectDeployments(ctx context.Context) error {
	reset := func() { p.deployments, p.deployTotal = map[string]int{}, 0 }
	reset()
	err := paginate(ctx, p.pageSize, reset, func(ctx context.Context, o metav1.ListOptions) (string, error) {
		l, err := p.c.core.AppsV1().Deployments("").List(ctx, o)
		if err != nil {
			return "", err
		}
		p.deployTotal += CountDeployments(p.deployments, l)
		return l.Continue, nil
	})
	return wrap("list deployments", err)
}

func (p *pass) collectServices(ctx context.Context) error {
	reset := func() { p.services = map[string]int{} }
	reset()
	err := paginate(ctx, p.pageSize, reset, func(ctx context.Context, o metav1.ListOptions) (string, error) {
		l, err := p.c.core.CoreV1().Services("").List(ctx, o)
		if err != nil {
			return "", err
		}
		CountServices(p.services, l)
		return l.Continue, nil
	})
	return wrap("list services", err)
}

func (p *pass) collectStatefulSets(ctx context.Context) error {
	reset := func() { p.statefulSets = map[string]int{} }
	reset()
	err := paginate(ctx, p.pageSize, reset, func(ctx context.Context, o metav1.ListOptions) (string, error) {
		l, err := p.c.core.AppsV1().StatefulSets("").List(ctx, o)
		if err != nil {
			return "", err
		}
		CountStatefulSets(p.statefulSets, l)
		return l.Continue, nil
	})
	return wrap("list statefulsets", err)
}

func (p *pass) collectDaemonSets(ctx context.Context) error {
	reset := func() { p.daemonSets = map[string]int{} }
	reset()
	err := paginate(ctx, p.pageSize, reset, func(ctx context.Context, o metav1.ListOptions) (string, error) {
		l, err := p.c.core.AppsV1().DaemonSets("").List(ctx, o)
		if err != nil {
			return "", err
		}
		CountDaemonSets(p.daemonSets, l)
		return l.Continue, nil
	})
	return wrap("list daemonsets", err)
}

// collectNodeMetrics reads metrics.k8s.io NodeMetrics. When the API is not served, nodes keep
// CPUUsed and MemoryUsed nil.
func (p *pass) collectNodeMetrics(ctx context.Context) error {
	items, err := p.listUnstructured(ctx, NodeMetricsGVR, "", p.pageSize)
	if err != nil || items == nil {
		return wrap("list node metrics", err)
	}
	p.usage = make(map[string]NodeUsage, len(items))
	var bad []error
	for i := range items {
		u, err := NodeUsageFromUnstructured(&items[i])
		if err != nil {
			bad = append(bad, err)
			continue
		}
		p.usage[u.Name] = u
	}
	return errors.Join(bad...)
}

// collectInfo reads the server version and, on OpenShift, the ClusterVersion and the console
// Route. A ClusterVersion that is not served or does not exist means plain Kubernetes.
func (p *pass) collectInfo(ctx context.Context) error {
	cv, err := p.c.dyn.Resource(ClusterVersionGVR).Get(ctx, ClusterVersionName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		sv, err := p.c.core.Discovery().ServerVersion()
		if err != nil {
			return wrap("get server version", err)
		}
		info := InfoFromServerVersion(p.opts.APIURL, sv)
		p.info = &info
		return nil
	case err != nil:
		return wrap("get cluster version", err)
	}
	info, err := InfoFromClusterVersion(p.opts.APIURL, cv)
	if err != nil {
		return err
	}
	if info.Version == "" {
		if sv, err := p.c.core.Discovery().ServerVersion(); err == nil {
			info.Version = sv.GitVersion
		}
	}
	route, err := p.c.dyn.Resource(RouteGVR).Namespace(ConsoleRouteNamespace).Get(ctx, ConsoleRouteName, metav1.GetOptions{})
	if err != nil {
		if !apierrors.IsNotFound(err) {
			// The console URL is a convenience: fall back to deriving it, and say why.
			p.setErr(PartConsole, wrap("get console route", err))
		}
		route = nil
	}
	info.ConsoleURL = ConsoleURL(p.opts.APIURL, route)
	p.info = &info
	return nil
}

// collectOperators lists all Subscriptions and all (non-copied) CSVs once each and joins them.
// Without OLM the list is empty.
func (p *pass) collectOperators(ctx context.Context) error {
	subs, err := p.listUnstructured(ctx, SubscriptionGVR, "", p.pageSize)
	if err != nil {
		return wrap("list subscriptions", err)
	}
	if subs == nil {
		p.operators = []engine.Operator{}
		return nil
	}
	csvs, err := p.listUnstructured(ctx, CSVGVR, CSVSelector, min(p.pageSize, csvPageSize))
	if err != nil {
		return wrap("list cluster service versions", err)
	}
	p.operators = OperatorsFromOLM(subs, csvs)
	return nil
}

// collectClusterOperators lists OpenShift ClusterOperators; on other clusters the list is
// empty.
func (p *pass) collectClusterOperators(ctx context.Context) error {
	items, err := p.listUnstructured(ctx, ClusterOperatorGVR, "", p.pageSize)
	if err != nil {
		return wrap("list cluster operators", err)
	}
	ops, err := ClusterOperatorsFromList(items)
	p.clusterOps = ops
	return err
}

func (p *pass) setErr(part string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errs[part] = err
}

// listUnstructured lists every object of gvr with pagination. It returns nil, nil when the API
// is not served (404), and a non-nil (possibly empty) slice otherwise. Managed fields are
// dropped as pages arrive; CSVs are trimmed to the fields OperatorsFromOLM reads.
func (p *pass) listUnstructured(ctx context.Context, gvr schema.GroupVersionResource, selector string, pageSize int64) ([]unstructured.Unstructured, error) {
	items := []unstructured.Unstructured{}
	err := paginate(ctx, pageSize, func() { items = items[:0] }, func(ctx context.Context, o metav1.ListOptions) (string, error) {
		o.LabelSelector = selector
		l, err := p.c.dyn.Resource(gvr).List(ctx, o)
		if err != nil {
			return "", err
		}
		for _, it := range l.Items {
			it.SetManagedFields(nil)
			if gvr == CSVGVR {
				it = trimCSV(it)
			}
			items = append(items, it)
		}
		return l.GetContinue(), nil
	})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return items, err
}

// trimCSV keeps only the fields of a ClusterServiceVersion that OperatorsFromOLM reads, so
// the install strategy, CRD descriptions and icons of every CSV are not held until the join.
func trimCSV(csv unstructured.Unstructured) unstructured.Unstructured {
	out := unstructured.Unstructured{Object: map[string]any{
		"apiVersion": csv.GetAPIVersion(),
		"kind":       csv.GetKind(),
	}}
	out.SetName(csv.GetName())
	out.SetNamespace(csv.GetNamespace())
	out.SetCreationTimestamp(csv.GetCreationTimestamp())
	if v, ok := csv.GetAnnotations()[targetNamespacesAnnotation]; ok {
		out.SetAnnotations(map[string]string{targetNamespacesAnnotation: v})
	}
	for _, path := range [][]string{
		{"spec", "displayName"}, {"spec", "version"}, {"spec", "provider"}, {"spec", "installModes"},
		{"status", "phase"}, {"status", "lastUpdateTime"},
	} {
		if v, found, _ := unstructured.NestedFieldNoCopy(csv.Object, path...); found {
			_ = unstructured.SetNestedField(out.Object, v, path...)
		}
	}
	return out
}

// paginate runs page with Limit pageSize and the Continue token of the previous page until a
// page returns no token. When the token expires mid-way (410 Expired, the server compacted
// the snapshot), the LIST restarts once from the first page after reset.
func paginate(ctx context.Context, pageSize int64, reset func(), page func(context.Context, metav1.ListOptions) (string, error)) error {
	opts := metav1.ListOptions{Limit: pageSize}
	restarted := false
	for {
		next, err := page(ctx, opts)
		if err != nil {
			if apierrors.IsResourceExpired(err) && opts.Continue != "" && !restarted {
				restarted = true
				reset()
				opts.Continue = ""
				continue
			}
			return err
		}
		if next == "" {
			return nil
		}
		opts.Continue = next
	}
}

// kindError keeps the API error intact (apierrors.IsForbidden still works) and adds an
// engine error kind.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// wrap adds context and the engine error kind to an API or transport error; nil stays nil.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	var kind error
	var netErr net.Error
	switch {
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		kind = engine.ErrForbidden
	case apierrors.IsNotFound(err):
		kind = engine.ErrNotFound
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		kind = engine.ErrInvalid
	case apierrors.IsServerTimeout(err), apierrors.IsTimeout(err), apierrors.IsServiceUnavailable(err),
		apierrors.IsTooManyRequests(err), apierrors.IsInternalError(err), apierrors.IsUnexpectedServerError(err),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), errors.As(err, &netErr):
		kind = engine.ErrUnavailable
	}
	if kind != nil && !errors.Is(err, kind) {
		err = &kindError{kind: kind, err: err}
	}
	return fmt.Errorf("%s: %w", what, err)
}
