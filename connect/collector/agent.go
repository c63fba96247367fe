package collector

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	collectorv1 "github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1"
	"github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1/collectorv1connect"
	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/collect"
	"github.com/clusterpulse/clusterpulse/engine/metricsource"
)

// rpcTimeout bounds one unary call to the ingester.
const rpcTimeout = 30 * time.Second

// Options configure an Agent. Zero durations and sizes take the defaults of Config.
type Options struct {
	// Cluster is the ClusterConnection name the token is bound to (required).
	Cluster string
	// Token is the collector token, sent as "Authorization: Bearer <token>".
	Token string
	// BaseURL is the ingester's base URL, e.g. http://ingester:9443 (required).
	BaseURL string
	// HTTPClient carries the RPCs; nil means a client for BaseURL (HTTP/1.1 or HTTP/2 by ALPN
	// over TLS; h2c for the stream mode over plain HTTP).
	HTTPClient *http.Client
	// Kube is the configuration of the cluster to collect (required).
	Kube *rest.Config
	// APIURL is the cluster info's api_url; empty means Kube.Host.
	APIURL string
	// Mode is ModeUnary (default) or ModeStream.
	Mode string
	// Compress gzips the batches sent.
	Compress bool
	// Version is the agent's version, sent in heartbeats and registrations.
	Version string

	CollectInterval      time.Duration // default 60 s
	CollectTimeout       time.Duration // default 60 s
	OperatorScanInterval time.Duration // default 5 min
	HeartbeatInterval    time.Duration // default 30 s
	FlushTimeout         time.Duration // default 10 s; negative: none
	BufferBatches        int           // default 10000
	BufferBytes          int64         // default 64 MiB
	BackoffMin           time.Duration // default 1 s
	BackoffMax           time.Duration // default 5 min
	// Rand is the jitter source of the backoff; nil means math/rand/v2.
	Rand func() float64
	// Logger receives the log; nil discards it.
	Logger *slog.Logger
	// OnBatch, when set, is called with the id and collected_at of every batch put into the
	// buffer (to observe the agent from tests or an embedding program).
	OnBatch func(id string, collectedAt time.Time)
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.CollectInterval, time.Minute)
	def(&o.CollectTimeout, time.Minute)
	def(&o.OperatorScanInterval, 5*time.Minute)
	def(&o.HeartbeatInterval, DefaultHeartbeat)
	def(&o.FlushTimeout, DefaultFlushTimeout)
	def(&o.BackoffMin, DefaultBackoffMin)
	def(&o.BackoffMax, DefaultBackoffMax)
	if o.BufferBatches == 0 {
		o.BufferBatches = 10000
	}
	if o.BufferBytes == 0 {
		o.BufferBytes = DefaultBufferBytes
	}
	if o.Mode == "" {
		o.Mode = ModeUnary
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Stats is a snapshot of what an Agent did since it started.
type Stats struct {
	// Collected counts the batches put into the buffer; Pushed those the ingester acknowledged
	// (Duplicates of them were stored before). Dropped counts batches the full buffer dropped,
	// Rejected those the ingester refused for good (malformed or too large).
	Collected, Pushed, Duplicates, Dropped, Rejected int64
	// PushFailures counts failed push attempts (each is retried); CollectFailures failed
	// cluster or MetricSource collections.
	PushFailures, CollectFailures int64
	BufferedBatches               int
	BufferedBytes                 int64
	// ConfigVersion is the MetricSource config in use; Sources how many sources it holds.
	ConfigVersion string
	Sources       int
	// Connected is true after a successful push until the next failure.
	Connected              bool
	LastCollection         time.Time
	LastCollectionDuration time.Duration
	LastPush               time.Time
}

// source is one MetricSource the agent collects.
type source struct {
	c      *metricsource.Compiled
	target *metricsource.Target
	last   time.Time
}

// Agent collects one cluster and pushes its batches to the ingester. Create it with New and
// start it with Run; Stats and Handler may be used from any goroutine.
type Agent struct {
	o      Options
	client collectorv1connect.CollectorServiceClient
	col    *collect.Collector
	dyn    dynamic.Interface
	disc   discovery.DiscoveryInterface
	buf    *Buffer
	log    *slog.Logger
	start  time.Time

	mu            sync.Mutex
	sources       map[string]*source
	configVersion string
	lastScan      time.Time
	lastCollect   time.Time
	lastDuration  time.Duration
	lastPush      time.Time
	loopAlive     time.Time
	// configChanged wakes the collection loop when the set of sources changed.
	configChanged chan struct{}
	// fetchMu serialises config fetches.
	fetchMu sync.Mutex

	collected, pushed, duplicates, rejected, pushFailures, collectFailures atomic.Int64
	connected                                                              atomic.Bool
	// failedOnce is set by the first failed push or stream of the run.
	failedOnce atomic.Bool
}

// New returns an Agent for opts. It makes no request.
func New(opts Options) (*Agent, error) {
	opts.defaults()
	if opts.Cluster == "" || opts.BaseURL == "" || opts.Kube == nil {
		return nil, errors.New("collector: Cluster, BaseURL and Kube are required")
	}
	if opts.Mode != ModeUnary && opts.Mode != ModeStream {
		return nil, fmt.Errorf("collector: mode %q is not %s or %s", opts.Mode, ModeUnary, ModeStream)
	}
	if opts.APIURL == "" {
		opts.APIURL = opts.Kube.Host
	}
	col, err := collect.New(opts.Kube)
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	dyn, err := dynamic.NewForConfig(opts.Kube)
	if err != nil {
		return nil, fmt.Errorf("collector: dynamic client: %w", err)
	}
	dc := rest.CopyConfig(opts.Kube)
	if dc.Timeout == 0 {
		dc.Timeout = 30 * time.Second
	}
	disc, err := discovery.NewDiscoveryClientForConfig(dc)
	if err != nil {
		return nil, fmt.Errorf("collector: discovery client: %w", err)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient(opts.Mode, nil)
	}
	copts := []connect.ClientOption{connect.WithReadMaxBytes(64 << 20)}
	if opts.Compress {
		copts = append(copts, connect.WithSendGzip())
	}
	if opts.Mode == ModeStream {
		copts = append(copts, connect.WithGRPC())
	}
	return &Agent{
		o:             opts,
		client:        collectorv1connect.NewCollectorServiceClient(hc, opts.BaseURL, copts...),
		col:           col,
		dyn:           dyn,
		disc:          disc,
		buf:           NewBuffer(opts.BufferBatches, opts.BufferBytes),
		log:           opts.Logger.With("cluster", opts.Cluster),
		sources:       map[string]*source{},
		configChanged: make(chan struct{}, 1),
	}, nil
}

// Stats returns what the agent did so far.
func (a *Agent) Stats() Stats {
	n, bytes := a.buf.Len()
	a.mu.Lock()
	defer a.mu.Unlock()
	return Stats{
		Collected: a.collected.Load(), Pushed: a.pushed.Load(), Duplicates: a.duplicates.Load(),
		Dropped: a.buf.Dropped(), Rejected: a.rejected.Load(),
		PushFailures: a.pushFailures.Load(), CollectFailures: a.collectFailures.Load(),
		BufferedBatches: n, BufferedBytes: bytes,
		ConfigVersion: a.configVersion, Sources: len(a.sources), Connected: a.connected.Load(),
		LastCollection: a.lastCollect, LastCollectionDuration: a.lastDuration, LastPush: a.lastPush,
	}
}

// BufferedIDs returns the ids of the buffered batches, oldest first.
func (a *Agent) BufferedIDs() []string { return a.buf.IDs() }

// Run collects and pushes until ctx is cancelled. It then stops collecting and keeps pushing
// what is buffered for at most FlushTimeout. It returns nil after a normal shutdown.
func (a *Agent) Run(ctx context.Context) error {
	a.mu.Lock()
	a.start = time.Now()
	a.loopAlive = a.start
	a.mu.Unlock()
	a.log.Info("collector starting", "ingester", a.o.BaseURL, "mode", a.o.Mode,
		"interval", a.o.CollectInterval.String(), "buffer_bytes", a.o.BufferBytes)

	// The first pass should already carry the MetricSources; an unreachable ingester only
	// delays them to the first successful push.
	if a.o.Mode == ModeUnary {
		if err := a.fetchConfig(ctx); err != nil {
			a.log.Warn("MetricSource config not fetched; collecting without it until the ingester answers", "err", err)
		}
	}

	sendCtx, cancelSend := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSend()
	collectDone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(collectDone)
		a.collectLoop(ctx)
	}()
	if a.o.Mode == ModeUnary {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.heartbeatLoop(ctx)
		}()
	}
	go func() {
		<-collectDone
		if a.o.FlushTimeout < 0 {
			cancelSend()
			return
		}
		t := time.NewTimer(a.o.FlushTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			cancelSend()
		case <-sendCtx.Done():
		}
	}()
	if a.o.Mode == ModeStream {
		a.streamLoop(sendCtx, collectDone)
	} else {
		a.sendLoop(sendCtx, collectDone)
	}
	cancelSend()
	wg.Wait()
	n, _ := a.buf.Len()
	a.log.Info("collector stopped", "unsent_batches", n)
	return nil
}

