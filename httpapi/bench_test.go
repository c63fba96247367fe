package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"sigs.k8s.io/yaml"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/policy"
	"github.com/clusterpulse/clusterpulse/engine/store"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// The benchmarks of BENCHMARKS.md (issue item 7): each measures the API answering a request
// in-process (router, authentication, validation, RBAC, Redis, encoding, ETag) next to a
// floor measured in the same run: one pipeline that fetches the same Redis data, decodes it
// into the same types and encodes it. The goal is at most 2× the floor.

// benchFleetSize and benchBigNodes are the sizes of the issue: 1,000 clusters; one page of
// 500 nodes of a 5,000-node cluster.
const (
	benchFleetSize = 1000
	benchBigNodes  = 5000
	benchPage      = 500
)

// benchPolicies are the three policies of the benchmark caller (groups g-deny, g-team, g-all):
// a Deny hiding 100 clusters, a team Allow restricting namespaces and pods on 100 clusters
// (their metrics are recomputed), and an Allow of everything else with viewMetrics.
const benchPolicies = `
metadata: {name: bench-deny}
spec:
  identity: {subjects: {groups: [g-deny]}, priority: 500}
  access: {effect: Deny}
  scope: {clusters: {rules: [{selector: {matchNames: ["c-09*"]}}]}}
---
metadata: {name: bench-team}
spec:
  identity: {subjects: {groups: [g-team]}, priority: 200}
  access: {effect: Allow}
  scope:
    clusters:
      rules:
      - selector: {matchLabels: {team: payments}}
        resources:
        - {type: namespaces, visibility: filtered, filters: {namespaces: {allowed: ["payments-*"]}}}
        - {type: pods, visibility: filtered, filters: {namespaces: {allowed: ["payments-*"]}}}
---
metadata: {name: bench-all}
spec:
  identity: {subjects: {groups: [g-all]}, priority: 100}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchPattern: "c-.*|big"}, permissions: {viewMetrics: true}}]}}
`

// benchCaller is the caller of the benchmarks, through the trusted proxy.
var benchCaller = who{user: "bench", groups: []string{"g-deny", "g-team", "g-all"}}

// benchEnv is a server over real Redis holding the benchmark fleet.
type benchEnv struct {
	h      http.Handler
	st     *store.Store
	client *redis.Client
	keys   store.Keys
}

// newBenchEnv builds the API over the test Redis (policy cache as in production).
func newBenchEnv(tb testing.TB) *benchEnv {
	tb.Helper()
	r := testenv.NewRedis(tb)
	client := redis.NewClient(&redis.Options{Addr: r.Addr, PoolSize: 32})
	tb.Cleanup(func() { client.Close() })
	st := store.New(client, store.Options{Prefix: r.Prefix, Clock: time.Now})
	ps := policy.NewStore(client, st.Keys())
	cache := policy.NewCache(ps, policy.CacheOptions{TTL: 5 * time.Second})
	auth := NewAuthenticator(AuthOptions{
		HeaderUser: "X-Forwarded-User", HeaderEmail: "X-Forwarded-Email", HeaderGroups: "X-Forwarded-Groups",
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix(proxyAddr + "/32"), netip.MustParsePrefix("127.0.0.1/32")},
	})
	spec, err := specOnce()
	if err != nil {
		tb.Fatal(err)
	}
	h := NewServer(Deps{Store: st, Policies: policy.NewEngine(cache), PolicyCache: cache,
		Sources: NewRedisSources(client, st.Keys()), Auth: auth, Spec: spec})
	e := &benchEnv{h: h, st: st, client: client, keys: st.Keys()}
	for _, c := range compileDocs(tb, benchPolicies) {
		if _, err := ps.Save(context.Background(), c); err != nil {
			tb.Fatal(err)
		}
	}
	return e
}

