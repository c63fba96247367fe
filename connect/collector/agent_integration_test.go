package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterpulse/clusterpulse/connect/ingester"
	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/collect"
	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/metricsource"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// TestAgentPushesEveryBatchOnce runs the agent against the real apiserver and a real ingester,
// in both push modes: every batch it collected is stored exactly once, in collection order,
// each at its own collected_at, and presence records the mode.
func TestAgentPushesEveryBatchOnce(t *testing.T) {
	for _, mode := range []string{ModeUnary, ModeStream} {
		t.Run(mode, func(t *testing.T) {
			h := newHub(t, hubOptions{history: true})
			a, rec, stop := startAgent(t, h, Options{Mode: mode, Compress: mode == ModeUnary})
			testenv.Eventually(t, 30*time.Second, func() error {
				if n := a.Stats().Pushed; n < 3 {
					return fmt.Errorf("%d batches pushed", n)
				}
				return nil
			})
			stop()
			st := a.Stats()
			ids, times := storedBatches(t, h.store, h.cluster)
			if diff := cmp.Diff(rec.list(), ids); diff != "" {
				t.Errorf("stored batches (-collected +stored):\n%s", diff)
			}
			for i, id := range ids {
				if want := rec.time(id); !times[i].Equal(want) {
					t.Errorf("batch %s stored at %s, want its collected_at %s", id, times[i], want)
				}
			}
			got := []any{st.Collected, st.Pushed, st.BufferedBatches, st.Dropped, st.Rejected}
			want := []any{int64(len(ids)), int64(len(ids)), 0, int64(0), int64(0)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("collected, pushed, buffered, dropped, rejected (-want +got):\n%s", diff)
			}
			cs, err := h.store.ReadCluster(context.Background(), h.cluster)
			if err != nil {
				t.Fatal(err)
			}
			if cs.Status.Source != engine.CollectionModePush || cs.Metrics == nil || cs.Info == nil {
				t.Errorf("stored state: status %+v, metrics %v, info %v; want a push state with metrics and info", cs.Status, cs.Metrics, cs.Info)
			}
			var p ingester.Presence
			if found, err := h.store.Presence(context.Background(), ingester.PresenceKind, h.cluster, &p); err != nil || !found {
				t.Fatalf("presence: found %v, err %v", found, err)
			}
			if p.Mode != mode {
				t.Errorf("presence mode %q, want %q", p.Mode, mode)
			}
		})
	}
}

// TestAgentBuffersAndReplaysInOrder keeps collecting while the ingester is unreachable and,
// once it is back, replays the buffer oldest first with the original timestamps.
func TestAgentBuffersAndReplaysInOrder(t *testing.T) {
	for _, mode := range []string{ModeUnary, ModeStream} {
		t.Run(mode, func(t *testing.T) {
			h := newHub(t, hubOptions{})
			h.gate.close(t)
			a, rec, stop := startAgent(t, h, Options{Mode: mode})
			testenv.Eventually(t, 30*time.Second, func() error {
				if st := a.Stats(); st.BufferedBatches < 4 || st.PushFailures < 2 {
					return fmt.Errorf("buffered %d, push failures %d", st.BufferedBatches, st.PushFailures)
				}
				return nil
			})
			if got := a.Stats().Pushed; got != 0 {
				t.Fatalf("%d batches pushed through a closed gate", got)
			}
			buffered := a.BufferedIDs()
			opened := time.Now()
			h.gate.open()
			testenv.Eventually(t, 30*time.Second, func() error {
				if st := a.Stats(); st.Pushed < int64(len(buffered)) {
					return fmt.Errorf("%d of %d buffered batches pushed", st.Pushed, len(buffered))
				}
				return nil
			})
			stop()
			ids, times := storedBatches(t, h.store, h.cluster)
			if diff := cmp.Diff(rec.list(), ids); diff != "" {
				t.Errorf("stored batches (-collected +stored):\n%s", diff)
			}
			if diff := cmp.Diff(buffered, ids[:len(buffered)]); diff != "" {
				t.Errorf("the buffered batches are not replayed first, oldest first (-buffered +stored):\n%s", diff)
			}
			for i := range buffered {
				if !times[i].Before(opened) || !times[i].Equal(rec.time(ids[i])) {
					t.Errorf("replayed batch %s stored at %s; want its collected_at %s, before the ingester came back at %s",
						ids[i], times[i], rec.time(ids[i]), opened)
				}
			}
		})
	}
}

