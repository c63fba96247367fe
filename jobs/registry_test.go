package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/store"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// lastSummary decodes the last line of stdout, which must be the JSON summary.
func lastSummary(t *testing.T, stdout string) Summary {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var s Summary
	dec := json.NewDecoder(strings.NewReader(lines[len(lines)-1]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("last stdout line is not the JSON summary: %v\n%s", err, stdout)
	}
	if s.Duration == "" {
		t.Errorf("summary without duration: %+v", s)
	}
	return s
}

// registryEnv is one hub namespace with RegistryConnections, a Redis prefix, and the
// environment a job run gets.
type registryEnv struct {
	kube  *testenv.Kube
	redis *testenv.Redis
	store *store.Store
	env   map[string]string
}

func newRegistryEnv(t *testing.T) *registryEnv {
	t.Helper()
	testenv.InstallCRDs(t, "../deploy/crds")
	k := testenv.NewKube(t)
	r := testenv.NewRedis(t)
	host, port, _ := strings.Cut(r.Addr, ":")
	return &registryEnv{
		kube:  k,
		redis: r,
		store: store.New(r.Client, store.Options{Prefix: r.Prefix}),
		env: map[string]string{
			"NAMESPACE": k.Namespace, "KUBECONFIG": kubeconfigPath(t),
			"REDIS_HOST": host, "REDIS_PORT": port, "REDIS_KEY_PREFIX": r.Prefix,
			"HOSTNAME": "test-pod", "LOG_LEVEL": "debug",
		},
	}
}

func (e *registryEnv) create(t *testing.T, name string, spec map[string]any) {
	t.Helper()
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": kube.GroupVersion.String(), "kind": "RegistryConnection",
		"metadata": map[string]any{"name": name, "namespace": e.kube.Namespace},
		"spec":     spec,
	}}
	if _, err := e.kube.Dynamic.Resource(kube.RegistryConnectionsGVR).Namespace(e.kube.Namespace).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create RegistryConnection %s: %v", name, err)
	}
}

func (e *registryEnv) status(t *testing.T, name string) kube.RegistryConnectionStatus {
	t.Helper()
	u, err := e.kube.Dynamic.Resource(kube.RegistryConnectionsGVR).Namespace(e.kube.Namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get RegistryConnection %s: %v", name, err)
	}
	rc, err := kube.Decode[kube.RegistryConnection](u)
	if err != nil {
		t.Fatal(err)
	}
	return rc.Status
}

func (e *registryEnv) run(t *testing.T, args ...string) (Summary, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Run(context.Background(), append([]string{"registry"}, args...), envFunc(e.env), &out, &errOut)
	if err != nil {
		t.Fatalf("job registry %q: %v\nstdout:\n%s\nstderr:\n%s", args, err, out.String(), errOut.String())
	}
	return lastSummary(t, out.String()), out.String()
}

