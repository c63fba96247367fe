package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/history"
	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/metricsource"
	"github.com/clusterpulse/clusterpulse/engine/store"
)

// Job metricsource settings.
const (
	// msConcurrency is the default --concurrency of job metricsource (sources at once).
	msConcurrency = 4
	// DefaultClusterConcurrency is the default of --cluster-concurrency: the clusters one
	// source is collected from at the same time.
	DefaultClusterConcurrency = 5
	// msRecordTimeout bounds the Redis and VictoriaMetrics writes of one (cluster, source) and
	// the status patch of a source. They run on a context of their own, so that a collection
	// that used up its deadline is still recorded.
	msRecordTimeout = 15 * time.Second
	// msFetchTimeout bounds the read of a cluster's credentials Secret.
	msFetchTimeout = 15 * time.Second
	// msMessageLimit bounds .status.message and the Ready condition's message.
	msMessageLimit = 1024
	// maxErrorsInMessage is how many cluster errors the status message spells out.
	maxErrorsInMessage = 5
)

// MetricSource status values.
const (
	phaseActive = "Active"
	// conditionReady is the condition of a MetricSource: True when its spec compiled and its
	// last collection reached every pull-mode cluster without error.
	conditionReady = "Ready"
	// Reasons of the Ready condition.
	reasonCollected         = "Collected"
	reasonCollectionErrors  = "CollectionErrors"
	reasonCollectionFailed  = "CollectionFailed"
	reasonCompilationFailed = "CompilationFailed"
	reasonInvalidObject     = "InvalidObject"
	reasonNotStored         = "NotStored"
	// fieldInvalid is the status of a fieldValidation entry naming a problem.
	fieldInvalid = "invalid"
)

// msOptions are the flags of job metricsource.
type msOptions struct {
	clusterConcurrency int
}

func metricSourceJob() job {
	return job{
		name:        "metricsource",
		summary:     "compile every MetricSource, store definitions and indexes, collect the due ones from every pull-mode cluster into Redis and VictoriaMetrics; status patched",
		concurrency: msConcurrency,
		env:         []any{history.Config{}},
		setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
			o := msOptions{}
			fs.IntVar(&o.clusterConcurrency, "cluster-concurrency", DefaultClusterConcurrency, "clusters one source is collected from at the same time")
			return func(ctx context.Context, r *runner) error { return runMetricSource(ctx, r, o) }
		},
	}
}

// msRun is one run of job metricsource: the pull-mode clusters and the clients built for them,
// shared by every source of the run.
type msRun struct {
	r        *runner
	o        msOptions
	hist     *history.Writer // nil when VM_ENABLED is false
	clusters []*kube.ClusterConnection
	// conns holds one client set per cluster, built on first use (one Secret read per cluster
	// per run); ctx bounds those builds.
	conns memo[*clusterConn]
	ctx   context.Context
}

// msUnit is a compiled MetricSource of this shard.
type msUnit struct {
	ms     *kube.MetricSource
	c      *metricsource.Compiled
	stored string // what happened to the definition, for the progress line
}

