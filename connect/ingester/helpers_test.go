package ingester

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	collectorv1 "github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1"
	"github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1/collectorv1connect"
	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/history"
	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/store"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// testSource is the MetricSource every test environment enables.
const testSource = "monitoring/certs"

// env is one test's world: its own Redis prefix, hub namespace with ClusterConnections, tokens.
type env struct {
	redis *testenv.Redis
	store *store.Store
	hub   *kube.Hub
	vmURL string

	pushA, pushB, pull, unknown         string // cluster names
	tokenA, tokenB, tokenPull, tokenUnk string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	r := testenv.NewRedis(t)
	k := testenv.NewKube(t)
	testenv.InstallCRDs(t, filepath.Join(testenv.RepoRoot(t), "deploy/crds"))
	hub, err := kube.NewHub(k.Config, k.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	base := testenv.Name(t)
	e := &env{
		redis: r, store: store.New(r.Client, store.Options{Prefix: r.Prefix}), hub: hub,
		vmURL: testenv.VictoriaMetricsURL(t),
		pushA: base + "-a", pushB: base + "-b", pull: base + "-p", unknown: base + "-u",
	}
	createCC(t, k, e.pushA, engine.CollectionModePush)
	createCC(t, k, e.pushB, engine.CollectionModePush)
	createCC(t, k, e.pull, engine.CollectionModePull)
	ctx := context.Background()
	for _, p := range []struct {
		tok     *string
		cluster string
	}{{&e.tokenA, e.pushA}, {&e.tokenB, e.pushB}, {&e.tokenPull, e.pull}, {&e.tokenUnk, e.unknown}} {
		*p.tok = newToken(t)
		if err := RegisterToken(ctx, e.store, p.cluster, *p.tok); err != nil {
			t.Fatal(err)
		}
	}
	// One enabled MetricSource in its compiled form, as job metricsource stores it.
	k2 := e.store.Keys()
	if err := r.Client.SAdd(ctx, k2.MetricSourcesEnabled(), testSource).Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.Client.Set(ctx, k2.MetricSource("monitoring", "certs"), `{"name":"certs","namespace":"monitoring"}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	return e
}

func newToken(t *testing.T) string {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

func createCC(t *testing.T, k *testenv.Kube, name, mode string) {
	t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "clusterpulse.io/v1alpha1",
		"kind":       "ClusterConnection",
		"metadata":   map[string]any{"name": name, "namespace": k.Namespace},
		"spec": map[string]any{
			"endpoint":       "https://" + name + ".example.com:6443",
			"credentialsRef": map[string]any{"name": name + "-creds"},
			"collectionMode": mode,
		},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := k.Dynamic.Resource(kube.ClusterConnectionsGVR).Namespace(k.Namespace).Create(ctx, u, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ClusterConnection %s: %v", name, err)
	}
}

// historyWriter returns a Writer to the shared test VictoriaMetrics.
func (e *env) historyWriter(t *testing.T) *history.Writer {
	t.Helper()
	w, err := history.NewWriter(history.Config{Enabled: true, Endpoint: e.vmURL, Timeout: 5 * time.Second, WriteAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// serve starts one ingester replica over h2c (HTTP/1.1 too) and returns its base URL.
func (e *env) serve(t *testing.T, o Options) (string, *Server) {
	t.Helper()
	if o.Store == nil {
		o.Store = e.store
	}
	if o.Clusters == nil {
		o.Clusters = e.hub
	}
	if o.Replica == "" {
		o.Replica = "replica-1"
	}
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = 256 << 10
	}
	s, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(s)
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	hs.Config.Protocols = &p
	hs.Start()
	t.Cleanup(hs.Close)
	return hs.URL, s
}

// h2cClient speaks HTTP/2 without TLS (prior knowledge), as gRPC clients do.
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}, Timeout: 30 * time.Second}
}

// h1Client speaks HTTP/1.1 only.
func h1Client() *http.Client {
	var p http.Protocols
	p.SetHTTP1(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}, Timeout: 30 * time.Second}
}

// protocol is one way to call the unary RPCs.
type protocol struct {
	name string
	push func(ctx context.Context, url, token string, b *collectorv1.MetricsBatch) (*collectorv1.PushResponse, error)
	beat func(ctx context.Context, url, token string, h *collectorv1.HealthReport) (*collectorv1.HeartbeatResponse, error)
}

func withToken[T any](m *T, token string) *connect.Request[T] {
	r := connect.NewRequest(m)
	if token != "" {
		r.Header().Set("Authorization", "Bearer "+token)
	}
	return r
}

func connectProtocol(name string, hc func() *http.Client, opts ...connect.ClientOption) protocol {
	client := func(url string) collectorv1connect.CollectorServiceClient {
		return collectorv1connect.NewCollectorServiceClient(hc(), url, opts...)
	}
	return protocol{
		name: name,
		push: func(ctx context.Context, url, token string, b *collectorv1.MetricsBatch) (*collectorv1.PushResponse, error) {
			res, err := client(url).PushBatch(ctx, withToken(b, token))
			if err != nil {
				return nil, err
			}
			return res.Msg, nil
		},
		beat: func(ctx context.Context, url, token string, h *collectorv1.HealthReport) (*collectorv1.HeartbeatResponse, error) {
			res, err := client(url).Heartbeat(ctx, withToken(h, token))
			if err != nil {
				return nil, err
			}
			return res.Msg, nil
		},
	}
}

// curlJSON posts JSON over HTTP/1.1 exactly as `curl -H 'Content-Type: application/json'`
// would, and turns a Connect error body back into a *connect.Error.
func curlJSON[Res any, PRes interface {
	*Res
	proto.Message
}](ctx context.Context, url, procedure, token string, in proto.Message) (PRes, error) {
	body, err := protojson.Marshal(in)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/"+collectorv1connect.CollectorServiceName+"/"+procedure, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := h1Client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 1 {
		return nil, fmt.Errorf("response over HTTP/%d, want HTTP/1.1", resp.ProtoMajor)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("HTTP %d with a body that is not a Connect error: %q", resp.StatusCode, raw)
		}
		var code connect.Code
		if err := code.UnmarshalText([]byte(e.Code)); err != nil {
			return nil, fmt.Errorf("HTTP %d with unknown code %q", resp.StatusCode, e.Code)
		}
		return nil, connect.NewError(code, errors.New(e.Message))
	}
	out := PRes(new(Res))
	if err := protojson.Unmarshal(raw, out); err != nil {
		return nil, err
	}
	return out, nil
}

func curlProtocol() protocol {
	return protocol{
		name: "http1-json",
		push: func(ctx context.Context, url, token string, b *collectorv1.MetricsBatch) (*collectorv1.PushResponse, error) {
			return curlJSON[collectorv1.PushResponse](ctx, url, "PushBatch", token, b)
		},
		beat: func(ctx context.Context, url, token string, h *collectorv1.HealthReport) (*collectorv1.HeartbeatResponse, error) {
			return curlJSON[collectorv1.HeartbeatResponse](ctx, url, "Heartbeat", token, h)
		},
	}
}

// protocols are the clients every unary case runs through.
func protocols() []protocol {
	return []protocol{
		connectProtocol("connect", h2cClient),
		connectProtocol("connect-json-http1", h1Client, connect.WithProtoJSON()),
		connectProtocol("grpc", h2cClient, connect.WithGRPC()),
		connectProtocol("grpc-web", h1Client, connect.WithGRPCWeb()),
		curlProtocol(),
	}
}

// testBatch is a realistic batch of cluster c collected at at: two nodes, operators, a
// ClusterOperator, cluster info and one MetricSource with grouped and null aggregations.
func testBatch(c, id string, at time.Time) *collectorv1.MetricsBatch {
	cpuUsed := 1.25
	return &collectorv1.MetricsBatch{
		ClusterName: c,
		BatchId:     id,
		CollectedAt: timestamppb.New(at),
		ClusterMetrics: &collectorv1.ClusterMetrics{
			Nodes: 2, NodesReady: 1, Namespaces: 2, NamespaceList: []string{"kube-system", "default"},
			Pods: 12, PodsRunning: 10, CpuCapacity: 8, MemoryCapacity: 32 << 30, Deployments: 3,
		},
		NodeMetrics: []*collectorv1.NodeMetrics{
			{
				Name: "node-1", Status: engine.NodeReady, Roles: []string{"worker"},
				CpuCapacity: 4, MemoryCapacity: 16 << 30, PodsCapacity: 110, CpuAllocatable: 3.5, MemoryAllocatable: 15 << 30,
				CpuRequested: 1.75, CpuUsagePercent: 50, PodsRunning: 6, PodsTotal: 7, PodsPending: 1,
				KernelVersion: "6.1.0", Labels: map[string]string{"zone": "a"}, InternalIp: "10.0.0.1",
				Conditions: []*collectorv1.NodeCondition{{Type: "Ready", Status: "True", Reason: "KubeletReady",
					LastTransitionTime: timestamppb.New(at.Add(-time.Hour))}},
				Taints:      []*collectorv1.Taint{{Key: "dedicated", Value: "infra", Effect: "NoSchedule"}},
				Annotations: map[string]string{"note": "x"}, ExternalIp: "203.0.113.1", ImagesCount: 14, VolumesAttached: 2,
				CpuUsed: &cpuUsed,
			},
			{Name: "node-2", Status: engine.NodeNotReady, CpuCapacity: 4, MemoryCapacity: 16 << 30, PodsTotal: 5, PodsRunning: 4},
		},
		Operators: []*collectorv1.OperatorInfo{{
			Name: "etcd.v0.9.4", DisplayName: "etcd", Version: "0.9.4", Status: "Succeeded",
			InstalledNamespace: "operators", InstallMode: engine.InstallModeSingleNamespace,
			AvailableInNamespaces: []string{"operators"},
		}},
		ClusterOperators: []*collectorv1.ClusterOperatorInfo{{Name: "dns", Version: "4.16.1", Available: true, Upgradeable: true}},
		ClusterInfo:      &collectorv1.ClusterInfo{Version: "v1.30.2", Platform: engine.PlatformKubernetes},
		CustomResources: []*collectorv1.CustomResourceBatch{{
			SourceId: testSource, ResourceCount: 1, DurationMs: 12,
			Resources: []*collectorv1.CustomCollectedResource{{
				Id: "default/web", Namespace: "default", Name: "web", ValuesJson: []byte(`{"days":12,"issuer":"le"}`),
			}},
			Aggregations: map[string]*collectorv1.AggregationValue{
				"total":   {Kind: &collectorv1.AggregationValue_Number{Number: 1}},
				"missing": {Kind: &collectorv1.AggregationValue_Null{Null: true}},
				"by_issuer": {Kind: &collectorv1.AggregationValue_Groups{Groups: &collectorv1.AggregationGroups{
					Values: map[string]*collectorv1.AggregationValue{"le": {Kind: &collectorv1.AggregationValue_Number{Number: 1}}},
				}}},
			},
		}},
	}
}

// clusterWritten reports whether anything of cluster c is stored.
func (e *env) clusterWritten(t *testing.T, c string) bool {
	t.Helper()
	ctx := context.Background()
	member, err := e.redis.Client.SIsMember(ctx, e.store.Keys().ClustersAll(), c).Result()
	if err != nil {
		t.Fatal(err)
	}
	n, err := e.redis.Client.Exists(ctx, e.store.Keys().ClusterStatus(c), e.store.Keys().ClusterKeys(c), e.store.Keys().Events(c)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return member || n > 0
}

// events returns how many events cluster c has (one per stored batch).
func (e *env) events(t *testing.T, c string) int {
	t.Helper()
	evs, err := e.store.Events(context.Background(), c, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// vmServer is a private VictoriaMetrics a test may stop and start.
type vmServer struct {
	t    *testing.T
	URL  string
	port int
	dir  string
	cmd  *exec.Cmd
}

func startVM(t *testing.T) *vmServer {
	t.Helper()
	bin := filepath.Join(testenv.BinDir(t), "victoria-metrics")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("victoria-metrics not built: %v", err)
	}
	v := &vmServer{t: t, port: testenv.FreePort(t), dir: t.TempDir()}
	v.URL = "http://127.0.0.1:" + strconv.Itoa(v.port)
	v.start()
	t.Cleanup(v.stop)
	return v
}

func (v *vmServer) start() {
	v.t.Helper()
	v.cmd = exec.Command(filepath.Join(testenv.BinDir(v.t), "victoria-metrics"),
		"-httpListenAddr=127.0.0.1:"+strconv.Itoa(v.port), "-storageDataPath="+v.dir+"/data",
		"-retentionPeriod=100y", "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=ERROR")
	v.cmd.Stdout, v.cmd.Stderr = io.Discard, io.Discard
	if err := v.cmd.Start(); err != nil {
		v.t.Fatalf("start victoria-metrics: %v", err)
	}
	c := &http.Client{Timeout: time.Second}
	testenv.Eventually(v.t, 30*time.Second, func() error {
		resp, err := c.Get(v.URL + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: %s", resp.Status)
		}
		return nil
	})
}

// stop shuts VictoriaMetrics down gracefully (SIGTERM: it persists what it acknowledged, as
// in a rolling restart), killing it only when it does not exit within 15 s.
func (v *vmServer) stop() {
	if v.cmd == nil || v.cmd.Process == nil {
		return
	}
	done := make(chan struct{})
	go func() { _ = v.cmd.Wait(); close(done) }()
	_ = v.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = v.cmd.Process.Kill()
		<-done
	}
	v.cmd = nil
}

// exportTimes returns the sample times of metric{cluster=c} in VictoriaMetrics at baseURL.
func exportTimes(t *testing.T, baseURL, metric, c string) []time.Time {
	t.Helper()
	resp, err := http.Get(baseURL + "/internal/force_flush")
	if err == nil {
		resp.Body.Close()
	}
	q := fmt.Sprintf(`%s{cluster=%q}`, metric, c)
	resp, err = http.Get(baseURL + "/api/v1/export?match[]=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []time.Time
	dec := json.NewDecoder(resp.Body)
	for {
		var line struct {
			Timestamps []int64 `json:"timestamps"`
		}
		if err := dec.Decode(&line); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		for _, ms := range line.Timestamps {
			out = append(out, time.UnixMilli(ms).UTC())
		}
	}
	return out
}

// eventually polls cond for up to 20 s.
func eventually(t *testing.T, cond func() error) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, cond)
}

// protoCmp compares protobuf messages in cmp.Diff.
func protoCmp() cmp.Option { return protocmp.Transform() }

// roundRobin starts a reverse proxy (HTTP/1.1) that sends each request to the next of urls.
func roundRobin(t *testing.T, urls ...string) string {
	t.Helper()
	var n atomic.Uint64
	targets := make([]*url.URL, len(urls))
	for i, u := range urls {
		p, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		targets[i] = p
	}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(targets[(n.Add(1)-1)%uint64(len(targets))])
	}}
	hs := httptest.NewServer(rp)
	t.Cleanup(hs.Close)
	return hs.URL
}

// errEOF is the end of a stream as a client sees it.
func errEOF() error { return io.EOF }
