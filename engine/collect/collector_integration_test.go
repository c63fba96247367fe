package collect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// request is one HTTP request seen by recorder.
type request struct {
	Method, Path, Query, Accept, ContentType string
}

// recorder is a RoundTripper that records every request and the response content type.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []request
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	rec := request{Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, Accept: req.Header.Get("Accept")}
	if resp != nil {
		rec.ContentType = resp.Header.Get("Content-Type")
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) requests(path string) []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []request
	for _, q := range r.reqs {
		if q.Path == path {
			out = append(out, q)
		}
	}
	return out
}

// fixture is a seeded cluster: nodes, pods and workloads in the test namespace, OLM objects,
// a ClusterVersion and ClusterOperators, with the values a collection must report.
type fixture struct {
	kube       *testenv.Kube
	nodes      map[string]engine.Node // expected, without Timestamp
	counts     engine.NamespaceCounts
	operators  []engine.Operator
	clusterOps []engine.ClusterOperator
	info       engine.ClusterInfo
	pods       int
}

const (
	seedNodes       = 20
	seedPods        = 300
	seedUnscheduled = 5
)

// parallel runs fn(0..n-1) on 16 goroutines and fails the test on the first error.
func parallel(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = fn(i)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func seedNode(name string, i int) *corev1.Node {
	labels := map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/arch": "amd64", "node-role.kubernetes.io/worker": ""}
	if i%5 == 0 {
		labels["node-role.kubernetes.io/infra"] = ""
	}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: map[string]string{"clusterpulse.io/seed": fmt.Sprint(i)}},
		Spec:       corev1.NodeSpec{Unschedulable: i%10 == 9},
	}
	if i%4 == 1 {
		n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "batch", Effect: corev1.TaintEffectNoSchedule}}
	}
	ready := corev1.ConditionTrue
	if i%7 == 3 {
		ready = corev1.ConditionFalse
	}
	since := metav1.NewTime(time.Date(2026, 1, 20, 8, i, 0, 0, time.UTC))
	n.Status = corev1.NodeStatus{
		Capacity: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"),
			corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"), corev1.ResourcePods: resource.MustParse("110"),
		},
		Allocatable: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("7500m"), corev1.ResourceMemory: resource.MustParse("30Gi"),
			corev1.ResourceEphemeralStorage: resource.MustParse("90Gi"), corev1.ResourcePods: resource.MustParse("110"),
		},
		Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available", LastTransitionTime: since, LastHeartbeatTime: since},
			{Type: corev1.NodeReady, Status: ready, Reason: "KubeletReady", Message: "kubelet is posting ready status", LastTransitionTime: since, LastHeartbeatTime: since},
		},
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("10.1.0.%d", i+1)},
			{Type: corev1.NodeHostName, Address: name},
		},
		NodeInfo: corev1.NodeSystemInfo{
			KernelVersion: "5.14.0-427.50.1.el9_4.x86_64", OSImage: "Red Hat Enterprise Linux CoreOS 417.94",
			ContainerRuntimeVersion: "cri-o://1.30.9", KubeletVersion: "v1.30.7", Architecture: "amd64",
			OperatingSystem: "linux", MachineID: fmt.Sprintf("m%d", i), SystemUUID: fmt.Sprintf("u%d", i), BootID: fmt.Sprintf("b%d", i),
		},
	}
	if i%2 == 0 {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: fmt.Sprintf("203.0.113.%d", i+1)})
	}
	for k := range i%4 + 1 {
		n.Status.Images = append(n.Status.Images, corev1.ContainerImage{Names: []string{fmt.Sprintf("quay.io/acme/img-%d@sha256:%064d", k, k)}, SizeBytes: 1 << 20})
	}
	for k := range i % 3 {
		n.Status.VolumesAttached = append(n.Status.VolumesAttached, corev1.AttachedVolume{Name: corev1.UniqueVolumeName(fmt.Sprintf("kubernetes.io/csi/ebs.csi.aws.com^vol-%d-%d", i, k))})
	}
	return n
}

