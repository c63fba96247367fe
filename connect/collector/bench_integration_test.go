package collector

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1/collectorv1connect"
	"github.com/clusterpulse/clusterpulse/connect/ingester"
	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/history"
	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/store"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// Benchmark shape: simulated agents of many 100-node clusters.
const (
	benchClusters = 64
	benchNodes    = 100
	benchWorkers  = 16
)

// TestBenchPush is the push-mode benchmark (testenv/scripts/bench-push.sh; CLUSTERPULSE_BENCH=1).
// Simulated agents push 100-node batches of 64 clusters over loopback to a real ingester that
// writes a private Redis and a private VictoriaMetrics. It prints, for the same run:
//   - the samples accepted per second at the maximum rate (batches acknowledged × samples per
//     batch; checked against the ingester's samples_written_total);
//   - VictoriaMetrics' own import rate for the same samples, written directly with the same
//     writer and concurrency, and the ratio of the two;
//   - the push latency of a 100-node batch (p50, p99, max) at half the maximum rate.
//
// Goals (issue "Push mode", item 5): ≥ 200,000 samples/s and ≥ ¼ of the raw import rate.
func TestBenchPush(t *testing.T) {
	if os.Getenv("CLUSTERPULSE_BENCH") == "" {
		t.Skip("benchmark: run testenv/scripts/bench-push.sh (CLUSTERPULSE_BENCH=1)")
	}
	dur := 20 * time.Second
	if v := os.Getenv("BENCH_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		dur = d
	}
	ctx := context.Background()
	rs := testenv.StartRedisServer(t)
	rc := redis.NewClient(&redis.Options{Addr: rs.Addr, PoolSize: 64})
	t.Cleanup(func() { _ = rc.Close() })
	st := store.New(rc, store.Options{Prefix: "bench:"})
	vmURL := startPrivateVM(t)
	hw, err := history.NewWriter(history.Config{Enabled: true, Endpoint: vmURL, Timeout: 30 * time.Second, WriteAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}

	k := testenv.NewKube(t)
	testenv.InstallCRDs(t, filepath.Join(testenv.RepoRoot(t), "deploy/crds"))
	kh, err := kube.NewHub(k.Config, k.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	base := testenv.Name(t)
	clusters := make([]string, benchClusters)
	tokens := make([]string, benchClusters)
	for i := range clusters {
		clusters[i] = fmt.Sprintf("%s-%d", base, i)
		tokens[i] = newToken(t)
		createPushCC(t, k, clusters[i])
		if err := ingester.RegisterToken(ctx, st, clusters[i], tokens[i]); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := ingester.NewServer(ingester.Options{Store: st, History: hw, Clusters: kh, Replica: "bench", ClusterCacheTTL: time.Hour, MaxMessageBytes: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}}
	client := collectorv1connect.NewCollectorServiceClient(hc, hs.URL)

	// Every batch of cluster i at step s is collected at start + s seconds: unique, ordered.
	start := time.Now().Add(-6 * time.Hour).Truncate(time.Second)
	template := benchState(benchNodes)
	samplesPerBatch := len(history.ClusterSeries("x", *template.Metrics, start)) + len(history.NodeSeries("x", template.Nodes, start))
	var step [benchClusters]atomic.Int64
	push := func(i int) (time.Duration, error) {
		s := step[i].Add(1)
		at := start.Add(time.Duration(s) * time.Second)
		b, err := BatchOf(clusters[i], newBatchID(), at, template, nil)
		if err != nil {
			return 0, err
		}
		req := connect.NewRequest(b)
		req.Header().Set("Authorization", "Bearer "+tokens[i])
		t0 := time.Now()
		_, err = client.PushBatch(ctx, req)
		return time.Since(t0), err
	}
	written := func() float64 { return scrape(t, hs.URL+"/metrics", "clusterpulse_ingester_samples_written_total") }

	// Warm up: every cluster once (creates the keys and series).
	for i := range clusters {
		if _, err := push(i); err != nil {
			t.Fatalf("warm-up push: %v", err)
		}
	}

	// 1. Maximum rate: workers push back to back.
	w0 := written()
	var batches, failures atomic.Int64
	runFor(dur, benchWorkers, func(w, n int) {
		if _, err := push((w + n*benchWorkers) % benchClusters); err != nil {
			failures.Add(1)
			return
		}
		batches.Add(1)
	})
	pushRate := float64(batches.Load()) / dur.Seconds()
	pushSamples := pushRate * float64(samplesPerBatch)
	ingesterSamples := (written() - w0) / dur.Seconds()

	// 2. Latency at half the maximum rate (open loop: one request per tick whatever the answers).
	half := pushRate / 2
	interval := time.Duration(float64(time.Second) / half)
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	tick := time.NewTicker(interval)
	deadline := time.Now().Add(dur)
	for n := 0; time.Now().Before(deadline); n++ {
		<-tick.C
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d, err := push(i)
			if err != nil {
				failures.Add(1)
				return
			}
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		}(n % benchClusters)
	}
	tick.Stop()
	wg.Wait()
	slices.Sort(lat)

	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}

	// 3. VictoriaMetrics' own import rate for the same samples (other cluster names, same
	// writer, same concurrency).
	var raw atomic.Int64
	var rawStep atomic.Int64
	runFor(dur, benchWorkers, func(w, n int) {
		at := start.Add(time.Duration(rawStep.Add(1)) * time.Second)
		c := fmt.Sprintf("raw-%s-%d", base, (w+n*benchWorkers)%benchClusters)
		samples := append(history.ClusterSeries(c, *template.Metrics, at), history.NodeSeries(c, template.Nodes, at)...)
		if err := hw.Write(ctx, samples); err != nil {
			failures.Add(1)
			return
		}
		raw.Add(int64(len(samples)))
	})
	rawSamples := float64(raw.Load()) / dur.Seconds()

	ratio := pushSamples / rawSamples
	yes := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	out := fmt.Sprintf(`push benchmark: %d clusters × %d nodes, %d samples per batch, %d concurrent agents, %s per phase, GOMAXPROCS=%d, %d CPUs
  ingester (Redis state + VictoriaMetrics history, loopback, Connect binary, HTTP/1.1)
    batches accepted/s          %10.1f
    samples accepted/s          %10.0f   (ingester samples_written_total: %.0f/s)
  VictoriaMetrics raw import of the same samples (history.Writer, same concurrency)
    samples imported/s          %10.0f
  ratio ingester / raw import   %10.2f   goal ≥ 0.25: %s
  samples/s goal ≥ 200,000:                %s
  push latency of a 100-node batch at half the maximum rate (%.1f batches/s, %d requests)
    p50 %s   p99 %s   max %s
  failed requests: %d
`, benchClusters, benchNodes, samplesPerBatch, benchWorkers, dur, runtime.GOMAXPROCS(0), runtime.NumCPU(),
		pushRate, pushSamples, ingesterSamples, rawSamples, ratio, yes(ratio >= 0.25), yes(pushSamples >= 200000),
		half, len(lat), pct(0.5).Round(time.Microsecond*100), pct(0.99).Round(time.Microsecond*100), lat[len(lat)-1].Round(time.Microsecond*100),
		failures.Load())
	fmt.Print(out)
	if f := os.Getenv("BENCH_OUT"); f != "" {
		if err := os.WriteFile(f, []byte(out), 0o644); err != nil {
			t.Error(err)
		}
	}
	if failures.Load() > 0 {
		t.Errorf("%d requests failed", failures.Load())
	}
}

// runFor runs f in workers goroutines, each calling it with its index and a counter, until d
// has passed.
func runFor(d time.Duration, workers int, f func(w, n int)) {
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; time.Now().Before(deadline); n++ {
				f(w, n)
			}
		}()
	}
	wg.Wait()
}