// TestAgentBufferBoundDropsOldest fills a small byte-bounded buffer while the ingester is
// unreachable: the oldest batches are dropped, the rest arrive, and the drop count reaches the
// hub in the heartbeats (presence).
func TestAgentBufferBoundDropsOldest(t *testing.T) {
	h := newHub(t, hubOptions{})
	// Size the buffer for about three batches of this cluster.
	col, err := collect.New(testenv.KubeConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	res, err := col.Collect(context.Background(), collect.Options{SkipOperators: true}) // as most passes (the scan is throttled)
	if err != nil {
		t.Fatal(err)
	}
	b, err := BatchOf(h.cluster, newBatchID(), time.Now(), res.State, nil)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(proto.Size(b))

	h.gate.close(t)
	a, rec, stop := startAgent(t, h, Options{BufferBytes: size*7/2 + 4096})
	testenv.Eventually(t, 30*time.Second, func() error {
		if st := a.Stats(); st.Dropped < 2 {
			return fmt.Errorf("%d dropped, %d buffered (%d bytes)", st.Dropped, st.BufferedBatches, st.BufferedBytes)
		}
		return nil
	})
	if st := a.Stats(); st.BufferedBytes > size*7/2+4096 {
		t.Errorf("buffer holds %d batches, %d bytes: above its bound of %d", st.BufferedBatches, st.BufferedBytes, size*7/2+4096)
	}
	h.gate.open()
	testenv.Eventually(t, 30*time.Second, func() error {
		st := a.Stats()
		var p ingester.Presence
		if _, err := h.store.Presence(context.Background(), ingester.PresenceKind, h.cluster, &p); err != nil {
			return err
		}
		if st.BufferedBatches > 1 || p.DroppedBatches != st.Dropped {
			return fmt.Errorf("buffered %d; presence reports %d dropped, agent %d", st.BufferedBatches, p.DroppedBatches, st.Dropped)
		}
		return nil
	})
	stop()
	st := a.Stats()
	all := rec.list()
	ids, _ := storedBatches(t, h.store, h.cluster)
	if diff := cmp.Diff(all[st.Dropped:], ids); diff != "" {
		t.Errorf("stored batches are not the collected ones minus the %d oldest (-want +got):\n%s", st.Dropped, diff)
	}
}

// TestAgentPicksUpConfigChange enables a MetricSource while the agent runs: the next push
// answer carries the new config version, the agent fetches the config, collects the source and
// honours its interval (collected once while the cluster is collected many times).
func TestAgentPicksUpConfigChange(t *testing.T) {
	h := newHub(t, hubOptions{})
	ctx := context.Background()
	for i := range 3 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i), Namespace: h.kube.Namespace,
			Labels: map[string]string{"pulse": "yes"}}, Data: map[string]string{"size": strconv.Itoa(i + 1)}}
		if _, err := h.kube.Client.CoreV1().ConfigMaps(h.kube.Namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	a, _, _ := startAgent(t, h, Options{})
	testenv.Eventually(t, 30*time.Second, func() error {
		if st := a.Stats(); st.Pushed < 2 || st.ConfigVersion == "" {
			return fmt.Errorf("pushed %d, config version %q", st.Pushed, st.ConfigVersion)
		}
		return nil
	})
	if n := a.Stats().Sources; n != 0 {
		t.Fatalf("%d sources before any is enabled", n)
	}
	before := a.Stats().ConfigVersion

	ms := &kube.MetricSource{
		ObjectMeta: metav1.ObjectMeta{Name: "sizes", Namespace: h.kube.Namespace},
		Spec: kube.MetricSourceSpec{
			Source: kube.ResourceTarget{APIVersion: "v1", Kind: "ConfigMap",
				Namespaces:    &kube.NamespaceSelector{Include: []string{h.kube.Namespace}},
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"pulse": "yes"}}},
			Fields:       []kube.FieldExtraction{{Name: "size", Path: ".data.size", Type: "integer"}},
			Aggregations: []kube.Aggregation{{Name: "total", Field: "size", Function: "sum"}, {Name: "n", Function: "count"}},
			Collection:   kube.CollectionConfig{IntervalSeconds: 3600, TimeoutSeconds: 10},
			RBAC:         kube.MetricSourceRBAC{ResourceTypeName: "sizes"},
		},
	}
	c, err := metricsource.Compile(ms)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	k := h.store.Keys()
	if err := h.store.Client().Set(ctx, k.MetricSource(ms.Namespace, ms.Name), raw, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := h.store.Client().SAdd(ctx, k.MetricSourcesEnabled(), c.ID).Err(); err != nil {
		t.Fatal(err)
	}

	var first engine.CustomMeta
	testenv.Eventually(t, 30*time.Second, func() error {
		agg, err := h.store.CustomAggregations(ctx, h.cluster, c.ID)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(map[string]any{"total": 6.0, "n": 3.0}, agg.Values); diff != "" {
			return fmt.Errorf("aggregations (-want +got):\n%s", diff)
		}
		first, err = h.store.CustomMeta(ctx, h.cluster, c.ID)
		return err
	})
	st := a.Stats()
	if st.Sources != 1 || st.ConfigVersion == before {
		t.Errorf("sources %d, config version %q (was %q): want 1 and a new version", st.Sources, st.ConfigVersion, before)
	}
	// The cluster keeps being collected; the source (interval 1 h) is not collected again.
	pushed := st.Pushed
	testenv.Eventually(t, 30*time.Second, func() error {
		if n := a.Stats().Pushed; n < pushed+5 {
			return fmt.Errorf("%d more batches", n-pushed)
		}
		return nil
	})
	again, err := h.store.CustomMeta(ctx, h.cluster, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !again.LastCollectionTime.Equal(first.LastCollectionTime) {
		t.Errorf("source collected again at %s (first %s) within its 1 h interval", again.LastCollectionTime, first.LastCollectionTime)
	}
}

// TestAgentHealthAndMetrics checks /healthz and /metrics of a running agent.
func TestAgentHealthAndMetrics(t *testing.T) {
	h := newHub(t, hubOptions{})
	a, _, _ := startAgent(t, h, Options{})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	testenv.Eventually(t, 30*time.Second, func() error {
		if n := a.Stats().Pushed; n < 1 {
			return errors.New("nothing pushed yet")
		}
		return nil
	})
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	code, body := get("/healthz")
	if code != http.StatusOK || !strings.Contains(body, `"status":"ok"`) || !strings.Contains(body, `"cluster":"`+h.cluster+`"`) {
		t.Errorf("/healthz: %d %s", code, body)
	}
	code, body = get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, re := range []string{
		`(?m)^clusterpulse_collector_batches_pushed_total [1-9][0-9]*$`,
		`(?m)^clusterpulse_collector_batches_collected_total [1-9][0-9]*$`,
		`(?m)^clusterpulse_collector_batches_dropped_total 0$`,
		`(?m)^clusterpulse_collector_connected 1$`,
		`(?m)^# TYPE clusterpulse_collector_buffered_bytes gauge$`,
	} {
		if !regexp.MustCompile(re).MatchString(body) {
			t.Errorf("/metrics does not match %s:\n%s", re, body)
		}
	}
	if code, _ := get("/nope"); code != http.StatusNotFound {
		t.Errorf("/nope: %d, want 404", code)
	}
}
