package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/history"
	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/metricsource"
	"github.com/clusterpulse/clusterpulse/engine/store"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// msEnv is a hub namespace (MetricSources, ClusterConnections and their Secrets), a "managed
// cluster" namespace on the same kube-apiserver holding the ConfigMaps to collect, a Redis
// prefix, VictoriaMetrics, and the environment a job run gets.
type msEnv struct {
	hub, managed *testenv.Kube
	redis        *testenv.Redis
	store        *store.Store
	vm           string
	env          map[string]string
	endpoint     string
	ca           []byte
}

func newMSEnv(t *testing.T) *msEnv {
	t.Helper()
	testenv.InstallCRDs(t, "../deploy/crds")
	hub := testenv.NewKube(t)
	managed := testenv.NewKube(t)
	r := testenv.NewRedis(t)
	vm := testenv.VictoriaMetricsURL(t)
	ca, err := os.ReadFile(os.Getenv(testenv.EnvKubeCAFile))
	if err != nil {
		t.Fatalf("read the kube-apiserver CA (%s): %v", testenv.EnvKubeCAFile, err)
	}
	host, port, _ := strings.Cut(r.Addr, ":")
	e := &msEnv{
		hub: hub, managed: managed, redis: r, vm: vm, ca: ca,
		store:    store.New(r.Client, store.Options{Prefix: r.Prefix}),
		endpoint: os.Getenv(testenv.EnvKubeURL),
		env: map[string]string{
			"NAMESPACE": hub.Namespace, "KUBECONFIG": kubeconfigPath(t),
			"REDIS_HOST": host, "REDIS_PORT": port, "REDIS_KEY_PREFIX": r.Prefix,
			"HOSTNAME": "test-pod", "VM_ENABLED": "true", "VM_ENDPOINT": vm,
		},
	}
	if e.endpoint == "" {
		t.Fatalf("%s is not set", testenv.EnvKubeURL)
	}
	return e
}

// cluster creates a ClusterConnection to the test apiserver whose Secret holds token and the
// apiserver CA.
func (e *msEnv) cluster(t *testing.T, name, token, mode string) {
	t.Helper()
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-creds"},
		Data: map[string][]byte{kube.SecretKeyToken: []byte(token), kube.SecretKeyCA: e.ca}}
	if _, err := e.hub.Client.CoreV1().Secrets(e.hub.Namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create secret: %v", err)
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": kube.GroupVersion.String(), "kind": "ClusterConnection",
		"metadata": map[string]any{"name": name, "namespace": e.hub.Namespace},
		"spec": map[string]any{"endpoint": e.endpoint, "credentialsRef": map[string]any{"name": name + "-creds"},
			"collectionMode": mode},
	}}
	if _, err := e.hub.Dynamic.Resource(kube.ClusterConnectionsGVR).Namespace(e.hub.Namespace).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ClusterConnection %s: %v", name, err)
	}
}

// configMaps creates the objects to collect in the managed namespace: three with app=demo and
// one without, which the label selector leaves out.
func (e *msEnv) configMaps(t *testing.T) {
	t.Helper()
	for _, cm := range []struct {
		name, app, tier, size string
	}{{"cm-a", "demo", "gold", "1"}, {"cm-b", "demo", "gold", "2"}, {"cm-c", "demo", "silver", "5"}, {"cm-x", "other", "gold", "100"}} {
		obj := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: cm.name, Labels: map[string]string{"app": cm.app, "tier": cm.tier}},
			Data:       map[string]string{"size": cm.size},
		}
		if _, err := e.managed.Client.CoreV1().ConfigMaps(e.managed.Namespace).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create configmap %s: %v", cm.name, err)
		}
	}
}