// runMetricSource is one pass of job metricsource:
//
//  1. list the MetricSources and the ClusterConnections of NAMESPACE;
//  2. compile every MetricSource of the shard; store the definition and indexes of each one
//     that compiles (every run, so a changed spec is visible at once, whatever its interval),
//     and report each one that does not in its status (fieldValidation) without collecting it;
//  3. collect the due sources from every pull-mode cluster, store the results, write the
//     aggregation series, patch each status;
//  4. remove what is stored for MetricSources of NAMESPACE (and of the shard) that are gone.
func runMetricSource(ctx context.Context, r *runner, o msOptions) error {
	if o.clusterConcurrency < 1 {
		return &ExitError{Code: ExitUsage, Err: errors.New("job metricsource: --cluster-concurrency must be at least 1")}
	}
	hist, err := r.historyWriter()
	if err != nil {
		return err
	}
	m := &msRun{r: r, o: o, ctx: ctx, hist: hist}

	sources, bad, err := r.hub.MetricSources(ctx)
	if err != nil {
		return cannotRun("hub API unusable: %w", err)
	}
	ccs, _, err := r.hub.ClusterConnections(ctx)
	if err != nil {
		return cannotRun("hub API unusable: %w", err)
	}
	// Push clusters are collected by their agent, which reads the definitions stored here.
	// ClusterConnections that cannot be decoded are job pull's to report.
	for i := range ccs {
		if ccs[i].Spec.CollectionMode != engine.CollectionModePush {
			m.clusters = append(m.clusters, &ccs[i])
		}
	}
	before, err := r.store.MetricSourcesVersion(ctx)
	if err != nil {
		return cannotRun("redis unusable: %w", err)
	}

	present := map[string]bool{}
	for _, b := range bad {
		present[b.Name] = true
		if r.shard.Owns(b.Name) {
			m.reportUndecodable(ctx, b)
		}
	}
	byName := map[string]msUnit{}
	var units []unit
	for i := range sources {
		ms := &sources[i]
		present[ms.Name] = true
		if !r.shard.Owns(ms.Name) {
			continue
		}
		c, err := metricsource.Compile(ms)
		if err != nil {
			m.reportInvalid(ctx, ms, err)
			continue
		}
		stored, err := m.saveDefinition(ctx, c)
		if err != nil {
			m.reportNotStored(ctx, ms, err)
			continue
		}
		byName[ms.Name] = msUnit{ms: ms, c: c, stored: stored}
		units = append(units, unit{name: ms.Name, interval: c.Collection.Interval, deadline: m.deadline(c)})
	}
	r.runUnits(ctx, units, func(ctx context.Context, u unit) result {
		return m.collectSource(ctx, byName[u.name])
	})
	if err := ctx.Err(); err != nil {
		return cannotRun("interrupted: %w", err)
	}
	if err := m.removeGone(ctx, present); err != nil {
		return err
	}
	after, err := r.store.MetricSourcesVersion(ctx)
	if err != nil {
		return cannotRun("redis unusable: %w", err)
	}
	r.log.Info("metricsource config version", "before", before, "after", after)
	return nil
}

// deadline bounds the work on one source: the clusters are collected in waves of
// --cluster-concurrency, each cluster within timeoutSeconds plus its writes, then the status
// is patched.
func (m *msRun) deadline(c *metricsource.Compiled) time.Duration {
	waves := max(1, (len(m.clusters)+m.o.clusterConcurrency-1)/m.o.clusterConcurrency)
	return time.Duration(waves)*(c.Collection.Timeout+msRecordTimeout) + msRecordTimeout
}

// saveDefinition stores the compiled definition and its indexes; the store writes (and bumps
// the config version) only when the hash, the type or an index changed.
func (m *msRun) saveDefinition(ctx context.Context, c *metricsource.Compiled) (string, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode definition: %w", err)
	}
	changed, err := m.r.store.SaveMetricSource(ctx, store.MetricSourceDef{
		Namespace: c.Namespace, Name: c.Name, ResourceTypeName: c.RBAC.ResourceTypeName,
		Kind: c.Kind, APIVersion: c.APIVersion, Hash: c.Hash, CompiledAt: c.CompiledAt, Definition: data,
	})
	if err != nil {
		return "", err
	}
	if changed {
		return "definition stored", nil
	}
	return "definition unchanged", nil
}

// clusterOutcome is what collecting one source from one cluster ended with.
type clusterOutcome struct {
	name      string
	resources int
	// err means the cluster was not collected (or its result not stored).
	err error
	// warn is an error after the result was stored (the history write).
	warn error
}

