package jobs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/metricsource"
	"github.com/clusterpulse/clusterpulse/engine/store"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// installedObjects reads every object an install of in creates; missing ones are nil.
type installedObjects struct {
	ns         *corev1.Namespace
	sa         *corev1.ServiceAccount
	role       *rbacv1.ClusterRole
	binding    *rbacv1.ClusterRoleBinding
	secret     *corev1.Secret
	deployment *appsv1.Deployment
	// caMap is the CA ConfigMap, installed with TLS and a CA bundle only.
	caMap *corev1.ConfigMap
}

func readInstalled(t *testing.T, cs kubernetes.Interface, ns, name string) installedObjects {
	t.Helper()
	ctx := context.Background()
	var o installedObjects
	keep := func(what string, err error) bool {
		if apierrors.IsNotFound(err) {
			return false
		}
		if err != nil {
			t.Fatalf("get %s: %v", what, err)
		}
		return true
	}
	if v, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); keep("namespace", err) {
		o.ns = v
	}
	if v, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{}); keep("service account", err) {
		o.sa = v
	}
	if v, err := cs.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{}); keep("cluster role", err) {
		o.role = v
	}
	if v, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, name, metav1.GetOptions{}); keep("cluster role binding", err) {
		o.binding = v
	}
	if v, err := cs.CoreV1().Secrets(ns).Get(ctx, name+"-token", metav1.GetOptions{}); keep("secret", err) {
		o.secret = v
	}
	if v, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{}); keep("deployment", err) {
		o.deployment = v
	}
	if v, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, name+"-ingester-ca", metav1.GetOptions{}); keep("config map", err) {
		o.caMap = v
	}
	return o
}

// resourceVersions lists the resourceVersion of each object (""for a missing one).
func (o installedObjects) resourceVersions() []string {
	rv := func(m metav1.Object, ok bool) string {
		if !ok {
			return ""
		}
		return m.GetResourceVersion()
	}
	return []string{rv(o.ns, o.ns != nil), rv(o.sa, o.sa != nil), rv(o.role, o.role != nil),
		rv(o.binding, o.binding != nil), rv(o.secret, o.secret != nil), rv(o.deployment, o.deployment != nil), rv(o.caMap, o.caMap != nil)}
}

// removedOrTerminating fails unless every object is gone; the namespace may be terminating
// (no namespace controller runs in the test environment).
func (o installedObjects) checkRemoved(t *testing.T) {
	t.Helper()
	if o.sa != nil || o.role != nil || o.binding != nil || o.secret != nil || o.deployment != nil || o.caMap != nil {
		t.Errorf("objects left after removal: sa=%v role=%v binding=%v secret=%v deployment=%v config map=%v",
			o.sa != nil, o.role != nil, o.binding != nil, o.secret != nil, o.deployment != nil, o.caMap != nil)
	}
	if o.ns != nil && o.ns.DeletionTimestamp == nil {
		t.Errorf("namespace %s not deleted", o.ns.Name)
	}
}

// cleanupInstall removes whatever an install test leaves on the shared apiserver: the
// cluster-scoped role and binding, and the namespace (finalized, since nothing else would).
func cleanupInstall(t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Cleanup(func() {
		ctx := context.Background()
		_ = cs.RbacV1().ClusterRoleBindings().Delete(ctx, name, metav1.DeleteOptions{})
		_ = cs.RbacV1().ClusterRoles().Delete(ctx, name, metav1.DeleteOptions{})
		_ = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		if n, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
			n.Spec.Finalizers = nil
			if _, err := cs.CoreV1().Namespaces().Finalize(ctx, n, metav1.UpdateOptions{}); err != nil {
				t.Logf("finalize namespace %s: %v", ns, err)
			}
		}
	})
}

// saveSource compiles a MetricSource of kind apiVersion/kind and stores it as enabled.
func saveSource(t *testing.T, st *store.Store, name, apiVersion, kind string) {
	t.Helper()
	c, err := metricsource.Compile(&kube.MetricSource{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "hub"},
		Spec: kube.MetricSourceSpec{
			Source: kube.ResourceTarget{APIVersion: apiVersion, Kind: kind},
			Fields: []kube.FieldExtraction{{Name: "n", Path: ".metadata.name"}},
			RBAC:   kube.MetricSourceRBAC{ResourceTypeName: name},
		},
	})
	if err != nil {
		t.Fatalf("compile MetricSource %s: %v", name, err)
	}
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SaveMetricSource(context.Background(), store.MetricSourceDef{Namespace: "hub", Name: name, ResourceTypeName: name,
		Kind: kind, APIVersion: apiVersion, Hash: c.Hash, CompiledAt: time.Now(), Definition: data}); err != nil {
		t.Fatal(err)
	}
}