// benchState is a realistic 100-node cluster pass.
func benchState(nodes int) engine.ClusterState {
	at := engine.NewTime(time.Now())
	st := engine.ClusterState{Info: &engine.ClusterInfo{APIURL: "https://api.bench.example.com:6443", Version: "v1.31.2", Platform: engine.PlatformKubernetes}}
	var ns []string
	for i := range 40 {
		ns = append(ns, fmt.Sprintf("team-%02d", i))
	}
	names := engine.NewNamespaces(ns, at.Time)
	st.Namespaces = &names
	used := 1.5
	for i := range nodes {
		st.Nodes = append(st.Nodes, engine.Node{
			Name: fmt.Sprintf("node-%03d", i), Timestamp: at, Status: engine.NodeReady, Roles: []string{"worker"},
			Conditions:  []engine.NodeCondition{{Type: "Ready", Status: "True", Reason: "KubeletReady", Message: "kubelet is posting ready status", LastTransitionTime: at}},
			CPUCapacity: 16, MemoryCapacity: 64 << 30, StorageCapacity: 200 << 30, PodsCapacity: 110,
			CPUAllocatable: 15.5, MemoryAllocatable: 62 << 30, StorageAllocatable: 190 << 30, PodsAllocatable: 110,
			CPURequested: 9.25, MemoryRequested: 40 << 30, CPUUsagePercent: 59.7, MemoryUsagePercent: 64.5, CPUUsed: &used,
			PodsRunning: 40, PodsPending: 1, PodsTotal: 42, PodsSucceeded: 1,
			KernelVersion: "6.1.0-27-amd64", OSImage: "Debian GNU/Linux 12", ContainerRuntime: "containerd://1.7.22",
			KubeletVersion: "v1.31.2", Architecture: "amd64",
			Labels:      map[string]string{"kubernetes.io/hostname": fmt.Sprintf("node-%03d", i), "topology.kubernetes.io/zone": fmt.Sprintf("zone-%d", i%3), "node-role.kubernetes.io/worker": ""},
			Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0"},
			Taints:      []engine.Taint{}, InternalIP: fmt.Sprintf("10.0.%d.%d", i/250, i%250), Hostname: fmt.Sprintf("node-%03d", i),
			ImagesCount: 35, VolumesAttached: 3,
		})
	}
	m := engine.ClusterMetrics{Timestamp: at, Nodes: nodes, NodesReady: nodes, Namespaces: len(ns), Pods: 42 * nodes, PodsRunning: 40 * nodes,
		CPUCapacity: float64(16 * nodes), MemoryCapacity: int64(nodes) * 64 << 30, Deployments: 300}
	st.Metrics = &m
	return st
}

// scrape returns the value of an unlabelled metric at a /metrics URL.
func scrape(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(?:\{\})? ([0-9.e+]+)$`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// startPrivateVM starts a VictoriaMetrics of its own (the shared one serves other tests) and
// stops it at cleanup.
func startPrivateVM(t *testing.T) string {
	t.Helper()
	port := testenv.FreePort(t)
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(filepath.Join(testenv.BinDir(t), "victoria-metrics"),
		"-httpListenAddr=127.0.0.1:"+strconv.Itoa(port), "-storageDataPath="+t.TempDir()+"/data",
		"-retentionPeriod=100y", "-loggerLevel=ERROR")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("start victoria-metrics: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	c := &http.Client{Timeout: time.Second}
	testenv.Eventually(t, 30*time.Second, func() error {
		resp, err := c.Get(url + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: %s", resp.Status)
		}
		return nil
	})
	return url
}
