package jobs

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/collect"
	"github.com/clusterpulse/clusterpulse/engine/history"
	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/store"
	"github.com/clusterpulse/clusterpulse/testenv"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of the job pull tests")

// pullEnv is a hub namespace (ClusterConnections and their Secrets), a "managed cluster"
// namespace on the same kube-apiserver reached through a service account token, a Redis prefix
// and the environment a job run gets.
type pullEnv struct {
	hub, managed *testenv.Kube
	redis        *testenv.Redis
	store        *store.Store
	env          map[string]string
	endpoint     string
	ca           []byte
}

func newPullEnv(t *testing.T) *pullEnv {
	t.Helper()
	testenv.InstallCRDs(t, "../deploy/crds")
	hub := testenv.NewKube(t)
	managed := testenv.NewKube(t)
	r := testenv.NewRedis(t)
	ca, err := os.ReadFile(os.Getenv(testenv.EnvKubeCAFile))
	if err != nil {
		t.Fatalf("read the kube-apiserver CA (%s): %v", testenv.EnvKubeCAFile, err)
	}
	host, port, _ := strings.Cut(r.Addr, ":")
	e := &pullEnv{
		hub: hub, managed: managed, redis: r,
		store:    store.New(r.Client, store.Options{Prefix: r.Prefix}),
		endpoint: os.Getenv(testenv.EnvKubeURL),
		ca:       ca,
		env: map[string]string{
			"NAMESPACE": hub.Namespace, "KUBECONFIG": kubeconfigPath(t),
			"REDIS_HOST": host, "REDIS_PORT": port, "REDIS_KEY_PREFIX": r.Prefix,
			"HOSTNAME": "test-pod", "LOG_LEVEL": "info",
		},
	}
	if e.endpoint == "" {
		t.Fatalf("%s is not set", testenv.EnvKubeURL)
	}
	return e
}

// token returns a token of a new service account of the managed namespace, bound to a
// ClusterRole with rules (none when rules is nil).
func (e *pullEnv) token(t *testing.T, sa string, rules []rbacv1.PolicyRule) string {
	t.Helper()
	ctx := context.Background()
	cs, ns := e.managed.Client, e.managed.Namespace
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create service account %s: %v", sa, err)
	}
	if rules != nil {
		name := ns + "-" + sa
		if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create cluster role: %v", err)
		}
		t.Cleanup(func() { _ = cs.RbacV1().ClusterRoles().Delete(context.Background(), name, metav1.DeleteOptions{}) })
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}},
		}
		if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create cluster role binding: %v", err)
		}
		t.Cleanup(func() {
			_ = cs.RbacV1().ClusterRoleBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
		})
	}
	tok, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create token: %v", err)
	}
	return tok.Status.Token
}

// collectorToken returns a token with the least-privilege rules of a collector.
func (e *pullEnv) collectorToken(t *testing.T) string {
	t.Helper()
	return e.token(t, "collector", collect.PolicyRules())
}

func (e *pullEnv) secret(t *testing.T, name, token string, ca []byte) {
	t.Helper()
	data := map[string][]byte{kube.SecretKeyToken: []byte(token)}
	if ca != nil {
		data[kube.SecretKeyCA] = ca
	}
	if _, err := e.hub.Client.CoreV1().Secrets(e.hub.Namespace).Create(context.Background(),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create secret %s: %v", name, err)
	}
}

func (e *pullEnv) createCC(t *testing.T, name string, spec map[string]any) {
	t.Helper()
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": kube.GroupVersion.String(), "kind": "ClusterConnection",
		"metadata": map[string]any{"name": name, "namespace": e.hub.Namespace},
		"spec":     spec,
	}}
	if _, err := e.hub.Dynamic.Resource(kube.ClusterConnectionsGVR).Namespace(e.hub.Namespace).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ClusterConnection %s: %v", name, err)
	}
}

func (e *pullEnv) patchCC(t *testing.T, name string, patch string) {
	t.Helper()
	if _, err := e.hub.Dynamic.Resource(kube.ClusterConnectionsGVR).Namespace(e.hub.Namespace).Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch ClusterConnection %s: %v", name, err)
	}
}

func (e *pullEnv) ccStatus(t *testing.T, name string) kube.ClusterConnectionStatus {
	t.Helper()
	u, err := e.hub.Dynamic.Resource(kube.ClusterConnectionsGVR).Namespace(e.hub.Namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get ClusterConnection %s: %v", name, err)
	}
	cc, err := kube.Decode[kube.ClusterConnection](u)
	if err != nil {
		t.Fatal(err)
	}
	return cc.Status
}

func (e *pullEnv) run(t *testing.T, args ...string) (Summary, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Run(context.Background(), append([]string{"pull"}, args...), envFunc(e.env), &out, &errOut)
	if err != nil {
		t.Fatalf("job pull %q: %v\nstdout:\n%s\nstderr:\n%s", args, err, out.String(), errOut.String())
	}
	return lastSummary(t, out.String()), out.String()
}

// goodCluster creates the Secret collector-creds (a least-privilege token of the managed
// namespace and the apiserver CA) and a ClusterConnection using it for each name.
func (e *pullEnv) goodCluster(t *testing.T, names ...string) {
	t.Helper()
	tok := e.collectorToken(t)
	e.secret(t, "collector-creds", tok, e.ca)
	for _, n := range names {
		e.createCC(t, n, map[string]any{"endpoint": e.endpoint, "displayName": "Managed", "labels": map[string]any{"env": "test"},
			"credentialsRef": map[string]any{"name": "collector-creds"}, "monitoring": map[string]any{"timeout": 5}})
	}
}