// collectLoop runs collection passes until ctx is done: the cluster every CollectInterval and
// each MetricSource at its own interval, everything due at one moment in one batch.
func (a *Agent) collectLoop(ctx context.Context) {
	nextCluster := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		clusterDue := !now.Before(nextCluster)
		due, next := a.dueSources(now)
		if clusterDue {
			nextCluster = now.Add(a.o.CollectInterval)
		}
		if clusterDue || len(due) > 0 {
			a.pass(ctx, now, clusterDue, due)
			continue
		}
		if nextCluster.Before(next) || next.IsZero() {
			next = nextCluster
		}
		a.alive()
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-a.configChanged:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
	}
}

func (a *Agent) alive() {
	a.mu.Lock()
	a.loopAlive = time.Now()
	a.mu.Unlock()
}

// dueSources returns the sources due at now (marking them collected) and the time the next
// one is due (zero when there are none).
func (a *Agent) dueSources(now time.Time) ([]*source, time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var due []*source
	var next time.Time
	for _, s := range a.sources {
		at := s.last.Add(s.c.Collection.Interval)
		if s.last.IsZero() || !now.Before(at) {
			s.last = now
			due = append(due, s)
			at = now.Add(s.c.Collection.Interval)
		}
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return due, next
}

// pass collects what is due and buffers it as one batch.
func (a *Agent) pass(ctx context.Context, at time.Time, cluster bool, due []*source) {
	var st engine.ClusterState
	if cluster {
		a.mu.Lock()
		scan := a.lastScan.IsZero() || at.Sub(a.lastScan) >= a.o.OperatorScanInterval
		if scan {
			a.lastScan = at
		}
		a.mu.Unlock()
		cctx, cancel := context.WithTimeout(ctx, a.o.CollectTimeout)
		res, err := a.col.Collect(cctx, collect.Options{APIURL: a.o.APIURL, SkipOperators: !scan, Now: func() time.Time { return at }})
		cancel()
		if res != nil {
			st = res.State
			for part, perr := range res.Errors {
				a.log.Debug("part not collected", "part", part, "err", perr)
			}
		}
		if err != nil {
			a.collectFailures.Add(1)
			a.log.Warn("cluster collection failed; the batch carries no node metrics", "err", err)
		}
		a.alive()
	}
	var custom []*metricsource.Result
	for _, s := range due {
		if r := a.collectSource(ctx, s); r != nil {
			custom = append(custom, r)
		}
		a.alive()
	}
	if ctx.Err() != nil {
		return // shutting down: a pass cut short is not worth sending
	}
	if !cluster && len(custom) == 0 {
		return
	}
	b, err := BatchOf(a.o.Cluster, newBatchID(), at, st, custom)
	if err == nil {
		var data []byte
		if data, err = proto.Marshal(b); err == nil {
			if n := a.buf.Add(b.GetBatchId(), data); n > 0 {
				a.log.Warn("buffer full: oldest batches dropped", "dropped", n, "buffer_bytes", a.o.BufferBytes)
			}
			a.collected.Add(1)
			if a.o.OnBatch != nil {
				a.o.OnBatch(b.GetBatchId(), at)
			}
		}
	}
	if err != nil {
		a.collectFailures.Add(1)
		a.log.Error("batch not built", "err", err)
	}
	a.mu.Lock()
	a.lastCollect, a.lastDuration, a.loopAlive = at, time.Since(at), time.Now()
	a.mu.Unlock()
}

// collectSource collects one MetricSource, bounded by its own timeoutSeconds. A failure is
// logged and leaves the source out of the batch, so the stored data stays as it was.
func (a *Agent) collectSource(ctx context.Context, s *source) *metricsource.Result {
	if s.target == nil {
		t, err := s.c.Resolve(a.disc)
		if err != nil {
			a.collectFailures.Add(1)
			a.log.Warn("MetricSource kind not served", "source", s.c.ID, "err", err)
			return nil
		}
		s.target = &t
	}
	sctx, cancel := context.WithTimeout(ctx, s.c.Collection.Timeout)
	defer cancel()
	res, err := metricsource.Collect(sctx, a.dyn, *s.target, s.c, metricsource.CollectOptions{Cluster: a.o.Cluster})
	if err != nil {
		a.collectFailures.Add(1)
		if errors.Is(err, engine.ErrNotFound) {
			s.target = nil // the CRD may have changed: resolve again next time
		}
		a.log.Warn("MetricSource not collected", "source", s.c.ID, "err", err)
		return nil
	}
	return res
}

// sendLoop pushes the buffer oldest first with the unary RPC until sendCtx is done, or the
// collection stopped and the buffer is empty.
func (a *Agent) sendLoop(sendCtx context.Context, collectDone <-chan struct{}) {
	bo := Backoff{Min: a.o.BackoffMin, Max: a.o.BackoffMax, Rand: a.o.Rand}
	for sendCtx.Err() == nil {
		e, ok := a.buf.front()
		if !ok {
			select {
			case <-collectDone:
				if n, _ := a.buf.Len(); n == 0 {
					return
				}
			case <-a.buf.wait():
			case <-sendCtx.Done():
				return
			}
			continue
		}
		err := a.pushUnary(sendCtx, e)
		if err == nil {
			a.buf.remove(e.seq)
			bo.Reset()
			continue
		}
		if a.settleFailure(e, err) {
			continue
		}
		if !sleep(sendCtx, retryDelay(&bo, err)) {
			return
		}
	}
}

// settleFailure records a failed push. It returns true when the batch was dropped for good
// (the ingester will never take it), false when it is to be retried after a backoff.
func (a *Agent) settleFailure(e entry, err error) bool {
	if permanent(err) {
		a.buf.remove(e.seq)
		a.rejected.Add(1)
		a.log.Error("batch refused by the ingester; dropped", "batch_id", e.id, "err", err)
		return true
	}
	a.pushFailures.Add(1)
	if a.disconnected() {
		a.log.Warn("push failed; buffering and retrying with backoff", "batch_id", e.id, "err", err)
	} else {
		a.log.Debug("push failed", "batch_id", e.id, "err", err)
	}
	return false
}

// disconnected records a failed push or stream and reports whether it deserves a warning:
// the first failure after a success, and the first failure of the run, so that an agent that
// never reaches the ingester (a wrong CA, address or token) says why at the default log
// level. Later failures of the same outage are logged at debug level.
func (a *Agent) disconnected() bool {
	wasConnected := a.connected.Swap(false)
	first := !a.failedOnce.Swap(true)
	return wasConnected || first
}

// retryDelay is the next backoff wait, or the server's retry hint when that is longer.
func retryDelay(bo *Backoff, err error) time.Duration {
	d := bo.Next()
	if h := retryHint(err); h > d {
		d = min(h, bo.Max)
	}
	return d
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// pushUnary pushes one buffered batch with PushBatch.
func (a *Agent) pushUnary(ctx context.Context, e entry) error {
	b := &collectorv1.MetricsBatch{}
	if err := proto.Unmarshal(e.data, b); err != nil {
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("decode buffered batch: %w", err))
	}
	req := connect.NewRequest(b)
	a.authorize(req.Header())
	cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	res, err := a.client.PushBatch(cctx, req)
	if err != nil {
		return err
	}
	if ack := res.Msg.GetAck(); !ack.GetSuccess() {
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("batch %s not acknowledged: %s", e.id, ack.GetError()))
	}
	a.acknowledged(res.Msg.GetDuplicate())
	if v := res.Msg.GetConfigVersion(); v != "" && v != a.version() {
		if err := a.fetchConfig(ctx); err != nil {
			a.log.Warn("MetricSource config not fetched", "err", err)
		}
	}
	return nil
}

