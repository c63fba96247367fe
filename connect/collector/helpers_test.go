package collector

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/clusterpulse/clusterpulse/connect/ingester"
	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/history"
	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/store"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// hub is one test's hub: a namespace with a push-mode ClusterConnection, a token bound to it,
// and a real ingester in front of a Redis store.
type hub struct {
	kube    *testenv.Kube
	hub     *kube.Hub
	store   *store.Store
	cluster string
	token   string
	url     string
	gate    *gate
}

// hubOptions vary a hub.
type hubOptions struct {
	// store overrides the shared test Redis (e.g. a private redis-server that is stopped).
	store *store.Store
	// history turns on VictoriaMetrics writes to the shared test VictoriaMetrics.
	history bool
}

func newHub(t *testing.T, o hubOptions) *hub {
	t.Helper()
	k := testenv.NewKube(t)
	testenv.InstallCRDs(t, filepath.Join(testenv.RepoRoot(t), "deploy/crds"))
	kh, err := kube.NewHub(k.Config, k.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	st := o.store
	if st == nil {
		r := testenv.NewRedis(t)
		st = store.New(r.Client, store.Options{Prefix: r.Prefix})
	}
	h := &hub{kube: k, hub: kh, store: st, cluster: testenv.Name(t), token: newToken(t)}
	createPushCC(t, k, h.cluster)
	h.registerToken(t)
	var hw ingester.HistoryWriter
	if o.history {
		w, err := history.NewWriter(history.Config{Enabled: true, Endpoint: testenv.VictoriaMetricsURL(t), Timeout: 5 * time.Second, WriteAttempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		hw = w
	}
	srv, err := ingester.NewServer(ingester.Options{Store: st, History: hw, Clusters: kh, Replica: "test", ClusterCacheTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h.gate = &gate{next: srv}
	hs := httptest.NewUnstartedServer(h.gate)
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	hs.Config.Protocols = &p
	hs.Start()
	t.Cleanup(hs.Close)
	h.url = hs.URL
	return h
}

func (h *hub) registerToken(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ingester.RegisterToken(ctx, h.store, h.cluster, h.token); err != nil {
		t.Fatal(err)
	}
}

func newToken(t *testing.T) string {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

func createPushCC(t *testing.T, k *testenv.Kube, name string) {
	t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "clusterpulse.io/v1alpha1",
		"kind":       "ClusterConnection",
		"metadata":   map[string]any{"name": name, "namespace": k.Namespace},
		"spec": map[string]any{
			"endpoint":       "https://" + name + ".example.com:6443",
			"credentialsRef": map[string]any{"name": name + "-creds"},
			"collectionMode": engine.CollectionModePush,
		},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := k.Dynamic.Resource(kube.ClusterConnectionsGVR).Namespace(k.Namespace).Create(ctx, u, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ClusterConnection %s: %v", name, err)
	}
}

// gate stands in front of the ingester: while closed it answers every request with a Connect
// "unavailable" error, as an unreachable ingester behind a load balancer would; it counts the
// requests in flight so a test can wait until none is.
type gate struct {
	next     http.Handler
	closed   atomic.Bool
	inflight atomic.Int64
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.inflight.Add(1)
	defer g.inflight.Add(-1)
	if g.closed.Load() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"code":"unavailable","message":"ingester unreachable (test gate)"}`))
		return
	}
	g.next.ServeHTTP(w, r)
}

// close closes the gate and waits until no request is in flight.
func (g *gate) close(t *testing.T) {
	t.Helper()
	g.closed.Store(true)
	testenv.Eventually(t, 30*time.Second, func() error {
		if n := g.inflight.Load(); n > 0 {
			return fmt.Errorf("%d requests in flight", n)
		}
		return nil
	})
}

func (g *gate) open() { g.closed.Store(false) }

// batches records what an agent buffered, in order.
type batches struct {
	mu  sync.Mutex
	ids []string
	at  map[string]time.Time
}

func (b *batches) add(id string, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.at == nil {
		b.at = map[string]time.Time{}
	}
	b.ids = append(b.ids, id)
	b.at[id] = at
}

func (b *batches) list() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.ids)
}

func (b *batches) time(id string) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.at[id]
}

// startAgent runs an agent for h with short intervals; it stops (and flushes) at cleanup or
// when the returned stop is called.
func startAgent(t *testing.T, h *hub, o Options) (*Agent, *batches, func()) {
	t.Helper()
	rec := &batches{}
	o.Cluster, o.Token, o.BaseURL = h.cluster, h.token, h.url
	if o.Kube == nil {
		o.Kube = testenv.KubeConfig(t)
	}
	if o.CollectInterval == 0 {
		o.CollectInterval = 250 * time.Millisecond
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = 200 * time.Millisecond
	}
	if o.BackoffMin == 0 {
		o.BackoffMin, o.BackoffMax = 20*time.Millisecond, 200*time.Millisecond
	}
	if o.FlushTimeout == 0 {
		o.FlushTimeout = 20 * time.Second
	}
	o.OnBatch = rec.add
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return a, rec, stop
}

// storedBatches returns the batch ids of the events of cluster c, oldest first, with the
// event times (the batches' collected_at).
func storedBatches(t *testing.T, st *store.Store, c string) ([]string, []time.Time) {
	t.Helper()
	evs, err := st.Events(context.Background(), c, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	var times []time.Time
	for i := len(evs) - 1; i >= 0; i-- {
		id, _ := evs[i].Data["batch_id"].(string)
		ids = append(ids, id)
		times = append(times, evs[i].Timestamp.Time)
	}
	return ids, times
}

// lockedWriter serialises writes to w (the log is written from several goroutines).
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
