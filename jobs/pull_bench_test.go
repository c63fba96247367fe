package jobs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/clusterpulse/clusterpulse/testenv"
)

// The benchmark of job pull (testenv/scripts/bench-pull.sh, `make bench`). It is a test, not a
// testing.B benchmark, because what it measures is a separate process (wall time, peak RSS,
// time to the first request), and it runs only with CLUSTERPULSE_BENCH=1: seeding 30,000 pods
// takes minutes.
const (
	benchNodes = 1000
	benchPods  = 30000
	// benchNamespace and the node prefix are fixed so that a re-run reuses the seeded objects.
	benchNamespace  = "clusterpulse-bench"
	benchNodePrefix = "clusterpulse-bench-n"
	benchLabel      = "clusterpulse.io/bench"
	benchCreators   = 96
	benchRuns       = 3
)

// Goals of the issue "Collection jobs", item 7.
const (
	goalRatio      = 1.3
	goalRSSMiB     = 150
	goalFirstReqMS = 100
)

func TestBenchPull(t *testing.T) {
	if os.Getenv("CLUSTERPULSE_BENCH") != "1" {
		t.Skip("set CLUSTERPULSE_BENCH=1 (testenv/scripts/bench-pull.sh) to run the job pull benchmark")
	}
	cfg := testenv.KubeConfig(t)
	cfg.QPS, cfg.Burst = 2000, 4000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	seedStart := time.Now()
	benchSeed(t, cs)
	seedTook := time.Since(seedStart)
	if os.Getenv("BENCH_KEEP") != "1" {
		t.Cleanup(func() { benchCleanup(t, cs) })
	}

	// The job: a hub namespace with one ClusterConnection to the same apiserver (admin token).
	e := newPullEnv(t)
	e.secret(t, "bench-creds", os.Getenv("KUBE_TOKEN"), e.ca)
	e.createCC(t, "bench", map[string]any{"endpoint": e.endpoint, "credentialsRef": map[string]any{"name": "bench-creds"},
		"monitoring": map[string]any{"timeout": 30}})
	bin := filepath.Join(t.TempDir(), "clusterpulse")
	if b, err := exec.Command("go", "build", "-trimpath", "-o", bin, "..").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	// The hub is reached through a TCP relay that notes the first connection: the time from
	// process start to the first API request.
	relay := newFirstConnRelay(t, strings.TrimPrefix(e.endpoint, "https://"))
	e.env["KUBECONFIG"] = benchKubeconfig(t, "https://"+relay.addr, os.Getenv("KUBE_TOKEN"), e.ca)
	e.env["LOG_LEVEL"] = "warn"

	rawCfg := rest.CopyConfig(cfg)
	rawCfg.ContentType = "application/vnd.kubernetes.protobuf"
	rawCfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	raw, err := kubernetes.NewForConfig(rawCfg)
	if err != nil {
		t.Fatal(err)
	}

	type row struct {
		rawPar, rawSeq, wall, first time.Duration
		rssKiB                      int64
		nodes, pods                 int
	}
	var rows []row
	for i := range benchRuns {
		var r row
		// Raw LISTs as the collector needs them: nodes and pods, pages of 500, protobuf,
		// decoded; once concurrently (as the collector runs them) and once one after the other.
		r.rawPar, r.nodes, r.pods = rawLists(t, raw, true)
		r.rawSeq, _, _ = rawLists(t, raw, false)

		relay.reset()
		var out, errOut bytes.Buffer
		cmd := exec.Command(bin, "job", "pull", "--force")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		for k, v := range e.env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Stdout, cmd.Stderr = &out, &errOut
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("job pull: %v\n%s\n%s", err, out.String(), errOut.String())
		}
		r.wall = time.Since(start)
		r.first = relay.first().Sub(start)
		r.rssKiB = cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
		sum := lastSummary(t, out.String())
		if sum.Succeeded != 1 {
			t.Fatalf("run %d: %+v\n%s\n%s", i, sum, out.String(), errOut.String())
		}
		t.Logf("run %d: %s", i, strings.TrimSpace(out.String()))
		rows = append(rows, r)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "job pull benchmark: one cluster of %d seeded nodes and %d seeded pods (apiserver total: %d nodes, %d pods); seeding took %v\n",
		benchNodes, benchPods, rows[0].nodes, rows[0].pods, seedTook.Round(time.Second))
	fmt.Fprintf(&b, "%-4s %14s %14s %14s %8s %8s %12s %16s\n", "run", "raw LIST ||", "raw LIST seq", "job pull wall", "ratio ||", "ratio seq", "peak RSS", "start→1st req")
	for i, r := range rows {
		fmt.Fprintf(&b, "%-4d %14v %14v %14v %7.2fx %8.2fx %8.1f MiB %13.1f ms\n", i+1,
			r.rawPar.Round(time.Millisecond), r.rawSeq.Round(time.Millisecond), r.wall.Round(time.Millisecond),
			float64(r.wall)/float64(r.rawPar), float64(r.wall)/float64(r.rawSeq),
			float64(r.rssKiB)/1024, float64(r.first.Microseconds())/1000)
	}
	med := func(f func(row) float64) float64 {
		v := make([]float64, len(rows))
		for i, r := range rows {
			v[i] = f(r)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	ratio := med(func(r row) float64 { return float64(r.wall) / float64(r.rawPar) })
	rss := med(func(r row) float64 { return float64(r.rssKiB) / 1024 })
	first := med(func(r row) float64 { return float64(r.first.Microseconds()) / 1000 })
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	fmt.Fprintf(&b, "median: ratio %.2fx (goal ≤%.1fx: %s), peak RSS %.1f MiB (goal ≤%d MiB: %s), start→first request %.1f ms (goal ≤%d ms: %s)\n",
		ratio, goalRatio, verdict(ratio <= goalRatio), rss, goalRSSMiB, verdict(rss <= goalRSSMiB), first, goalFirstReqMS, verdict(first <= goalFirstReqMS))
	fmt.Fprint(os.Stdout, b.String())
}

// rawLists times the LISTs of nodes and pods (pages of 500, protobuf, decoded and dropped page
// by page), concurrently or one after the other, and returns how many of each it read.
func rawLists(t *testing.T, cs kubernetes.Interface, concurrent bool) (time.Duration, int, int) {
	t.Helper()
	ctx := context.Background()
	var nodes, pods int
	listNodes := func() error {
		opts := metav1.ListOptions{Limit: 500}
		for {
			l, err := cs.CoreV1().Nodes().List(ctx, opts)
			if err != nil {
				return err
			}
			nodes += len(l.Items)
			if opts.Continue = l.Continue; opts.Continue == "" {
				return nil
			}
		}
	}
	listPods := func() error {
		opts := metav1.ListOptions{Limit: 500}
		for {
			l, err := cs.CoreV1().Pods("").List(ctx, opts)
			if err != nil {
				return err
			}
			pods += len(l.Items)
			if opts.Continue = l.Continue; opts.Continue == "" {
				return nil
			}
		}
	}
	start := time.Now()
	var errN, errP error
	if concurrent {
		var wg sync.WaitGroup
		wg.Go(func() { errN = listNodes() })
		wg.Go(func() { errP = listPods() })
		wg.Wait()
	} else {
		errN, errP = listNodes(), listPods()
	}
	took := time.Since(start)
	if errN != nil || errP != nil {
		t.Fatalf("raw LISTs: %v %v", errN, errP)
	}
	return took, nodes, pods
}

// benchSeed creates what is missing of the benchmark namespace, nodes and pods, with
// benchCreators concurrent creators.
func benchSeed(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ServiceAccounts(benchNamespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	names := make([]string, benchNodes)
	for i := range names {
		names[i] = fmt.Sprintf("%s%04d", benchNodePrefix, i)
	}
	var created atomic.Int64
	creators(t, benchNodes, func(i int) error {
		n := benchNode(names[i], i)
		n.Labels[benchLabel] = "true"
		c, err := cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		if err != nil {
			return err
		}
		c.Status = n.Status
		_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, c, metav1.UpdateOptions{})
		created.Add(1)
		return err
	})
	t.Logf("nodes created: %d", created.Load())
	created.Store(0)
	// Pods stay Pending (no kubelet, and a status update per pod would double the seeding
	// time): Pending pods count their requests like Running ones.
	creators(t, benchPods, func(j int) error {
		p, _ := benchPod(benchNamespace, names, j)
		_, err := cs.CoreV1().Pods(benchNamespace).Create(ctx, p, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		if err == nil {
			if c := created.Add(1); c%5000 == 0 {
				t.Logf("pods created: %d", c)
			}
		}
		return err
	})
	t.Logf("pods created: %d", created.Load())
}

func creators(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	next := atomic.Int64{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range benchCreators {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				var err error
				for attempt := 0; attempt < 5; attempt++ {
					if err = fn(i); err == nil || !apierrors.IsTooManyRequests(err) && !apierrors.IsServerTimeout(err) && !apierrors.IsTimeout(err) {
						break
					}
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		t.Fatalf("seed: %v", first)
	}
}

// benchCleanup deletes the benchmark pods and nodes (two DeleteCollection requests) and the
// namespace, so that the shared apiserver does not keep 30,000 pods.
func benchCleanup(t *testing.T, cs kubernetes.Interface) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// One DeleteCollection may outlast the server's request timeout (it keeps deleting);
	// repeat until the namespace has no pod left.
	for ctx.Err() == nil {
		l, err := cs.CoreV1().Pods(benchNamespace).List(ctx, metav1.ListOptions{Limit: 1})
		if err != nil || len(l.Items) == 0 {
			break
		}
		if err := cs.CoreV1().Pods(benchNamespace).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}, metav1.ListOptions{}); err != nil {
			t.Logf("delete bench pods (continuing): %v", err)
		}
	}
	if err := cs.CoreV1().Nodes().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: benchLabel + "=true"}); err != nil {
		t.Logf("delete bench nodes: %v", err)
	}
	testenv.DeleteNamespace(t, cs, benchNamespace)
}

// benchKubeconfig writes a kubeconfig for server with a bearer token and returns its path.
func benchKubeconfig(t *testing.T, server, token string, ca []byte) string {
	t.Helper()
	c := clientcmdapi.NewConfig()
	c.Clusters["hub"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	c.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	c.Contexts["hub"] = &clientcmdapi.Context{Cluster: "hub", AuthInfo: "admin"}
	c.CurrentContext = "hub"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*c, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// firstConnRelay relays TCP connections to target and notes when the first one arrives.
type firstConnRelay struct {
	addr string
	mu   sync.Mutex
	at   time.Time
}

func newFirstConnRelay(t *testing.T, target string) *firstConnRelay {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &firstConnRelay{addr: l.Addr().String()}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			if r.at.IsZero() {
				r.at = time.Now()
			}
			r.mu.Unlock()
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, c) }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return r
}

func (r *firstConnRelay) reset() {
	r.mu.Lock()
	r.at = time.Time{}
	r.mu.Unlock()
}

func (r *firstConnRelay) first() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.at
}
