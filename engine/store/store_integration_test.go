package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// newTestStore returns a Store on the shared test Redis, with the test's key prefix.
func newTestStore(t *testing.T) (*Store, *testenv.Redis) {
	t.Helper()
	r := testenv.NewRedis(t)
	return New(r.Client, Options{Prefix: r.Prefix, Clock: testClock}), r
}

// testAt is the collection time of the states in these tests; testClock is one minute later,
// so node samples stamped testAt are inside the retention window.
func testAt() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

func testClock() time.Time { return testAt().Add(time.Minute) }

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// fullState returns a ClusterState with every part set, each part carrying gen, so a reader
// can tell which write a part came from.
func fullState(gen string, nodes ...string) engine.ClusterState {
	at := testAt()
	genN, _ := strconv.Atoi(gen)
	st := engine.ClusterState{
		Spec: &engine.ClusterSpec{
			DisplayName: gen, Endpoint: "https://api.example:6443",
			CredentialsRef: engine.CredentialsRef{Name: "creds", Namespace: "clusterpulse"},
			Labels:         map[string]string{"env": "prod", "gen": gen},
			Monitoring:     engine.ClusterMonitoring{Interval: 30, Timeout: 10},
			CollectionMode: engine.CollectionModePull,
		},
		Status: engine.ClusterStatus{
			Health: engine.HealthHealthy, Message: gen, LastCheck: engine.NewTime(at),
			LastSuccess: engine.NewTime(at), Source: engine.CollectionModePull,
		},
		Info:       &engine.ClusterInfo{APIURL: "https://api.example:6443", Version: gen, Platform: engine.PlatformKubernetes},
		Metrics:    &engine.ClusterMetrics{Timestamp: engine.NewTime(at), Nodes: len(nodes), Pods: genN, Namespaces: 2},
		Namespaces: &engine.Namespaces{Namespaces: []string{"default", "ns-" + gen}, Count: 2, Timestamp: engine.NewTime(at)},
		NamespaceCounts: []engine.NamespaceCounts{
			{Name: "ns-" + gen, Pods: 3, PodsByPhase: map[string]int{"Running": 3}, Deployments: 1},
		},
		Operators: []engine.Operator{{
			Name: "op", Version: gen, Status: "Succeeded", InstalledNamespace: "operators",
			InstallModes: []string{"AllNamespaces"}, IsClusterWide: true, AvailableInNamespaces: []string{"*"},
		}},
		ClusterOperators: []engine.ClusterOperator{{
			Name: "dns", Version: gen, Available: true,
			Conditions: []engine.ClusterOperatorCondition{}, Versions: []engine.ClusterOperatorVersion{}, RelatedObjects: []engine.RelatedObject{},
		}},
		Resources: &engine.ResourceCollection{
			CollectedAt: engine.NewTime(at), CollectionTimeMs: 12,
			Pods:         []engine.PodSummary{{Name: "pod-" + gen, Namespace: "default", Status: "Running", NodeName: "n1"}},
			Deployments:  []engine.DeploymentSummary{{Name: "dep-" + gen, Namespace: "default", Replicas: 1, ReadyReplicas: 1}},
			Services:     []engine.ServiceSummary{},
			StatefulSets: []engine.StatefulSetSummary{},
			DaemonSets:   []engine.DaemonSetSummary{},
		},
		Events: []engine.Event{{Type: engine.EventClusterReconciled, Cluster: "c", Timestamp: engine.NewTime(at), Data: map[string]any{"gen": gen}}},
	}
	for _, n := range nodes {
		st.Nodes = append(st.Nodes, engine.Node{
			Name: n, Timestamp: engine.NewTime(at), Status: engine.NodeReady, KernelVersion: gen,
			Roles: []string{"worker"}, Conditions: []engine.NodeCondition{}, Taints: []engine.Taint{},
			Labels: map[string]string{}, Annotations: map[string]string{},
			CPUCapacity: 4, MemoryCapacity: 8 << 30, CPUUsagePercent: 12.345, PodsTotal: genN,
		})
	}
	return st
}

