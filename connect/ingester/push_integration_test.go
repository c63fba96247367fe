package ingester

import (
	"context"
	"errors"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	collectorv1 "github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1"
	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/history"
)

// TestPushBatchStoresState pushes one batch through every protocol and checks the Redis state
// and the history it produced, that every value carries the batch's collected_at, and that the
// same batch pushed again is acknowledged without being written twice.
func TestPushBatchStoresState(t *testing.T) {
	e := newEnv(t)
	url, _ := e.serve(t, Options{History: e.historyWriter(t)})
	for i, p := range protocols() {
		t.Run(p.name, func(t *testing.T) {
			ctx := context.Background()
			// Each protocol stores a batch at its own time, an hour ago: the replayed-batch case.
			at := time.Now().Add(-time.Hour).Add(time.Duration(i) * time.Minute).UTC().Truncate(time.Millisecond)
			id := "batch-" + p.name
			b := testBatch(e.pushA, id, at)
			res, err := p.push(ctx, url, e.tokenA, b)
			if err != nil {
				t.Fatalf("push: %v", err)
			}
			if diff := cmp.Diff(&collectorv1.Ack{BatchId: id, Success: true}, res.GetAck(), protoCmp()); diff != "" {
				t.Errorf("ack (-want +got):\n%s", diff)
			}
			if res.GetConfigVersion() == "" || res.GetDuplicate() {
				t.Errorf("config_version %q duplicate %v, want a version and false", res.GetConfigVersion(), res.GetDuplicate())
			}

			st, err := e.store.ReadCluster(ctx, e.pushA)
			if err != nil {
				t.Fatal(err)
			}
			et := engine.NewTime(at)
			wantStatus := engine.ClusterStatus{Health: engine.HealthHealthy, Message: "Collector push active", LastCheck: et, LastSuccess: et, Source: engine.CollectionModePush}
			if diff := cmp.Diff(wantStatus, st.Status); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			wantMetrics := &engine.ClusterMetrics{Timestamp: et, Nodes: 2, NodesReady: 1, Namespaces: 2, Pods: 12, PodsRunning: 10, CPUCapacity: 8, MemoryCapacity: 32 << 30, Deployments: 3}
			if diff := cmp.Diff(wantMetrics, st.Metrics); diff != "" {
				t.Errorf("metrics (-want +got):\n%s", diff)
			}
			if len(st.Nodes) != 2 {
				t.Fatalf("got %d nodes, want 2", len(st.Nodes))
			}
			n := st.Nodes[0]
			gotNode := []any{n.Name, n.Timestamp, n.Taints, n.Annotations, n.ExternalIP, n.ImagesCount, n.VolumesAttached, len(n.Conditions), *n.CPUUsed}
			wantNode := []any{"node-1", et, []engine.Taint{{Key: "dedicated", Value: "infra", Effect: "NoSchedule"}}, map[string]string{"note": "x"}, "203.0.113.1", 14, 2, 1, 1.25}
			if diff := cmp.Diff(wantNode, gotNode); diff != "" {
				t.Errorf("node-1 new fields (-want +got):\n%s", diff)
			}
			// The batch sends no operator times: they stay unset, as job pull stores an
			// operator whose CSV is gone, never the batch or receive time.
			if got := st.Operators; len(got) != 1 || got[0].Name != "etcd.v0.9.4" || !got[0].CreatedAt.IsZero() || !got[0].UpdatedAt.IsZero() {
				t.Errorf("operators = %+v, want etcd with no created/updated time", got)
			}
			agg, err := e.store.CustomAggregations(ctx, e.pushA, testSource)
			if err != nil {
				t.Fatal(err)
			}
			wantAgg := map[string]any{"total": 1.0, "missing": nil, "by_issuer": map[string]any{"le": 1.0}}
			if diff := cmp.Diff(wantAgg, agg.Values); diff != "" {
				t.Errorf("aggregations (-want +got):\n%s", diff)
			}
			events := e.events(t, e.pushA)

			// The history carries the batch's time.
			eventually(t, func() error {
				for _, ts := range exportTimes(t, e.vmURL, history.ClusterNodesTotal, e.pushA) {
					if ts.Equal(at) {
						return nil
					}
				}
				return errors.New("no clusterpulse_cluster_nodes_total sample at collected_at")
			})

			// The same batch again: acknowledged as a duplicate, nothing written.
			res, err = p.push(ctx, url, e.tokenA, b)
			if err != nil {
				t.Fatalf("second push: %v", err)
			}
			if !res.GetDuplicate() || !res.GetAck().GetSuccess() {
				t.Errorf("second push: duplicate %v success %v, want both true", res.GetDuplicate(), res.GetAck().GetSuccess())
			}
			if got := e.events(t, e.pushA); got != events {
				t.Errorf("events after duplicate = %d, want %d", got, events)
			}
		})
	}
}