// acknowledged records one batch the ingester took.
func (a *Agent) acknowledged(duplicate bool) {
	a.pushed.Add(1)
	if duplicate {
		a.duplicates.Add(1)
	}
	if !a.connected.Swap(true) {
		a.log.Info("connected to the ingester")
	}
	a.mu.Lock()
	a.lastPush = time.Now()
	a.mu.Unlock()
}

func (a *Agent) authorize(h http.Header) {
	if a.o.Token != "" {
		h.Set("Authorization", "Bearer "+a.o.Token)
	}
}

func (a *Agent) version() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.configVersion
}

// fetchConfig asks for the MetricSource config and applies it when it changed.
func (a *Agent) fetchConfig(ctx context.Context) error {
	a.fetchMu.Lock()
	defer a.fetchMu.Unlock()
	req := connect.NewRequest(&collectorv1.GetConfigRequest{KnownVersion: a.version()})
	a.authorize(req.Header())
	cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	res, err := a.client.GetConfig(cctx, req)
	if err != nil {
		return fmt.Errorf("get config: %w", err)
	}
	if !res.Msg.GetChanged() {
		return nil
	}
	a.applyConfig(res.Msg.GetConfig())
	return nil
}

// applyConfig replaces the set of MetricSources. A source whose compiled spec did not change
// keeps its schedule and resolved resource; a source that does not load is skipped (logged).
func (a *Agent) applyConfig(u *collectorv1.ConfigUpdate) {
	next := map[string]*source{}
	for _, raw := range u.GetMetricSourcesJson() {
		c, err := metricsource.Load(raw)
		if err != nil {
			a.log.Warn("MetricSource config entry not loaded", "err", err)
			continue
		}
		next[c.ID] = &source{c: c}
	}
	a.mu.Lock()
	for id, s := range next {
		if old, ok := a.sources[id]; ok && old.c.Hash == s.c.Hash {
			next[id] = old
		}
	}
	a.sources = next
	a.configVersion = u.GetConfigVersion()
	a.mu.Unlock()
	a.log.Info("MetricSource config applied", "version", u.GetConfigVersion(), "sources", len(next))
	select {
	case a.configChanged <- struct{}{}:
	default:
	}
}

