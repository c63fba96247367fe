package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/collect"
	"github.com/clusterpulse/clusterpulse/engine/history"
	"github.com/clusterpulse/clusterpulse/engine/kube"
)

// ClusterConnection defaults of job pull (the CRD defaults, and the original's values for
// objects created before the CRD had them).
const (
	defaultClusterInterval = 30 * time.Second
	minClusterInterval     = 30 * time.Second
	defaultConnectTimeout  = 10 * time.Second
	// DefaultClusterTimeout is the default of --cluster-timeout: the cap on all the work on
	// one cluster (connection test, collection, store, history).
	DefaultClusterTimeout = 60 * time.Second
	// recordTimeout bounds the Redis write, the history write and the status patch of one
	// cluster. They run on a context of their own, so that a cluster whose collection used up
	// its deadline still gets its failure recorded.
	recordTimeout = 15 * time.Second
	// minPassGap is the shortest wait between two passes of --for, so that a due mark that
	// cannot be read never makes the job spin.
	minPassGap = 200 * time.Millisecond
	// PresenceKindCollector is the presence kind of a push collector agent: the ingester
	// keeps presence:collector:<cluster> alive while the agent of that cluster pushes.
	PresenceKindCollector = "collector"
)

// pullOptions are the flags of job pull.
type pullOptions struct {
	forDuration     time.Duration
	clusterTimeout  time.Duration
	breakerFailures int
	breakerCooldown time.Duration
}

func pullJob() job {
	return job{
		name:        "pull",
		summary:     "collect every due ClusterConnection (nodes, pods, metrics, namespaces, info, operators) into Redis and VictoriaMetrics; status patched",
		concurrency: 10,
		env:         []any{history.Config{}, collectorEnv{}},
		setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
			o := pullOptions{}
			fs.DurationVar(&o.forDuration, "for", 0, "repeat passes until this `duration` is used up, sleeping until the next cluster is due (0: one pass)")
			fs.DurationVar(&o.clusterTimeout, "cluster-timeout", DefaultClusterTimeout, "cap on the whole work on one cluster (the connection test is bounded by spec.monitoring.timeout)")
			fs.IntVar(&o.breakerFailures, "breaker-failures", DefaultBreakerFailures, "consecutive failures that open a cluster's circuit breaker")
			fs.DurationVar(&o.breakerCooldown, "breaker-cooldown", DefaultBreakerCooldown, "time an open circuit breaker waits before one trial attempt")
			return func(ctx context.Context, r *runner) error { return runPull(ctx, r, o) }
		},
	}
}

// puller is one run of job pull.
type puller struct {
	r    *runner
	o    pullOptions
	br   *breaker
	hist *history.Writer // nil when VM_ENABLED is false
	inst *installer      // installs the collector of push clusters (install.go)
}