// TestPushBatchRejected checks every refusal through every protocol: the right code, and
// nothing written for the cluster the batch names.
func TestPushBatchRejected(t *testing.T) {
	e := newEnv(t)
	url, _ := e.serve(t, Options{History: e.historyWriter(t), MaxMessageBytes: 64 << 10})
	at := time.Now().Add(-time.Minute)
	mutate := func(c string, f func(*collectorv1.MetricsBatch)) func() *collectorv1.MetricsBatch {
		return func() *collectorv1.MetricsBatch {
			b := testBatch(c, "b-1", at)
			if f != nil {
				f(b)
			}
			return b
		}
	}
	cases := []struct {
		name    string
		token   func() string
		batch   func() *collectorv1.MetricsBatch
		cluster string // must stay unwritten
		want    connect.Code
	}{
		{"missing token", func() string { return "" }, mutate(e.pushB, nil), e.pushB, connect.CodeUnauthenticated},
		{"wrong token", func() string { return strings.Repeat("0", 64) }, mutate(e.pushB, nil), e.pushB, connect.CodeUnauthenticated},
		{"token of another cluster", func() string { return e.tokenA }, mutate(e.pushB, nil), e.pushB, connect.CodePermissionDenied},
		{"pull-mode cluster", func() string { return e.tokenPull }, mutate(e.pull, nil), e.pull, connect.CodePermissionDenied},
		{"unknown cluster", func() string { return e.tokenUnk }, mutate(e.unknown, nil), e.unknown, connect.CodePermissionDenied},
		{"malformed values_json", func() string { return e.tokenB }, mutate(e.pushB, func(b *collectorv1.MetricsBatch) {
			b.CustomResources[0].Resources[0].ValuesJson = []byte(`{"days":`)
		}), e.pushB, connect.CodeInvalidArgument},
		{"NaN capacity", func() string { return e.tokenB }, mutate(e.pushB, func(b *collectorv1.MetricsBatch) {
			b.NodeMetrics[1].CpuCapacity = math.NaN()
		}), e.pushB, connect.CodeInvalidArgument},
		{"NaN aggregation", func() string { return e.tokenB }, mutate(e.pushB, func(b *collectorv1.MetricsBatch) {
			b.CustomResources[0].Aggregations["total"] = &collectorv1.AggregationValue{Kind: &collectorv1.AggregationValue_Number{Number: math.Inf(1)}}
		}), e.pushB, connect.CodeInvalidArgument},
		{"absurd node count", func() string { return e.tokenB }, mutate(e.pushB, func(b *collectorv1.MetricsBatch) {
			b.ClusterMetrics.Nodes = maxNodes + 1
		}), e.pushB, connect.CodeInvalidArgument},
		{"negative pod count", func() string { return e.tokenB }, mutate(e.pushB, func(b *collectorv1.MetricsBatch) {
			b.NodeMetrics[0].PodsRunning = -1
		}), e.pushB, connect.CodeInvalidArgument},
		{"no batch id", func() string { return e.tokenB }, mutate(e.pushB, func(b *collectorv1.MetricsBatch) { b.BatchId = "" }), e.pushB, connect.CodeInvalidArgument},
		{"no collected_at", func() string { return e.tokenB }, mutate(e.pushB, func(b *collectorv1.MetricsBatch) { b.CollectedAt = nil }), e.pushB, connect.CodeInvalidArgument},
		{"collected_at in the future", func() string { return e.tokenB }, mutate(e.pushB, func(b *collectorv1.MetricsBatch) {
			b.CollectedAt.Seconds += 3600
		}), e.pushB, connect.CodeInvalidArgument},
		{"oversized", func() string { return e.tokenB }, mutate(e.pushB, func(b *collectorv1.MetricsBatch) {
			b.CustomResources[0].Resources[0].ValuesJson = []byte(`{"blob":"` + strings.Repeat("x", 80<<10) + `"}`)
		}), e.pushB, connect.CodeResourceExhausted},
	}
	for _, p := range protocols() {
		for _, c := range cases {
			t.Run(p.name+"/"+c.name, func(t *testing.T) {
				_, err := p.push(context.Background(), url, c.token(), c.batch())
				if got := connect.CodeOf(err); got != c.want {
					t.Errorf("code = %v (%v), want %v", got, err, c.want)
				}
				if e.clusterWritten(t, c.cluster) {
					t.Errorf("cluster %s was written", c.cluster)
				}
			})
		}
	}
	// A refused batch leaves no de-duplication mark either: once it is fixed it is stored.
	res, err := protocols()[0].push(context.Background(), url, e.tokenB, testBatch(e.pushB, "b-1", at))
	if err != nil || res.GetDuplicate() {
		t.Fatalf("valid batch after refusals: duplicate %v, err %v", res.GetDuplicate(), err)
	}
}