func TestJobRegistry(t *testing.T) {
	e := newRegistryEnv(t)
	open := testenv.StartRegistry(t, testenv.RegistryOptions{})
	auth := testenv.StartRegistry(t, testenv.RegistryOptions{Users: map[string]string{"alice": "s3cret"}})
	tlsReg := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true})
	down := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	ctx := context.Background()

	if _, err := e.kube.Client.CoreV1().Secrets(e.kube.Namespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "auth-creds"},
		Data:       map[string][]byte{"username": []byte("alice"), "password": []byte("s3cret")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.create(t, "open", map[string]any{"endpoint": open.URL, "displayName": "Open", "labels": map[string]any{"env": "test"},
		"monitoring": map[string]any{"checkCatalog": true}})
	e.create(t, "auth", map[string]any{"endpoint": auth.URL, "credentialsRef": map[string]any{"name": "auth-creds"},
		"monitoring": map[string]any{"checkCatalog": true}})
	e.create(t, "tls-skip", map[string]any{"endpoint": strings.TrimPrefix(tlsReg.URL, "https://"), "skipTLSVerify": true})
	e.create(t, "tls-verify", map[string]any{"endpoint": tlsReg.URL})
	e.create(t, "down", map[string]any{"endpoint": down, "monitoring": map[string]any{"timeout": 2}})
	e.create(t, "no-secret", map[string]any{"endpoint": open.URL, "credentialsRef": map[string]any{"name": "missing"}})

	// State of a registry whose RegistryConnection is gone: the job removes it.
	if err := e.store.WriteRegistry(ctx, "gone", engine.RegistrySpec{Endpoint: "https://gone.example.com"}, engine.RegistryStatus{Available: true}); err != nil {
		t.Fatal(err)
	}

	sum, out := e.run(t)
	t.Logf("first run, stdout:\n%s", out)
	want := Summary{Job: "registry", Attempted: 6, Succeeded: 3, Failed: 3, Skipped: 0, Deleted: 1}
	if d := cmp.Diff(want, sum, cmp.FilterPath(func(p cmp.Path) bool {
		s := p.Last().String()
		return s == ".Duration" || s == ".DurationMS"
	}, cmp.Ignore())); d != "" {
		t.Errorf("summary (-want +got):\n%s\nstdout:\n%s", d, out)
	}
	for _, line := range []string{"registry open: succeeded in ", "registry down: failed in ", "registry gone: deleted in "} {
		if !strings.Contains(out, line) {
			t.Errorf("stdout lacks progress line %q:\n%s", line, out)
		}
	}

	// CR statuses.
	type brief struct {
		Phase, Health string
		Available     bool
		Repos         int32
		Version       string
		CatalogOK     bool
		MsgHas        string
	}
	wantStatus := map[string]brief{
		"open":       {Phase: "Connected", Health: "healthy", Available: true, Version: "registry/2.0", CatalogOK: true, MsgHas: "registry available"},
		"auth":       {Phase: "Connected", Health: "healthy", Available: true, Version: "registry/2.0", CatalogOK: true, MsgHas: "registry available"},
		"tls-skip":   {Phase: "Connected", Health: "healthy", Available: true, Version: "registry/2.0", MsgHas: "registry available"},
		"tls-verify": {Phase: "Error", Health: "unhealthy", MsgHas: "certificate"},
		"down":       {Phase: "Error", Health: "unhealthy", MsgHas: "connection refused"},
		"no-secret":  {Phase: "Error", Health: "unhealthy", MsgHas: "read credentials secret " + e.kube.Namespace + "/missing"},
	}
	for name, w := range wantStatus {
		st := e.status(t, name)
		got := brief{Phase: st.Phase, Health: st.Health, Available: st.Available, Repos: st.RepositoryCount,
			Version: st.Version, CatalogOK: st.Features["catalog_accessible"], MsgHas: w.MsgHas}
		if d := cmp.Diff(w, got); d != "" {
			t.Errorf("status of %s (-want +got):\n%s", name, d)
		}
		if !strings.Contains(st.Message, w.MsgHas) {
			t.Errorf("status message of %s = %q, want it to contain %q", name, st.Message, w.MsgHas)
		}
		if st.LastCheckTime == nil || time.Since(st.LastCheckTime.Time) > time.Minute {
			t.Errorf("status of %s: lastCheckTime %v", name, st.LastCheckTime)
		}
	}

	// Redis content.
	names, err := e.store.RegistryNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"auth", "down", "no-secret", "open", "tls-skip", "tls-verify"}, names); d != "" {
		t.Errorf("registries:all (-want +got):\n%s", d)
	}
	got, err := e.store.Registry(ctx, "open")
	if err != nil {
		t.Fatal(err)
	}
	wantSpec := engine.RegistrySpec{DisplayName: "Open", Endpoint: open.URL, Labels: map[string]string{"env": "test"},
		Monitoring:       engine.RegistryMonitoring{Interval: 60, Timeout: 10, CheckCatalog: true, MaxCatalogEntries: 100},
		HealthCheckPaths: []string{"/v2/"}}
	if d := cmp.Diff(wantSpec, got.Spec); d != "" {
		t.Errorf("stored spec of open (-want +got):\n%s", d)
	}
	if got.Status == nil || !got.Status.Available || got.Status.Health != engine.HealthHealthy || got.Status.RepositoryCount != 0 ||
		!got.Status.Features["catalog_accessible"] || got.Status.LastCheck.IsZero() {
		t.Errorf("stored status of open: %+v", got.Status)
	}
	evs, err := e.store.RegistryEvents(ctx, "down", 0)
	if err != nil || len(evs) != 1 || evs[0].Type != engine.EventRegistryReconciled || evs[0].Data["health"] != "unhealthy" {
		t.Errorf("events of down: %+v, %v", evs, err)
	}

	// A second run right away: nothing is due.
	sum, out = e.run(t)
	if sum.Attempted != 0 || sum.Skipped != 6 || !strings.Contains(out, "registry open: skipped in ") {
		t.Errorf("second run: %+v\n%s", sum, out)
	}

	// --force ignores the intervals; a lease held by another run still wins.
	if ok, err := e.store.AcquireLease(ctx, "registry:open", "other-run", time.Minute); err != nil || !ok {
		t.Fatalf("take lease: %v %v", ok, err)
	}
	sum, out = e.run(t, "--force")
	if sum.Attempted != 5 || sum.Skipped != 1 || !strings.Contains(out, "registry open: skipped in") || !strings.Contains(out, "leased by another run other-run") {
		t.Errorf("forced run with a held lease: %+v\n%s", sum, out)
	}
	if _, err := e.store.ReleaseLease(ctx, "registry:open", "other-run"); err != nil {
		t.Fatal(err)
	}

	// Shards split the units: together they attempt each once.
	total := 0
	for i := range 3 {
		s, _ := e.run(t, "--once-all", "--shard", strconv.Itoa(i)+"/3")
		if s.Shard != strconv.Itoa(i)+"/3" {
			t.Errorf("summary shard %q", s.Shard)
		}
		total += s.Attempted
	}
	if total != 6 {
		t.Errorf("shards attempted %d units together, want 6", total)
	}

	// JOB_COMPLETION_INDEX/JOB_COMPLETIONS select a shard like --shard.
	e.env["JOB_COMPLETION_INDEX"], e.env["JOB_COMPLETIONS"] = "0", "6"
	s, _ := e.run(t, "--force")
	delete(e.env, "JOB_COMPLETION_INDEX")
	delete(e.env, "JOB_COMPLETIONS")
	if s.Shard != "0/6" || s.Attempted > 6 {
		t.Errorf("indexed job summary %+v", s)
	}

	// Fixing the registry flips its status on the next forced run.
	down2 := testenv.StartRegistry(t, testenv.RegistryOptions{})
	patch := []byte(`{"spec":{"endpoint":"` + down2.URL + `"}}`)
	if _, err := e.kube.Dynamic.Resource(kube.RegistryConnectionsGVR).Namespace(e.kube.Namespace).Patch(ctx, "down", "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.run(t, "--force")
	if st := e.status(t, "down"); st.Phase != "Connected" || st.Health != "healthy" || !st.Available || st.Version != "registry/2.0" {
		t.Errorf("status after fixing the endpoint: %+v", st)
	}
}

// kubeconfigPath returns the test kubeconfig file (testenv.KubeConfig skips or fails the test
// when the environment is not up).
func kubeconfigPath(t *testing.T) string {
	t.Helper()
	testenv.KubeConfig(t)
	return os.Getenv(testenv.EnvKubeconfig)
}
