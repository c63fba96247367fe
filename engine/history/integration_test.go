package history

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// forceFlush makes the samples VictoriaMetrics received searchable now.
func forceFlush(t *testing.T, base string) {
	t.Helper()
	resp, err := http.Get(base + "/internal/force_flush")
	if err != nil {
		t.Fatalf("force_flush: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("force_flush: status %d", resp.StatusCode)
	}
}

// seriesOrder sorts series by their labels, so results compare regardless of VM's order.
var seriesOrder = cmpopts.SortSlices(func(a, b Series) bool {
	return fmt.Sprint(a.Metric) < fmt.Sprint(b.Metric)
})

// eventuallyRange polls a range query until it returns want exactly.
func eventuallyRange(t *testing.T, q *Querier, query string, start, end time.Time, step time.Duration, want []Series) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, func() error {
		got, err := q.QueryRange(context.Background(), query, start, end, step)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(want, got.Series, seriesOrder); diff != "" {
			return fmt.Errorf("%s (-want +got):\n%s", query, diff)
		}
		return nil
	})
}

func TestWriteReadBackIntegration(t *testing.T) {
	base := testenv.VictoriaMetricsURL(t)
	cluster := testenv.Name(t)
	cfg := Config{Endpoint: base, Timeout: 10 * time.Second, WriteAttempts: 3}
	w, err := NewWriter(cfg)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	q, err := NewQuerier(cfg)
	if err != nil {
		t.Fatalf("NewQuerier: %v", err)
	}

	// Two collections in the past, aligned to the query step so each lands on a point.
	t1 := time.Now().Truncate(30 * time.Second).Add(-60 * time.Second)
	t2 := t1.Add(30 * time.Second)
	nodesAt := func(cpu float64) []engine.Node {
		return []engine.Node{
			{Name: "n1", CPUUsagePercent: cpu, MemoryCapacity: 8 << 30},
			{Name: "n2", CPUUsagePercent: cpu + 0.125, MemoryCapacity: 16 << 30, CPUUsed: new(0.5)},
		}
	}
	weird := "we\"ird\\ va\nlue 日本"
	source := `ns/src"\x`
	agg := func(v float64) engine.AggregationResults {
		return engine.AggregationResults{Values: map[string]any{
			"by-class": map[string]any{weird: v, "gp3": 2 * v},
			"total":    v,
			"nothing":  nil,
		}}
	}
	for _, at := range []struct {
		t   time.Time
		cpu float64
	}{{t1, 12.5}, {t2, 37.75}} {
		var samples []Sample
		samples = append(samples, NodeSeries(cluster, nodesAt(at.cpu), at.t)...)
		samples = append(samples, CustomSeries(cluster, source, agg(at.cpu), at.t)...)
		if err := w.Write(context.Background(), samples); err != nil {
			t.Fatalf("Write at %s: %v", at.t, err)
		}
	}
	forceFlush(t, base)

	sel := fmt.Sprintf(`{cluster=%q}`, cluster)
	eventuallyRange(t, q, NodeCPUUsagePercent+sel, t1, t2, 30*time.Second, []Series{
		{Metric: map[string]string{"__name__": NodeCPUUsagePercent, "cluster": cluster, "node": "n1"}, Points: []Point{{t1.UTC(), 12.5}, {t2.UTC(), 37.75}}},
		{Metric: map[string]string{"__name__": NodeCPUUsagePercent, "cluster": cluster, "node": "n2"}, Points: []Point{{t1.UTC(), 12.625}, {t2.UTC(), 37.875}}},
	})
	eventuallyRange(t, q, NodeMemoryCapacityBytes+sel, t1, t2, 30*time.Second, []Series{
		{Metric: map[string]string{"__name__": NodeMemoryCapacityBytes, "cluster": cluster, "node": "n1"}, Points: []Point{{t1.UTC(), 8 << 30}, {t2.UTC(), 8 << 30}}},
		{Metric: map[string]string{"__name__": NodeMemoryCapacityBytes, "cluster": cluster, "node": "n2"}, Points: []Point{{t1.UTC(), 16 << 30}, {t2.UTC(), 16 << 30}}},
	})
	eventuallyRange(t, q, NodeCPUUsedCores+sel, t1, t2, 30*time.Second, []Series{
		{Metric: map[string]string{"__name__": NodeCPUUsedCores, "cluster": cluster, "node": "n2"}, Points: []Point{{t1.UTC(), 0.5}, {t2.UTC(), 0.5}}},
	})
	// Label values with quotes, backslashes, a newline and non-ASCII text come back unchanged,
	// and the aggregation name is sanitised into the metric name.
	grouped := "clusterpulse_custom_resource_by_class"
	eventuallyRange(t, q, grouped+sel, t1, t2, 30*time.Second, []Series{
		{Metric: map[string]string{"__name__": grouped, "cluster": cluster, "group": weird, "source": source}, Points: []Point{{t1.UTC(), 12.5}, {t2.UTC(), 37.75}}},
		{Metric: map[string]string{"__name__": grouped, "cluster": cluster, "group": "gp3", "source": source}, Points: []Point{{t1.UTC(), 25}, {t2.UTC(), 75.5}}},
	})
	got, err := q.Query(context.Background(), fmt.Sprintf(`clusterpulse_custom_resource_total{cluster=%q, source=%q}`, cluster, source), t2)
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	want := Result{Type: ResultVector, Series: []Series{{
		Metric: map[string]string{"__name__": "clusterpulse_custom_resource_total", "cluster": cluster, "source": source},
		Points: []Point{{t2.UTC(), 37.75}},
	}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("instant query (-want +got):\n%s", diff)
	}
	if st := w.Stats(); st.Dropped != 0 || st.Failures != 0 {
		t.Errorf("stats %+v, want nothing dropped or failed", st)
	}
}

func TestQueryRefusedIntegration(t *testing.T) {
	q, err := NewQuerier(Config{Endpoint: testenv.VictoriaMetricsURL(t), Timeout: 10 * time.Second, WriteAttempts: 1})
	if err != nil {
		t.Fatalf("NewQuerier: %v", err)
	}
	if _, err := q.Query(context.Background(), "sum(", time.Now()); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("Query(\"sum(\") error = %v, want one wrapping engine.ErrInvalid", err)
	}
}