// seedPod returns pod j of the namespace: on node j%seedNodes (none for the unscheduled ones),
// with one or two containers (and sometimes an init container that must not count).
func seedPod(ns string, nodeNames []string, j int) (*corev1.Pod, corev1.PodPhase) {
	req := func(cpu, mem string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%03d", j), Namespace: ns, Labels: map[string]string{"app": fmt.Sprintf("app-%d", j%6)}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "main", Image: "busybox:1.36", Resources: req(fmt.Sprintf("%dm", 50+j%7*25), fmt.Sprintf("%dMi", 64+j%5*32))}},
		},
	}
	if j%3 == 0 {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "sidecar", Image: "envoyproxy/envoy:v1.32.1", Resources: req("0.1", "100M")})
	}
	if j%4 == 0 {
		p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox:1.36", Resources: req("2", "2Gi")}}
	}
	phase := []corev1.PodPhase{corev1.PodRunning, corev1.PodRunning, corev1.PodRunning, corev1.PodRunning, corev1.PodRunning, corev1.PodRunning,
		corev1.PodPending, corev1.PodPending, corev1.PodSucceeded, corev1.PodFailed}[j%10]
	if j < seedPods {
		p.Spec.NodeName = nodeNames[j%seedNodes]
	} else {
		phase = corev1.PodPending
	}
	return p, phase
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	k := testenv.NewKube(t)
	testenv.InstallCRDs(t, filepath.Join("testdata", "crds"))
	ctx := context.Background()
	cs, ns := k.Client, k.Namespace
	f := &fixture{kube: k, nodes: map[string]engine.Node{}}

	// No controller-manager: the pods' service account must exist for admission.
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create service account: %v", err)
	}

	// Nodes are cluster-scoped and shared with other tests: unique names, deleted at the end.
	names := make([]string, seedNodes)
	for i := range names {
		names[i] = fmt.Sprintf("%s-n%02d", ns, i)
	}
	t.Cleanup(func() {
		for _, n := range names {
			_ = cs.CoreV1().Nodes().Delete(context.Background(), n, metav1.DeleteOptions{})
		}
	})
	// The API server adds taints of its own on create (node.kubernetes.io/not-ready): the
	// expected taints are those it stored.
	storedTaints := make([][]corev1.Taint, seedNodes)
	parallel(t, seedNodes, func(i int) error {
		want := seedNode(names[i], i)
		created, err := cs.CoreV1().Nodes().Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create node: %w", err)
		}
		created.Status = want.Status
		updated, err := cs.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("update node status: %w", err)
		}
		storedTaints[i] = updated.Spec.Taints
		return nil
	})

	// Expected node values, computed independently of the package: requests summed as
	// quantities over the containers of Running and Pending pods.
	type sums struct {
		cpu, mem                                        resource.Quantity
		running, pending, failed, succeeded, total, all int
	}
	perNode := map[string]*sums{}
	for _, n := range names {
		perNode[n] = &sums{}
	}
	f.counts = engine.NamespaceCounts{Name: ns, PodsByPhase: map[string]int{}}
	f.pods = seedPods + seedUnscheduled
	parallel(t, f.pods, func(j int) error {
		p, phase := seedPod(ns, names, j)
		created, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create pod: %w", err)
		}
		created.Status.Phase = phase
		if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update pod status: %w", err)
		}
		return nil
	})
	for j := range f.pods {
		p, phase := seedPod(ns, names, j)
		f.counts.Pods++
		f.counts.PodsByPhase[string(phase)]++
		s := perNode[p.Spec.NodeName]
		if s == nil {
			continue
		}
		s.total++
		switch phase {
		case corev1.PodRunning:
			s.running++
		case corev1.PodPending:
			s.pending++
		case corev1.PodFailed:
			s.failed++
		case corev1.PodSucceeded:
			s.succeeded++
		}
		if phase == corev1.PodRunning || phase == corev1.PodPending {
			for _, c := range p.Spec.Containers {
				s.cpu.Add(c.Resources.Requests[corev1.ResourceCPU])
				s.mem.Add(c.Resources.Requests[corev1.ResourceMemory])
			}
		}
	}
	for i, name := range names {
		seed := seedNode(name, i)
		s := perNode[name]
		status := engine.NodeReady
		if seed.Status.Conditions[1].Status != corev1.ConditionTrue {
			status = engine.NodeNotReady
		}
		if seed.Spec.Unschedulable {
			status = engine.NodeSchedulingDisabled
		}
		roles := []string{"worker"}
		if i%5 == 0 {
			roles = []string{"infra", "worker"}
		}
		var conds []engine.NodeCondition
		for _, c := range seed.Status.Conditions {
			conds = append(conds, engine.NodeCondition{Type: string(c.Type), Status: string(c.Status), Reason: c.Reason, Message: c.Message, LastTransitionTime: engine.NewTime(c.LastTransitionTime.Time)})
		}
		taints := []engine.Taint{}
		for _, tn := range storedTaints[i] {
			taints = append(taints, engine.Taint{Key: tn.Key, Value: tn.Value, Effect: string(tn.Effect)})
		}
		external := ""
		if i%2 == 0 {
			external = fmt.Sprintf("203.0.113.%d", i+1)
		}
		cpu := float64(s.cpu.MilliValue()) / 1000
		mem := s.mem.Value()
		f.nodes[name] = engine.Node{
			Name: name, Status: status, Roles: roles, Conditions: conds,
			CPUCapacity: 8, MemoryCapacity: 32 << 30, StorageCapacity: 100 << 30, PodsCapacity: 110,
			CPUAllocatable: 7.5, MemoryAllocatable: 30 << 30, StorageAllocatable: 90 << 30, PodsAllocatable: 110,
			CPURequested: cpu, MemoryRequested: mem,
			CPUUsagePercent: cpu / 7.5 * 100, MemoryUsagePercent: float64(mem) / float64(30<<30) * 100,
			PodsRunning: s.running, PodsPending: s.pending, PodsFailed: s.failed, PodsSucceeded: s.succeeded, PodsTotal: s.total,
			KernelVersion: "5.14.0-427.50.1.el9_4.x86_64", OSImage: "Red Hat Enterprise Linux CoreOS 417.94",
			ContainerRuntime: "cri-o://1.30.9", KubeletVersion: "v1.30.7", Architecture: "amd64",
			Labels: seed.Labels, Annotations: seed.Annotations, Taints: taints,
			InternalIP: fmt.Sprintf("10.1.0.%d", i+1), ExternalIP: external, Hostname: name,
			ImagesCount: i%4 + 1, VolumesAttached: i % 3,
		}
	}

	seedWorkloads(t, f)
	seedOLM(t, f)
	seedOpenShift(t, f)
	return f
}