// generations returns the generation marker of every part of st that carries one.
func generations(st engine.ClusterState) map[string]string {
	g := map[string]string{}
	if st.Spec != nil {
		g["spec"] = st.Spec.DisplayName
		g["labels"] = st.Spec.Labels["gen"]
	}
	g["status"] = st.Status.Message
	if st.Info != nil {
		g["info"] = st.Info.Version
	}
	if st.Metrics != nil {
		g["metrics"] = strconv.Itoa(st.Metrics.Pods)
	}
	if st.Namespaces != nil && len(st.Namespaces.Namespaces) == 2 {
		g["namespaces"] = st.Namespaces.Namespaces[1][len("ns-"):]
	}
	for _, c := range st.NamespaceCounts {
		g["namespace counts"] = c.Name[len("ns-"):]
	}
	for _, o := range st.Operators {
		g["operators"] = o.Version
	}
	for _, o := range st.ClusterOperators {
		g["cluster operators"] = o.Version
	}
	if st.Resources != nil && len(st.Resources.Pods) == 1 {
		g["pods"] = st.Resources.Pods[0].Name[len("pod-"):]
		g["deployments"] = st.Resources.Deployments[0].Name[len("dep-"):]
	}
	for _, n := range st.Nodes {
		g["node "+n.Name] = n.KernelVersion
	}
	return g
}

func TestWriteReadClusterRoundTrip(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := ctxT(t)
	want := fullState("1", "n1", "n2")
	if err := s.WriteCluster(ctx, "c", want); err != nil {
		t.Fatalf("WriteCluster: %v", err)
	}
	got, err := s.ReadCluster(ctx, "c")
	if err != nil {
		t.Fatalf("ReadCluster: %v", err)
	}
	want.Events = nil // ReadCluster never fills events
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadCluster mismatch (-want +got):\n%s", diff)
	}

	t.Run("nil parts keep the stored value", func(t *testing.T) {
		partial := engine.ClusterState{Status: engine.ClusterStatus{Health: engine.HealthUnhealthy, Message: "2"}}
		if err := s.WriteCluster(ctx, "c", partial); err != nil {
			t.Fatalf("WriteCluster: %v", err)
		}
		got, err := s.ReadCluster(ctx, "c")
		if err != nil {
			t.Fatalf("ReadCluster: %v", err)
		}
		want := fullState("1", "n1", "n2")
		want.Events = nil
		want.Status = partial.Status
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ReadCluster mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("single reads", func(t *testing.T) {
		names, err := s.ClusterNames(ctx)
		if err != nil {
			t.Fatal(err)
		}
		nodes, err := s.Nodes(ctx, "c")
		if err != nil {
			t.Fatal(err)
		}
		node, err := s.Node(ctx, "c", "n2")
		if err != nil {
			t.Fatal(err)
		}
		summary, err := s.NodesSummary(ctx, "c")
		if err != nil {
			t.Fatal(err)
		}
		opsSummary, err := s.OperatorsSummary(ctx, "c")
		if err != nil {
			t.Fatal(err)
		}
		coSummary, err := s.ClusterOperatorsSummary(ctx, "c")
		if err != nil {
			t.Fatal(err)
		}
		hash, err := s.Client().HGetAll(ctx, s.Keys().Node("c", "n1")).Result()
		if err != nil {
			t.Fatal(err)
		}
		full := fullState("1", "n1", "n2")
		got := []any{names, nodes, node, summary.Total, summary.Ready, opsSummary.Total, coSummary.AllHealthy,
			hash["status"], hash["cpu_usage"], hash["memory_usage"], hash["pods_total"]}
		want := []any{[]string{"c"}, full.Nodes, full.Nodes[1], 2, 2, 1, true, "Ready", "12.35", "0.00", "1"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("reads mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("invalid state writes nothing", func(t *testing.T) {
		before, err := s.ReadCluster(ctx, "c")
		if err != nil {
			t.Fatal(err)
		}
		for name, bad := range map[string]engine.ClusterState{
			"NaN in metrics": func() engine.ClusterState {
				st := fullState("9", "n9")
				st.Metrics.CPUCapacity = math.NaN()
				return st
			}(),
			"node without name": fullState("9", "n9", ""),
			"duplicate node":    fullState("9", "n9", "n9"),
		} {
			if err := s.WriteCluster(ctx, "c", bad); !errors.Is(err, engine.ErrInvalid) {
				t.Errorf("%s: WriteCluster error = %v, want ErrInvalid", name, err)
			}
		}
		after, err := s.ReadCluster(ctx, "c")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("state changed by failed writes (-before +after):\n%s", diff)
		}
	})

	t.Run("missing cluster", func(t *testing.T) {
		_, err := s.ReadCluster(ctx, "nope")
		if !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("ReadCluster(nope) error = %v, want ErrNotFound", err)
		}
		_, err = s.ClusterSpec(ctx, "nope")
		if !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("ClusterSpec(nope) error = %v, want ErrNotFound", err)
		}
	})
}