// collectSource collects one source from every pull-mode cluster, at most
// --cluster-concurrency at a time, each within the source's timeoutSeconds; a cluster that
// fails counts in errorsLastRun and never stops the others. Then it patches the status. The
// unit fails when no cluster could be collected (phase Error) or the status was not patched.
func (m *msRun) collectSource(ctx context.Context, u msUnit) result {
	start := m.r.now()
	outs := make([]clusterOutcome, len(m.clusters))
	sem := make(chan struct{}, m.o.clusterConcurrency)
	var wg sync.WaitGroup
	for i, cc := range m.clusters {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				outs[i] = clusterOutcome{name: cc.Name, err: fmt.Errorf("not collected: %w", ctx.Err())}
				return
			}
			defer func() { <-sem }()
			outs[i] = m.collectCluster(ctx, cc, u.c)
		})
	}
	wg.Wait()
	end := m.r.now()

	s := summarizeClusters(outs)
	patch := collectionStatusPatch(u.ms, s, end, end.Sub(start))
	detail := fmt.Sprintf("%s: %s; %s", patch["phase"], patch["message"], u.stored)
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), msRecordTimeout)
	defer cancel()
	if err := m.r.hub.PatchStatus(pctx, kube.MetricSourcesGVR, u.ms.Name, patch); err != nil {
		m.r.log.Error("patch metricsource status", "metricsource", u.ms.Name, "err", err)
		return result{detail: detail + "; status not patched: " + err.Error(), failed: true}
	}
	return result{detail: detail, failed: s.total > 0 && s.collected == 0}
}

// collectCluster resolves the source's kind with the cluster's discovery (one request per
// group/version and cluster per run), collects it, stores the result with its cluster index
// entry and writes the aggregation series.
func (m *msRun) collectCluster(ctx context.Context, cc *kube.ClusterConnection, c *metricsource.Compiled) clusterOutcome {
	o := clusterOutcome{name: cc.Name}
	cctx, cancel := context.WithTimeout(ctx, c.Collection.Timeout)
	defer cancel()
	conn, err := m.conns.get(cctx, cc.Name, func() (*clusterConn, error) { return m.connect(cc) })
	if err != nil {
		o.err = err
		return o
	}
	gv := c.GroupVersion.String()
	list, err := conn.groupVersions.get(cctx, gv, func() (*metav1.APIResourceList, error) {
		return conn.disc.ServerResourcesForGroupVersion(gv)
	})
	target, err := c.Resolve(prefetched{list: list, err: err})
	if err != nil {
		o.err = err
		return o
	}
	res, err := metricsource.Collect(cctx, conn.dyn, target, c, metricsource.CollectOptions{Cluster: cc.Name, Now: m.r.now})
	if err != nil {
		o.err = err
		return o
	}
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), msRecordTimeout)
	defer wcancel()
	if err := m.r.store.WriteCustomIndexed(wctx, cc.Name, c.ID, &res.Collection, &res.Aggregations, &res.Meta); err != nil {
		o.err = err
		return o
	}
	o.resources = len(res.Collection.Resources)
	if m.hist != nil {
		at := res.Aggregations.ComputedAt.Time
		if at.IsZero() {
			at = m.r.now()
		}
		if err := m.hist.Write(wctx, history.CustomSeries(cc.Name, c.ID, res.Aggregations, at)); err != nil {
			o.warn = fmt.Errorf("history not written: %w", err)
		}
	}
	return o
}

// clusterConn is the client set of one managed cluster for one run.
type clusterConn struct {
	dyn  dynamic.Interface
	disc discovery.DiscoveryInterface
	// groupVersions caches the discovery answer of each group/version for the run.
	groupVersions memo[*metav1.APIResourceList]
}

// connect builds the clients of cluster cc from its credentials Secret. It runs once per
// cluster and run (see msRun.conns), under the run's context.
func (m *msRun) connect(cc *kube.ClusterConnection) (*clusterConn, error) {
	ctx, cancel := context.WithTimeout(m.ctx, msFetchTimeout)
	defer cancel()
	cfg, err := m.r.hub.RESTConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("http client for %s: %w", cc.Spec.Endpoint, err)
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("dynamic client for %s: %w", cc.Spec.Endpoint, err)
	}
	disc, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("discovery client for %s: %w", cc.Spec.Endpoint, err)
	}
	return &clusterConn{dyn: dyn, disc: disc}, nil
}