// runPull runs job pull: one pass, or passes until --for is used up.
func runPull(ctx context.Context, r *runner, o pullOptions) error {
	switch {
	case o.forDuration < 0:
		return &ExitError{Code: ExitUsage, Err: errors.New("job pull: --for must not be negative")}
	case o.clusterTimeout <= 0:
		return &ExitError{Code: ExitUsage, Err: errors.New("job pull: --cluster-timeout must be positive")}
	case o.breakerFailures < 1:
		return &ExitError{Code: ExitUsage, Err: errors.New("job pull: --breaker-failures must be at least 1")}
	case o.breakerCooldown <= 0:
		return &ExitError{Code: ExitUsage, Err: errors.New("job pull: --breaker-cooldown must be positive")}
	}
	hist, err := r.historyWriter()
	if err != nil {
		return err
	}
	var ce collectorEnv
	if err := loadEnv(r.getenv, &ce); err != nil {
		return cannotRun("configuration unusable: %w", err)
	}
	if err := ce.validate(); err != nil {
		return cannotRun("configuration unusable: %w", err)
	}
	p := &puller{r: r, o: o, br: newBreaker(r.store, o.breakerFailures, o.breakerCooldown),
		inst: &installer{env: ce, store: r.store, now: r.now}, hist: hist}

	deadline := r.now().Add(o.forDuration)
	for first := true; ; first = false {
		units, err := p.pass(ctx, first)
		if err != nil {
			return err
		}
		if o.forDuration == 0 {
			return nil
		}
		// --force applies to the first pass only; later passes honour the intervals.
		r.force = false
		wait, ok := p.nextWake(ctx, units, deadline)
		if !ok {
			return nil
		}
		r.log.Debug("waiting for the next due cluster", "wait", wait.String())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return cannotRun("interrupted: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// pass lists the ClusterConnections, collects the due ones of this shard and removes the
// Redis state of clusters whose ClusterConnection is gone. It returns the units it saw.
func (p *puller) pass(ctx context.Context, first bool) ([]unit, error) {
	r := p.r
	items, bad, err := r.hub.ClusterConnections(ctx)
	if err != nil {
		return nil, cannotRun("hub API unusable: %w", err)
	}
	present := map[string]bool{}
	for _, b := range bad {
		present[b.Name] = true
		if first && r.shard.Owns(b.Name) {
			p.reportInvalid(ctx, b)
		}
	}
	byName := map[string]*kube.ClusterConnection{}
	units := make([]unit, 0, len(items))
	for i := range items {
		cc := &items[i]
		present[cc.Name] = true
		byName[cc.Name] = cc
		units = append(units, unit{name: cc.Name, interval: clusterInterval(cc), deadline: p.o.clusterTimeout})
	}
	r.runUnits(ctx, units, func(ctx context.Context, u unit) result {
		return p.cluster(ctx, byName[u.name])
	})
	if err := ctx.Err(); err != nil {
		return nil, cannotRun("interrupted: %w", err)
	}
	if err := p.removeGone(ctx, present); err != nil {
		return nil, err
	}
	return units, nil
}

// nextWake returns how long to wait until the next unit of this shard is due, and false when
// none is due before deadline (then the run ends now rather than idle until the deadline).
func (p *puller) nextWake(ctx context.Context, units []unit, deadline time.Time) (time.Duration, bool) {
	var dueIn []time.Duration
	for _, u := range units {
		if !p.r.shard.Owns(u.name) {
			continue
		}
		ttl, err := p.r.store.Client().PTTL(ctx, p.r.store.Keys().Lease(p.r.dueName(u.name))).Result()
		if err != nil || ttl < 0 {
			ttl = 0 // no mark (or unreadable): due now
		}
		dueIn = append(dueIn, ttl)
	}
	return nextPassWait(p.r.now(), deadline, dueIn)
}

// nextPassWait picks the wait before the next pass of --for: until the soonest unit is due
// (at least minPassGap), provided that is before deadline.
func nextPassWait(now, deadline time.Time, dueIn []time.Duration) (time.Duration, bool) {
	if len(dueIn) == 0 {
		return 0, false
	}
	soonest := dueIn[0]
	for _, d := range dueIn[1:] {
		soonest = min(soonest, d)
	}
	soonest = max(soonest, minPassGap)
	if !now.Add(soonest).Before(deadline) {
		return 0, false
	}
	return soonest, true
}

func clusterInterval(cc *kube.ClusterConnection) time.Duration {
	d := time.Duration(cc.Spec.Monitoring.Interval) * time.Second
	if d <= 0 {
		return defaultClusterInterval
	}
	return max(d, minClusterInterval)
}

func connectTimeout(cc *kube.ClusterConnection) time.Duration {
	d := time.Duration(cc.Spec.Monitoring.Timeout) * time.Second
	if d <= 0 {
		return defaultConnectTimeout
	}
	return d
}

// clusterSpec is the stored form of a ClusterConnection spec, with the defaults applied.
func clusterSpec(cc *kube.ClusterConnection) engine.ClusterSpec {
	ns := cc.Spec.CredentialsRef.Namespace
	if ns == "" {
		ns = cc.Namespace
	}
	mode := engine.CollectionModePull
	if cc.Spec.CollectionMode == engine.CollectionModePush {
		mode = engine.CollectionModePush
	}
	return engine.ClusterSpec{
		DisplayName:    cc.Spec.DisplayName,
		Endpoint:       cc.Spec.Endpoint,
		CredentialsRef: engine.CredentialsRef{Name: cc.Spec.CredentialsRef.Name, Namespace: ns},
		Labels:         cc.Spec.Labels,
		Monitoring: engine.ClusterMonitoring{
			Interval: int32(clusterInterval(cc) / time.Second),
			Timeout:  int32(connectTimeout(cc) / time.Second),
		},
		CollectionMode: mode,
	}
}

// cluster is the work on one cluster: a push cluster whose collector is present is left to
// it (only its spec is stored); any other cluster is pulled, unless its circuit breaker is
// open. Once the connection test passed, a push cluster gets its collector installed or
// upgraded and a pull cluster loses the one job pull installed (install.go). The outcome is
// stored in Redis and patched into the ClusterConnection status, on success and on failure.
func (p *puller) cluster(ctx context.Context, cc *kube.ClusterConnection) result {
	spec := clusterSpec(cc)
	var notes []string
	if spec.CollectionMode == engine.CollectionModePush {
		var presence json.RawMessage
		found, err := p.r.store.Presence(ctx, PresenceKindCollector, cc.Name, &presence)
		switch {
		case err != nil:
			notes = append(notes, "collector presence unreadable ("+err.Error()+"), pulled as a fallback")
		case found:
			return p.pushActive(ctx, cc, spec)
		default:
			notes = append(notes, "push collector not connected, pulled as a fallback")
		}
	}

	bs, err := p.br.state(ctx, cc.Name)
	if err != nil {
		return p.record(ctx, cc, spec, pullOutcome{err: err, notes: notes})
	}
	if state, until := p.br.decide(bs, p.r.now()); state == breakerOpen {
		err := fmt.Errorf("circuit breaker open after %d consecutive failures, cluster not contacted until %s (last error: %s)",
			bs.Failures, until.UTC().Format(time.RFC3339), bs.LastError)
		return p.record(ctx, cc, spec, pullOutcome{err: err, notes: notes})
	} else if state == breakerHalfOpen {
		notes = append(notes, fmt.Sprintf("circuit breaker half-open after %d consecutive failures: trial attempt", bs.Failures))
	}

	res, err := p.collect(ctx, cc, spec)
	// The collector is installed (push) or removed (pull) only on a cluster just reached.
	var change collectorChange
	if res.reachable {
		if spec.CollectionMode == engine.CollectionModePush {
			change = p.ensureCollector(ctx, cc)
		} else {
			change.note = p.removeCollector(ctx, cc)
		}
		if change.note != "" {
			notes = append(notes, change.note)
		}
	}
	if err != nil {
		if res.contacted {
			if n, berr := p.br.failure(context.WithoutCancel(ctx), cc.Name, p.r.now(), err); berr != nil {
				notes = append(notes, berr.Error())
			} else if n >= p.o.breakerFailures {
				notes = append(notes, fmt.Sprintf("circuit breaker open after %d consecutive failures", n))
			}
		}
		return p.record(ctx, cc, spec, pullOutcome{state: res.state, err: err, notes: notes, collectorVersion: change.version})
	}
	if berr := p.br.success(context.WithoutCancel(ctx), cc.Name); berr != nil {
		notes = append(notes, berr.Error())
	}
	for _, part := range sortedKeys(res.partErrors) {
		notes = append(notes, "partial: "+part+": "+res.partErrors[part].Error())
	}
	return p.record(ctx, cc, spec, pullOutcome{state: res.state, notes: notes, collected: true, took: res.took, collectorVersion: change.version})
}

// collected is what the contact with one cluster produced.
type collected struct {
	state engine.ClusterState
	// contacted is true when the cluster's API was tried (so the failure counts in the
	// circuit breaker); false for failures on the hub side, such as a missing Secret.
	contacted bool
	// reachable is true when the connection test passed.
	reachable  bool
	partErrors map[string]error
	took       time.Duration
}

// collect tests the connection (LIST namespaces limit=1, bounded by spec.monitoring.timeout)
// and runs one collection pass. Credentials come from the ClusterConnection's own Secret, one
// client per ClusterConnection name (never shared by display name).
func (p *puller) collect(ctx context.Context, cc *kube.ClusterConnection, spec engine.ClusterSpec) (collected, error) {
	var out collected
	cfg, err := p.r.hub.RESTConfig(ctx, cc)
	if err != nil {
		return out, fmt.Errorf("credentials: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return out, fmt.Errorf("client for %s: %w", spec.Endpoint, err)
	}
	col, err := collect.New(cfg)
	if err != nil {
		return out, fmt.Errorf("collector for %s: %w", spec.Endpoint, err)
	}
	out.contacted = true
	start := time.Now()
	tctx, cancel := context.WithTimeout(ctx, connectTimeout(cc))
	_, err = cs.CoreV1().Namespaces().List(tctx, metav1.ListOptions{Limit: 1})
	cancel()
	if err != nil {
		return out, fmt.Errorf("connection test (%s): %w", describeContactError(err), err)
	}
	out.reachable = true
	res, err := col.Collect(ctx, collect.Options{APIURL: spec.Endpoint, Now: p.r.now})
	out.took = time.Since(start)
	if res != nil {
		out.state = res.State
		out.partErrors = res.Errors
	}
	if err != nil {
		return out, fmt.Errorf("collect (%s): %w", describeContactError(err), err)
	}
	return out, nil
}

// describeContactError names the kind of a failed contact with a cluster for the status
// message, so that a reader does not have to decode transport errors.
func describeContactError(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "context deadline exceeded") || strings.Contains(msg, "Client.Timeout"):
		return "timed out"
	case errors.Is(err, engine.ErrForbidden) || strings.Contains(msg, "Unauthorized") || strings.Contains(msg, "forbidden"):
		if strings.Contains(msg, "Unauthorized") {
			return "unauthorized: the token was rejected"
		}
		return "forbidden: the token lacks rights"
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "certificate"):
		return "TLS verification failed"
	case strings.Contains(msg, "connection refused"):
		return "connection refused"
	case strings.Contains(msg, "no such host"):
		return "unknown host"
	}
	return "unreachable"
}

// pullOutcome is what one cluster's work ends with, ready to be recorded.
type pullOutcome struct {
	state     engine.ClusterState
	err       error
	notes     []string
	collected bool
	took      time.Duration
	// collectorVersion is the version of the collector installed in this run, if any.
	collectorVersion string
}

// record stores the outcome of one cluster in one WriteCluster (spec, status, the collected
// parts, an event), writes its history series when enabled, and patches the
// ClusterConnection status, on success and on failure. A history write that fails is in the
// message and fails the unit; it is never hidden.
func (p *puller) record(ctx context.Context, cc *kube.ClusterConnection, spec engine.ClusterSpec, o pullOutcome) result {
	r := p.r
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	now := r.now()
	st := o.state
	st.Spec = &spec
	var recErrs []error

	var msg string
	if o.err == nil {
		msg = fmt.Sprintf("Cluster is reachable: %d nodes, %d namespaces, %d pods", len(st.Nodes), namespaceCount(st), podCount(st))
		if p.hist != nil {
			if err := p.hist.Write(wctx, seriesOf(cc.Name, st, now)); err != nil {
				o.notes = append(o.notes, "history not written: "+err.Error())
				recErrs = append(recErrs, fmt.Errorf("history: %w", err))
			}
		}
	} else {
		msg = o.err.Error()
	}
	if len(o.notes) > 0 {
		msg += "; " + strings.Join(o.notes, "; ")
	}
	msg = truncate(msg, 1024)

	status := engine.ClusterStatus{Health: engine.HealthHealthy, Message: msg, LastCheck: engine.NewTime(now), Source: engine.CollectionModePull}
	if o.err == nil {
		status.LastSuccess = engine.NewTime(now)
	} else {
		status.Health = engine.HealthUnhealthy
		if prev, err := r.store.ClusterStatus(wctx, cc.Name); err == nil {
			status.LastSuccess = prev.LastSuccess
		}
	}
	st.Status = status
	data := map[string]any{"health": status.Health, "source": engine.CollectionModePull, "nodes": len(st.Nodes)}
	if o.collected {
		data["duration_ms"] = o.took.Milliseconds()
	}
	if o.err != nil {
		data["error"] = truncate(o.err.Error(), 256)
	}
	st.Events = []engine.Event{{Type: engine.EventClusterReconciled, Cluster: cc.Name, Timestamp: engine.NewTime(now), Data: data}}
	if err := r.store.WriteCluster(wctx, cc.Name, st); err != nil {
		recErrs = append(recErrs, err)
	}
	patch := clusterStatusPatch(status, st, spec.CollectionMode)
	if cs, ok := patch["collectorStatus"].(map[string]any); ok && o.collectorVersion != "" {
		cs["version"] = o.collectorVersion
	}
	if err := r.hub.PatchStatus(wctx, kube.ClusterConnectionsGVR, cc.Name, patch); err != nil {
		recErrs = append(recErrs, err)
	}

	detail := status.Health + ": " + msg
	if err := errors.Join(recErrs...); err != nil {
		r.log.Error("record cluster collection", "cluster", cc.Name, "err", err)
		return result{detail: detail + "; not fully recorded: " + err.Error(), failed: true}
	}
	return result{detail: detail, failed: o.err != nil}
}

// clusterStatusPatch is the merge patch of a ClusterConnection status for one pull. A failure
// sets phase Error, health and message and leaves lastSyncTime (the last success) and the
// counts alone.
func clusterStatusPatch(status engine.ClusterStatus, st engine.ClusterState, mode string) map[string]any {
	m := map[string]any{"phase": phaseConnected, "health": status.Health, "message": status.Message}
	if status.Health != engine.HealthHealthy {
		m["phase"] = phaseError
	} else {
		m["lastSyncTime"] = status.LastCheck.UTC().Format(time.RFC3339)
		m["nodes"] = len(st.Nodes)
		if st.Namespaces != nil {
			m["namespaces"] = st.Namespaces.Count
		}
	}
	if mode == engine.CollectionModePush {
		m["collectorStatus"] = map[string]any{"connected": false}
	}
	return m
}

// pushActive handles a push cluster whose collector is present: the collector writes its
// state through the ingester, so only the spec is stored (with the status as stored, so the
// collector's is not overwritten) and the ClusterConnection status says the collector is
// connected.
func (p *puller) pushActive(ctx context.Context, cc *kube.ClusterConnection, spec engine.ClusterSpec) result {
	r := p.r
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	status, err := r.store.ClusterStatus(wctx, cc.Name)
	if err != nil {
		status = engine.ClusterStatus{Health: engine.HealthUnknown, Message: "Collector push active, no state received yet",
			LastCheck: engine.NewTime(r.now()), Source: engine.CollectionModePush}
	}
	var errs []error
	if err := r.store.WriteCluster(wctx, cc.Name, engine.ClusterState{Spec: &spec, Status: status}); err != nil {
		errs = append(errs, err)
	}
	change := p.upgradeCollector(ctx, cc)
	collector := map[string]any{"connected": true}
	if change.version != "" {
		collector["version"] = change.version
	}
	if err := r.hub.PatchStatus(wctx, kube.ClusterConnectionsGVR, cc.Name, map[string]any{"collectorStatus": collector}); err != nil {
		errs = append(errs, err)
	}
	detail := "collector present, collection left to it"
	if change.note != "" {
		detail += "; " + change.note
	}
	if err := errors.Join(errs...); err != nil {
		return result{detail: detail + "; not fully recorded: " + err.Error(), failed: true}
	}
	return result{detail: detail}
}

// seriesOf returns the history series of one successful pull.
func seriesOf(cluster string, st engine.ClusterState, at time.Time) []history.Sample {
	var out []history.Sample
	if st.Metrics != nil {
		out = append(out, history.ClusterSeries(cluster, *st.Metrics, at)...)
	}
	out = append(out, history.NodeSeries(cluster, st.Nodes, at)...)
	if st.Operators != nil {
		out = append(out, history.OperatorSeries(cluster, st.Operators, at)...)
	}
	if st.ClusterOperators != nil {
		out = append(out, history.ClusterOperatorSeries(cluster, st.ClusterOperators, at)...)
	}
	return out
}

func namespaceCount(st engine.ClusterState) int {
	if st.Namespaces != nil {
		return st.Namespaces.Count
	}
	return 0
}

func podCount(st engine.ClusterState) int {
	if st.Metrics != nil {
		return st.Metrics.Pods
	}
	n := 0
	for _, node := range st.Nodes {
		n += node.PodsTotal
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// reportInvalid marks a ClusterConnection that could not be decoded as failed, in its status
// and in the summary.
func (p *puller) reportInvalid(ctx context.Context, b *kube.DecodeError) {
	start := p.r.now()
	msg := "invalid ClusterConnection: " + b.Err.Error()
	patch := map[string]any{"phase": phaseError, "health": engine.HealthUnhealthy, "message": truncate(msg, 1024)}
	detail := msg
	if err := p.r.hub.PatchStatus(ctx, kube.ClusterConnectionsGVR, b.Name, patch); err != nil {
		detail += "; status not patched: " + err.Error()
	}
	p.r.record(b.Name, outcomeFailed, start, detail)
}

// removeGone deletes the Redis state (and the circuit breaker) of the clusters of this shard
// that are in clusters:all but have no ClusterConnection any more, and removes the collectors
// job pull installed for them (removeGoneCollector).
func (p *puller) removeGone(ctx context.Context, present map[string]bool) error {
	names, err := p.r.store.ClusterNames(ctx)
	if err != nil {
		return cannotRun("redis unusable: %w", err)
	}
	installed, err := p.r.store.CollectorInstallClusters(ctx)
	if err != nil {
		return cannotRun("redis unusable: %w", err)
	}
	names = append(names, installed...)
	sort.Strings(names)
	for _, n := range slices.Compact(names) {
		if present[n] || !p.r.shard.Owns(n) {
			continue
		}
		start := p.r.now()
		if err := p.r.store.DeleteCluster(ctx, n); err != nil {
			p.r.record(n, outcomeFailed, start, "delete state of removed ClusterConnection: "+err.Error())
			continue
		}
		if err := p.br.success(ctx, n); err != nil {
			p.r.log.Warn("delete circuit breaker of removed cluster", "cluster", n, "err", err)
		}
		detail := "ClusterConnection gone, state removed from Redis"
		if note := p.removeGoneCollector(ctx, n); note != "" {
			detail += "; " + note
		}
		p.r.record(n, outcomeDeleted, start, detail)
	}
	return nil
}