func TestLease(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := ctxT(t)

	ok, err := s.AcquireLease(ctx, "pull", "a", time.Minute)
	if err != nil || !ok {
		t.Fatalf("AcquireLease(a) = %v, %v; want true", ok, err)
	}
	steps := []struct {
		name string
		do   func() (bool, error)
		want bool
	}{
		{"second owner cannot acquire", func() (bool, error) { return s.AcquireLease(ctx, "pull", "b", time.Minute) }, false},
		{"owner cannot acquire twice", func() (bool, error) { return s.AcquireLease(ctx, "pull", "a", time.Minute) }, false},
		{"non-owner cannot renew", func() (bool, error) { return s.RenewLease(ctx, "pull", "b", time.Minute) }, false},
		{"non-owner cannot release", func() (bool, error) { return s.ReleaseLease(ctx, "pull", "b") }, false},
		{"lease still held by owner", func() (bool, error) { o, err := s.LeaseOwner(ctx, "pull"); return o == "a", err }, true},
		{"owner renews", func() (bool, error) { return s.RenewLease(ctx, "pull", "a", time.Hour) }, true},
		{"owner releases", func() (bool, error) { return s.ReleaseLease(ctx, "pull", "a") }, true},
		{"released lease is free", func() (bool, error) { return s.AcquireLease(ctx, "pull", "b", time.Minute) }, true},
		{"old owner cannot renew after losing it", func() (bool, error) { return s.RenewLease(ctx, "pull", "a", time.Minute) }, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got, err := st.do()
			if err != nil {
				t.Fatal(err)
			}
			if got != st.want {
				t.Errorf("got %v, want %v", got, st.want)
			}
		})
	}

	t.Run("renew extends the ttl", func(t *testing.T) {
		ttl, err := s.Client().PTTL(ctx, s.Keys().Lease("pull")).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > time.Minute {
			t.Fatalf("lease ttl %v, want (0, 1m]", ttl)
		}
		if ok, err := s.RenewLease(ctx, "pull", "b", time.Hour); err != nil || !ok {
			t.Fatalf("RenewLease = %v, %v", ok, err)
		}
		ttl, err = s.Client().PTTL(ctx, s.Keys().Lease("pull")).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= time.Minute {
			t.Errorf("lease ttl after renew %v, want > 1m", ttl)
		}
	})

	t.Run("expires after ttl", func(t *testing.T) {
		if ok, err := s.AcquireLease(ctx, "short", "a", 200*time.Millisecond); err != nil || !ok {
			t.Fatalf("AcquireLease = %v, %v", ok, err)
		}
		testenv.Eventually(t, 5*time.Second, func() error {
			ok, err := s.AcquireLease(ctx, "short", "b", time.Minute)
			if err != nil {
				return err
			}
			if !ok {
				return errors.New("lease still held")
			}
			return nil
		})
		if ok, err := s.ReleaseLease(ctx, "short", "a"); err != nil || ok {
			t.Errorf("ReleaseLease by expired owner = %v, %v; want false", ok, err)
		}
		if o, err := s.LeaseOwner(ctx, "short"); err != nil || o != "b" {
			t.Errorf("LeaseOwner = %q, %v; want b", o, err)
		}
	})

	t.Run("concurrent acquire has one winner", func(t *testing.T) {
		var wg sync.WaitGroup
		wins := make(chan string, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("o%d", i)
				if ok, err := s.AcquireLease(ctx, "race", owner, time.Minute); err == nil && ok {
					wins <- owner
				}
			}()
		}
		wg.Wait()
		close(wins)
		if n := len(wins); n != 1 {
			t.Errorf("%d owners acquired the lease, want 1", n)
		}
	})

	t.Run("invalid arguments", func(t *testing.T) {
		for _, f := range []func() (bool, error){
			func() (bool, error) { return s.AcquireLease(ctx, "", "a", time.Minute) },
			func() (bool, error) { return s.AcquireLease(ctx, "x", "", time.Minute) },
			func() (bool, error) { return s.AcquireLease(ctx, "x", "a", 0) },
			func() (bool, error) { return s.RenewLease(ctx, "x", "a", -time.Second) },
		} {
			if _, err := f(); !errors.Is(err, engine.ErrInvalid) {
				t.Errorf("error = %v, want ErrInvalid", err)
			}
		}
	})
}