// TestCollectorInstall runs the installer against the real kube-apiserver (the "managed
// cluster") with an admin client: every object gets the expected spec, the ClusterRole never
// grants Secrets, a second install changes nothing, the token is generated once and its hash
// maps to the cluster, a lost Secret rotates the token (the old one revoked), and removal
// deletes everything and revokes the token.
func TestCollectorInstall(t *testing.T) {
	cfg := testenv.KubeConfig(t)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := testenv.NewRedis(t)
	st := store.New(r.Client, store.Options{Prefix: r.Prefix})
	name := testenv.Name(t)
	cleanupInstall(t, cs, name, name)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	in := &installer{env: collectorEnv{Namespace: name, Name: name, Image: "registry.test/clusterpulse"}, store: st, now: func() time.Time { return at }}
	ctx := context.Background()

	saveSource(t, st, "pvcs", "v1", "PersistentVolumeClaim")
	saveSource(t, st, "secrets", "v1", "Secret")
	saveSource(t, st, "absent", "example.invalid/v1", "Widget")
	msVersion, err := st.MetricSourcesVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}

	cc := &kube.ClusterConnection{ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: "hub"},
		Spec: kube.ClusterConnectionSpec{Endpoint: "https://api.prod:6443", CredentialsRef: kube.CredentialsRef{Name: "creds"},
			CollectionMode: engine.CollectionModePush, IngesterAddress: "ingester.example:9443", CollectorVersion: "v1.4.0"}}

	t.Run("no ingester address", func(t *testing.T) {
		bad := cc.DeepCopy()
		bad.Spec.IngesterAddress = " "
		if _, _, err := in.install(ctx, cs, bad, nil, msVersion, collectorTLS{}); !errors.Is(err, engine.ErrInvalid) {
			t.Errorf("install without ingesterAddress = %v, want ErrInvalid", err)
		}
		if o := readInstalled(t, cs, name, name); o.ns != nil {
			t.Errorf("namespace created although nothing may be installed")
		}
	})

	rec, notes, err := in.install(ctx, cs, cc, nil, msVersion, collectorTLS{})
	if err != nil {
		t.Fatalf("install: %v (notes %q)", err, notes)
	}
	if diff := cmp.Diff([]string{"MetricSource hub/secrets reads Secrets: not granted to the collector"}, notes); diff != "" {
		t.Errorf("install notes mismatch (-want +got):\n%s", diff)
	}
	o := readInstalled(t, cs, name, name)
	if o.ns == nil || o.sa == nil || o.role == nil || o.binding == nil || o.secret == nil || o.deployment == nil {
		t.Fatalf("objects missing after install: %+v", o)
	}

	t.Run("labels", func(t *testing.T) {
		want := map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/component": "collector",
			"app.kubernetes.io/part-of": "clusterpulse", "app.kubernetes.io/managed-by": "clusterpulse", "app.kubernetes.io/version": "v1.4.0"}
		for what, got := range map[string]map[string]string{"service account": o.sa.Labels, "cluster role": o.role.Labels,
			"binding": o.binding.Labels, "secret": o.secret.Labels, "deployment": o.deployment.Labels} {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s labels mismatch (-want +got):\n%s", what, diff)
			}
		}
		if o.ns.Labels["app.kubernetes.io/managed-by"] != "clusterpulse" {
			t.Errorf("namespace labels %v", o.ns.Labels)
		}
	})

	t.Run("cluster role", func(t *testing.T) {
		want := collectorRules([]schema.GroupResource{{Group: "", Resource: "persistentvolumeclaims"}})
		if diff := cmp.Diff(want, o.role.Rules); diff != "" {
			t.Errorf("rules mismatch (-want +got):\n%s", diff)
		}
		if grantsSecrets(o.role.Rules) {
			t.Errorf("the collector's ClusterRole grants Secrets: %+v", o.role.Rules)
		}
		wantRef := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}
		wantSubj := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: name}}
		if diff := cmp.Diff(wantRef, o.binding.RoleRef); diff != "" {
			t.Errorf("role ref mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantSubj, o.binding.Subjects); diff != "" {
			t.Errorf("subjects mismatch (-want +got):\n%s", diff)
		}
	})

	token := string(o.secret.Data[CollectorTokenKey])
	t.Run("token", func(t *testing.T) {
		if len(token) != 64 || strings.Trim(token, "0123456789abcdef") != "" {
			t.Errorf("token %q is not 32 random bytes in hex", token)
		}
		if o.secret.Type != corev1.SecretTypeOpaque {
			t.Errorf("secret type %q", o.secret.Type)
		}
		// The ingester authenticates with this lookup (connect/ingester/auth.go).
		got, err := st.CollectorTokenCluster(ctx, token)
		if err != nil || got != "prod" {
			t.Errorf("CollectorTokenCluster = %q, %v; want prod", got, err)
		}
	})

	t.Run("deployment", func(t *testing.T) {
		d := o.deployment
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
			t.Errorf("replicas %v, want 1", d.Spec.Replicas)
		}
		if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			t.Errorf("strategy %q, want Recreate", d.Spec.Strategy.Type)
		}
		pod := d.Spec.Template.Spec
		if pod.ServiceAccountName != name {
			t.Errorf("service account %q, want %q", pod.ServiceAccountName, name)
		}
		if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
			psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("pod securityContext %+v", psc)
		}
		if len(pod.Containers) != 1 {
			t.Fatalf("%d containers, want 1", len(pod.Containers))
		}
		c := pod.Containers[0]
		if c.Image != "registry.test/clusterpulse:v1.4.0" || !slices.Equal(c.Args, []string{"collector"}) {
			t.Errorf("image %q args %q", c.Image, c.Args)
		}
		wantEnv := []corev1.EnvVar{
			{Name: "CLUSTER_NAME", Value: "prod"},
			{Name: "INGESTER_ADDRESS", Value: "ingester.example:9443"},
			{Name: "COLLECTOR_TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: name + "-token"}, Key: CollectorTokenKey}}},
			{Name: "CLUSTER_API_URL", Value: "https://api.prod:6443"},
			{Name: "COLLECTOR_HTTP_PORT", Value: "8080"},
		}
		if diff := cmp.Diff(wantEnv, c.Env); diff != "" {
			t.Errorf("env mismatch (-want +got):\n%s", diff)
		}
		wantPorts := []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}
		if diff := cmp.Diff(wantPorts, c.Ports); diff != "" {
			t.Errorf("ports mismatch (-want +got):\n%s", diff)
		}
		for what, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port != intstr.FromString("http") {
				t.Errorf("%s probe %+v, want GET /healthz on port http", what, p)
			}
		}
		wantRes := corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
		}
		if !wantRes.Requests.Cpu().Equal(*c.Resources.Requests.Cpu()) || !wantRes.Requests.Memory().Equal(*c.Resources.Requests.Memory()) ||
			!wantRes.Limits.Cpu().Equal(*c.Resources.Limits.Cpu()) || !wantRes.Limits.Memory().Equal(*c.Resources.Limits.Memory()) {
			t.Errorf("resources %+v, want %+v", c.Resources, wantRes)
		}
		sc := c.SecurityContext
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
			!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 ||
			sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("container securityContext %+v", sc)
		}
		if got := d.Spec.Template.Annotations["clusterpulse.io/token-hash"]; got != store.CollectorTokenHash(token)[:16] {
			t.Errorf("token-hash annotation %q", got)
		}
	})

	t.Run("record", func(t *testing.T) {
		got, found, err := st.LoadCollectorInstall(ctx, "prod")
		if err != nil || !found {
			t.Fatalf("LoadCollectorInstall = %v, %v", found, err)
		}
		want := store.CollectorInstall{Cluster: "prod", Namespace: name, Name: name, NamespaceCreated: true, Version: "v1.4.0",
			Hash: in.hash(cc, msVersion, collectorTLS{}), TokenHash: store.CollectorTokenHash(token), Endpoint: "https://api.prod:6443",
			CredentialsRef: engine.CredentialsRef{Name: "creds", Namespace: "hub"}, InstalledAt: engine.NewTime(at)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("record mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, rec); diff != "" {
			t.Errorf("returned record mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("second install is a no-op", func(t *testing.T) {
		before := o.resourceVersions()
		if _, _, err := in.install(ctx, cs, cc, &rec, msVersion, collectorTLS{}); err != nil {
			t.Fatal(err)
		}
		after := readInstalled(t, cs, name, name)
		if diff := cmp.Diff(before, after.resourceVersions()); diff != "" {
			t.Errorf("resourceVersions changed by an identical install (-before +after):\n%s", diff)
		}
		if got := string(after.secret.Data[CollectorTokenKey]); got != token {
			t.Errorf("token rotated by an identical install")
		}
	})

	t.Run("token registered again when Redis lost it", func(t *testing.T) {
		if err := st.RevokeCollectorToken(ctx, token); err != nil {
			t.Fatal(err)
		}
		if _, _, err := in.install(ctx, cs, cc, &rec, msVersion, collectorTLS{}); err != nil {
			t.Fatal(err)
		}
		got := readInstalled(t, cs, name, name)
		if string(got.secret.Data[CollectorTokenKey]) != token {
			t.Errorf("the token was rotated; want it kept and registered again")
		}
		if c, err := st.CollectorTokenCluster(ctx, token); err != nil || c != "prod" {
			t.Errorf("CollectorTokenCluster = %q, %v; want prod", c, err)
		}
	})

	var rotated string
	t.Run("lost secret rotates the token", func(t *testing.T) {
		if err := cs.CoreV1().Secrets(name).Delete(ctx, name+"-token", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		rec2, _, err := in.install(ctx, cs, cc, &rec, msVersion, collectorTLS{})
		if err != nil {
			t.Fatal(err)
		}
		got := readInstalled(t, cs, name, name)
		rotated = string(got.secret.Data[CollectorTokenKey])
		if rotated == "" || rotated == token {
			t.Fatalf("token after the Secret was lost: %q (old %q)", rotated, token)
		}
		if c, _ := st.CollectorTokenCluster(ctx, token); c != "" {
			t.Errorf("old token still maps to %q; want it revoked", c)
		}
		if c, _ := st.CollectorTokenCluster(ctx, rotated); c != "prod" {
			t.Errorf("new token maps to %q, want prod", c)
		}
		if rec2.TokenHash != store.CollectorTokenHash(rotated) {
			t.Errorf("record token hash not updated")
		}
		if a := got.deployment.Spec.Template.Annotations["clusterpulse.io/token-hash"]; a != store.CollectorTokenHash(rotated)[:16] {
			t.Errorf("pod template not rolled for the new token: annotation %q", a)
		}
		rec = rec2
	})

	t.Run("remove", func(t *testing.T) {
		if err := in.remove(ctx, cs, rec); err != nil {
			t.Fatal(err)
		}
		readInstalled(t, cs, name, name).checkRemoved(t)
		if c, _ := st.CollectorTokenCluster(ctx, rotated); c != "" {
			t.Errorf("token still maps to %q after removal", c)
		}
		if err := in.remove(ctx, cs, rec); err != nil {
			t.Errorf("second removal: %v", err)
		}
	})
}

// TestCollectorInstallKeepsForeignNamespace: a namespace that existed before the install is
// not deleted by the removal.
func TestCollectorInstallKeepsForeignNamespace(t *testing.T) {
	k := testenv.NewKube(t)
	r := testenv.NewRedis(t)
	st := store.New(r.Client, store.Options{Prefix: r.Prefix})
	name := testenv.Name(t)
	cleanupInstall(t, k.Client, k.Namespace, name)
	in := &installer{env: collectorEnv{Namespace: k.Namespace, Name: name, Image: DefaultCollectorImage}, store: st, now: time.Now}
	cc := &kube.ClusterConnection{ObjectMeta: metav1.ObjectMeta{Name: "c1", Namespace: "hub"},
		Spec: kube.ClusterConnectionSpec{Endpoint: "https://a:6443", IngesterAddress: "ing:9443"}}
	ctx := context.Background()
	rec, _, err := in.install(ctx, k.Client, cc, nil, 0, collectorTLS{})
	if err != nil {
		t.Fatal(err)
	}
	if rec.NamespaceCreated {
		t.Errorf("NamespaceCreated for a namespace that existed")
	}
	if err := in.remove(ctx, k.Client, rec); err != nil {
		t.Fatal(err)
	}
	o := readInstalled(t, k.Client, k.Namespace, name)
	if o.ns == nil || o.ns.DeletionTimestamp != nil {
		t.Errorf("the pre-existing namespace was deleted")
	}
	o.ns = nil
	o.checkRemoved(t)
}

// TestJobPullInstallsCollector runs job pull as the binary would on a push cluster whose
// ClusterConnection token may install: the collector is installed while the cluster is pulled
// as a fallback, a connected collector is left alone until an input changes (then upgraded),
// switching to pull removes everything and revokes the token, and deleting the
// ClusterConnection of an installed cluster removes its collector too.
func TestJobPullInstallsCollector(t *testing.T) {
	e := newPullEnv(t)
	admin := os.Getenv(testenv.EnvKubeToken)
	if admin == "" {
		t.Skipf("%s is not set", testenv.EnvKubeToken)
	}
	e.secret(t, "admin-creds", admin, e.ca)
	name := testenv.Name(t)
	cleanupInstall(t, e.hub.Client, name, name)
	e.env["COLLECTOR_NAMESPACE"] = name
	e.env["COLLECTOR_NAME"] = name
	e.env["COLLECTOR_IMAGE"] = "registry.test/clusterpulse"
	cs := e.hub.Client
	ctx := context.Background()
	e.createCC(t, "pushed", map[string]any{"endpoint": e.endpoint, "credentialsRef": map[string]any{"name": "admin-creds"},
		"collectionMode": "push", "ingesterAddress": "ingester.clusterpulse.svc:9443"})

	testenv.Eventually(t, 20*time.Second, func() error {
		sum, out := e.run(t, "--force")
		if sum.Succeeded != 1 || !strings.Contains(out, "collector latest applied to "+name+"/"+name) ||
			!strings.Contains(out, "push collector not connected, pulled as a fallback") {
			return fmt.Errorf("install run %+v\n%s", sum, out)
		}
		return nil
	})
	st := e.ccStatus(t, "pushed")
	if st.Phase != "Connected" || st.CollectorStatus == nil || st.CollectorStatus.Connected || st.CollectorStatus.Version != "latest" {
		t.Errorf("status after the install: %+v %+v", st, st.CollectorStatus)
	}
	if !strings.Contains(st.Message, "collector latest applied") {
		t.Errorf("status message %q does not tell the collector was applied", st.Message)
	}
	o := readInstalled(t, cs, name, name)
	if o.deployment == nil || o.secret == nil || o.role == nil {
		t.Fatalf("objects missing after job pull: %+v", o)
	}
	token := string(o.secret.Data[CollectorTokenKey])
	if c, err := e.store.CollectorTokenCluster(ctx, token); err != nil || c != "pushed" {
		t.Fatalf("CollectorTokenCluster = %q, %v; want pushed", c, err)
	}

	// A second fallback run applies again and changes nothing.
	before := o.resourceVersions()
	e.run(t, "--force")
	if diff := cmp.Diff(before, readInstalled(t, cs, name, name).resourceVersions()); diff != "" {
		t.Errorf("a second run changed the installed objects (-before +after):\n%s", diff)
	}

	// Connected: nothing is applied while the inputs are unchanged.
	if err := e.store.SetPresence(ctx, PresenceKindCollector, "pushed", map[string]string{"replica": "ingester-0"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	sum, out := e.run(t, "--force")
	if sum.Succeeded != 1 || !strings.Contains(out, "collector present") || strings.Contains(out, "upgraded") {
		t.Errorf("run with the collector present: %+v\n%s", sum, out)
	}
	// Connected, collectorVersion changed: upgraded.
	e.patchCC(t, "pushed", `{"spec":{"collectorVersion":"v9.9.9"}}`)
	sum, out = e.run(t, "--force")
	if sum.Succeeded != 1 || !strings.Contains(out, "collector upgraded to v9.9.9") {
		t.Errorf("upgrade run: %+v\n%s", sum, out)
	}
	o = readInstalled(t, cs, name, name)
	if o.deployment == nil || o.deployment.Spec.Template.Spec.Containers[0].Image != "registry.test/clusterpulse:v9.9.9" {
		t.Errorf("deployment not upgraded: %+v", o.deployment)
	}
	if st := e.ccStatus(t, "pushed"); st.CollectorStatus == nil || !st.CollectorStatus.Connected || st.CollectorStatus.Version != "v9.9.9" {
		t.Errorf("collectorStatus after the upgrade: %+v", st.CollectorStatus)
	}
	if string(o.secret.Data[CollectorTokenKey]) != token {
		t.Errorf("the upgrade rotated the token")
	}

	// Switched to pull: everything is removed and the token revoked.
	if err := e.store.ClearPresence(ctx, PresenceKindCollector, "pushed"); err != nil {
		t.Fatal(err)
	}
	e.patchCC(t, "pushed", `{"spec":{"collectionMode":"pull"}}`)
	sum, out = e.run(t, "--force")
	if sum.Succeeded != 1 || !strings.Contains(out, "collector removed from "+name+"/"+name) {
		t.Errorf("run after the switch to pull: %+v\n%s", sum, out)
	}
	readInstalled(t, cs, name, name).checkRemoved(t)
	if c, _ := e.store.CollectorTokenCluster(ctx, token); c != "" {
		t.Errorf("token still maps to %q after the switch to pull", c)
	}
	if _, found, err := e.store.LoadCollectorInstall(ctx, "pushed"); err != nil || found {
		t.Errorf("install record after removal: found=%v err=%v", found, err)
	}
	sum, out = e.run(t, "--force")
	if strings.Contains(out, "collector removed") || sum.Succeeded != 1 {
		t.Errorf("a pull run with nothing installed mentions a removal: %+v\n%s", sum, out)
	}
}

// TestJobPullRemovesCollectorOfDeletedCluster: deleting the ClusterConnection of a cluster
// with an installed collector removes the collector (its credentials Secret still exists) and
// revokes its token.
func TestJobPullRemovesCollectorOfDeletedCluster(t *testing.T) {
	e := newPullEnv(t)
	admin := os.Getenv(testenv.EnvKubeToken)
	if admin == "" {
		t.Skipf("%s is not set", testenv.EnvKubeToken)
	}
	e.secret(t, "admin-creds", admin, e.ca)
	// The namespace exists already (the hub's own test namespace), so it must be kept.
	name := testenv.Name(t)
	cleanupInstall(t, e.hub.Client, e.managed.Namespace, name)
	e.env["COLLECTOR_NAMESPACE"] = e.managed.Namespace
	e.env["COLLECTOR_NAME"] = name
	cs := e.hub.Client
	ctx := context.Background()
	e.createCC(t, "gone", map[string]any{"endpoint": e.endpoint, "credentialsRef": map[string]any{"name": "admin-creds"},
		"collectionMode": "push", "ingesterAddress": "ingester:9443"})
	testenv.Eventually(t, 20*time.Second, func() error {
		sum, out := e.run(t, "--force")
		if sum.Succeeded != 1 || !strings.Contains(out, "collector latest applied") {
			return fmt.Errorf("install run %+v\n%s", sum, out)
		}
		return nil
	})
	o := readInstalled(t, cs, e.managed.Namespace, name)
	if o.deployment == nil || o.secret == nil {
		t.Fatalf("collector not installed: %+v", o)
	}
	token := string(o.secret.Data[CollectorTokenKey])

	if err := e.hub.Dynamic.Resource(kube.ClusterConnectionsGVR).Namespace(e.hub.Namespace).Delete(ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	sum, out := e.run(t, "--force")
	if sum.Deleted != 1 || !strings.Contains(out, "collector removed from "+e.managed.Namespace+"/"+name) {
		t.Errorf("run after the deletion: %+v\n%s", sum, out)
	}
	after := readInstalled(t, cs, e.managed.Namespace, name)
	if after.ns == nil || after.ns.DeletionTimestamp != nil {
		t.Errorf("the namespace the install did not create was deleted")
	}
	after.ns = nil
	after.checkRemoved(t)
	if c, _ := e.store.CollectorTokenCluster(ctx, token); c != "" {
		t.Errorf("token still maps to %q after the ClusterConnection was deleted", c)
	}
	if names, err := e.store.CollectorInstallClusters(ctx); err != nil || len(names) != 0 {
		t.Errorf("installed clusters after removal: %v %v", names, err)
	}
}

// testCAPEM returns a self-signed CA certificate in PEM (its content is all the installer
// checks).
func testCAPEM(t *testing.T, cn string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// applyCAConfigMap creates or replaces the hub ConfigMap ns/name with data.
func applyCAConfigMap(t *testing.T, cs kubernetes.Interface, ns, name string, data map[string]string) {
	t.Helper()
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data}
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); apierrors.IsNotFound(err) {
		_, err = cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	} else if err != nil {
		t.Fatal(err)
	}
}

// checkTLSDeployment fails unless d runs the agent with TLS toward serverName and, when ca is
// set, with the CA ConfigMap mounted read-only, INGESTER_TLS_CA pointing at it and the CA's
// hash in the pod annotation; without ca none of that is there.
func checkTLSDeployment(t *testing.T, d *appsv1.Deployment, name, serverName, ca string) {
	t.Helper()
	if d == nil {
		t.Fatal("no deployment")
	}
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	want := map[string]string{"INGESTER_TLS_ENABLED": "true", "INGESTER_TLS_SERVER_NAME": serverName}
	if ca != "" {
		want["INGESTER_TLS_CA"] = "/etc/ingester-ca/service-ca.crt"
	}
	got := map[string]string{}
	for k, v := range env {
		if strings.HasPrefix(k, "INGESTER_TLS_") {
			got[k] = v
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("TLS env mismatch (-want +got):\n%s", diff)
	}
	if env["INGESTER_ADDRESS"] == "" || env["CLUSTER_NAME"] == "" {
		t.Errorf("env lost its other variables: %v", env)
	}
	var wantVolumes []corev1.Volume
	var wantMounts []corev1.VolumeMount
	if ca != "" {
		mode := corev1.ConfigMapVolumeSourceDefaultMode // the server's default
		wantVolumes = []corev1.Volume{{Name: "ingester-ca", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: name + "-ingester-ca"}, DefaultMode: &mode}}}}
		wantMounts = []corev1.VolumeMount{{Name: "ingester-ca", MountPath: "/etc/ingester-ca", ReadOnly: true}}
	}
	if diff := cmp.Diff(wantVolumes, pod.Volumes); diff != "" {
		t.Errorf("volumes mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantMounts, c.VolumeMounts); diff != "" {
		t.Errorf("volume mounts mismatch (-want +got):\n%s", diff)
	}
	gotHash, has := d.Spec.Template.Annotations["clusterpulse.io/ingester-ca-hash"]
	switch {
	case ca == "" && has:
		t.Errorf("CA hash annotation %q without a CA", gotHash)
	case ca != "" && gotHash != (collectorTLS{ca: ca}).caHash():
		t.Errorf("CA hash annotation %q, want %q", gotHash, (collectorTLS{ca: ca}).caHash())
	}
}

// TestCollectorInstallTLS runs the installer with TLS against the real kube-apiserver: the CA
// bundle is read from the hub ConfigMap, copied to the managed cluster as NAME-ingester-ca and
// mounted read-only with INGESTER_TLS_CA pointing at it, the server name is
// <INGESTER_SERVICE_NAME>.<hub namespace>.svc; an identical install changes nothing; a
// rotated CA changes the install hash, the copy and the pod annotation; the system roots
// drop the copy; removal deletes it. A missing or empty hub ConfigMap is an error.
func TestCollectorInstallTLS(t *testing.T) {
	hub := testenv.NewKube(t)
	cs := hub.Client
	r := testenv.NewRedis(t)
	st := store.New(r.Client, store.Options{Prefix: r.Prefix})
	name := testenv.Name(t)
	cleanupInstall(t, cs, name, name)
	env := collectorEnv{Namespace: name, Name: name, Image: "registry.test/clusterpulse", TLS: true,
		ServiceName: DefaultIngesterServiceName, CAConfigMap: DefaultCollectorCAConfigMap, CAKey: DefaultCollectorCAKey}
	in := &installer{env: env, store: st, now: time.Now}
	ctx := context.Background()
	cc := &kube.ClusterConnection{ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: hub.Namespace},
		Spec: kube.ClusterConnectionSpec{Endpoint: "https://api.prod:6443", CredentialsRef: kube.CredentialsRef{Name: "creds"},
			CollectionMode: engine.CollectionModePush, IngesterAddress: "ingester.example:443", CollectorVersion: "v1.4.0"}}
	serverName := "clusterpulse-ingester." + hub.Namespace + ".svc"

	t.Run("hub config map missing or without a certificate", func(t *testing.T) {
		if _, err := in.collectorTLS(ctx, cs, hub.Namespace); err == nil || !strings.Contains(err.Error(), "ingester-ca") || !apierrors.IsNotFound(err) {
			t.Errorf("collectorTLS without the hub ConfigMap = %v, want a not-found error naming it", err)
		}
		applyCAConfigMap(t, cs, hub.Namespace, "ingester-ca", map[string]string{"service-ca.crt": "not a certificate"})
		if _, err := in.collectorTLS(ctx, cs, hub.Namespace); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
			t.Errorf("collectorTLS with a bad bundle = %v, want an error", err)
		}
	})

	ca1 := testCAPEM(t, "service-ca 1")
	applyCAConfigMap(t, cs, hub.Namespace, "ingester-ca", map[string]string{"service-ca.crt": ca1})
	tc, err := in.collectorTLS(ctx, cs, hub.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(collectorTLS{enabled: true, serverName: serverName, ca: ca1}, tc, cmp.AllowUnexported(collectorTLS{})); diff != "" {
		t.Fatalf("collectorTLS mismatch (-want +got):\n%s", diff)
	}
	rec, notes, err := in.install(ctx, cs, cc, nil, 0, tc)
	if err != nil {
		t.Fatalf("install: %v (notes %q)", err, notes)
	}
	o := readInstalled(t, cs, name, name)
	if o.caMap == nil {
		t.Fatal("CA ConfigMap not installed")
	}
	if diff := cmp.Diff(map[string]string{"service-ca.crt": ca1}, o.caMap.Data); diff != "" {
		t.Errorf("CA ConfigMap data mismatch (-want +got):\n%s", diff)
	}
	if o.caMap.Labels["app.kubernetes.io/managed-by"] != "clusterpulse" {
		t.Errorf("CA ConfigMap labels %v", o.caMap.Labels)
	}
	checkTLSDeployment(t, o.deployment, name, serverName, ca1)
	if rec.Hash != in.hash(cc, 0, tc) || rec.Hash == in.hash(cc, 0, collectorTLS{}) {
		t.Errorf("record hash %s: want the TLS hash %s", rec.Hash, in.hash(cc, 0, tc))
	}

	t.Run("second install is a no-op", func(t *testing.T) {
		before := o.resourceVersions()
		if _, _, err := in.install(ctx, cs, cc, &rec, 0, tc); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, readInstalled(t, cs, name, name).resourceVersions()); diff != "" {
			t.Errorf("resourceVersions changed by an identical install (-before +after):\n%s", diff)
		}
	})

	t.Run("rotated CA", func(t *testing.T) {
		ca2 := testCAPEM(t, "service-ca 2")
		applyCAConfigMap(t, cs, hub.Namespace, "ingester-ca", map[string]string{"service-ca.crt": ca2})
		cached, err := in.collectorTLS(ctx, cs, hub.Namespace)
		if err != nil || cached.ca != ca1 {
			t.Errorf("within the cache TTL the CA is read again (err %v)", err)
		}
		fresh := &installer{env: env, store: st, now: time.Now}
		tc2, err := fresh.collectorTLS(ctx, cs, hub.Namespace)
		if err != nil {
			t.Fatal(err)
		}
		if fresh.hash(cc, 0, tc2) == rec.Hash {
			t.Fatal("a rotated CA leaves the install hash unchanged")
		}
		rec2, _, err := fresh.install(ctx, cs, cc, &rec, 0, tc2)
		if err != nil {
			t.Fatal(err)
		}
		got := readInstalled(t, cs, name, name)
		if got.caMap == nil || got.caMap.Data["service-ca.crt"] != ca2 {
			t.Errorf("CA ConfigMap not updated: %+v", got.caMap)
		}
		checkTLSDeployment(t, got.deployment, name, serverName, ca2)
		rec = rec2
	})

	t.Run("system roots", func(t *testing.T) {
		sys := &installer{env: env, store: st, now: time.Now}
		sys.env.UseSystemCA = true
		sys.env.TLSServerName = "ingester.example"
		tcs, err := sys.collectorTLS(ctx, cs, hub.Namespace)
		if err != nil {
			t.Fatal(err)
		}
		if tcs.ca != "" || tcs.serverName != "ingester.example" {
			t.Errorf("collectorTLS with the system roots = %+v", tcs)
		}
		rec2, notes, err := sys.install(ctx, cs, cc, &rec, 0, tcs)
		if err != nil {
			t.Fatalf("install: %v (notes %q)", err, notes)
		}
		got := readInstalled(t, cs, name, name)
		if got.caMap != nil {
			t.Error("the CA ConfigMap stayed although the system roots are used")
		}
		checkTLSDeployment(t, got.deployment, name, "ingester.example", "")
		rec = rec2
	})

	t.Run("remove", func(t *testing.T) {
		// Installed with a CA again, then removed: the copy goes with the rest.
		tc3, err := (&installer{env: env, store: st, now: time.Now}).collectorTLS(ctx, cs, hub.Namespace)
		if err != nil {
			t.Fatal(err)
		}
		rec2, _, err := in.install(ctx, cs, cc, &rec, 0, tc3)
		if err != nil {
			t.Fatal(err)
		}
		if readInstalled(t, cs, name, name).caMap == nil {
			t.Fatal("CA ConfigMap not installed again")
		}
		if err := in.remove(ctx, cs, rec2); err != nil {
			t.Fatal(err)
		}
		readInstalled(t, cs, name, name).checkRemoved(t)
	})
}

// TestJobPullInstallsCollectorWithTLS runs job pull with INGESTER_TLS_ENABLED and the CA in
// a hub ConfigMap of another namespace (COLLECTOR_CA_NAMESPACE, COLLECTOR_CA_KEY): the
// installed collector gets the TLS variables and the copied CA; with the collector connected,
// a rotated CA upgrades it; switching the cluster to pull removes the copy too.
func TestJobPullInstallsCollectorWithTLS(t *testing.T) {
	e := newPullEnv(t)
	admin := os.Getenv(testenv.EnvKubeToken)
	if admin == "" {
		t.Skipf("%s is not set", testenv.EnvKubeToken)
	}
	e.secret(t, "admin-creds", admin, e.ca)
	name := testenv.Name(t)
	cleanupInstall(t, e.hub.Client, name, name)
	cs := e.hub.Client
	ctx := context.Background()
	caNS := e.managed.Namespace
	ca1 := testCAPEM(t, "ingester CA 1")
	applyCAConfigMap(t, cs, caNS, "ingester-tls-ca", map[string]string{"ca.crt": ca1})
	for k, v := range map[string]string{"COLLECTOR_NAMESPACE": name, "COLLECTOR_NAME": name, "COLLECTOR_IMAGE": "registry.test/clusterpulse",
		"INGESTER_TLS_ENABLED": "true", "INGESTER_SERVICE_NAME": "ingester", "COLLECTOR_CA_CONFIGMAP": "ingester-tls-ca",
		"COLLECTOR_CA_NAMESPACE": caNS, "COLLECTOR_CA_KEY": "ca.crt"} {
		e.env[k] = v
	}
	e.createCC(t, "pushed", map[string]any{"endpoint": e.endpoint, "credentialsRef": map[string]any{"name": "admin-creds"},
		"collectionMode": "push", "ingesterAddress": "ingester.example.com:443"})
	testenv.Eventually(t, 20*time.Second, func() error {
		sum, out := e.run(t, "--force")
		if sum.Succeeded != 1 || !strings.Contains(out, "collector latest applied to "+name+"/"+name) {
			return fmt.Errorf("install run %+v\n%s", sum, out)
		}
		return nil
	})
	serverName := "ingester." + e.hub.Namespace + ".svc"
	o := readInstalled(t, cs, name, name)
	if o.caMap == nil || o.caMap.Data["service-ca.crt"] != ca1 {
		t.Fatalf("CA ConfigMap after job pull: %+v", o.caMap)
	}
	checkTLSDeployment(t, o.deployment, name, serverName, ca1)

	if err := e.store.SetPresence(ctx, PresenceKindCollector, "pushed", map[string]string{"replica": "ingester-0"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	sum, out := e.run(t, "--force")
	if sum.Succeeded != 1 || strings.Contains(out, "upgraded") {
		t.Errorf("run with the collector present and nothing changed: %+v\n%s", sum, out)
	}
	ca2 := testCAPEM(t, "ingester CA 2")
	applyCAConfigMap(t, cs, caNS, "ingester-tls-ca", map[string]string{"ca.crt": ca2})
	sum, out = e.run(t, "--force")
	if sum.Succeeded != 1 || !strings.Contains(out, "collector upgraded to latest") {
		t.Errorf("run after the CA rotation: %+v\n%s", sum, out)
	}
	o = readInstalled(t, cs, name, name)
	if o.caMap == nil || o.caMap.Data["service-ca.crt"] != ca2 {
		t.Errorf("CA ConfigMap after the rotation: %+v", o.caMap)
	}
	checkTLSDeployment(t, o.deployment, name, serverName, ca2)

	// The hub ConfigMap gone: a connected collector is left as it is, with a note.
	if err := cs.CoreV1().ConfigMaps(caNS).Delete(ctx, "ingester-tls-ca", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	sum, out = e.run(t, "--force")
	if sum.Succeeded != 1 || !strings.Contains(out, "ingester CA config map "+caNS+"/ingester-tls-ca") {
		t.Errorf("run without the hub CA ConfigMap: %+v\n%s", sum, out)
	}
	if readInstalled(t, cs, name, name).caMap == nil {
		t.Error("the installed CA copy was deleted because the hub ConfigMap is gone")
	}

	if err := e.store.ClearPresence(ctx, PresenceKindCollector, "pushed"); err != nil {
		t.Fatal(err)
	}
	e.patchCC(t, "pushed", `{"spec":{"collectionMode":"pull"}}`)
	sum, out = e.run(t, "--force")
	if sum.Succeeded != 1 || !strings.Contains(out, "collector removed from "+name+"/"+name) {
		t.Errorf("run after the switch to pull: %+v\n%s", sum, out)
	}
	readInstalled(t, cs, name, name).checkRemoved(t)
}