func seedWorkloads(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	cs, ns := f.kube.Client, f.kube.Namespace
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "w"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
	}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "w"}}
	zero := int32(0)
	for i := range 3 {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("deploy-%d", i)}, Spec: appsv1.DeploymentSpec{Replicas: &zero, Selector: sel, Template: tmpl}}
		if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create deployment: %v", err)
		}
	}
	for i := range 2 {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%d", i)}, Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "w"}, Ports: []corev1.ServicePort{{Port: 80}}}}
		if _, err := cs.CoreV1().Services(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create service: %v", err)
		}
	}
	ss := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: appsv1.StatefulSetSpec{Replicas: &zero, Selector: sel, Template: tmpl, ServiceName: "svc-0"}}
	if _, err := cs.AppsV1().StatefulSets(ns).Create(ctx, ss, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create statefulset: %v", err)
	}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent"}, Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tmpl}}
	if _, err := cs.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create daemonset: %v", err)
	}
	f.counts.Deployments, f.counts.Services, f.counts.StatefulSets, f.counts.DaemonSets = 3, 2, 1, 1
}

// createWithStatus creates obj and then writes its status through the status subresource.
func createWithStatus(t *testing.T, ri dynamic.ResourceInterface, obj map[string]any) *unstructured.Unstructured {
	t.Helper()
	ctx := context.Background()
	u := &unstructured.Unstructured{Object: obj}
	status, hasStatus := obj["status"]
	created, err := ri.Create(ctx, u, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create %s %s: %v", u.GetKind(), u.GetName(), err)
	}
	if !hasStatus {
		return created
	}
	created.Object["status"] = status
	updated, err := ri.UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update status of %s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return updated
}