func countEvents(t *testing.T, s *store.Store, cluster string) int {
	t.Helper()
	evs, err := s.Events(context.Background(), cluster, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

var progressRE = regexp.MustCompile(`(?m)^pull (\S+): (\w+) in (\S+?)(?::|$)`)

// progress parses the progress lines of stdout: unit → outcome and duration.
func progress(t *testing.T, out string) map[string]struct {
	outcome string
	took    time.Duration
} {
	t.Helper()
	m := map[string]struct {
		outcome string
		took    time.Duration
	}{}
	for _, sm := range progressRE.FindAllStringSubmatch(out, -1) {
		d, err := time.ParseDuration(sm[3])
		if err != nil {
			t.Fatalf("progress line duration %q: %v", sm[3], err)
		}
		m[sm[1]] = struct {
			outcome string
			took    time.Duration
		}{sm[2], d}
	}
	return m
}

// parallelDo runs fn(0..n-1) on 32 goroutines and fails the test on the first error.
func parallelDo(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	sem := make(chan struct{}, 32)
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

const (
	pullSeedNodes = 50
	pullSeedPods  = 1500
)

// seedManaged creates pullSeedNodes nodes with realistic status (names prefixed with the
// managed namespace: nodes are cluster-scoped and shared) and pullSeedPods pods with requests
// and phases, bound to them.
func (e *pullEnv) seedManaged(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	cs, ns := e.managed.Client, e.managed.Namespace
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create default service account: %v", err)
	}
	names := make([]string, pullSeedNodes)
	for i := range names {
		names[i] = fmt.Sprintf("%s-n%02d", ns, i)
	}
	t.Cleanup(func() {
		for _, n := range names {
			_ = cs.CoreV1().Nodes().Delete(context.Background(), n, metav1.DeleteOptions{})
		}
	})
	parallelDo(t, pullSeedNodes, func(i int) error {
		want := benchNode(names[i], i)
		created, err := cs.CoreV1().Nodes().Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create node: %w", err)
		}
		created.Status = want.Status
		_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
		return err
	})
	parallelDo(t, pullSeedPods, func(j int) error {
		p, phase := benchPod(ns, names, j)
		created, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create pod: %w", err)
		}
		created.Status.Phase = phase
		_, err = cs.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{})
		return err
	})
	return names
}

// benchNode is node i of a seeded cluster: 8 cores, 32 GiB, conditions, addresses, system
// info, images and volumes, some cordoned, tainted or not ready.
func benchNode(name string, i int) *corev1.Node {
	labels := map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/arch": "amd64", "node-role.kubernetes.io/worker": "",
		"topology.kubernetes.io/zone": fmt.Sprintf("eu-west-1%c", 'a'+i%3)}
	if i%10 == 0 {
		labels["node-role.kubernetes.io/infra"] = ""
	}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: map[string]string{"clusterpulse.io/seed": strconv.Itoa(i)}},
		Spec:       corev1.NodeSpec{Unschedulable: i%17 == 16},
	}
	if i%6 == 1 {
		n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "batch", Effect: corev1.TaintEffectNoSchedule}}
	}
	ready := corev1.ConditionTrue
	if i%13 == 5 {
		ready = corev1.ConditionFalse
	}
	since := metav1.NewTime(time.Date(2026, 1, 20, 8, i%60, 0, 0, time.UTC))
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
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure", LastTransitionTime: since, LastHeartbeatTime: since},
			{Type: corev1.NodeReady, Status: ready, Reason: "KubeletReady", Message: "kubelet is posting ready status", LastTransitionTime: since, LastHeartbeatTime: since},
		},
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("10.2.%d.%d", i/250, i%250+1)},
			{Type: corev1.NodeHostName, Address: name},
		},
		NodeInfo: corev1.NodeSystemInfo{
			KernelVersion: "5.14.0-427.50.1.el9_4.x86_64", OSImage: "Red Hat Enterprise Linux CoreOS 417.94",
			ContainerRuntimeVersion: "cri-o://1.30.9", KubeletVersion: "v1.30.7", Architecture: "amd64",
			OperatingSystem: "linux", MachineID: fmt.Sprintf("m%d", i), SystemUUID: fmt.Sprintf("u%d", i), BootID: fmt.Sprintf("b%d", i),
		},
	}
	for k := range i%4 + 1 {
		n.Status.Images = append(n.Status.Images, corev1.ContainerImage{Names: []string{fmt.Sprintf("quay.io/acme/img-%d@sha256:%064d", k, k)}, SizeBytes: 1 << 20})
	}
	for k := range i % 3 {
		n.Status.VolumesAttached = append(n.Status.VolumesAttached, corev1.AttachedVolume{Name: corev1.UniqueVolumeName(fmt.Sprintf("kubernetes.io/csi/ebs.csi.aws.com^vol-%d-%d", i, k))})
	}
	return n
}

// benchPod is pod j of the seeded namespace, on node j%len(nodes), with one or two containers
// (and sometimes an init container, which must not count), in a phase chosen by j.
func benchPod(ns string, nodes []string, j int) (*corev1.Pod, corev1.PodPhase) {
	req := func(cpu, mem string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%05d", j), Namespace: ns, Labels: map[string]string{"app": fmt.Sprintf("app-%d", j%6)}},
		Spec: corev1.PodSpec{
			NodeName:   nodes[j%len(nodes)],
			Containers: []corev1.Container{{Name: "main", Image: "busybox:1.36", Resources: req(fmt.Sprintf("%dm", 50+j%7*25), fmt.Sprintf("%dMi", 64+j%5*32))}},
		},
	}
	if j%3 == 0 {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "sidecar", Image: "envoyproxy/envoy:v1.32.1", Resources: req("100m", "100M")})
	}
	if j%4 == 0 {
		p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox:1.36", Resources: req("2", "2Gi")}}
	}
	phase := []corev1.PodPhase{corev1.PodRunning, corev1.PodRunning, corev1.PodRunning, corev1.PodRunning, corev1.PodRunning, corev1.PodRunning,
		corev1.PodPending, corev1.PodPending, corev1.PodSucceeded, corev1.PodFailed}[(j/3)%10]
	return p, phase
}