// configMapSpec is a MetricSource spec over the ConfigMaps of ns; expression is the computed
// field's.
func configMapSpec(ns, typ, expression string) map[string]any {
	return map[string]any{
		"source": map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"namespaces":    map[string]any{"include": []any{ns}},
			"labelSelector": map[string]any{"matchLabels": map[string]any{"app": "demo"}}},
		"fields": []any{
			map[string]any{"name": "tier", "path": ".metadata.labels.tier"},
			map[string]any{"name": "size", "path": ".data.size", "type": "integer"},
		},
		"computed": []any{map[string]any{"name": "double", "expression": expression, "type": "integer"}},
		"aggregations": []any{
			map[string]any{"name": "count", "function": "count"},
			map[string]any{"name": "total", "field": "size", "function": "sum"},
			map[string]any{"name": "by_tier", "function": "count", "groupBy": "tier"},
		},
		"collection": map[string]any{"intervalSeconds": 60, "timeoutSeconds": 10},
		"rbac":       map[string]any{"resourceTypeName": typ},
	}
}

func (e *msEnv) createMS(t *testing.T, name string, spec map[string]any) {
	t.Helper()
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": kube.GroupVersion.String(), "kind": "MetricSource",
		"metadata": map[string]any{"name": name, "namespace": e.hub.Namespace},
		"spec":     spec,
	}}
	if _, err := e.hub.Dynamic.Resource(kube.MetricSourcesGVR).Namespace(e.hub.Namespace).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create MetricSource %s: %v", name, err)
	}
}

func (e *msEnv) patchMS(t *testing.T, name, patch string) {
	t.Helper()
	if _, err := e.hub.Dynamic.Resource(kube.MetricSourcesGVR).Namespace(e.hub.Namespace).Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch MetricSource %s: %v", name, err)
	}
}