func seedOLM(t *testing.T, f *fixture) {
	t.Helper()
	dc, ns := f.kube.Dynamic, f.kube.Namespace
	subs, csvs := dc.Resource(SubscriptionGVR).Namespace(ns), dc.Resource(CSVGVR).Namespace(ns)
	sub := func(name, csv string, env []any) map[string]any {
		spec := map[string]any{"channel": "stable", "name": name, "source": "community-operators", "sourceNamespace": "openshift-marketplace"}
		if env != nil {
			spec["config"] = map[string]any{"env": env}
		}
		return map[string]any{
			"apiVersion": "operators.coreos.com/v1alpha1", "kind": "Subscription",
			"metadata": map[string]any{"name": name},
			"spec":     spec,
			"status":   map[string]any{"installedCSV": csv, "currentCSV": csv, "state": "AtLatestKnown"},
		}
	}
	modes := func(all bool) []any {
		return []any{
			map[string]any{"type": "OwnNamespace", "supported": true},
			map[string]any{"type": "SingleNamespace", "supported": true},
			map[string]any{"type": "MultiNamespace", "supported": false},
			map[string]any{"type": "AllNamespaces", "supported": all},
		}
	}
	csv := func(name, display, version string, all bool, annotations, labels map[string]any, phase string) map[string]any {
		return map[string]any{
			"apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion",
			"metadata": map[string]any{"name": name, "annotations": annotations, "labels": labels},
			"spec": map[string]any{
				"displayName": display, "version": version, "provider": map[string]any{"name": "Acme"}, "installModes": modes(all),
				"icon": []any{map[string]any{"base64data": strings.Repeat("A", 4096), "mediatype": "image/png"}},
			},
			"status": map[string]any{"phase": phase, "lastUpdateTime": "2026-02-13T10:00:00Z"},
		}
	}
	createWithStatus(t, subs, sub("cluster-wide", "cluster-wide.v1.0.0", nil))
	createWithStatus(t, subs, sub("watcher", "watcher.v2.1.0", []any{map[string]any{"name": "WATCH_NAMESPACE", "value": "a,b"}}))
	createWithStatus(t, subs, sub("copied", "copied.v0.1.0", nil))
	cw := createWithStatus(t, csvs, csv("cluster-wide.v1.0.0", "Cluster Wide", "1.0.0", true, map[string]any{"olm.targetNamespaces": ""}, nil, "Succeeded"))
	w := createWithStatus(t, csvs, csv("watcher.v2.1.0", "Watcher", "2.1.0", false, map[string]any{"olm.targetNamespaces": ns}, nil, "Installing"))
	// A copied CSV is excluded by the LIST's label selector, so its subscription finds no CSV.
	createWithStatus(t, csvs, csv("copied.v0.1.0", "Copied", "0.1.0", true, nil, map[string]any{"olm.copiedFrom": "elsewhere"}, "Succeeded"))

	updated := ts(t, "2026-02-13T10:00:00Z")
	f.operators = []engine.Operator{
		{
			Name: "cluster-wide.v1.0.0", DisplayName: "Cluster Wide", Version: "1.0.0", Status: "Succeeded",
			Namespace: ns, InstalledNamespace: ns, InstallModes: []string{"OwnNamespace", "SingleNamespace", "AllNamespaces"},
			InstallMode: engine.InstallModeAllNamespaces, Provider: "Acme",
			CreatedAt: engine.NewTime(cw.GetCreationTimestamp().Time), UpdatedAt: updated,
			IsClusterWide: true, AvailableInNamespaces: []string{"*"}, AvailableNamespacesDetail: "All namespaces",
		},
		{
			Name: "copied.v0.1.0", DisplayName: "copied", Status: "Unknown", Namespace: ns, InstalledNamespace: ns,
			InstallModes: []string{}, InstallMode: engine.InstallModeSingleNamespace,
			AvailableInNamespaces: []string{ns}, AvailableCount: 1, AvailableNamespacesDetail: ns,
		},
		{
			Name: "watcher.v2.1.0", DisplayName: "Watcher", Version: "2.1.0", Status: "Installing",
			Namespace: ns, InstalledNamespace: ns, InstallModes: []string{"OwnNamespace", "SingleNamespace"},
			InstallMode: engine.InstallModeSingleNamespace, Provider: "Acme",
			CreatedAt: engine.NewTime(w.GetCreationTimestamp().Time), UpdatedAt: updated,
			AvailableInNamespaces: []string{"a", "b"}, AvailableCount: 2, AvailableNamespacesDetail: "a, b",
		},
	}
}