// vmProcess is a private victoria-metrics owned by one test, so it can be stopped without
// disturbing the shared one.
type vmProcess struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	URL  string
	cmd  *exec.Cmd
}

func startVM(t *testing.T) *vmProcess {
	t.Helper()
	bin := filepath.Join(testenv.BinDir(t), "victoria-metrics")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("victoria-metrics binary: %v", err)
	}
	v := &vmProcess{t: t, bin: bin, dir: t.TempDir(), port: testenv.FreePort(t)}
	v.URL = "http://127.0.0.1:" + strconv.Itoa(v.port)
	v.start()
	t.Cleanup(v.stop)
	return v
}

func (v *vmProcess) start() {
	v.t.Helper()
	v.cmd = exec.Command(v.bin, "-httpListenAddr=127.0.0.1:"+strconv.Itoa(v.port), "-storageDataPath="+filepath.Join(v.dir, "data"),
		"-retentionPeriod=100y", "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=WARN")
	log, err := os.OpenFile(filepath.Join(v.dir, "vm.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		v.t.Fatalf("vm log: %v", err)
	}
	defer log.Close()
	v.cmd.Stdout, v.cmd.Stderr = log, log
	if err := v.cmd.Start(); err != nil {
		v.t.Fatalf("start victoria-metrics: %v", err)
	}
	testenv.Eventually(v.t, 20*time.Second, func() error {
		resp, err := http.Get(v.URL + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: status %d", resp.StatusCode)
		}
		return nil
	})
}

// stop shuts the process down gracefully (it flushes its data) and waits for it.
func (v *vmProcess) stop() {
	if v.cmd == nil || v.cmd.Process == nil {
		return
	}
	_ = v.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = v.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = v.cmd.Process.Kill()
		<-done
	}
	v.cmd = nil
}

func TestWriteRetriedAfterOutageLeavesNoGapIntegration(t *testing.T) {
	vm := startVM(t)
	cluster := testenv.Name(t)
	cfg := Config{Endpoint: vm.URL, Timeout: 2 * time.Second, WriteAttempts: 2}
	w, err := NewWriter(cfg)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	w.backoff = 10 * time.Millisecond
	q, err := NewQuerier(cfg)
	if err != nil {
		t.Fatalf("NewQuerier: %v", err)
	}
	t1 := time.Now().Truncate(30 * time.Second).Add(-90 * time.Second)
	t2, t3 := t1.Add(30*time.Second), t1.Add(60*time.Second)
	batch := func(at time.Time, nodes int) []Sample {
		return ClusterSeries(cluster, engine.ClusterMetrics{Nodes: nodes}, at)
	}
	ctx := context.Background()
	if err := w.Write(ctx, batch(t1, 1)); err != nil {
		t.Fatalf("Write before the outage: %v", err)
	}

	vm.stop()
	err = w.Write(ctx, batch(t2, 2))
	if !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("Write during the outage: error = %v, want one wrapping engine.ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "victoriametrics") {
		t.Errorf("error %q does not say what was unreachable", err)
	}

	vm.start()
	// The caller (ingester or job) retries the same batch; then the next one arrives.
	if err := w.Write(ctx, batch(t2, 2)); err != nil {
		t.Fatalf("Write of the retried batch: %v", err)
	}
	if err := w.Write(ctx, batch(t3, 3)); err != nil {
		t.Fatalf("Write after the outage: %v", err)
	}
	forceFlush(t, vm.URL)
	eventuallyRange(t, q, fmt.Sprintf(`%s{cluster=%q}`, ClusterNodesTotal, cluster), t1, t3, 30*time.Second, []Series{{
		Metric: map[string]string{"__name__": ClusterNodesTotal, "cluster": cluster},
		Points: []Point{{t1.UTC(), 1}, {t2.UTC(), 2}, {t3.UTC(), 3}},
	}})
}
