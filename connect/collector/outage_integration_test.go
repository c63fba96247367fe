package collector

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1/collectorv1connect"
	"github.com/clusterpulse/clusterpulse/connect/ingester"
	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/collect"
	"github.com/clusterpulse/clusterpulse/engine/store"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// TestAgentSurvivesRedisOutage stops the ingester's Redis while the agent pushes: the ingester
// answers Unavailable, the agent keeps collecting into its buffer and, after Redis returns,
// every batch it collected is stored exactly once, in order (counted by batch id).
func TestAgentSurvivesRedisOutage(t *testing.T) {
	rs := testenv.StartRedisServer(t)
	client := redis.NewClient(&redis.Options{Addr: rs.Addr, DialTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
	t.Cleanup(func() { _ = client.Close() })
	st := store.New(client, store.Options{Prefix: "outage:"})
	h := newHub(t, hubOptions{store: st})
	a, rec, stop := startAgent(t, h, Options{})
	testenv.Eventually(t, 30*time.Second, func() error {
		if n := a.Stats().Pushed; n < 3 {
			return fmt.Errorf("%d pushed", n)
		}
		return nil
	})

	// The private Redis keeps nothing across a restart: read what it holds, with no request in
	// flight, before stopping it.
	h.gate.close(t)
	before, _ := storedBatches(t, st, h.cluster)
	rs.Stop()
	h.gate.open()
	failures := a.Stats().PushFailures
	testenv.Eventually(t, 60*time.Second, func() error {
		if s := a.Stats(); s.PushFailures < failures+3 || s.BufferedBatches < 4 {
			return fmt.Errorf("push failures %d (from %d), buffered %d", s.PushFailures, failures, s.BufferedBatches)
		}
		return nil
	})
	rs.Start()
	// The client may refuse for a moment after the restart (go-redis backs off failed dials).
	testenv.Eventually(t, 30*time.Second, func() error {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return ingester.RegisterToken(rctx, st, h.cluster, h.token)
	})
	testenv.Eventually(t, 60*time.Second, func() error {
		if s := a.Stats(); s.BufferedBatches > 1 {
			return fmt.Errorf("%d batches still buffered", s.BufferedBatches)
		}
		return nil
	})
	stop()
	after, _ := storedBatches(t, st, h.cluster)
	stored := append(before, after...)
	if diff := cmp.Diff(rec.list(), stored); diff != "" {
		t.Errorf("stored batches (-collected +stored):\n%s", diff)
	}
	s := a.Stats()
	got := []any{s.Collected, s.Pushed, s.Duplicates, s.Dropped, s.BufferedBatches}
	want := []any{int64(len(stored)), int64(len(stored)), int64(0), int64(0), 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("collected, pushed, duplicates, dropped, buffered (-want +got):\n%s", diff)
	}
}

// ignoreTimestamps leaves out the collection times, which differ between any two passes.
var ignoreTimestamps = cmp.Options{
	cmpopts.IgnoreFields(engine.ClusterMetrics{}, "Timestamp"),
	cmpopts.IgnoreFields(engine.Namespaces{}, "Timestamp"),
	cmpopts.IgnoreFields(engine.Node{}, "Timestamp"),
	// The ingester stamps an operator without CSV times (its CSV is missing) with the batch time.
	cmpopts.IgnoreFields(engine.Operator{}, "CreatedAt", "UpdatedAt"),
	cmpopts.IgnoreFields(engine.ClusterState{}, "Spec", "Status", "Events"),
	cmpopts.EquateEmpty(),
}

// TestPushedBatchMatchesPull collects the real apiserver once and stores the result both ways:
// as job pull does (store.WriteCluster of the Collect result) and as push mode does (BatchOf,
// PushBatch through the ingester). The two Redis states are the same, timestamps aside.
// (job pull's own code is not imported: it writes exactly this Collect result with
// store.WriteCluster.)
func TestPushedBatchMatchesPull(t *testing.T) {
	h := newHub(t, hubOptions{})
	r := testenv.NewRedis(t)
	pull := store.New(r.Client, store.Options{Prefix: r.Prefix})
	ctx := context.Background()
	cfg := testenv.KubeConfig(t)
	col, err := collect.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := col.Collect(ctx, collect.Options{APIURL: cfg.Host})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	res.State.Status = engine.ClusterStatus{Health: engine.HealthHealthy, LastCheck: engine.NewTime(at), LastSuccess: engine.NewTime(at)}
	if err := pull.WriteCluster(ctx, h.cluster, res.State); err != nil {
		t.Fatal(err)
	}
	b, err := BatchOf(h.cluster, newBatchID(), at, res.State, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := collectorv1connect.NewCollectorServiceClient(http.DefaultClient, h.url)
	req := connect.NewRequest(b)
	req.Header().Set("Authorization", "Bearer "+h.token)
	if _, err := c.PushBatch(ctx, req); err != nil {
		t.Fatal(err)
	}
	pulled, err := pull.ReadCluster(ctx, h.cluster)
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := h.store.ReadCluster(ctx, h.cluster)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pulled, pushed, ignoreTimestamps); diff != "" {
		t.Errorf("Redis state (-pull +push):\n%s", diff)
	}
	if pushed.Metrics == nil || pushed.Info == nil || pushed.Namespaces == nil || pushed.NamespaceCounts == nil {
		t.Errorf("pushed state lacks parts: %+v", pushed)
	}
}

// TestAgentMatchesPull is the end to end case: the agent collecting the real apiserver and
// pushing through the ingester produces the Redis state that a pull of the same cluster
// produces (Collect + store.WriteCluster, as job pull does), timestamps aside. The shared
// apiserver changes under other tests, so the two are compared until one pair of passes saw
// the same cluster.
func TestAgentMatchesPull(t *testing.T) {
	h := newHub(t, hubOptions{})
	r := testenv.NewRedis(t)
	pull := store.New(r.Client, store.Options{Prefix: r.Prefix})
	ctx := context.Background()
	cfg := testenv.KubeConfig(t)
	col, err := collect.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, _, _ := startAgent(t, h, Options{Kube: cfg, APIURL: cfg.Host, OperatorScanInterval: time.Second})
	testenv.Eventually(t, 90*time.Second, func() error {
		if a.Stats().Pushed < 1 {
			return fmt.Errorf("nothing pushed yet")
		}
		res, err := col.Collect(ctx, collect.Options{APIURL: cfg.Host})
		if err != nil {
			return err
		}
		res.State.Status = engine.ClusterStatus{Health: engine.HealthHealthy}
		if err := pull.WriteCluster(ctx, h.cluster, res.State); err != nil {
			return err
		}
		pulled, err := pull.ReadCluster(ctx, h.cluster)
		if err != nil {
			return err
		}
		pushed, err := h.store.ReadCluster(ctx, h.cluster)
		if err != nil {
			return err
		}
		if pushed.Operators == nil && pulled.Operators != nil {
			return fmt.Errorf("no operator scan pushed yet")
		}
		if diff := cmp.Diff(pulled, pushed, ignoreTimestamps); diff != "" {
			return fmt.Errorf("Redis state (-pull +push):\n%s", diff)
		}
		return nil
	})
}