func seedOpenShift(t *testing.T, f *fixture) {
	// The ClusterVersion "version" is a singleton of the shared apiserver: hold the lock until
	// this test ends so no other package rewrites it between seeding and checking.
	testenv.Lock(t, "clusterversion")
	t.Helper()
	ctx := context.Background()
	dc, ns := f.kube.Dynamic, f.kube.Namespace
	cos := dc.Resource(ClusterOperatorGVR)
	names := []string{ns + "-dns", ns + "-etcd"}
	t.Cleanup(func() {
		for _, n := range names {
			_ = cos.Delete(context.Background(), n, metav1.DeleteOptions{})
		}
	})
	cond := func(typ, status, reason, msg, at string) map[string]any {
		return map[string]any{"type": typ, "status": status, "reason": reason, "message": msg, "lastTransitionTime": at}
	}
	createWithStatus(t, cos, map[string]any{
		"apiVersion": "config.openshift.io/v1", "kind": "ClusterOperator", "metadata": map[string]any{"name": names[0]}, "spec": map[string]any{},
		"status": map[string]any{
			"conditions": []any{
				cond("Available", "True", "AsExpected", "DNS is available", "2026-01-10T13:01:00Z"),
				cond("Progressing", "False", "AsExpected", "", "2026-01-10T13:02:30Z"),
				cond("Degraded", "False", "AsExpected", "", "2025-06-02T14:20:00Z"),
			},
			"versions":       []any{map[string]any{"name": "operator", "version": "4.17.12"}},
			"relatedObjects": []any{map[string]any{"group": "", "resource": "namespaces", "name": "openshift-dns"}},
		},
	})
	createWithStatus(t, cos, map[string]any{
		"apiVersion": "config.openshift.io/v1", "kind": "ClusterOperator", "metadata": map[string]any{"name": names[1]}, "spec": map[string]any{},
		"status": map[string]any{
			"conditions": []any{
				cond("Available", "True", "AsExpected", "", "2026-01-10T13:00:00Z"),
				cond("Degraded", "True", "EtcdMembersDegraded", "2 of 3 members are available", "2026-02-13T09:58:00Z"),
				cond("Upgradeable", "False", "EtcdMembersDegraded", "not while degraded", "2026-02-13T09:58:01Z"),
			},
			"versions": []any{map[string]any{"name": "raw-internal", "version": "4.17.12"}, map[string]any{"name": names[1], "version": "4.17.11"}},
		},
	})
	f.clusterOps = []engine.ClusterOperator{
		{
			Name: names[0], Version: "4.17.12", Available: true, Upgradeable: true,
			LastTransitionTime: ts(t, "2026-01-10T13:02:30Z"),
			Conditions: []engine.ClusterOperatorCondition{
				{Type: "Available", Status: "True", Reason: "AsExpected", Message: "DNS is available", LastTransitionTime: ts(t, "2026-01-10T13:01:00Z")},
				{Type: "Progressing", Status: "False", Reason: "AsExpected", LastTransitionTime: ts(t, "2026-01-10T13:02:30Z")},
				{Type: "Degraded", Status: "False", Reason: "AsExpected", LastTransitionTime: ts(t, "2025-06-02T14:20:00Z")},
			},
			Versions:       []engine.ClusterOperatorVersion{{Name: "operator", Version: "4.17.12"}},
			RelatedObjects: []engine.RelatedObject{{Resource: "namespaces", Name: "openshift-dns"}},
		},
		{
			Name: names[1], Version: "4.17.11", Available: true, Degraded: true,
			Message: "2 of 3 members are available", Reason: "EtcdMembersDegraded",
			LastTransitionTime: ts(t, "2026-02-13T09:58:01Z"),
			Conditions: []engine.ClusterOperatorCondition{
				{Type: "Available", Status: "True", Reason: "AsExpected", LastTransitionTime: ts(t, "2026-01-10T13:00:00Z")},
				{Type: "Degraded", Status: "True", Reason: "EtcdMembersDegraded", Message: "2 of 3 members are available", LastTransitionTime: ts(t, "2026-02-13T09:58:00Z")},
				{Type: "Upgradeable", Status: "False", Reason: "EtcdMembersDegraded", Message: "not while degraded", LastTransitionTime: ts(t, "2026-02-13T09:58:01Z")},
			},
			Versions:       []engine.ClusterOperatorVersion{{Name: "raw-internal", Version: "4.17.12"}, {Name: names[1], Version: "4.17.11"}},
			RelatedObjects: []engine.RelatedObject{},
		},
	}

	// The ClusterVersion must be named "version", so it is shared: create or update it, with
	// this test's namespace as channel and cluster id.
	cvs := dc.Resource(ClusterVersionGVR)
	spec := map[string]any{"channel": "stable-" + ns, "clusterID": ns}
	status := map[string]any{
		"desired":          map[string]any{"version": "4.17.12", "image": "quay.io/openshift-release-dev/ocp-release@sha256:3f1c"},
		"availableUpdates": []any{map[string]any{"version": "4.17.14"}, map[string]any{"version": "4.17.13"}},
		"history": []any{map[string]any{
			"state": "Completed", "version": "4.17.12", "startedTime": "2026-01-10T12:00:00Z", "completionTime": "2026-01-10T13:12:44Z",
		}},
		"conditions": []any{
			cond("Available", "True", "", "Done applying 4.17.12", "2026-01-10T13:12:44Z"),
			cond("Failing", "False", "", "", "2026-01-10T13:05:10Z"),
			cond("Progressing", "False", "", "Cluster version is 4.17.12", "2026-01-10T13:12:44Z"),
		},
		"observedGeneration": int64(1),
		"versionHash":        "x",
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		cv, err := cvs.Get(ctx, ClusterVersionName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			createWithStatus(t, cvs, map[string]any{
				"apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion",
				"metadata": map[string]any{"name": ClusterVersionName}, "spec": spec, "status": status,
			})
			return nil
		}
		if err != nil {
			return err
		}
		cv.Object["spec"] = spec
		if cv, err = cvs.Update(ctx, cv, metav1.UpdateOptions{}); err != nil {
			return err
		}
		cv.Object["status"] = status
		_, err = cvs.UpdateStatus(ctx, cv, metav1.UpdateOptions{})
		return err
	})
	f.info = engine.ClusterInfo{
		APIURL: f.kube.Config.Host, Version: "4.17.12", Platform: engine.PlatformOpenShift,
		Channel: "stable-" + ns, ClusterID: ns, Image: "quay.io/openshift-release-dev/ocp-release@sha256:3f1c",
		UpdateAvailable: ptr(true), AvailableUpdateVersion: "4.17.14", AvailableUpdates: []string{"4.17.14", "4.17.13"},
		VersionState: "Completed", VersionStartedTime: ts(t, "2026-01-10T12:00:00Z"), VersionCompletionTime: ts(t, "2026-01-10T13:12:44Z"),
		Conditions: []engine.ClusterOperatorCondition{
			{Type: "Available", Status: "True", Message: "Done applying 4.17.12", LastTransitionTime: ts(t, "2026-01-10T13:12:44Z")},
			{Type: "Failing", Status: "False", LastTransitionTime: ts(t, "2026-01-10T13:05:10Z")},
			{Type: "Progressing", Status: "False", Message: "Cluster version is 4.17.12", LastTransitionTime: ts(t, "2026-01-10T13:12:44Z")},
		},
		IsProgressing: ptr(false), IsDegraded: ptr(false), IsAvailable: ptr(true),
		// The endpoint is 127.0.0.1, not api.<domain>, and there is no console Route.
	}
}