// TestConcurrentReaderNeverSeesHalfAWrite alternates two full states, which differ in every
// part and in the node list, while readers check that every part of each snapshot comes
// from the same write.
func TestConcurrentReaderNeverSeesHalfAWrite(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := ctxT(t)
	// Many nodes make one write far larger than Redis reads from a socket at once (16 KiB),
	// so a write that were merely pipelined, not MULTI/EXEC, would interleave with reads.
	var names []string
	for i := range 60 {
		names = append(names, fmt.Sprintf("node-%02d", i))
	}
	states := []engine.ClusterState{fullState("1", names...), fullState("2", names[:59]...)}
	if err := s.WriteCluster(ctx, "c", states[0]); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var writes int
	writerErr := make(chan error, 1)
	go func() {
		defer close(writerErr)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.WriteCluster(ctx, "c", states[i%2]); err != nil {
				writerErr <- err
				return
			}
			writes++
		}
	}()

	deadline := time.Now().Add(1500 * time.Millisecond)
	reads, seen := 0, map[string]bool{}
	for time.Now().Before(deadline) {
		st, err := s.ReadCluster(ctx, "c")
		if err != nil {
			t.Fatalf("ReadCluster: %v", err)
		}
		reads++
		gens := generations(st)
		gen := gens["status"]
		seen[gen] = true
		wantNodes := map[string]int{"1": 60, "2": 59}[gen]
		if len(st.Nodes) != wantNodes {
			t.Fatalf("read %d: generation %s has %d nodes, want %d", reads, gen, len(st.Nodes), wantNodes)
		}
		for part, g := range gens {
			if g != gen {
				t.Fatalf("read %d: part %s has generation %s, status has %s: half a write", reads, part, g, gen)
			}
		}
		if len(gens) != 11+wantNodes {
			t.Fatalf("read %d: %d parts carry a generation, want %d: %v", reads, len(gens), 11+wantNodes, gens)
		}
	}
	close(stop)
	if err := <-writerErr; err != nil {
		t.Fatalf("WriteCluster: %v", err)
	}
	if !seen["1"] || !seen["2"] {
		t.Errorf("reader saw generations %v in %d reads over %d writes; want both", seen, reads, writes)
	}
	t.Logf("%d reads, %d writes", reads, writes)
}

func scanKeys(t *testing.T, ctx context.Context, c redis.UniversalClient, pattern string) []string {
	t.Helper()
	var keys []string
	iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

func TestDeleteCluster(t *testing.T) {
	s, r := newTestStore(t)
	ctx := ctxT(t)
	for _, c := range []string{"gone", "kept"} {
		if err := s.WriteCluster(ctx, c, fullState("1", "n1", "n2")); err != nil {
			t.Fatal(err)
		}
		err := s.WriteCustom(ctx, c, "ns/src", &engine.CustomCollection{SourceID: "ns/src"},
			&engine.AggregationResults{SourceID: "ns/src"}, &engine.CustomMeta{SourceID: "ns/src"})
		if err != nil {
			t.Fatal(err)
		}
	}
	before := scanKeys(t, ctx, r.Client, r.Prefix+"cluster:gone:*")
	if len(before) < 20 {
		t.Fatalf("only %d keys before delete: %v", len(before), before)
	}
	if err := s.DeleteCluster(ctx, "gone"); err != nil {
		t.Fatalf("DeleteCluster: %v", err)
	}
	if left := scanKeys(t, ctx, r.Client, r.Prefix+"cluster:gone:*"); len(left) != 0 {
		t.Errorf("keys left after DeleteCluster: %v", left)
	}
	if left := scanKeys(t, ctx, r.Client, r.Prefix+"events:gone"); len(left) != 0 {
		t.Errorf("events left after DeleteCluster: %v", left)
	}
	names, err := s.ClusterNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"kept"}, names); diff != "" {
		t.Errorf("ClusterNames after delete (-want +got):\n%s", diff)
	}
	kept := scanKeys(t, ctx, r.Client, r.Prefix+"cluster:kept:*")
	if diff := cmp.Diff(len(before), len(kept)); diff != "" {
		t.Errorf("the other cluster lost keys (-want +got):\n%s", diff)
	}
	if err := s.DeleteCluster(ctx, "gone"); err != nil {
		t.Errorf("DeleteCluster of a deleted cluster: %v", err)
	}
}