// prefetched is a metricsource.Discovery that answers with a result already fetched.
type prefetched struct {
	list *metav1.APIResourceList
	err  error
}

func (p prefetched) ServerResourcesForGroupVersion(string) (*metav1.APIResourceList, error) {
	return p.list, p.err
}

// memo runs each keyed fetch once and shares its result with every caller of the run. A
// caller whose context ends stops waiting; the fetch goes on for the others. The zero memo is
// ready to use.
type memo[T any] struct {
	mu sync.Mutex
	m  map[string]*memoEntry[T]
}

type memoEntry[T any] struct {
	done chan struct{}
	v    T
	err  error
}

func (m *memo[T]) get(ctx context.Context, key string, fetch func() (T, error)) (T, error) {
	m.mu.Lock()
	if m.m == nil {
		m.m = map[string]*memoEntry[T]{}
	}
	e, ok := m.m[key]
	if !ok {
		e = &memoEntry[T]{done: make(chan struct{})}
		m.m[key] = e
		go func() {
			defer close(e.done)
			e.v, e.err = fetch()
		}()
	}
	m.mu.Unlock()
	select {
	case <-e.done:
		return e.v, e.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// clusterSummary adds up the outcomes of one source's clusters.
type clusterSummary struct {
	total, collected, resources int
	// errors are "cluster: error" lines, one per cluster error or warning, in cluster order.
	errors []string
}

func summarizeClusters(outs []clusterOutcome) clusterSummary {
	s := clusterSummary{total: len(outs)}
	for _, o := range outs {
		if o.err != nil {
			s.errors = append(s.errors, o.name+": "+o.err.Error())
			continue
		}
		s.collected++
		s.resources += o.resources
		if o.warn != nil {
			s.errors = append(s.errors, o.name+": "+o.warn.Error())
		}
	}
	return s
}

// collectionStatusPatch is the merge patch of a MetricSource status after a collection: phase
// Error when there were clusters and none could be collected, Active otherwise; the counts of
// the run (sent even when 0); the Ready condition (True only without any error);
// fieldValidation cleared, since the spec compiled.
func collectionStatusPatch(ms *kube.MetricSource, s clusterSummary, end time.Time, took time.Duration) map[string]any {
	phase, ready, reason := phaseActive, metav1.ConditionTrue, reasonCollected
	msg := fmt.Sprintf("collected %d resources from %d of %d clusters", s.resources, s.collected, s.total)
	if s.total == 0 {
		msg = "no pull-mode cluster to collect from"
	}
	if len(s.errors) > 0 {
		ready, reason = metav1.ConditionFalse, reasonCollectionErrors
		if s.collected == 0 {
			phase, reason = phaseError, reasonCollectionFailed
		}
		shown := s.errors[:min(len(s.errors), maxErrorsInMessage)]
		msg += fmt.Sprintf("; %d error(s): %s", len(s.errors), strings.Join(shown, "; "))
		if len(s.errors) > len(shown) {
			msg += fmt.Sprintf("; and %d more", len(s.errors)-len(shown))
		}
	}
	msg = truncate(msg, msMessageLimit)
	return map[string]any{
		"phase":                  phase,
		"message":                msg,
		"resourcesCollected":     s.resources,
		"clustersCollected":      s.collected,
		"errorsLastRun":          len(s.errors),
		"lastCollectionTime":     end.UTC().Format(time.RFC3339),
		"lastCollectionDuration": took.Round(time.Millisecond).String(),
		"fieldValidation":        nil,
		"conditions":             readyConditions(ms, ready, reason, msg, end),
	}
}

// readyConditions returns the object's conditions with Ready set; its lastTransitionTime moves
// only when its status changes.
func readyConditions(ms *kube.MetricSource, status metav1.ConditionStatus, reason, msg string, now time.Time) []metav1.Condition {
	conds := slices.Clone(ms.Status.Conditions)
	if conds == nil {
		conds = []metav1.Condition{}
	}
	apimeta.SetStatusCondition(&conds, metav1.Condition{
		Type: conditionReady, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: ms.Generation, LastTransitionTime: metav1.NewTime(now.UTC().Truncate(time.Second)),
	})
	return conds
}

// failureStatus is the status of a MetricSource that is not collected: phase Error, nothing
// collected, one error, Ready False with reason.
func failureStatus(ms *kube.MetricSource, reason, msg string, fv []kube.FieldValidation, now time.Time) map[string]any {
	msg = truncate(msg, msMessageLimit)
	var fvs any // nil clears the field
	if len(fv) > 0 {
		fvs = fv
	}
	return map[string]any{
		"phase":              phaseError,
		"message":            msg,
		"resourcesCollected": 0,
		"clustersCollected":  0,
		"errorsLastRun":      1,
		"fieldValidation":    fvs,
		"conditions":         readyConditions(ms, metav1.ConditionFalse, reason, msg, now),
	}
}

// failureUnchanged reports whether ms already carries the failure status failureStatus would
// write, so that an invalid source is not patched again on every run.
func failureUnchanged(ms *kube.MetricSource, reason, msg string, fv []kube.FieldValidation) bool {
	st := ms.Status
	msg = truncate(msg, msMessageLimit)
	c := apimeta.FindStatusCondition(st.Conditions, conditionReady)
	return st.Phase == phaseError && st.Message == msg && st.ResourcesCollected == 0 && st.ClustersCollected == 0 &&
		st.ErrorsLastRun == 1 && slices.Equal(st.FieldValidation, fv) &&
		c != nil && c.Status == metav1.ConditionFalse && c.Reason == reason && c.Message == msg && c.ObservedGeneration == ms.Generation
}

// fieldValidation turns the compile error into one fieldValidation entry per problem.
func fieldValidation(err error) []kube.FieldValidation {
	var ce *metricsource.CompileError
	if !errors.As(err, &ce) {
		return nil
	}
	fv := make([]kube.FieldValidation, 0, len(ce.Problems))
	for _, p := range ce.Problems {
		fv = append(fv, kube.FieldValidation{Field: p.Field, Status: fieldInvalid, Message: p.Msg})
	}
	return fv
}

// reportInvalid handles a MetricSource whose spec does not compile: it is disabled in Redis
// (its last good definition and data stay until the data expires; agents stop collecting
// it), not collected, and its status says why, field by field.
func (m *msRun) reportInvalid(ctx context.Context, ms *kube.MetricSource, cerr error) {
	fv := fieldValidation(cerr)
	msg := "Compilation failed: " + cerr.Error()
	if len(fv) > 0 {
		lines := make([]string, len(fv))
		for i, f := range fv {
			lines[i] = f.Field + ": " + f.Message
		}
		msg = fmt.Sprintf("Compilation failed: %d problem(s): %s", len(fv), strings.Join(lines, "; "))
	}
	m.reportFailure(ctx, ms, reasonCompilationFailed, msg, fv)
}

// reportNotStored handles a MetricSource that compiled but whose definition could not be
// stored: it is not collected this run.
func (m *msRun) reportNotStored(ctx context.Context, ms *kube.MetricSource, err error) {
	m.reportFailure(ctx, ms, reasonNotStored, "definition not stored in Redis: "+err.Error(), nil)
}

func (m *msRun) reportFailure(ctx context.Context, ms *kube.MetricSource, reason, msg string, fv []kube.FieldValidation) {
	r := m.r
	start := r.now()
	detail := phaseError + ": " + msg
	if reason != reasonNotStored {
		if changed, err := r.store.DisableMetricSource(ctx, ms.Namespace, ms.Name); err != nil {
			detail += "; not disabled in Redis: " + err.Error()
		} else if changed {
			detail += "; disabled in Redis"
		}
	}
	if failureUnchanged(ms, reason, msg, fv) {
		detail += "; status unchanged"
	} else if err := r.hub.PatchStatus(ctx, kube.MetricSourcesGVR, ms.Name, failureStatus(ms, reason, msg, fv, start)); err != nil {
		detail += "; status not patched: " + err.Error()
	}
	r.record(ms.Name, outcomeFailed, start, detail)
}

// reportUndecodable handles a MetricSource object that cannot be decoded: disabled in Redis,
// phase Error with the reason.
func (m *msRun) reportUndecodable(ctx context.Context, b *kube.DecodeError) {
	r := m.r
	start := r.now()
	msg := truncate("invalid MetricSource: "+b.Err.Error(), msMessageLimit)
	detail := phaseError + ": " + msg
	if _, err := r.store.DisableMetricSource(ctx, b.Namespace, b.Name); err != nil {
		detail += "; not disabled in Redis: " + err.Error()
	}
	// The object's conditions are unknown (it did not decode): Ready is the only one set.
	patch := map[string]any{"phase": phaseError, "message": msg, "errorsLastRun": 1,
		"conditions": readyConditions(&kube.MetricSource{}, metav1.ConditionFalse, reasonInvalidObject, msg, start)}
	if err := r.hub.PatchStatus(ctx, kube.MetricSourcesGVR, b.Name, patch); err != nil {
		detail += "; status not patched: " + err.Error()
	}
	r.record(b.Name, outcomeFailed, start, detail)
}

// removeGone deletes what is stored for the MetricSources of NAMESPACE (and of this shard)
// that are in metricsources:all but have no object any more: definition, indexes and the data
// of every cluster, found through the indexes (no SCAN). It holds the source's lease while
// deleting, so that a run still collecting it cannot write after the deletion; a source whose
// lease is held is left for the next run. MetricSources of other namespaces are left alone.
func (m *msRun) removeGone(ctx context.Context, present map[string]bool) error {
	r := m.r
	ids, err := r.store.MetricSourceIDs(ctx)
	if err != nil {
		return cannotRun("redis unusable: %w", err)
	}
	for _, id := range ids {
		ns, name, ok := strings.Cut(id, "/")
		if !ok || ns != r.hub.Namespace || present[name] || !r.shard.Owns(name) {
			continue
		}
		start := r.now()
		lease := r.leaseName(name)
		held, err := r.store.AcquireLease(ctx, lease, r.owner, LeaseMargin)
		if err != nil {
			r.record(name, outcomeFailed, start, "lease: "+err.Error())
			continue
		}
		if !held {
			holder, _ := r.store.LeaseOwner(ctx, lease)
			r.record(name, outcomeSkipped, start, "MetricSource gone, removal left to the next run: leased by another run "+holder)
			continue
		}
		_, err = r.store.DeleteMetricSource(ctx, ns, name)
		if err == nil {
			// The due mark goes too, so a MetricSource created again under this name is
			// collected at once.
			if derr := r.store.Client().Del(ctx, r.store.Keys().Lease(r.dueName(name))).Err(); derr != nil {
				r.log.Warn("delete due mark", "unit", name, "err", derr)
			}
		}
		if _, rerr := r.store.ReleaseLease(context.WithoutCancel(ctx), lease, r.owner); rerr != nil {
			r.log.Warn("release lease", "unit", name, "err", rerr)
		}
		if err != nil {
			r.record(name, outcomeFailed, start, "delete stored MetricSource: "+err.Error())
			continue
		}
		r.record(name, outcomeDeleted, start, "MetricSource gone, definition, indexes and data removed from Redis")
	}
	return nil
}