// check compares the part of res that belongs to the fixture with the expected values.
func (f *fixture) check(t *testing.T, res *Result, now time.Time) {
	t.Helper()
	ns := f.kube.Namespace
	st := res.State

	var mine []engine.Node
	for _, n := range st.Nodes {
		if _, ok := f.nodes[n.Name]; ok {
			mine = append(mine, n)
		}
	}
	var want []engine.Node
	for _, n := range f.nodes {
		n.Timestamp = engine.NewTime(now)
		want = append(want, n)
	}
	slices.SortFunc(want, func(a, b engine.Node) int { return strings.Compare(a.Name, b.Name) })
	if diff := cmp.Diff(want, mine, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("nodes mismatch (-want +got):\n%s", diff)
	}
	if !slices.IsSortedFunc(st.Nodes, func(a, b engine.Node) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("nodes are not sorted by name")
	}

	var counts []engine.NamespaceCounts
	for _, c := range st.NamespaceCounts {
		if c.Name == ns {
			counts = append(counts, c)
		}
	}
	if diff := cmp.Diff([]engine.NamespaceCounts{f.counts}, counts); diff != "" {
		t.Errorf("namespace counts mismatch (-want +got):\n%s", diff)
	}
	if st.Namespaces == nil || !slices.Contains(st.Namespaces.Namespaces, ns) {
		t.Errorf("namespace list %v lacks %s", st.Namespaces, ns)
	}

	m := st.Metrics
	if m == nil {
		t.Fatalf("no cluster metrics")
	}
	if m.Nodes < seedNodes || m.Pods < f.pods || m.Deployments < 3 || m.Namespaces < 1 || m.Nodes != len(st.Nodes) || m.Namespaces != st.Namespaces.Count {
		t.Errorf("cluster metrics %+v do not cover the seeded objects", *m)
	}
	var cpu float64
	for _, n := range st.Nodes {
		cpu += n.CPUCapacity
	}
	if m.CPUCapacity != cpu || !m.Timestamp.Equal(engine.NewTime(now)) {
		t.Errorf("cluster metrics cpu %v at %v, want %v at %v", m.CPUCapacity, m.Timestamp, cpu, now)
	}

	var ops []engine.Operator
	for _, o := range st.Operators {
		if o.InstalledNamespace == ns {
			ops = append(ops, o)
		}
	}
	if diff := cmp.Diff(f.operators, ops); diff != "" {
		t.Errorf("operators mismatch (-want +got):\n%s", diff)
	}
	var cos []engine.ClusterOperator
	for _, co := range st.ClusterOperators {
		if strings.HasPrefix(co.Name, ns+"-") {
			cos = append(cos, co)
		}
	}
	if diff := cmp.Diff(f.clusterOps, cos); diff != "" {
		t.Errorf("cluster operators mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&f.info, st.Info); diff != "" {
		t.Errorf("cluster info mismatch (-want +got):\n%s", diff)
	}
}

// TestCollectOnAPIServer seeds a cluster and collects it with small pages through a recording
// transport: every value of the seeded objects comes back, the pod LIST is paginated in
// protobuf, and OLM is read with one paginated LIST per kind and no per-item GET.
func TestCollectOnAPIServer(t *testing.T) {
	f := newFixture(t)
	cfg := rest.CopyConfig(f.kube.Config)
	rec := &recorder{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { rec.next = rt; return rec })
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	now := time.Date(2026, 2, 13, 10, 4, 5, 0, time.UTC)
	const pageSize = 50
	res, err := c.Collect(context.Background(), Options{PageSize: pageSize, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if len(res.Errors) > 0 {
		t.Errorf("soft errors: %v", res.Errors)
	}
	for _, part := range []string{PartNodes, PartPods, PartNamespaces, PartDeployments, PartServices, PartStatefulSets, PartDaemonSets, PartNodeMetrics, PartInfo, PartOperators, PartClusterOperators} {
		if _, ok := res.Timings[part]; !ok {
			t.Errorf("no timing for %s", part)
		}
	}
	f.check(t, res, now)
	// metrics.k8s.io is not served here: no real usage, and no error.
	for _, n := range res.State.Nodes {
		if n.CPUUsed != nil || n.MemoryUsed != nil {
			t.Errorf("node %s has real usage %v/%v without metrics.k8s.io", n.Name, n.CPUUsed, n.MemoryUsed)
		}
	}

	pods := rec.requests("/api/v1/pods")
	if min := (f.pods + pageSize - 1) / pageSize; len(pods) < min {
		t.Errorf("pod LIST took %d requests, want at least %d pages of %d", len(pods), min, pageSize)
	}
	for i, r := range pods {
		if !strings.Contains(r.Query, fmt.Sprintf("limit=%d", pageSize)) || (i > 0) != strings.Contains(r.Query, "continue=") {
			t.Errorf("pod LIST request %d has query %q", i, r.Query)
		}
		if !strings.HasPrefix(r.Accept, protobufContentType) || !strings.HasPrefix(r.ContentType, protobufContentType) {
			t.Errorf("pod LIST request %d: Accept %q, response %q; want protobuf", i, r.Accept, r.ContentType)
		}
	}
	csvReqs := rec.requests("/apis/operators.coreos.com/v1alpha1/clusterserviceversions")
	if len(csvReqs) == 0 || !strings.Contains(csvReqs[0].Query, "labelSelector=%21olm.copiedFrom") {
		t.Errorf("CSV LIST requests %+v, want a label selector excluding copied CSVs", csvReqs)
	}
	if len(rec.requests("/apis/operators.coreos.com/v1alpha1/subscriptions")) == 0 {
		t.Errorf("no cluster-wide subscription LIST")
	}
	rec.mu.Lock()
	for _, r := range rec.reqs {
		if strings.Contains(r.Path, "/namespaces/") && (strings.Contains(r.Path, "/subscriptions/") || strings.Contains(r.Path, "/clusterserviceversions/")) {
			t.Errorf("per-item OLM request %s %s", r.Method, r.Path)
		}
	}
	rec.mu.Unlock()
}

// TestCollectLeastPrivilege collects with a service account token bound to a ClusterRole
// made of PolicyRules (full, and with rules removed): the full rules read every part; a soft
// part without rights is reported as forbidden and leaves the rest intact; without node
// rights the pass fails.
func TestCollectLeastPrivilege(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cs, ns := f.kube.Client, f.kube.Namespace
	now := time.Date(2026, 2, 13, 10, 4, 5, 0, time.UTC)

	without := func(group, resource string) []rbacv1.PolicyRule {
		var out []rbacv1.PolicyRule
		for _, r := range PolicyRules() {
			if slices.Contains(r.APIGroups, group) {
				r.Resources = slices.DeleteFunc(slices.Clone(r.Resources), func(s string) bool { return s == resource })
				if len(r.Resources) == 0 {
					continue
				}
			}
			out = append(out, r)
		}
		return out
	}
	tests := []struct {
		name     string
		rules    []rbacv1.PolicyRule
		wantErr  error
		wantSoft map[string]error
	}{
		{name: "full", rules: PolicyRules(), wantSoft: map[string]error{}},
		{name: "no services", rules: without("", "services"), wantSoft: map[string]error{PartServices: engine.ErrForbidden}},
		{name: "no OLM", rules: without(SubscriptionGVR.Group, SubscriptionGVR.Resource), wantSoft: map[string]error{PartOperators: engine.ErrForbidden}},
		{name: "no pods", rules: without("", "pods"), wantErr: engine.ErrForbidden, wantSoft: map[string]error{PartPods: engine.ErrForbidden}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("%s-%d", ns, i)
			sa, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("collector-%d", i)}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create service account: %v", err)
			}
			if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: tt.rules}, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create cluster role: %v", err)
			}
			t.Cleanup(func() { _ = cs.RbacV1().ClusterRoles().Delete(context.Background(), name, metav1.DeleteOptions{}) })
			binding := &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: ns}},
			}
			if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create cluster role binding: %v", err)
			}
			t.Cleanup(func() {
				_ = cs.RbacV1().ClusterRoleBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
			})
			tok, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create token: %v", err)
			}
			admin := f.kube.Config
			cfg := &rest.Config{Host: admin.Host, BearerToken: tok.Status.Token, TLSClientConfig: rest.TLSClientConfig{CAFile: admin.CAFile, CAData: admin.CAData}}
			c, err := New(cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			// RBAC bindings take effect at once, but poll: the authorizer cache may lag.
			var res *Result
			testenv.Eventually(t, 10*time.Second, func() error {
				res, err = c.Collect(ctx, Options{Now: func() time.Time { return now }})
				if !errors.Is(err, tt.wantErr) {
					return fmt.Errorf("Collect error = %v, want %v", err, tt.wantErr)
				}
				if len(res.Errors) != len(tt.wantSoft) {
					return fmt.Errorf("part errors %v, want %v", res.Errors, tt.wantSoft)
				}
				for part, want := range tt.wantSoft {
					if !errors.Is(res.Errors[part], want) {
						return fmt.Errorf("Errors[%s] = %v, want %v", part, res.Errors[part], want)
					}
				}
				return nil
			})
			switch tt.name {
			case "full":
				f.check(t, res, now)
			case "no services":
				if res.State.NamespaceCounts != nil {
					t.Errorf("namespace counts written although services could not be counted")
				}
				if res.State.Metrics == nil || len(res.State.Nodes) < seedNodes || res.State.Operators == nil {
					t.Errorf("a soft failure dropped other parts: %+v", res.State)
				}
			case "no OLM":
				if res.State.Operators != nil || res.State.ClusterOperators == nil || res.State.Info == nil {
					t.Errorf("operators %v, cluster operators %v, info %v: want only operators nil", res.State.Operators, res.State.ClusterOperators, res.State.Info)
				}
			case "no pods":
				if res.State.Nodes != nil || res.State.Metrics != nil || res.State.NamespaceCounts != nil {
					t.Errorf("node state written although pods could not be read")
				}
			}
		})
	}
}