func TestNodePruning(t *testing.T) {
	s, r := newTestStore(t)
	ctx := ctxT(t)
	if err := s.WriteCluster(ctx, "c", fullState("1", "n1", "n2", "n3")); err != nil {
		t.Fatal(err)
	}
	if keys := scanKeys(t, ctx, r.Client, r.Prefix+"cluster:c:node:n3*"); len(keys) != 2 {
		t.Fatalf("node n3 keys before pruning: %v, want hash and metrics", keys)
	}
	st := fullState("2", "n1", "n2")
	st.ClusterOperators = []engine.ClusterOperator{}
	if err := s.WriteCluster(ctx, "c", st); err != nil {
		t.Fatal(err)
	}
	if keys := scanKeys(t, ctx, r.Client, r.Prefix+"cluster:c:node:n3*"); len(keys) != 0 {
		t.Errorf("node n3 keys after pruning: %v", keys)
	}
	if keys := scanKeys(t, ctx, r.Client, r.Prefix+"cluster:c:cluster_operator:*"); len(keys) != 0 {
		t.Errorf("cluster operator keys after pruning: %v", keys)
	}
	members, err := r.Client.SMembers(ctx, s.Keys().Nodes("c")).Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(members)
	index, err := r.Client.SMembers(ctx, s.Keys().ClusterKeys("c")).Result()
	if err != nil {
		t.Fatal(err)
	}
	var stale []string
	for _, k := range index {
		if k == s.Keys().Node("c", "n3") || k == s.Keys().NodeMetrics("c", "n3") || k == s.Keys().ClusterOperator("c", "dns") {
			stale = append(stale, k)
		}
	}
	got := []any{members, stale}
	want := []any{[]string{"n1", "n2"}, []string(nil)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("node set and index after pruning (-want +got):\n%s", diff)
	}
	// Nil Nodes keeps the nodes: nothing is pruned.
	if err := s.WriteCluster(ctx, "c", engine.ClusterState{Status: st.Status}); err != nil {
		t.Fatal(err)
	}
	if keys := scanKeys(t, ctx, r.Client, r.Prefix+"cluster:c:node:*"); len(keys) != 4 {
		t.Errorf("node keys after a write without nodes: %v, want 4", keys)
	}
}