// heartbeatLoop sends a heartbeat every HeartbeatInterval (unary mode).
func (a *Agent) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(a.o.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		req := connect.NewRequest(a.healthReport())
		a.authorize(req.Header())
		cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
		res, err := a.client.Heartbeat(cctx, req)
		cancel()
		if err != nil {
			a.log.Debug("heartbeat failed", "err", err)
			continue
		}
		if v := res.Msg.GetConfigVersion(); v != "" && v != a.version() {
			if err := a.fetchConfig(ctx); err != nil {
				a.log.Warn("MetricSource config not fetched", "err", err)
			}
		}
	}
}

// healthReport describes the agent for a heartbeat.
func (a *Agent) healthReport() *collectorv1.HealthReport {
	st := a.Stats()
	a.mu.Lock()
	start := a.start
	a.mu.Unlock()
	return &collectorv1.HealthReport{
		ClusterName: a.o.Cluster, Timestamp: timestamppb.Now(),
		UptimeSeconds: int64(time.Since(start).Seconds()), BufferedBatches: int32(st.BufferedBatches),
		LastCollectionDurationMs: st.LastCollectionDuration.Milliseconds(), DroppedBatches: st.Dropped,
		BufferedBytes: st.BufferedBytes, Version: a.o.Version,
	}
}

// permanent reports whether the ingester refused a batch for good: malformed, or larger than
// its limit (ResourceExhausted without a retry hint; the rate limit carries one).
func permanent(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeInvalidArgument:
		return true
	case connect.CodeResourceExhausted:
		return retryHint(err) == 0
	}
	return false
}

// retryHint returns the google.rpc.RetryInfo delay of a Connect error, zero without one.
func retryHint(err error) time.Duration {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return 0
	}
	for _, d := range ce.Details() {
		v, derr := d.Value()
		if derr != nil {
			continue
		}
		if ri, ok := v.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	return 0
}

// newBatchID returns a random batch id (32 hex characters).
func newBatchID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