// createWithStatus creates obj through ri and then writes its status through the status
// subresource, as the controller owning such an object would.
func createWithStatus(ctx context.Context, ri dynamic.ResourceInterface, obj map[string]any) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{Object: obj}
	status, hasStatus := obj["status"]
	created, err := ri.Create(ctx, u, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	if !hasStatus {
		return created, nil
	}
	created.Object["status"] = status
	updated, err := ri.UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("update status of %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return updated, nil
}

// seedOLM creates four Subscriptions and their ClusterServiceVersions in the managed
// namespace: a cluster-wide operator, one scoped to its own namespace, one still installing
// with a WATCH_NAMESPACE override, and one whose CSV is an OLM copy (which the job's LIST
// leaves out, so the operator shows as Unknown). It returns the creation time of each CSV the
// job reads, by CSV name.
func (e *pullEnv) seedOLM(t *testing.T) map[string]time.Time {
	t.Helper()
	ctx := context.Background()
	dc, ns := e.managed.Dynamic, e.managed.Namespace
	subs, csvs := dc.Resource(collect.SubscriptionGVR).Namespace(ns), dc.Resource(collect.CSVGVR).Namespace(ns)
	all := []string{"OwnNamespace", "SingleNamespace", "MultiNamespace", "AllNamespaces"}
	ops := []struct {
		pkg, csv, display, version, provider, phase string
		modes                                       []string       // supported install modes
		annotations                                 map[string]any // of the CSV
		watch                                       string         // WATCH_NAMESPACE of the subscription
		installing, copied                          bool           // only currentCSV set; CSV labelled olm.copiedFrom
	}{
		{pkg: "cert-manager", csv: "cert-manager.v1.16.2", display: "cert-manager", version: "1.16.2", provider: "CNCF", phase: "Succeeded",
			modes: all, annotations: map[string]any{"olm.targetNamespaces": ""}},
		{pkg: "grafana-operator", csv: "grafana-operator.v5.15.1", display: "Grafana Operator", version: "5.15.1", provider: "Grafana Labs", phase: "Succeeded",
			modes: all[:2], annotations: map[string]any{"olm.targetNamespaces": ns}},
		{pkg: "strimzi-kafka-operator", csv: "strimzi-cluster-operator.v0.44.0", display: "Strimzi", version: "0.44.0", provider: "Strimzi", phase: "Installing",
			modes: all, watch: "kafka-b, kafka-a", installing: true},
		{pkg: "postgresql", csv: "postgresoperator.v5.7.0", display: "Crunchy Postgres for Kubernetes", version: "5.7.0", provider: "Crunchy Data", phase: "Succeeded",
			modes: all[3:], copied: true},
	}
	created := map[string]time.Time{}
	for _, o := range ops {
		spec := map[string]any{"channel": "stable", "name": o.pkg, "source": "community-operators", "sourceNamespace": "openshift-marketplace"}
		if o.watch != "" {
			spec["config"] = map[string]any{"env": []any{map[string]any{"name": "WATCH_NAMESPACE", "value": o.watch}}}
		}
		status := map[string]any{"installedCSV": o.csv, "currentCSV": o.csv, "state": "AtLatestKnown", "lastUpdated": "2026-02-12T07:30:00Z"}
		if o.installing {
			status = map[string]any{"currentCSV": o.csv, "state": "UpgradePending", "lastUpdated": "2026-02-12T07:30:00Z"}
		}
		if _, err := createWithStatus(ctx, subs, map[string]any{
			"apiVersion": "operators.coreos.com/v1alpha1", "kind": "Subscription",
			"metadata": map[string]any{"name": o.pkg}, "spec": spec, "status": status,
		}); err != nil {
			t.Fatal(err)
		}

		var modes []any
		for _, m := range all {
			modes = append(modes, map[string]any{"type": m, "supported": slices.Contains(o.modes, m)})
		}
		meta := map[string]any{"name": o.csv}
		if o.annotations != nil {
			meta["annotations"] = o.annotations
		}
		if o.copied {
			meta["labels"] = map[string]any{"olm.copiedFrom": "openshift-operators"}
		}
		csv, err := createWithStatus(ctx, csvs, map[string]any{
			"apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion", "metadata": meta,
			"spec": map[string]any{
				"displayName": o.display, "version": o.version, "provider": map[string]any{"name": o.provider}, "installModes": modes,
				"icon": []any{map[string]any{"base64data": strings.Repeat("A", 2048), "mediatype": "image/svg+xml"}},
			},
			"status": map[string]any{"phase": o.phase, "reason": "InstallSucceeded", "lastUpdateTime": "2026-02-12T07:31:15Z"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !o.copied {
			created[o.csv] = csv.GetCreationTimestamp().Time
		}
	}
	return created
}

// seedOpenShift gives the managed cluster three ClusterOperators named after the managed
// namespace (one healthy, one degraded, one unavailable and progressing) and the ClusterVersion
// "version" in the middle of an upgrade, with the namespace as channel suffix and cluster id.
// The ClusterVersion is a singleton of the shared apiserver: the lock taken here is held until
// the test ends, so no other test rewrites it meanwhile. It returns the ClusterOperator names.
func (e *pullEnv) seedOpenShift(t *testing.T) []string {
	t.Helper()
	testenv.Lock(t, "clusterversion")
	ctx := context.Background()
	dc, ns := e.managed.Dynamic, e.managed.Namespace
	cond := func(typ, status, reason, msg, at string) map[string]any {
		return map[string]any{"type": typ, "status": status, "reason": reason, "message": msg, "lastTransitionTime": at}
	}
	version := func(name, v string) map[string]any { return map[string]any{"name": name, "version": v} }
	cos := []struct {
		name   string
		status map[string]any
	}{
		{"authentication", map[string]any{
			"conditions": []any{
				cond("Available", "True", "AsExpected", "All is well", "2026-01-10T13:05:00Z"),
				cond("Progressing", "False", "AsExpected", "", "2026-01-10T13:06:10Z"),
				cond("Degraded", "False", "AsExpected", "", "2025-11-02T09:00:00Z"),
				cond("Upgradeable", "True", "AsExpected", "", "2025-11-02T09:00:00Z"),
			},
			"versions": []any{version("operator", "4.17.12"), version("oauth-openshift", "4.17.12_openshift")},
			"relatedObjects": []any{
				map[string]any{"group": "operator.openshift.io", "resource": "authentications", "name": "cluster"},
				map[string]any{"group": "", "resource": "namespaces", "name": "openshift-authentication"},
			},
		}},
		{"ingress", map[string]any{
			"conditions": []any{
				cond("Available", "True", "IngressAvailable", "The \"default\" ingress controller reports Available=True.", "2026-01-10T13:02:00Z"),
				cond("Progressing", "False", "AsExpected", "desired and current number of IngressControllers are equal", "2026-01-10T13:02:00Z"),
				cond("Degraded", "True", "IngressDegraded", "The \"default\" ingress controller reports Degraded=True: CanaryChecksSucceeding=False", "2026-02-13T09:41:00Z"),
			},
			"versions": []any{version("operator", "4.17.12"), version("ingress-controller", "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:9a1b")},
		}},
		{"network", map[string]any{
			"conditions": []any{
				cond("Available", "False", "Deploying", "DaemonSet \"/openshift-multus/multus\" is not available (awaiting 2 nodes)", "2026-02-13T09:50:00Z"),
				cond("Progressing", "True", "Deploying", "DaemonSet \"/openshift-multus/multus\" is not available (awaiting 2 nodes)", "2026-02-13T09:50:00Z"),
				cond("Degraded", "False", "", "", "2026-01-10T13:00:00Z"),
			},
			"versions": []any{version("operator", "4.17.11")},
		}},
	}
	ri := dc.Resource(collect.ClusterOperatorGVR)
	names := make([]string, len(cos))
	for i, co := range cos {
		names[i] = ns + "-" + co.name
	}
	t.Cleanup(func() {
		for _, n := range names {
			_ = ri.Delete(context.Background(), n, metav1.DeleteOptions{})
		}
	})
	for i, co := range cos {
		if _, err := createWithStatus(ctx, ri, map[string]any{
			"apiVersion": "config.openshift.io/v1", "kind": "ClusterOperator",
			"metadata": map[string]any{"name": names[i]}, "spec": map[string]any{}, "status": co.status,
		}); err != nil {
			t.Fatal(err)
		}
	}

	cvs := dc.Resource(collect.ClusterVersionGVR)
	spec := map[string]any{"channel": "stable-" + ns, "clusterID": ns}
	status := map[string]any{
		"desired":          map[string]any{"version": "4.17.14", "image": "quay.io/openshift-release-dev/ocp-release@sha256:7d2e"},
		"availableUpdates": []any{map[string]any{"version": "4.17.15", "image": "quay.io/openshift-release-dev/ocp-release@sha256:81aa"}},
		"history": []any{
			map[string]any{"state": "Partial", "version": "4.17.14", "startedTime": "2026-02-13T09:30:00Z", "verified": true},
			map[string]any{"state": "Completed", "version": "4.17.12", "startedTime": "2026-01-10T12:00:00Z", "completionTime": "2026-01-10T13:12:44Z"},
		},
		"conditions": []any{
			cond("Available", "True", "", "Done applying 4.17.12", "2026-01-10T13:12:44Z"),
			cond("Failing", "False", "", "", "2026-02-13T09:30:05Z"),
			cond("Progressing", "True", "", "Working towards 4.17.14: 512 of 890 done (57% complete)", "2026-02-13T09:30:00Z"),
			cond("RetrievedUpdates", "True", "", "", "2026-02-13T09:00:00Z"),
		},
		"observedGeneration": int64(2),
		"versionHash":        "kX1v6Cxd1Mw=",
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		cv, err := cvs.Get(ctx, collect.ClusterVersionName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = createWithStatus(ctx, cvs, map[string]any{
				"apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion",
				"metadata": map[string]any{"name": collect.ClusterVersionName}, "spec": spec, "status": status,
			})
			return err
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
	return names
}

// pullGolden is the part of the Redis content of one pulled cluster that depends only on the
// test's own objects (the apiserver is shared: other tests' nodes and namespaces are left out).
type pullGolden struct {
	Spec            engine.ClusterSpec       `json:"spec"`
	Nodes           []engine.Node            `json:"nodes"`
	NamespaceCounts []engine.NamespaceCounts `json:"namespace_counts"`
	// Operators are the OLM operators installed in the managed namespace, CreatedAt cleared.
	Operators []engine.Operator `json:"operators"`
	// ClusterOperators are the test's ClusterOperators, and ClusterOperatorKeys their
	// cluster:{c}:cluster_operator:{op} values without the timestamp.
	ClusterOperators    []engine.ClusterOperator  `json:"cluster_operators"`
	ClusterOperatorKeys map[string]map[string]any `json:"cluster_operator_keys"`
	Info                *engine.ClusterInfo       `json:"info"`
	Summaries           pullGoldenSummaries       `json:"summaries"`
}

// pullGoldenSummaries is the test's share of the cluster-wide summaries: the operator count of
// the managed namespace and the issues about the test's ClusterOperators.
type pullGoldenSummaries struct {
	OperatorsInNamespace  int                           `json:"operators_in_namespace"`
	ClusterOperatorIssues []engine.ClusterOperatorIssue `json:"cluster_operator_issues"`
}

// pulledOpenShift returns the test's part of the OLM and OpenShift content stored for
// cluster: the operators of the managed namespace (created_at checked against the CSVs and
// cleared), the test's ClusterOperators, their cluster:{c}:cluster_operator:{op} values
// (timestamp checked and removed), and the cluster info.
func (e *pullEnv) pulledOpenShift(t *testing.T, cluster string, state engine.ClusterState, csvCreated map[string]time.Time,
	coNames []string) ([]engine.Operator, []engine.ClusterOperator, map[string]map[string]any, *engine.ClusterInfo) {
	t.Helper()
	var ops []engine.Operator
	for _, o := range state.Operators {
		if o.InstalledNamespace != e.managed.Namespace {
			continue
		}
		// Zero for the operator whose CSV the job does not read.
		if want := engine.NewTime(csvCreated[o.Name]); !o.CreatedAt.Equal(want) {
			t.Errorf("operator %s created_at %v, want the CSV's creation time %v", o.Name, o.CreatedAt, want)
		}
		o.CreatedAt = engine.Time{}
		ops = append(ops, o)
	}
	var cos []engine.ClusterOperator
	for _, co := range state.ClusterOperators {
		if slices.Contains(coNames, co.Name) {
			cos = append(cos, co)
		}
	}
	keys := map[string]map[string]any{}
	for _, n := range coNames {
		raw, err := e.redis.Client.Get(context.Background(), e.store.Keys().ClusterOperator(cluster, n)).Bytes()
		if err != nil {
			t.Errorf("cluster operator key of %s: %v", n, err)
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Errorf("cluster operator key of %s: %v", n, err)
			continue
		}
		if ts, _ := m["timestamp"].(string); ts == "" {
			t.Errorf("cluster operator key of %s without timestamp: %s", n, raw)
		}
		delete(m, "timestamp")
		keys[n] = m
	}
	return ops, cos, keys, state.Info
}

// checkSummaries checks that the stored node, operator and ClusterOperator summaries of
// cluster are those of the stored lists (the apiserver is shared, so their totals count other
// tests' objects too) and returns the test's share of them.
func (e *pullEnv) checkSummaries(t *testing.T, cluster string, state engine.ClusterState) pullGoldenSummaries {
	t.Helper()
	ctx := context.Background()
	nodes, err := e.store.NodesSummary(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := e.store.OperatorsSummary(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	cos, err := e.store.ClusterOperatorsSummary(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	if nodes.Timestamp.IsZero() || cos.Timestamp.IsZero() {
		t.Errorf("summary without timestamp: nodes %v, cluster operators %v", nodes.Timestamp, cos.Timestamp)
	}
	want := []any{engine.SummarizeNodes(state.Nodes, time.Time{}), engine.SummarizeOperators(state.Operators),
		engine.SummarizeClusterOperators(state.ClusterOperators, time.Time{})}
	got := []any{nodes, ops, cos}
	if d := cmp.Diff(want, got, cmpopts.IgnoreFields(engine.NodesSummary{}, "Timestamp"),
		cmpopts.IgnoreFields(engine.ClusterOperatorsSummary{}, "Timestamp"), cmpopts.EquateApprox(0, 1e-9)); d != "" {
		t.Errorf("stored summaries differ from the summaries of the stored lists (-want +got):\n%s", d)
	}
	share := pullGoldenSummaries{OperatorsInNamespace: ops.ByNamespace[e.managed.Namespace]}
	for _, is := range cos.Issues {
		if strings.HasPrefix(is.Name, e.managed.Namespace+"-") {
			share.ClusterOperatorIssues = append(share.ClusterOperatorIssues, is)
		}
	}
	return share
}

// operatorValues returns the latest value of the series name of cluster by operator label,
// for the operators that are keys of mine (the cluster has other tests' operators too).
func operatorValues(ctx context.Context, q *history.Querier, name, cluster string, mine map[string]float64) (map[string]float64, error) {
	res, err := q.Query(ctx, fmt.Sprintf(`%s{%s=%q}`, name, history.LabelCluster, cluster), time.Now())
	if err != nil {
		return nil, err
	}
	got := map[string]float64{}
	for _, s := range res.Series {
		op := s.Metric[history.LabelOperator]
		if _, ok := mine[op]; ok && len(s.Points) > 0 {
			got[op] = s.Points[len(s.Points)-1].Value
		}
	}
	return got, nil
}

// TestJobPull pulls a seeded cluster of 50 nodes, 1,500 pods, OLM Subscriptions and CSVs,
// OpenShift ClusterOperators and the ClusterVersion through a least-privilege token and
// compares the Redis content to golden JSON; checks the summaries against the stored lists,
// the ClusterConnection status patch, the event, the history series (nodes and operators), the
// interval across runs, and the removal of the state of clusters whose ClusterConnection is
// gone.
func TestJobPull(t *testing.T) {
	e := newPullEnv(t)
	vm := testenv.VictoriaMetricsURL(t)
	e.env["VM_ENABLED"], e.env["VM_ENDPOINT"] = "true", vm
	ctx := context.Background()
	nodes := e.seedManaged(t)
	testenv.InstallCRDs(t, filepath.Join("..", "engine", "collect", "testdata", "crds"))
	csvCreated := e.seedOLM(t)
	coNames := e.seedOpenShift(t)
	cluster := e.hub.Namespace + "-prod" // unique: VictoriaMetrics is shared
	e.goodCluster(t, cluster)

	// State of a cluster whose ClusterConnection is gone.
	if err := e.store.WriteCluster(ctx, "gone", engine.ClusterState{Status: engine.ClusterStatus{Health: engine.HealthHealthy}}); err != nil {
		t.Fatal(err)
	}

	var sum Summary
	var out string
	// RBAC bindings take effect at once, but the authorizer cache may lag: retry the forced run.
	testenv.Eventually(t, 20*time.Second, func() error {
		sum, out = e.run(t, "--force")
		if sum.Succeeded != 1 {
			return fmt.Errorf("summary %+v\n%s", sum, out)
		}
		return nil
	})
	t.Logf("stdout:\n%s", out)
	if !strings.Contains(out, "pull "+cluster+": succeeded in ") {
		t.Errorf("no success progress line:\n%s", out)
	}
	if sum.Deleted != 1 || !strings.Contains(out, "pull gone: deleted in ") {
		t.Errorf("state of the gone cluster not removed: %+v\n%s", sum, out)
	}

	// Redis content against the golden file.
	state, err := e.store.ReadCluster(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	mine := map[string]bool{}
	for _, n := range nodes {
		mine[n] = true
	}
	g := pullGolden{Spec: *state.Spec}
	for _, n := range state.Nodes {
		if mine[n.Name] {
			if n.Timestamp.IsZero() {
				t.Errorf("node %s without timestamp", n.Name)
			}
			n.Timestamp = engine.Time{}
			g.Nodes = append(g.Nodes, n)
		}
	}
	for _, c := range state.NamespaceCounts {
		if c.Name == e.managed.Namespace {
			g.NamespaceCounts = append(g.NamespaceCounts, c)
		}
	}
	if len(g.Nodes) != pullSeedNodes {
		t.Fatalf("stored %d of the %d seeded nodes", len(g.Nodes), pullSeedNodes)
	}
	g.Operators, g.ClusterOperators, g.ClusterOperatorKeys, g.Info = e.pulledOpenShift(t, cluster, state, csvCreated, coNames)
	g.Summaries = e.checkSummaries(t, cluster, state)
	got, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	norm := strings.NewReplacer(e.managed.Namespace, "MANAGED", e.hub.Namespace, "HUB", e.endpoint, "https://ENDPOINT").Replace(string(got)) + "\n"
	golden := filepath.Join("testdata", "pull_golden.json")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(norm), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if d := cmp.Diff(string(want), norm); d != "" {
		t.Errorf("Redis content differs from %s (-want +got):\n%s", golden, d)
	}

	// Independent check of the pod reduction: totals over the seeded pods.
	var wantRunning, wantTotal int
	for j := range pullSeedPods {
		_, ph := benchPod(e.managed.Namespace, nodes, j)
		wantTotal++
		if ph == corev1.PodRunning {
			wantRunning++
		}
	}
	var gotRunning, gotTotal int
	for _, n := range g.Nodes {
		gotRunning += n.PodsRunning
		gotTotal += n.PodsTotal
	}
	if gotRunning != wantRunning || gotTotal != wantTotal {
		t.Errorf("pods on the seeded nodes: running %d total %d, want %d %d", gotRunning, gotTotal, wantRunning, wantTotal)
	}

	// Status in Redis and in the ClusterConnection.
	if st := state.Status; st.Health != engine.HealthHealthy || st.Source != engine.CollectionModePull ||
		!strings.HasPrefix(st.Message, "Cluster is reachable: ") || st.LastCheck.IsZero() || !st.LastSuccess.Time.Equal(st.LastCheck.Time) {
		t.Errorf("stored status %+v", state.Status)
	}
	if state.Metrics == nil || state.Metrics.Nodes < pullSeedNodes || state.Metrics.Pods < pullSeedPods || state.Namespaces == nil || state.Info == nil {
		t.Errorf("metrics %+v, namespaces %v, info %v", state.Metrics, state.Namespaces, state.Info)
	}
	// The status patch says what the stored state says.
	cst := e.ccStatus(t, cluster)
	if cst.Phase != "Connected" || cst.Health != "healthy" || cst.Nodes < pullSeedNodes || cst.Namespaces < 2 || cst.LastSyncTime == nil ||
		time.Since(cst.LastSyncTime.Time) > time.Minute {
		t.Errorf("ClusterConnection status %+v", cst)
	}
	if state.Namespaces != nil && state.Metrics != nil && cst.LastSyncTime != nil {
		wantMsg := fmt.Sprintf("Cluster is reachable: %d nodes, %d namespaces, %d pods", len(state.Nodes), state.Namespaces.Count, state.Metrics.Pods)
		got := []any{cst.Message, int(cst.Nodes), int(cst.Namespaces), cst.LastSyncTime.UTC().Format(time.RFC3339)}
		want := []any{wantMsg, len(state.Nodes), state.Namespaces.Count, state.Status.LastCheck.UTC().Format(time.RFC3339)}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("ClusterConnection status [message nodes namespaces lastSyncTime] (-want +got):\n%s", d)
		}
		if state.Status.Message != wantMsg {
			t.Errorf("stored status message %q, want %q", state.Status.Message, wantMsg)
		}
	}
	evs, err := e.store.Events(ctx, cluster, 0)
	if err != nil || len(evs) != 1 || evs[0].Type != engine.EventClusterReconciled || evs[0].Data["health"] != "healthy" {
		t.Errorf("events %+v, %v", evs, err)
	}

	// History series in VictoriaMetrics.
	q, err := history.NewQuerier(history.Config{Endpoint: vm, Timeout: 5 * time.Second, WriteAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		if resp, err := http.Get(vm + "/internal/force_flush"); err == nil {
			resp.Body.Close()
		}
		res, err := q.Query(ctx, fmt.Sprintf(`count(%s{cluster=%q})`, history.NodePodsTotal, cluster), time.Now())
		if err != nil {
			return err
		}
		if len(res.Series) != 1 || len(res.Series[0].Points) != 1 || res.Series[0].Points[0].Value < pullSeedNodes {
			return fmt.Errorf("node series of %s: %+v", cluster, res.Series)
		}
		return nil
	})
	// Operator series: one per OLM operator of the managed namespace, and the Available bit of
	// each of the test's ClusterOperators.
	wantInstalled := map[string]float64{}
	for _, o := range g.Operators {
		wantInstalled[o.Name] = 1
	}
	wantAvailable := map[string]float64{}
	for _, co := range g.ClusterOperators {
		wantAvailable[co.Name] = 0
		if co.Available {
			wantAvailable[co.Name] = 1
		}
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		if resp, err := http.Get(vm + "/internal/force_flush"); err == nil {
			resp.Body.Close()
		}
		for _, c := range []struct {
			name string
			want map[string]float64
		}{{history.OperatorInstalled, wantInstalled}, {history.ClusterOperatorAvailable, wantAvailable}} {
			got, err := operatorValues(ctx, q, c.name, cluster, c.want)
			if err != nil {
				return err
			}
			if d := cmp.Diff(c.want, got); d != "" {
				return fmt.Errorf("%s of %s by operator (-want +got):\n%s", c.name, cluster, d)
			}
		}
		return nil
	})

	// Not due again until its interval has passed.
	sum, out = e.run(t)
	if sum.Attempted != 0 || sum.Skipped != 1 || !strings.Contains(out, "pull "+cluster+": skipped in ") {
		t.Errorf("second run: %+v\n%s", sum, out)
	}

	// A broken VictoriaMetrics is reported, not hidden.
	e.env["VM_ENDPOINT"] = "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	e.env["VM_WRITE_ATTEMPTS"] = "1"
	sum, out = e.run(t, "--force")
	if sum.Failed != 1 || !strings.Contains(out, "history not written") {
		t.Errorf("run with VictoriaMetrics down: %+v\n%s", sum, out)
	}
	if st := e.ccStatus(t, cluster); !strings.Contains(st.Message, "history not written") || st.Phase != "Connected" {
		t.Errorf("status with VictoriaMetrics down: %+v", st)
	}
	delete(e.env, "VM_ENABLED")

	// The ClusterConnection is deleted: its state goes.
	if err := e.hub.Dynamic.Resource(kube.ClusterConnectionsGVR).Namespace(e.hub.Namespace).Delete(ctx, cluster, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	sum, out = e.run(t)
	if sum.Deleted != 1 || !strings.Contains(out, "pull "+cluster+": deleted in ") {
		t.Errorf("run after deletion: %+v\n%s", sum, out)
	}
	if names, err := e.store.ClusterNames(ctx); err != nil || len(names) != 0 {
		t.Errorf("clusters:all after deletion: %v %v", names, err)
	}
	if _, err := e.store.ReadCluster(ctx, cluster); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("state after deletion: err %v, want not found", err)
	}
}

// holdListener accepts TCP connections and never answers; it returns its address.
func holdListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// otherCA returns a PEM CA certificate that did not sign the apiserver's certificate.
func otherCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not-the-apiserver-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestJobPullFailures runs one pass over a healthy cluster and five broken ones: each ends
// with the right status, in Redis and in its ClusterConnection, and none delays the others.
func TestJobPullFailures(t *testing.T) {
	e := newPullEnv(t)
	e.goodCluster(t, "ok")
	e.secret(t, "wrong-token", "not-a-valid-token", e.ca)
	e.secret(t, "no-rights", e.token(t, "nobody", nil), e.ca)
	e.secret(t, "bad-ca", e.token(t, "other", collect.PolicyRules()), otherCA(t))
	closed := "https://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	hang := "https://" + holdListener(t)
	const timeout = 5 // seconds, the CRD minimum
	cc := func(name, endpoint, secret string) {
		e.createCC(t, name, map[string]any{"endpoint": endpoint, "credentialsRef": map[string]any{"name": secret},
			"monitoring": map[string]any{"timeout": timeout}})
	}
	cc("closed", closed, "collector-creds")
	cc("hang", hang, "collector-creds")
	cc("wrong-token", e.endpoint, "wrong-token")
	cc("no-rights", e.endpoint, "no-rights")
	cc("bad-ca", e.endpoint, "bad-ca")
	cc("no-secret", e.endpoint, "missing")

	var sum Summary
	var out string
	var took time.Duration
	testenv.Eventually(t, 20*time.Second, func() error {
		start := time.Now()
		sum, out = e.run(t, "--force", "--concurrency", "10")
		took = time.Since(start)
		if sum.Succeeded != 1 {
			return fmt.Errorf("summary %+v\n%s", sum, out)
		}
		return nil
	})
	t.Logf("run took %v, stdout:\n%s", took, out)
	want := Summary{Job: "pull", Attempted: 7, Succeeded: 1, Failed: 6}
	if d := cmp.Diff(want, sum, cmp.FilterPath(func(p cmp.Path) bool {
		s := p.Last().String()
		return s == ".Duration" || s == ".DurationMS"
	}, cmp.Ignore())); d != "" {
		t.Errorf("summary (-want +got):\n%s", d)
	}
	// The hanging server costs its own connection timeout, and nobody else's.
	if took > timeout*time.Second+10*time.Second {
		t.Errorf("the pass took %v, want about the %ds connection timeout", took, timeout)
	}
	lines := progress(t, out)
	for name, l := range lines {
		if name != "hang" && name != "ok" && l.took > 3*time.Second {
			t.Errorf("%s took %v: delayed by the hanging server?", name, l.took)
		}
	}
	if l := lines["hang"]; l.outcome != "failed" || l.took < timeout*time.Second-time.Second || l.took > timeout*time.Second+5*time.Second {
		t.Errorf("hang: %+v, want failed after about %ds", l, timeout)
	}

	wantMsg := map[string]string{
		"closed":      "connection refused",
		"hang":        "timed out",
		"wrong-token": "unauthorized",
		"no-rights":   "forbidden",
		"bad-ca":      "TLS verification failed",
		"no-secret":   "credentials",
	}
	ctx := context.Background()
	for name, msg := range wantMsg {
		st := e.ccStatus(t, name)
		if st.Phase != "Error" || st.Health != "unhealthy" || !strings.Contains(st.Message, msg) || st.LastSyncTime != nil {
			t.Errorf("status of %s = %+v, want phase Error, unhealthy, message with %q", name, st, msg)
		}
		rs, err := e.store.ClusterStatus(ctx, name)
		if err != nil || rs.Health != engine.HealthUnhealthy || !strings.Contains(rs.Message, msg) || rs.LastCheck.IsZero() || !rs.LastSuccess.IsZero() {
			t.Errorf("stored status of %s = %+v, %v", name, rs, err)
		}
		if spec, err := e.store.ClusterSpec(ctx, name); err != nil || spec.Monitoring.Timeout != timeout {
			t.Errorf("stored spec of %s = %+v, %v", name, spec, err)
		}
	}
	if st := e.ccStatus(t, "ok"); st.Phase != "Connected" {
		t.Errorf("status of ok = %+v", st)
	}
}

// TestJobPullBreaker opens the circuit breaker of a failing cluster after N consecutive
// failures, skips the cluster while it is open (saying so in its status), and resets it when
// the half-open trial succeeds.
func TestJobPullBreaker(t *testing.T) {
	e := newPullEnv(t)
	e.goodCluster(t) // the Secret only
	closed := "https://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	e.createCC(t, "flaky", map[string]any{"endpoint": closed, "credentialsRef": map[string]any{"name": "collector-creds"},
		"monitoring": map[string]any{"timeout": 5}})
	ctx := context.Background()
	br := newBreaker(e.store, 2, time.Hour)

	args := []string{"--force", "--breaker-failures", "2", "--breaker-cooldown", "1h"}
	steps := []struct {
		wantMsg      string
		wantFailures int
	}{
		{wantMsg: "connection refused", wantFailures: 1},
		{wantMsg: "circuit breaker open after 2 consecutive failures", wantFailures: 2},
		{wantMsg: "circuit breaker open after 2 consecutive failures, cluster not contacted until", wantFailures: 2},
	}
	for i, s := range steps {
		sum, out := e.run(t, args...)
		if sum.Failed != 1 {
			t.Fatalf("run %d: %+v\n%s", i, sum, out)
		}
		st := e.ccStatus(t, "flaky")
		if st.Phase != "Error" || !strings.Contains(st.Message, s.wantMsg) {
			t.Errorf("run %d: status %+v, want message with %q", i, st, s.wantMsg)
		}
		bs, err := br.state(ctx, "flaky")
		if err != nil || bs.Failures != s.wantFailures {
			t.Errorf("run %d: breaker %+v %v, want %d failures", i, bs, err, s.wantFailures)
		}
	}

	// Fixed, and the cooldown is over: the trial succeeds and resets the breaker.
	e.patchCC(t, "flaky", `{"spec":{"endpoint":"`+e.endpoint+`"}}`)
	testenv.Eventually(t, 20*time.Second, func() error {
		sum, out := e.run(t, "--force", "--breaker-failures", "2", "--breaker-cooldown", "1ms")
		if sum.Succeeded != 1 || !strings.Contains(out, "half-open") {
			return fmt.Errorf("trial run %+v\n%s", sum, out)
		}
		return nil
	})
	if st := e.ccStatus(t, "flaky"); st.Phase != "Connected" || st.Health != "healthy" {
		t.Errorf("status after the trial: %+v", st)
	}
	if n, err := e.redis.Client.Exists(ctx, br.key("flaky")).Result(); err != nil || n != 0 {
		t.Errorf("breaker key after success: exists=%d %v", n, err)
	}
	// One failure after a success counts from zero again.
	e.patchCC(t, "flaky", `{"spec":{"endpoint":"`+closed+`"}}`)
	e.run(t, args...)
	if bs, err := br.state(ctx, "flaky"); err != nil || bs.Failures != 1 {
		t.Errorf("breaker after success then failure: %+v %v, want 1 failure", bs, err)
	}
}

// TestJobPullPushMode: a push cluster whose collector is present is not pulled (its spec is
// stored, its status left to the collector); without a present collector it is pulled.
func TestJobPullPushMode(t *testing.T) {
	e := newPullEnv(t)
	e.goodCluster(t)
	e.createCC(t, "pushed", map[string]any{"endpoint": e.endpoint, "credentialsRef": map[string]any{"name": "collector-creds"},
		"collectionMode": "push", "ingesterAddress": "ingester.clusterpulse.svc:4317"})
	ctx := context.Background()

	testenv.Eventually(t, 20*time.Second, func() error {
		sum, out := e.run(t, "--force")
		if sum.Succeeded != 1 || !strings.Contains(out, "push collector not connected, pulled as a fallback") {
			return fmt.Errorf("fallback run %+v\n%s", sum, out)
		}
		return nil
	})
	if st := e.ccStatus(t, "pushed"); st.Phase != "Connected" || st.CollectorStatus == nil || st.CollectorStatus.Connected {
		t.Errorf("status after the fallback: %+v", st)
	}
	before := countEvents(t, e.store, "pushed")

	pushed := engine.ClusterStatus{Health: engine.HealthHealthy, Message: "Collector push active", Source: engine.CollectionModePush,
		LastCheck: engine.NewTime(time.Date(2026, 2, 13, 10, 0, 0, 0, time.UTC))}
	if err := e.store.WriteCluster(ctx, "pushed", engine.ClusterState{Status: pushed}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetPresence(ctx, PresenceKindCollector, "pushed", map[string]string{"replica": "ingester-0"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	sum, out := e.run(t, "--force")
	if sum.Succeeded != 1 || !strings.Contains(out, "collector present") {
		t.Errorf("run with the collector present: %+v\n%s", sum, out)
	}
	if got := countEvents(t, e.store, "pushed"); got != before {
		t.Errorf("events %d, want %d: the cluster was pulled although its collector is present", got, before)
	}
	st, err := e.store.ClusterStatus(ctx, "pushed")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(pushed, st); d != "" {
		t.Errorf("the collector's status was overwritten (-want +got):\n%s", d)
	}
	if spec, err := e.store.ClusterSpec(ctx, "pushed"); err != nil || spec.CollectionMode != engine.CollectionModePush {
		t.Errorf("stored spec %+v %v", spec, err)
	}
	if cs := e.ccStatus(t, "pushed"); cs.CollectorStatus == nil || !cs.CollectorStatus.Connected {
		t.Errorf("collectorStatus %+v", cs.CollectorStatus)
	}
}

// TestJobPullFor: with --for the job sleeps until the next cluster is due, collects it, and
// ends as soon as nothing else is due before the duration is used up.
func TestJobPullFor(t *testing.T) {
	e := newPullEnv(t)
	e.goodCluster(t, "a", "b")
	ctx := context.Background()
	// Wait until the token works, so that the timed run below measures scheduling only.
	testenv.Eventually(t, 20*time.Second, func() error {
		sum, out := e.run(t, "--force")
		if sum.Succeeded != 2 {
			return fmt.Errorf("warm-up run %+v\n%s", sum, out)
		}
		return nil
	})
	// a is due now; b becomes due in 1.5 s.
	due := func(c string) string { return e.store.Keys().Lease("due:pull:" + c) }
	if err := e.redis.Client.Del(ctx, due("a")).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.redis.Client.Set(ctx, due("b"), "test", 1500*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	ea, eb := countEvents(t, e.store, "a"), countEvents(t, e.store, "b")
	start := time.Now()
	sum, out := e.run(t, "--for", "20s")
	took := time.Since(start)
	t.Logf("--for run took %v:\n%s", took, out)
	if got := []int{countEvents(t, e.store, "a") - ea, countEvents(t, e.store, "b") - eb}; !cmp.Equal(got, []int{1, 1}) {
		t.Errorf("collections of a and b during --for: %v, want [1 1]", got)
	}
	// Pass 1 collects a and skips b; pass 2 collects b and skips a.
	if sum.Succeeded != 2 || sum.Skipped != 2 {
		t.Errorf("summary %+v, want 2 succeeded and 2 skipped (one of each per pass)", sum)
	}
	if took < 1200*time.Millisecond || took > 15*time.Second {
		t.Errorf("--for 20s run took %v: want it to wait for b (~1.5s) and end when nothing else is due", took)
	}
}

// TestJobPullTwoProcesses starts two `clusterpulse job pull` processes at once: every cluster
// is collected exactly once.
func TestJobPullTwoProcesses(t *testing.T) {
	e := newPullEnv(t)
	names := []string{"c1", "c2", "c3", "c4", "c5", "c6"}
	e.goodCluster(t, names...)
	// Wait until the token works (then drop the marks of that warm-up run).
	testenv.Eventually(t, 20*time.Second, func() error {
		sum, out := e.run(t, "--force")
		if sum.Succeeded != len(names) {
			return fmt.Errorf("warm-up run %+v\n%s", sum, out)
		}
		return nil
	})
	ctx := context.Background()
	before := map[string]int{}
	for _, n := range names {
		before[n] = countEvents(t, e.store, n)
		if err := e.redis.Client.Del(ctx, e.store.Keys().Lease("due:pull:"+n)).Err(); err != nil {
			t.Fatal(err)
		}
	}

	bin := filepath.Join(t.TempDir(), "clusterpulse")
	build := exec.Command("go", "build", "-o", bin, "..")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	env := []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range e.env {
		env = append(env, k+"="+v)
	}
	type proc struct {
		cmd      *exec.Cmd
		out, err bytes.Buffer
	}
	procs := make([]*proc, 2)
	for i := range procs {
		p := &proc{cmd: exec.Command(bin, "job", "pull", "--concurrency", "3")}
		p.cmd.Env = append(env, "HOSTNAME=proc-"+strconv.Itoa(i))
		p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.err
		procs[i] = p
	}
	for _, p := range procs {
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	total := Summary{}
	for i, p := range procs {
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s\n%s", i, err, p.out.String(), p.err.String())
		}
		s := lastSummary(t, p.out.String())
		t.Logf("process %d:\n%s", i, p.out.String())
		total.Attempted += s.Attempted
		total.Succeeded += s.Succeeded
		total.Skipped += s.Skipped
	}
	if total.Attempted != len(names) || total.Succeeded != len(names) || total.Skipped != len(names) {
		t.Errorf("together: %+v, want %d attempted and succeeded, %d skipped", total, len(names), len(names))
	}
	var got []string
	for _, n := range names {
		got = append(got, fmt.Sprintf("%s=%d", n, countEvents(t, e.store, n)-before[n]))
	}
	sort.Strings(got)
	want := []string{"c1=1", "c2=1", "c3=1", "c4=1", "c5=1", "c6=1"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("collections per cluster (-want +got):\n%s", d)
	}
}