// TestRateLimit checks the per-cluster limit: ResourceExhausted with a retry hint, per cluster.
func TestRateLimit(t *testing.T) {
	e := newEnv(t)
	// A fixed clock keeps every call in one window.
	now := time.Unix(time.Now().Unix(), 400e6)
	url, _ := e.serve(t, Options{RateLimit: 2, Now: func() time.Time { return now }})
	p := connectProtocol("grpc", h2cClient, connect.WithGRPC())
	ctx := context.Background()
	for i := range 2 {
		if _, err := p.beat(ctx, url, e.tokenA, &collectorv1.HealthReport{ClusterName: e.pushA}); err != nil {
			t.Fatalf("heartbeat %d: %v", i, err)
		}
	}
	_, err := p.beat(ctx, url, e.tokenA, &collectorv1.HealthReport{ClusterName: e.pushA})
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted {
		t.Fatalf("third heartbeat: %v, want ResourceExhausted", err)
	}
	var got time.Duration
	for _, d := range ce.Details() {
		if v, err := d.Value(); err == nil {
			if ri, ok := v.(*errdetails.RetryInfo); ok {
				got = ri.GetRetryDelay().AsDuration()
			}
		}
	}
	if got != 600*time.Millisecond {
		t.Errorf("retry delay = %v, want 600ms (the rest of the window)", got)
	}
	// Another cluster has its own window.
	if _, err := p.beat(ctx, url, e.tokenB, &collectorv1.HealthReport{ClusterName: e.pushB}); err != nil {
		t.Errorf("heartbeat of another cluster: %v", err)
	}
}

// TestReplicasSharePresenceAndDedup runs two replicas behind a round-robin proxy on one Redis:
// a batch pushed concurrently through both is stored exactly once, and presence written by one
// replica is seen and continued by the other.
func TestReplicasSharePresenceAndDedup(t *testing.T) {
	e := newEnv(t)
	url1, _ := e.serve(t, Options{Replica: "replica-1", History: e.historyWriter(t)})
	url2, _ := e.serve(t, Options{Replica: "replica-2", History: e.historyWriter(t)})
	proxy := roundRobin(t, url1, url2)
	p := connectProtocol("connect", h1Client)
	ctx := context.Background()

	if _, err := p.beat(ctx, proxy, e.tokenA, &collectorv1.HealthReport{ClusterName: e.pushA, Version: "v9.9.9", BufferedBatches: 3, DroppedBatches: 1}); err != nil {
		t.Fatal(err)
	}
	var pr Presence
	if found, err := e.store.Presence(ctx, PresenceKind, e.pushA, &pr); err != nil || !found {
		t.Fatalf("presence after heartbeat: found %v err %v", found, err)
	}
	first := pr.Replica

	// Ten concurrent pushes of the same batch through the proxy (five per replica).
	b := testBatch(e.pushA, "shared-batch", time.Now().Add(-time.Minute))
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored, dups := 0, 0
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A push that meets the batch in flight on the other replica gets Unavailable and
			// retries, as a collector does.
			deadline := time.Now().Add(20 * time.Second)
			for {
				res, err := p.push(ctx, proxy, e.tokenA, b)
				if connect.CodeOf(err) == connect.CodeUnavailable && time.Now().Before(deadline) {
					continue
				}
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					t.Errorf("push: %v", err)
				case res.GetDuplicate():
					dups++
				default:
					stored++
				}
				return
			}
		}()
	}
	wg.Wait()
	if stored != 1 || dups != 9 {
		t.Errorf("stored %d, duplicates %d; want 1 and 9", stored, dups)
	}
	if got := e.events(t, e.pushA); got != 1 {
		t.Errorf("events = %d, want 1 (one write)", got)
	}

	// The push went through the other replica too; presence kept the heartbeat's figures.
	if _, err := p.push(ctx, proxy, e.tokenA, testBatch(e.pushA, "next-batch", time.Now())); err != nil {
		t.Fatal(err)
	}
	pr = Presence{}
	if _, err := e.store.Presence(ctx, PresenceKind, e.pushA, &pr); err != nil {
		t.Fatal(err)
	}
	got := []any{pr.Cluster, pr.Version, pr.BufferedBatches, pr.DroppedBatches, pr.LastBatchID, pr.Mode}
	want := []any{e.pushA, "v9.9.9", int32(3), int64(1), "next-batch", ModeUnary}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("presence (-want +got):\n%s", diff)
	}
	if pr.Replica == "" || (pr.Replica != "replica-1" && pr.Replica != "replica-2") {
		t.Errorf("presence replica = %q", pr.Replica)
	}
	t.Logf("heartbeat served by %s, last push by %s", first, pr.Replica)
	ttl, err := e.redis.Client.TTL(ctx, e.store.Keys().Presence(PresenceKind, e.pushA)).Result()
	if err != nil || ttl <= 0 {
		t.Errorf("presence TTL = %v (%v), want positive", ttl, err)
	}
}