// compileDocs compiles YAML policies separated by ---.
func compileDocs(tb testing.TB, docs string) []*policy.Compiled {
	tb.Helper()
	var out []*policy.Compiled
	for _, p := range parsePolicies(tb, docs) {
		c, err := policy.Compile(p, time.Now())
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// parsePolicies parses YAML MonitorAccessPolicies separated by --- (namespace "ops" when
// unset).
func parsePolicies(tb testing.TB, docs string) []*kube.MonitorAccessPolicy {
	tb.Helper()
	var out []*kube.MonitorAccessPolicy
	for _, doc := range strings.Split(docs, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var p kube.MonitorAccessPolicy
		if err := yaml.UnmarshalStrict([]byte(doc), &p); err != nil {
			tb.Fatalf("parse policy: %v\n%s", err, doc)
		}
		if p.Namespace == "" {
			p.Namespace = "ops"
		}
		out = append(out, &p)
	}
	return out
}

// benchNode is a node of realistic size (about 2 KiB of JSON).
func benchNode(i int, now time.Time) engine.Node {
	labels := map[string]string{
		"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": "m5.2xlarge",
		"topology.kubernetes.io/region": "eu-west-1", "topology.kubernetes.io/zone": fmt.Sprintf("eu-west-1%c", 'a'+i%3),
		"kubernetes.io/hostname": fmt.Sprintf("node-%05d", i), "node-role.kubernetes.io/worker": "",
	}
	conds := []engine.NodeCondition{}
	for _, t := range []string{"MemoryPressure", "DiskPressure", "PIDPressure", "Ready"} {
		st := "False"
		if t == "Ready" {
			st = "True"
		}
		conds = append(conds, engine.NodeCondition{Type: t, Status: st, Reason: "Kubelet" + t, Message: "kubelet reports " + t,
			LastTransitionTime: engine.NewTime(now.Add(-time.Hour))})
	}
	return engine.Node{Name: fmt.Sprintf("node-%05d", i), Timestamp: engine.NewTime(now), Status: engine.NodeReady, Roles: []string{"worker"},
		Conditions: conds, CPUCapacity: 8, MemoryCapacity: 32 << 30, StorageCapacity: 100 << 30, PodsCapacity: 110,
		CPUAllocatable: 7.5, MemoryAllocatable: 30 << 30, StorageAllocatable: 90 << 30, PodsAllocatable: 110,
		CPURequested: 3.2, MemoryRequested: 12 << 30, CPUUsagePercent: 41.5, MemoryUsagePercent: 52.25,
		PodsRunning: 40, PodsTotal: 42, PodsPending: 2, KernelVersion: "5.14.0-427.el9.x86_64", OSImage: "Red Hat Enterprise Linux CoreOS",
		ContainerRuntime: "cri-o://1.29.1", KubeletVersion: "v1.29.5", Architecture: "amd64", Labels: labels,
		Annotations: map[string]string{"volumes.kubernetes.io/controller-managed-attach-detach": "true"},
		InternalIP:  fmt.Sprintf("10.0.%d.%d", i/250, i%250), Hostname: fmt.Sprintf("node-%05d", i), ImagesCount: 60}
}

// benchCluster is cluster i of the fleet: 3 nodes, 8 namespaces, operators; every tenth is
// labelled team=payments.
func benchCluster(i int, now time.Time) engine.ClusterState {
	team := "search"
	if i%10 == 3 {
		team = "payments"
	}
	ns := []string{"default", "kube-system", "openshift-monitoring", "payments-api", "payments-db", "search", "search-index", "tools"}
	counts := make([]engine.NamespaceCounts, len(ns))
	for j, n := range ns {
		counts[j] = engine.NamespaceCounts{Name: n, Pods: 10 + j, PodsByPhase: map[string]int{"Running": 9 + j, "Pending": 1}, Deployments: 2 + j, Services: 1}
	}
	nodes := []engine.Node{benchNode(1, now), benchNode(2, now), benchNode(3, now)}
	return engine.ClusterState{
		Spec: &engine.ClusterSpec{DisplayName: fmt.Sprintf("Cluster %d", i), Endpoint: fmt.Sprintf("https://api.c-%04d.example:6443", i),
			CredentialsRef: engine.CredentialsRef{Name: "creds", Namespace: "clusterpulse"},
			Labels:         map[string]string{"team": team, "env": "prod", "region": "eu-west-1"},
			Monitoring:     engine.ClusterMonitoring{Interval: 60, Timeout: 10}, CollectionMode: engine.CollectionModePull},
		Status: engine.ClusterStatus{Health: engine.HealthHealthy, Message: "Cluster is healthy", LastCheck: engine.NewTime(now), LastSuccess: engine.NewTime(now), Source: engine.CollectionModePull},
		Info:   &engine.ClusterInfo{APIURL: fmt.Sprintf("https://api.c-%04d.example:6443", i), Version: "v1.29.5", Platform: engine.PlatformKubernetes},
		Metrics: &engine.ClusterMetrics{Timestamp: engine.NewTime(now), Nodes: 3, NodesReady: 3, Namespaces: len(ns), Pods: 108, PodsRunning: 100,
			CPUCapacity: 24, MemoryCapacity: 96 << 30, Deployments: 44},
		Namespaces:      ptr(engine.NewNamespaces(ns, now)),
		NamespaceCounts: counts,
		Nodes:           nodes,
		Operators:       []engine.Operator{operator("op-a", "Succeeded", "*"), operator("op-b", "Succeeded", "payments-api")},
	}
}

// fleetNames returns the names of the benchmark fleet, sorted.
func fleetNames() []string {
	out := make([]string, benchFleetSize)
	for i := range out {
		out[i] = fmt.Sprintf("c-%04d", i)
	}
	return out
}

// writeFleet writes the 1,000 clusters through engine/store.
func (e *benchEnv) writeFleet(tb testing.TB) {
	tb.Helper()
	now := time.Now()
	for i, n := range fleetNames() {
		if err := e.st.WriteCluster(context.Background(), n, benchCluster(i, now)); err != nil {
			tb.Fatal(err)
		}
	}
}

// writeBig writes the 5,000-node cluster "big".
func (e *benchEnv) writeBig(tb testing.TB) {
	tb.Helper()
	now := time.Now()
	st := benchCluster(0, now)
	st.Nodes = make([]engine.Node, benchBigNodes)
	for i := range st.Nodes {
		st.Nodes[i] = benchNode(i, now)
	}
	if err := e.st.WriteCluster(context.Background(), "big", st); err != nil {
		tb.Fatal(err)
	}
}

// request serves one GET as the benchmark caller and fails on a status other than 200.
func (e *benchEnv) request(tb testing.TB, target string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.RemoteAddr = proxyAddr + ":4444"
	req.Header.Set("X-Forwarded-User", benchCaller.user)
	req.Header.Set("X-Forwarded-Groups", "g-deny,g-team,g-all")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET %s: %d %s", target, rec.Code, truncate(rec.Body.String()))
	}
	return rec
}

// floorClusters fetches, in one pipeline, every key GET /api/v1/clusters reads for the
// benchmark caller (the heads of all clusters, the operator summaries of the visible ones, and
// for the 100 restricted ones their namespaces, counts and nodes), decodes them into the
// domain types and encodes the visible clusters.
func (e *benchEnv) floorClusters(ctx context.Context, names []string, visible, restricted map[string]bool, nodeNames []string) ([]byte, error) {
	k := e.keys
	type cmds struct {
		spec, status, info, metrics, ops, ns, counts *redis.StringCmd
		nodes                                        []*redis.StringCmd
	}
	all := make([]cmds, len(names))
	_, err := e.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.SMembers(ctx, k.ClustersAll())
		for i, n := range names {
			c := &all[i]
			c.spec, c.status = p.Get(ctx, k.ClusterSpec(n)), p.Get(ctx, k.ClusterStatus(n))
			c.info, c.metrics = p.Get(ctx, k.ClusterInfo(n)), p.Get(ctx, k.ClusterMetrics(n))
			if !visible[n] {
				continue
			}
			c.ops = p.Get(ctx, k.OperatorsSummary(n))
			if restricted[n] {
				c.ns, c.counts = p.Get(ctx, k.Namespaces(n)), p.Get(ctx, k.NamespaceCounts(n))
				p.SMembers(ctx, k.Nodes(n))
				for _, node := range nodeNames {
					c.nodes = append(c.nodes, p.HGet(ctx, k.Node(n, node), "current"))
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	type out struct {
		Name     string                 `json:"name"`
		Spec     *engine.ClusterSpec    `json:"spec"`
		Status   *engine.ClusterStatus  `json:"status"`
		Info     *engine.ClusterInfo    `json:"info"`
		Metrics  *engine.ClusterMetrics `json:"metrics"`
		Ops      int                    `json:"operator_count"`
		NS       *engine.Namespaces     `json:"-"`
		Counts   *[]engine.NamespaceCounts
		NodeList []engine.Node `json:"-"`
	}
	res := make([]out, 0, len(names))
	for i, n := range names {
		c := all[i]
		o := out{Name: n}
		if o.Spec, err = decodeInto[engine.ClusterSpec](c.spec, "spec"); err != nil {
			return nil, err
		}
		if o.Status, err = decodeInto[engine.ClusterStatus](c.status, "status"); err != nil {
			return nil, err
		}
		if o.Info, err = decodeInto[engine.ClusterInfo](c.info, "info"); err != nil {
			return nil, err
		}
		if o.Metrics, err = decodeInto[engine.ClusterMetrics](c.metrics, "metrics"); err != nil {
			return nil, err
		}
		if !visible[n] {
			continue
		}
		sum, err := decodeInto[engine.OperatorsSummary](c.ops, "operators")
		if err != nil {
			return nil, err
		}
		o.Ops = sum.Total
		if restricted[n] {
			if o.NS, err = decodeInto[engine.Namespaces](c.ns, "namespaces"); err != nil {
				return nil, err
			}
			if o.Counts, err = decodeInto[[]engine.NamespaceCounts](c.counts, "counts"); err != nil {
				return nil, err
			}
			for _, nc := range c.nodes {
				node, err := decodeInto[engine.Node](nc, "node")
				if err != nil {
					return nil, err
				}
				o.NodeList = append(o.NodeList, *node)
			}
		}
		res = append(res, o)
	}
	return json.Marshal(res)
}

// floorNodes fetches the cluster's node names and the page's nodes in one pipeline, decodes
// the nodes and encodes them.
func (e *benchEnv) floorNodes(ctx context.Context, cluster string, page []string) ([]byte, error) {
	cmds := make([]*redis.StringCmd, len(page))
	_, err := e.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.SMembers(ctx, e.keys.Nodes(cluster))
		for i, n := range page {
			cmds[i] = p.HGet(ctx, e.keys.Node(cluster, n), "current")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	nodes := make([]engine.Node, len(page))
	for i, c := range cmds {
		n, err := decodeInto[engine.Node](c, "node")
		if err != nil {
			return nil, err
		}
		nodes[i] = *n
	}
	return json.Marshal(nodes)
}

// fleetSets returns the clusters the benchmark caller sees and those it sees restricted.
func fleetSets() (visible, restricted map[string]bool) {
	visible, restricted = map[string]bool{}, map[string]bool{}
	for i, n := range fleetNames() {
		if i >= 900 && i < 1000 {
			continue // c-09xx: bench-deny
		}
		visible[n] = true
		if i%10 == 3 {
			restricted[n] = true
		}
	}
	return visible, restricted
}

// BenchmarkClusters1000 is GET /api/v1/clusters over 1,000 clusters for a caller with three
// policies (900 visible, 90 of them with recomputed metrics), against its floor.
func BenchmarkClusters1000(b *testing.B) {
	e := newBenchEnv(b)
	e.writeFleet(b)
	names := fleetNames()
	visible, restricted := fleetSets()
	nodeNames := []string{"node-00001", "node-00002", "node-00003"}
	rec := e.request(b, "/api/v1/clusters")
	var got []clusterJSONView
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got) != len(visible) {
		b.Fatalf("got %d clusters (%v), want %d", len(got), err, len(visible))
	}
	ctx := context.Background()
	b.Run("api", func(b *testing.B) {
		for b.Loop() {
			e.request(b, "/api/v1/clusters")
		}
	})
	b.Run("floor", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.floorClusters(ctx, names, visible, restricted, nodeNames); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkNodesPage is GET /api/v1/clusters/big/nodes?limit=500 (the first page and a page
// in the middle) on a 5,000-node cluster, against its floor.
func BenchmarkNodesPage(b *testing.B) {
	e := newBenchEnv(b)
	e.writeBig(b)
	all := make([]string, benchBigNodes)
	for i := range all {
		all[i] = fmt.Sprintf("node-%05d", i)
	}
	slices.Sort(all)
	ctx := context.Background()
	for _, p := range []struct {
		name   string
		offset int
	}{{"first", 0}, {"middle", 2500}} {
		target := fmt.Sprintf("/api/v1/clusters/big/nodes?limit=%d", benchPage)
		if p.offset > 0 {
			target += "&continue=" + encodeContinue(p.offset)
		}
		var got []struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(e.request(b, target).Body.Bytes(), &got); err != nil || len(got) != benchPage || got[0].Name != all[p.offset] {
			b.Fatalf("page %s: %d nodes (%v)", p.name, len(got), err)
		}
		page := all[p.offset : p.offset+benchPage]
		b.Run(p.name+"/api", func(b *testing.B) {
			for b.Loop() {
				e.request(b, target)
			}
		})
		b.Run(p.name+"/floor", func(b *testing.B) {
			for b.Loop() {
				if _, err := e.floorNodes(ctx, "big", page); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