// TestCollectNotServed collects a cluster whose OLM, OpenShift and metrics APIs are not
// served, through a transport that answers 404 for those groups as an API server without the
// CRDs does: nothing is reported as an error, operators and cluster operators are empty, and
// the info comes from /version.
func TestCollectNotServed(t *testing.T) {
	k := testenv.NewKube(t)
	cfg := rest.CopyConfig(k.Config)
	hidden := []string{"/apis/operators.coreos.com/", "/apis/config.openshift.io/", "/apis/route.openshift.io/", "/apis/metrics.k8s.io/"}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			for _, h := range hidden {
				if strings.HasPrefix(req.URL.Path, h) {
					return notFound(req), nil
				}
			}
			return rt.RoundTrip(req)
		})
	})
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	res, err := c.Collect(context.Background(), Options{APIURL: "https://api.kind.example.com:6443"})
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if len(res.Errors) > 0 {
		t.Errorf("errors for APIs that are not served: %v", res.Errors)
	}
	got := struct {
		Operators        []engine.Operator
		ClusterOperators []engine.ClusterOperator
		Platform, URL    string
		Console          string
	}{res.State.Operators, res.State.ClusterOperators, res.State.Info.Platform, res.State.Info.APIURL, res.State.Info.ConsoleURL}
	want := struct {
		Operators        []engine.Operator
		ClusterOperators []engine.ClusterOperator
		Platform, URL    string
		Console          string
	}{[]engine.Operator{}, []engine.ClusterOperator{}, engine.PlatformKubernetes, "https://api.kind.example.com:6443", ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("not-served collection mismatch (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(res.State.Info.Version, "v1.") {
		t.Errorf("info version %q, want the server's gitVersion", res.State.Info.Version)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// notFound is the 404 Status an API server returns for a resource it does not serve.
func notFound(req *http.Request) *http.Response {
	body := `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}`
	return &http.Response{
		StatusCode: http.StatusNotFound, Status: "404 Not Found", Request: req,
		Header: http.Header{"Content-Type": []string{"application/json"}},
		Body:   io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
	}
}