func TestTTLs(t *testing.T) {
	r := testenv.NewRedis(t)
	s := New(r.Client, Options{Prefix: r.Prefix, CacheTTL: 120 * time.Second, MetricsRetention: 900 * time.Second, Clock: testClock})
	ctx := ctxT(t)
	if err := s.WriteCluster(ctx, "c", fullState("1", "n1")); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteCustom(ctx, "c", "ns/src", &engine.CustomCollection{}, &engine.AggregationResults{}, &engine.CustomMeta{}); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteRegistry(ctx, "quay", engine.RegistrySpec{}, engine.RegistryStatus{},
		engine.Event{Type: engine.EventRegistryReconciled}); err != nil {
		t.Fatal(err)
	}
	k := s.Keys()
	const none = time.Duration(-1) // go-redis's TTL for a key without expiry
	tests := []struct {
		key  string
		want time.Duration
	}{
		{k.ClustersAll(), none},
		{k.ClusterKeys("c"), none},
		{k.ClusterSpec("c"), none},
		{k.ClusterLabels("c"), none},
		{k.ClusterStatus("c"), none},
		{k.ClusterMeta("c"), none},
		{k.ClusterInfo("c"), 120 * time.Second},
		{k.ClusterMetrics("c"), 120 * time.Second},
		{k.Namespaces("c"), 120 * time.Second},
		{k.NamespacesSet("c"), 120 * time.Second},
		{k.NamespaceCounts("c"), 120 * time.Second},
		{k.Nodes("c"), 120 * time.Second},
		{k.Node("c", "n1"), 120 * time.Second},
		{k.NodeMetrics("c", "n1"), 900 * time.Second},
		{k.NodesSummary("c"), 120 * time.Second},
		{k.Operators("c"), 120 * time.Second},
		{k.OperatorsSummary("c"), 120 * time.Second},
		{k.ClusterOperators("c"), 120 * time.Second},
		{k.ClusterOperatorsSummary("c"), 120 * time.Second},
		{k.ClusterOperator("c", "dns"), 120 * time.Second},
		{k.Resources("c", "pods"), 120 * time.Second},
		{k.Resources("c", "daemonsets"), 120 * time.Second},
		{k.ResourceMetadata("c"), 120 * time.Second},
		{k.CustomResources("c", "ns/src"), 120 * time.Second},
		{k.CustomAggregations("c", "ns/src"), 120 * time.Second},
		{k.CustomMeta("c", "ns/src"), 120 * time.Second},
		{k.Events("c"), EventsTTL},
		{k.RegistriesAll(), none},
		{k.RegistrySpec("quay"), none},
		{k.RegistryStatus("quay"), 120 * time.Second},
		{k.RegistryMeta("quay"), none},
		{k.RegistryEvents("quay"), EventsTTL},
	}
	for _, tt := range tests {
		t.Run(tt.key[len(r.Prefix):], func(t *testing.T) {
			got, err := r.Client.TTL(ctx, tt.key).Result()
			if err != nil {
				t.Fatal(err)
			}
			// A second may pass between the write and TTL; round up to the written value.
			if tt.want > 0 && got > tt.want-5*time.Second && got <= tt.want {
				got = tt.want
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("TTL mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRedisRestartDuringWrites stops a private redis-server while a writer loops, checks
// that writes fail with ErrUnavailable instead of silently succeeding, and that after a
// restart writes succeed and the state read back is complete.
func TestRedisRestartDuringWrites(t *testing.T) {
	srv := testenv.StartRedisServer(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, DialTimeout: 500 * time.Millisecond, MaxRetries: 1})
	t.Cleanup(func() { client.Close() })
	s := New(client, Options{Prefix: testenv.Name(t) + ":", Clock: testClock})
	ctx := ctxT(t)

	type result struct {
		gen string
		err error
	}
	results := make(chan result, 1<<16)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			gen := strconv.Itoa(1 + i%2)
			nodes := []string{"n1", "n2", "n3"}[:1+i%3]
			err := s.WriteCluster(ctx, "c", fullState(gen, nodes...))
			select {
			case results <- result{gen, err}:
			default:
			}
		}
	}()

	waitFor := func(what string, pred func(result) bool) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, func() error {
			for {
				select {
				case r := <-results:
					if pred(r) {
						return nil
					}
				default:
					return fmt.Errorf("no write %s yet", what)
				}
			}
		})
	}
	waitFor("succeeded", func(r result) bool { return r.err == nil })
	srv.Stop()
	var failure error
	waitFor("failed", func(r result) bool { failure = r.err; return r.err != nil })
	if !errors.Is(failure, engine.ErrUnavailable) {
		t.Errorf("write while Redis is down: error %v, want ErrUnavailable", failure)
	}
	srv.Start()
	waitFor("succeeded after restart", func(r result) bool { return r.err == nil })
	close(stop)
	<-done

	st, err := s.ReadCluster(ctx, "c")
	if err != nil {
		t.Fatalf("ReadCluster after restart: %v", err)
	}
	gens := generations(st)
	gen := gens["status"]
	for part, g := range gens {
		if g != gen {
			t.Errorf("part %s has generation %s, status has %s", part, g, gen)
		}
	}
	if len(gens) != 11+len(st.Nodes) || len(st.Nodes) == 0 {
		t.Errorf("state after restart is incomplete: %v", gens)
	}
}

func TestUnavailable(t *testing.T) {
	// Port 1 on loopback refuses connections: a real network error, no server needed.
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	defer client.Close()
	s := New(client, Options{})
	ctx := ctxT(t)
	checks := map[string]error{
		"WriteCluster":  s.WriteCluster(ctx, "c", fullState("1", "n1")),
		"DeleteCluster": s.DeleteCluster(ctx, "c"),
		"Ping":          s.Ping(ctx),
	}
	_, checks["ReadCluster"] = s.ReadCluster(ctx, "c")
	_, checks["AcquireLease"] = s.AcquireLease(ctx, "l", "o", time.Second)
	_, checks["RenewLease"] = s.RenewLease(ctx, "l", "o", time.Second)
	_, checks["MarkOnce"] = s.MarkOnce(ctx, "k", time.Second)
	_, checks["Presence"] = s.Presence(ctx, "collector", "c", &struct{}{})
	for name, err := range checks {
		if !errors.Is(err, engine.ErrUnavailable) {
			t.Errorf("%s error = %v, want ErrUnavailable", name, err)
		}
	}
}