func (e *msEnv) ms(t *testing.T, name string) kube.MetricSource {
	t.Helper()
	u, err := e.hub.Dynamic.Resource(kube.MetricSourcesGVR).Namespace(e.hub.Namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get MetricSource %s: %v", name, err)
	}
	ms, err := kube.Decode[kube.MetricSource](u)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func (e *msEnv) run(t *testing.T, args ...string) (Summary, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Run(context.Background(), append([]string{"metricsource"}, args...), envFunc(e.env), &out, &errOut)
	if err != nil {
		t.Fatalf("job metricsource %q: %v\nstdout:\n%s\nstderr:\n%s", args, err, out.String(), errOut.String())
	}
	return lastSummary(t, out.String()), out.String()
}

func (e *msEnv) version(t *testing.T) int64 {
	t.Helper()
	v, err := e.store.MetricSourcesVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// keys lists the keys of the test prefix that contain part (SCAN: tests only).
func (e *msEnv) keys(t *testing.T, part string) []string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	iter := e.redis.Client.Scan(ctx, 0, e.redis.Prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if k := strings.TrimPrefix(iter.Val(), e.redis.Prefix); strings.Contains(k, part) {
			keys = append(keys, k)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

func (e *msEnv) ids(t *testing.T, list func(context.Context) ([]string, error)) []string {
	t.Helper()
	ids, err := list(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func (e *msEnv) typeIDs(t *testing.T, typ string) []string {
	t.Helper()
	ids, err := e.store.MetricSourceIDsByType(context.Background(), typ)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// checkReady compares the Ready condition of ms with the wanted status and reason.
func checkReady(t *testing.T, ms kube.MetricSource, status metav1.ConditionStatus, reason string) {
	t.Helper()
	c := apimeta.FindStatusCondition(ms.Status.Conditions, conditionReady)
	if c == nil {
		t.Fatalf("MetricSource %s has no Ready condition: %+v", ms.Name, ms.Status)
	}
	if c.Status != status || c.Reason != reason || c.ObservedGeneration != ms.Generation {
		t.Errorf("Ready of %s = %s/%s (generation %d), want %s/%s (generation %d)",
			ms.Name, c.Status, c.Reason, c.ObservedGeneration, status, reason, ms.Generation)
	}
}

// wantCollection is what the source of configMapSpec collects from the managed namespace.
func wantCollection(ns, id, cluster string) (engine.CustomCollection, engine.AggregationResults, engine.CustomMeta) {
	res := func(name, tier string, size float64) engine.CustomResource {
		return engine.CustomResource{ID: ns + "/" + name, Namespace: ns, Name: name,
			Labels: map[string]string{"app": "demo", "tier": tier},
			Values: map[string]any{"tier": tier, "size": size, "double": 2 * size}}
	}
	return engine.CustomCollection{SourceID: id, ClusterName: cluster, ResourceCount: 3,
			Resources: []engine.CustomResource{res("cm-a", "gold", 1), res("cm-b", "gold", 2), res("cm-c", "silver", 5)}},
		engine.AggregationResults{SourceID: id,
			Values: map[string]any{"count": 3.0, "total": 8.0, "by_tier": map[string]any{"gold": 2.0, "silver": 1.0}}},
		engine.CustomMeta{SourceID: id, ClusterName: cluster, ResourceCount: 3}
}

// ignoreTimes leaves out the fields that carry the collection's clock.
var ignoreTimes = cmp.Options{
	cmpopts.IgnoreFields(engine.CustomCollection{}, "CollectedAt", "DurationMs"),
	cmpopts.IgnoreFields(engine.AggregationResults{}, "ComputedAt", "DurationMs"),
	cmpopts.IgnoreFields(engine.CustomMeta{}, "LastCollectionTime", "DurationMs"),
}

// checkStored compares what the store holds for (cluster, id) with the expected collection.
func (e *msEnv) checkStored(t *testing.T, cluster, id string) {
	t.Helper()
	ctx := context.Background()
	wantRes, wantAgg, wantMeta := wantCollection(e.managed.Namespace, id, cluster)
	gotRes, err := e.store.CustomResources(ctx, cluster, id)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(wantRes, gotRes, ignoreTimes); d != "" {
		t.Errorf("resources of %s on %s (-want +got):\n%s", id, cluster, d)
	}
	gotAgg, err := e.store.CustomAggregations(ctx, cluster, id)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(wantAgg, gotAgg, ignoreTimes); d != "" {
		t.Errorf("aggregations of %s on %s (-want +got):\n%s", id, cluster, d)
	}
	gotMeta, err := e.store.CustomMeta(ctx, cluster, id)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(wantMeta, gotMeta, ignoreTimes); d != "" {
		t.Errorf("meta of %s on %s (-want +got):\n%s", id, cluster, d)
	}
	if gotRes.CollectedAt.IsZero() || gotMeta.LastCollectionTime.IsZero() {
		t.Errorf("collection without time: resources %v, meta %v", gotRes.CollectedAt, gotMeta.LastCollectionTime)
	}
}

// vmSeries returns "metric{labels}=value" of the series a query finds at now.
func vmSeries(ctx context.Context, q *history.Querier, query string) ([]string, error) {
	res, err := q.Query(ctx, query, time.Now())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range res.Series {
		v := "none"
		if len(s.Points) > 0 {
			v = fmt.Sprint(s.Points[len(s.Points)-1].Value)
		}
		out = append(out, fmt.Sprintf("%s{cluster=%s,group=%s}=%s", s.Metric["__name__"], s.Metric["cluster"], s.Metric["group"], v))
	}
	return out, nil
}

// TestMetricSourceJob runs the job over a valid and an invalid MetricSource: the valid one is
// compiled, stored with its indexes, collected (Redis and VictoriaMetrics) and reported Ready;
// the invalid one reports the bad field and is neither stored nor collected. A second forced
// run changes nothing (no config version bump, no status patch of the invalid source), and an
// unforced run skips the source that is not due.
func TestMetricSourceJob(t *testing.T) {
	e := newMSEnv(t)
	e.cluster(t, "good", os.Getenv(testenv.EnvKubeToken), "pull")
	e.configMaps(t)
	e.createMS(t, "cms", configMapSpec(e.managed.Namespace, "configs", "size * 2"))
	e.createMS(t, "broken", configMapSpec(e.managed.Namespace, "configs", "size *"))
	id := e.hub.Namespace + "/cms"

	sum, out := e.run(t)
	if sum.Attempted != 2 || sum.Succeeded != 1 || sum.Failed != 1 || sum.Deleted != 0 {
		t.Errorf("summary %+v, want 1 succeeded and 1 failed\n%s", sum, out)
	}
	for _, want := range []string{
		"metricsource cms: succeeded in ",
		"Active: collected 3 resources from 1 of 1 clusters; definition stored",
		"metricsource broken: failed in ",
		"spec.computed[0].expression",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}

	ms := e.ms(t, "cms")
	st := ms.Status
	if st.Phase != phaseActive || st.ResourcesCollected != 3 || st.ClustersCollected != 1 || st.ErrorsLastRun != 0 ||
		st.LastCollectionTime == nil || st.LastCollectionDuration == "" || st.FieldValidation != nil {
		t.Errorf("status of cms: %+v", st)
	}
	checkReady(t, ms, metav1.ConditionTrue, reasonCollected)

	broken := e.ms(t, "broken")
	if broken.Status.Phase != phaseError || !strings.HasPrefix(broken.Status.Message, "Compilation failed: 1 problem(s): spec.computed[0].expression: ") ||
		broken.Status.ResourcesCollected != 0 || broken.Status.LastCollectionTime != nil {
		t.Errorf("status of broken: %+v", broken.Status)
	}
	gotFields := []string{}
	for _, f := range broken.Status.FieldValidation {
		if f.Status != fieldInvalid || f.Message == "" {
			t.Errorf("fieldValidation entry %+v: want status invalid with a message", f)
		}
		gotFields = append(gotFields, f.Field)
	}
	if d := cmp.Diff([]string{"spec.computed[0].expression"}, gotFields); d != "" {
		t.Errorf("fieldValidation fields (-want +got):\n%s", d)
	}
	checkReady(t, broken, metav1.ConditionFalse, reasonCompilationFailed)
	if keys := e.keys(t, "broken"); len(keys) != 0 {
		t.Errorf("keys stored for the invalid source: %v", keys)
	}

	// Data, definition and indexes.
	e.checkStored(t, "good", id)
	def, err := e.store.MetricSourceDefinition(context.Background(), e.hub.Namespace, "cms")
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := metricsource.Load(def)
	if err != nil {
		t.Fatalf("load stored definition: %v", err)
	}
	compiled, err := metricsource.Compile(&ms)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.ID != id || loaded.Hash != compiled.Hash || loaded.RBAC.ResourceTypeName != "configs" {
		t.Errorf("stored definition: id %q hash %q type %q; want %q %q configs", loaded.ID, loaded.Hash, loaded.RBAC.ResourceTypeName, id, compiled.Hash)
	}
	meta, err := e.store.MetricSourceMeta(context.Background(), e.hub.Namespace, "cms")
	if err != nil {
		t.Fatal(err)
	}
	wantMeta := map[string]string{"compiledAt": meta["compiledAt"], "hash": compiled.Hash, "kind": "ConfigMap", "apiVersion": "v1", "resourceTypeName": "configs"}
	if d := cmp.Diff(wantMeta, meta); d != "" || meta["compiledAt"] == "" {
		t.Errorf("definition meta (-want +got):\n%s", d)
	}
	for name, got := range map[string][]string{
		"all": e.ids(t, e.store.MetricSourceIDs), "enabled": e.ids(t, e.store.EnabledMetricSourceIDs), "by type": e.typeIDs(t, "configs"),
	} {
		if d := cmp.Diff([]string{id}, got); d != "" {
			t.Errorf("index %s (-want +got):\n%s", name, d)
		}
	}

	// Aggregation series in VictoriaMetrics.
	q, err := history.NewQuerier(history.Config{Endpoint: e.vm, Timeout: 10 * time.Second, WriteAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	wantSeries := map[string][]string{
		`clusterpulse_custom_resource_total{source="` + id + `"}`:   {"clusterpulse_custom_resource_total{cluster=good,group=}=8"},
		`clusterpulse_custom_resource_by_tier{source="` + id + `"}`: {"clusterpulse_custom_resource_by_tier{cluster=good,group=gold}=2", "clusterpulse_custom_resource_by_tier{cluster=good,group=silver}=1"},
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		resp, err := http.Get(e.vm + "/internal/force_flush")
		if err != nil {
			return err
		}
		resp.Body.Close()
		for query, want := range wantSeries {
			got, err := vmSeries(context.Background(), q, query)
			if err != nil {
				return err
			}
			if d := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
				return fmt.Errorf("%s (-want +got):\n%s", query, d)
			}
		}
		return nil
	})

	// A forced run of unchanged sources: no version bump, the invalid source's status is not
	// patched again.
	v := e.version(t)
	if v < 1 {
		t.Errorf("config version after the first run = %d, want at least 1", v)
	}
	rv := broken.ResourceVersion
	sum, out = e.run(t, "--force")
	if sum.Attempted != 2 || sum.Succeeded != 1 || sum.Failed != 1 {
		t.Errorf("forced run summary %+v\n%s", sum, out)
	}
	if !strings.Contains(out, "definition unchanged") || !strings.Contains(out, "status unchanged") {
		t.Errorf("forced run of unchanged sources:\n%s", out)
	}
	if got := e.version(t); got != v {
		t.Errorf("config version after an unchanged run = %d, want %d", got, v)
	}
	if got := e.ms(t, "broken").ResourceVersion; got != rv {
		t.Errorf("invalid source patched again: resourceVersion %s -> %s", rv, got)
	}

	// Not forced: cms is not due; broken is reported again (no interval for invalid sources).
	sum, out = e.run(t)
	if sum.Skipped != 1 || sum.Succeeded != 0 || sum.Failed != 1 || !strings.Contains(out, "metricsource cms: skipped in ") {
		t.Errorf("unforced run summary %+v, want cms skipped\n%s", sum, out)
	}

	// Fixing the invalid source stores and collects it, and bumps the version.
	e.patchMS(t, "broken", `{"spec":{"computed":[{"name":"double","expression":"size * 2","type":"integer"}]}}`)
	sum, out = e.run(t)
	if sum.Succeeded != 1 || sum.Failed != 0 || sum.Skipped != 1 {
		t.Errorf("run after fixing broken: summary %+v\n%s", sum, out)
	}
	broken = e.ms(t, "broken")
	if broken.Status.Phase != phaseActive || broken.Status.FieldValidation != nil || broken.Status.ErrorsLastRun != 0 {
		t.Errorf("status of fixed source: %+v", broken.Status)
	}
	checkReady(t, broken, metav1.ConditionTrue, reasonCollected)
	e.checkStored(t, "good", e.hub.Namespace+"/broken")
	if got := e.version(t); got <= v {
		t.Errorf("config version after fixing a source = %d, want more than %d", got, v)
	}
}

// TestMetricSourceJobTypeChangeAndDelete checks that changing rbac.resourceTypeName moves the
// id between type indexes, and that deleting the object removes the definition, the indexes
// and every per-cluster key, each change bumping the config version.
func TestMetricSourceJobTypeChangeAndDelete(t *testing.T) {
	e := newMSEnv(t)
	e.cluster(t, "good", os.Getenv(testenv.EnvKubeToken), "pull")
	e.configMaps(t)
	e.createMS(t, "cms", configMapSpec(e.managed.Namespace, "configs", "size * 2"))
	id := e.hub.Namespace + "/cms"
	e.run(t)
	e.checkStored(t, "good", id)
	v1 := e.version(t)

	e.patchMS(t, "cms", `{"spec":{"rbac":{"resourceTypeName":"settings"}}}`)
	e.run(t) // not forced: the definition is stored on every run, whatever the interval
	if got := e.typeIDs(t, "configs"); len(got) != 0 {
		t.Errorf("old type index still holds %v", got)
	}
	if d := cmp.Diff([]string{id}, e.typeIDs(t, "settings")); d != "" {
		t.Errorf("new type index (-want +got):\n%s", d)
	}
	v2 := e.version(t)
	if v2 <= v1 {
		t.Errorf("config version after the type change = %d, want more than %d", v2, v1)
	}

	if err := e.hub.Dynamic.Resource(kube.MetricSourcesGVR).Namespace(e.hub.Namespace).Delete(context.Background(), "cms", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	sum, out := e.run(t)
	if sum.Deleted != 1 || !strings.Contains(out, "metricsource cms: deleted in ") {
		t.Errorf("summary %+v, want 1 deleted\n%s", sum, out)
	}
	if keys := e.keys(t, "cms"); len(keys) != 0 {
		t.Errorf("keys left after deleting the MetricSource: %v", keys)
	}
	if got := e.ids(t, e.store.MetricSourceIDs); len(got) != 0 {
		t.Errorf("metricsources:all after delete: %v", got)
	}
	if got := e.version(t); got <= v2 {
		t.Errorf("config version after the delete = %d, want more than %d", got, v2)
	}
	// Nothing left to delete: the next run neither deletes nor bumps.
	v3 := e.version(t)
	if sum, out := e.run(t); sum.Deleted != 0 || sum.Attempted != 0 {
		t.Errorf("run after the delete: summary %+v\n%s", sum, out)
	}
	if got := e.version(t); got != v3 {
		t.Errorf("config version after an empty run = %d, want %d", got, v3)
	}
}

// TestMetricSourceJobClusterErrors collects one source from a good cluster, a cluster whose
// token is wrong, and a push cluster: the wrong token is one error of the run, the good cluster
// is collected anyway, the push cluster is left to its agent.
func TestMetricSourceJobClusterErrors(t *testing.T) {
	e := newMSEnv(t)
	e.cluster(t, "good", os.Getenv(testenv.EnvKubeToken), "pull")
	e.cluster(t, "bad", "not-a-valid-token", "pull")
	e.cluster(t, "pushed", os.Getenv(testenv.EnvKubeToken), "push")
	e.configMaps(t)
	e.createMS(t, "cms", configMapSpec(e.managed.Namespace, "configs", "size * 2"))
	id := e.hub.Namespace + "/cms"

	sum, out := e.run(t)
	if sum.Succeeded != 1 || sum.Failed != 0 {
		t.Errorf("summary %+v, want the source succeeded (one of two clusters collected)\n%s", sum, out)
	}
	ms := e.ms(t, "cms")
	st := ms.Status
	if st.Phase != phaseActive || st.ResourcesCollected != 3 || st.ClustersCollected != 1 || st.ErrorsLastRun != 1 {
		t.Errorf("status: %+v", st)
	}
	if !strings.HasPrefix(st.Message, "collected 3 resources from 1 of 2 clusters; 1 error(s): bad: ") {
		t.Errorf("message %q", st.Message)
	}
	checkReady(t, ms, metav1.ConditionFalse, reasonCollectionErrors)
	e.checkStored(t, "good", id)
	for _, c := range []string{"bad", "pushed"} {
		if _, err := e.store.CustomResources(context.Background(), c, id); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("data of cluster %s: %v, want none", c, err)
		}
	}
	if d := cmp.Diff([]string{"good"}, e.clusterIndex(t, "cms")); d != "" {
		t.Errorf("cluster index (-want +got):\n%s", d)
	}

	// Every cluster failing makes the source fail with phase Error.
	if err := e.hub.Dynamic.Resource(kube.ClusterConnectionsGVR).Namespace(e.hub.Namespace).Delete(context.Background(), "good", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	sum, out = e.run(t, "--force")
	if sum.Failed != 1 {
		t.Errorf("summary %+v, want the source failed\n%s", sum, out)
	}
	ms = e.ms(t, "cms")
	if ms.Status.Phase != phaseError || ms.Status.ClustersCollected != 0 || ms.Status.ResourcesCollected != 0 || ms.Status.ErrorsLastRun != 1 {
		t.Errorf("status with every cluster failing: %+v", ms.Status)
	}
	checkReady(t, ms, metav1.ConditionFalse, reasonCollectionFailed)
}

func (e *msEnv) clusterIndex(t *testing.T, name string) []string {
	t.Helper()
	names, err := e.store.MetricSourceClusterNames(context.Background(), e.hub.Namespace, name)
	if err != nil {
		t.Fatal(err)
	}
	return names
}