// TestVictoriaMetricsDownRetried stops VictoriaMetrics: the push fails with Unavailable and is
// not marked done; after VictoriaMetrics returns, the collector's retry stores it and the
// history has a sample at every batch time.
func TestVictoriaMetricsDownRetried(t *testing.T) {
	e := newEnv(t)
	vm := startVM(t)
	w, err := history.NewWriter(history.Config{Enabled: true, Endpoint: vm.URL, Timeout: 2 * time.Second, WriteAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	url, _ := e.serve(t, Options{History: w})
	p := connectProtocol("grpc", h2cClient, connect.WithGRPC())
	ctx := context.Background()
	base := time.Now().Add(-10 * time.Minute).UTC().Truncate(time.Second)
	times := []time.Time{base, base.Add(time.Minute), base.Add(2 * time.Minute)}

	if _, err := p.push(ctx, url, e.tokenA, testBatch(e.pushA, "b0", times[0])); err != nil {
		t.Fatal(err)
	}
	vm.stop()
	_, err = p.push(ctx, url, e.tokenA, testBatch(e.pushA, "b1", times[1]))
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("push with VictoriaMetrics down: %v, want Unavailable", err)
	}
	vm.start()
	res, err := p.push(ctx, url, e.tokenA, testBatch(e.pushA, "b1", times[1]))
	if err != nil || res.GetDuplicate() {
		t.Fatalf("retry: duplicate %v err %v, want stored", res.GetDuplicate(), err)
	}
	if _, err := p.push(ctx, url, e.tokenA, testBatch(e.pushA, "b2", times[2])); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		got := exportTimes(t, vm.URL, history.ClusterNodesTotal, e.pushA)
		if diff := cmp.Diff(times, got); diff != "" {
			return errors.New("sample times (-want +got):\n" + diff)
		}
		return nil
	})
}

// TestProbesAndMetrics checks /healthz, /readyz (failing once draining) and /metrics.
func TestProbesAndMetrics(t *testing.T) {
	e := newEnv(t)
	url, srv := e.serve(t, Options{})
	if _, err := connectProtocol("connect", h2cClient).beat(context.Background(), url, e.tokenA, &collectorv1.HealthReport{}); err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		resp, err := h1Client().Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	steps := []struct {
		path     string
		drain    bool
		want     int
		contains string
	}{
		{"/healthz", false, 200, "ok"},
		{"/readyz", false, 200, "ok"},
		{"/metrics", false, 200, `clusterpulse_ingester_requests_total{procedure="/clusterpulse.collector.v1.CollectorService/Heartbeat",code="ok"} 1`},
		{"/readyz", true, 503, "draining"},
		{"/healthz", true, 200, "ok"},
	}
	for _, s := range steps {
		if s.drain {
			srv.Drain()
		}
		code, body := get(s.path)
		if code != s.want || !strings.Contains(body, s.contains) {
			t.Errorf("GET %s (draining %v) = %d %q, want %d containing %q", s.path, s.drain, code, body, s.want, s.contains)
		}
	}
}
