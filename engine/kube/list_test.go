package kube

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/testenv"
)

func unstructuredCC(name string, spec map[string]any) unstructured.Unstructured {
	return unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "clusterpulse.io/v1alpha1",
		"kind":       "ClusterConnection",
		"metadata":   map[string]any{"name": name, "namespace": "clusterpulse"},
		"spec":       spec,
	}}
}

func TestDecodeItemsSkipsMalformed(t *testing.T) {
	good := func(endpoint string) map[string]any {
		return map[string]any{
			"endpoint":       endpoint,
			"credentialsRef": map[string]any{"name": "creds"},
			"monitoring":     map[string]any{"interval": int64(60)},
		}
	}
	objs := []unstructured.Unstructured{
		unstructuredCC("a", good("https://a")),
		unstructuredCC("bad-interval", map[string]any{"endpoint": "https://b", "monitoring": map[string]any{"interval": "30s"}}),
		unstructuredCC("c", good("https://c")),
		unstructuredCC("bad-labels", map[string]any{"endpoint": "https://d", "labels": "env=prod"}),
		unstructuredCC("e", good("https://e")),
	}
	items, bad := decodeItems[ClusterConnection](ClusterConnectionsGVR, objs, []ClusterConnection{}, nil)

	var gotNames []string
	for _, cc := range items {
		gotNames = append(gotNames, cc.Name+" "+cc.Spec.Endpoint+fmt.Sprintf(" %d", cc.Spec.Monitoring.Interval))
	}
	if diff := cmp.Diff([]string{"a https://a 60", "c https://c 60", "e https://e 60"}, gotNames); diff != "" {
		t.Errorf("decoded items mismatch (-want +got):\n%s", diff)
	}
	var gotBad []string
	for _, e := range bad {
		gotBad = append(gotBad, e.Namespace+"/"+e.Name)
		if e.Resource != ClusterConnectionsGVR || e.Err == nil || !strings.Contains(e.Error(), "decode clusterconnections clusterpulse/"+e.Name+": ") {
			t.Errorf("DecodeError = %+v (%v), want resource, object and cause", e, e)
		}
		if !errors.Is(e, e.Err) {
			t.Errorf("DecodeError does not unwrap to its cause")
		}
	}
	if diff := cmp.Diff([]string{"clusterpulse/bad-interval", "clusterpulse/bad-labels"}, gotBad); diff != "" {
		t.Errorf("malformed objects mismatch (-want +got):\n%s", diff)
	}
}

// installCRDs installs the ClusterPulse CRDs on the test apiserver.
func installCRDs(t *testing.T) {
	t.Helper()
	testenv.InstallCRDs(t, filepath.Join(testenv.RepoRoot(t), "deploy", "crds"))
}

// countingConfig returns a copy of cfg that counts the requests whose URL query contains sub.
func countingConfig(cfg *rest.Config, sub string, n *atomic.Int32) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if strings.Contains(r.URL.RawQuery, sub) {
				n.Add(1)
			}
			return rt.RoundTrip(r)
		})
	})
	return c
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func createCC(t *testing.T, dc dynamic.Interface, ns, name string, spec map[string]any) {
	t.Helper()
	u := unstructuredCC(name, spec)
	u.SetNamespace(ns)
	if _, err := dc.Resource(ClusterConnectionsGVR).Namespace(ns).Create(context.Background(), &u, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ClusterConnection %s: %v", name, err)
	}
}

func TestListPaginatesOnAPIServer(t *testing.T) {
	k := testenv.NewKube(t)
	installCRDs(t)
	ctx := context.Background()

	var want []ClusterConnectionSpec
	var wantNames []string
	for i := range 7 {
		name := fmt.Sprintf("cluster-%d", i)
		spec := ClusterConnectionSpec{
			DisplayName:           fmt.Sprintf("Cluster %d", i),
			Endpoint:              fmt.Sprintf("https://api.c%d.example.com:6443", i),
			CredentialsRef:        CredentialsRef{Name: fmt.Sprintf("creds-%d", i), Namespace: "secrets"},
			Labels:                map[string]string{"env": "prod", "index": fmt.Sprint(i)},
			Monitoring:            MonitoringConfig{Interval: int32(30 + i), Timeout: int32(5 + i)},
			CollectionMode:        "pull",
			InsecureSkipTLSVerify: i == 3,
		}
		createCC(t, k.Dynamic, k.Namespace, name, map[string]any{
			"displayName":           spec.DisplayName,
			"endpoint":              spec.Endpoint,
			"credentialsRef":        map[string]any{"name": spec.CredentialsRef.Name, "namespace": "secrets"},
			"labels":                map[string]any{"env": "prod", "index": fmt.Sprint(i)},
			"monitoring":            map[string]any{"interval": int64(30 + i), "timeout": int64(5 + i)},
			"insecureSkipTLSVerify": i == 3,
		})
		want = append(want, spec)
		wantNames = append(wantNames, name)
	}

	var pages atomic.Int32
	dc, err := dynamic.NewForConfig(countingConfig(k.Config, "limit=2", &pages))
	if err != nil {
		t.Fatalf("dynamic client: %v", err)
	}
	items, bad, err := List[ClusterConnection](ctx, dc, ClusterConnectionsGVR, k.Namespace, 2)
	if err != nil || len(bad) != 0 {
		t.Fatalf("List() error = %v, bad = %v", err, bad)
	}
	if got := pages.Load(); got != 4 {
		t.Errorf("LIST requests with limit=2 = %d, want 4 (7 objects in pages of 2)", got)
	}
	var gotNames []string
	var got []ClusterConnectionSpec
	for _, cc := range items {
		gotNames = append(gotNames, cc.Name)
		got = append(got, cc.Spec)
		if cc.Namespace != k.Namespace || cc.Kind != "ClusterConnection" || cc.UID == "" {
			t.Errorf("object metadata not decoded: %+v %+v", cc.TypeMeta, cc.ObjectMeta)
		}
	}
	if diff := cmp.Diff(wantNames, gotNames); diff != "" {
		t.Errorf("names mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("specs mismatch (-want +got):\n%s", diff)
	}

	t.Run("hub wrapper lists the hub namespace", func(t *testing.T) {
		h, err := NewHub(k.Config, k.Namespace)
		if err != nil {
			t.Fatalf("NewHub() error = %v", err)
		}
		ccs, bad, err := h.ClusterConnections(ctx)
		if err != nil || len(bad) != 0 || len(ccs) != 7 {
			t.Fatalf("ClusterConnections() = %d items, bad %v, error %v; want 7", len(ccs), bad, err)
		}
		for name, list := range map[string]func(context.Context) (int, error){
			"RegistryConnections": func(ctx context.Context) (int, error) { l, _, err := h.RegistryConnections(ctx); return len(l), err },
			"MetricSources":       func(ctx context.Context) (int, error) { l, _, err := h.MetricSources(ctx); return len(l), err },
			"MonitorAccessPolicies": func(ctx context.Context) (int, error) {
				l, _, err := h.MonitorAccessPolicies(ctx)
				return len(l), err
			},
		} {
			if n, err := list(ctx); err != nil || n != 0 {
				t.Errorf("%s() = %d items, error %v; want an empty list", name, n, err)
			}
		}
	})

	t.Run("empty namespace gives an empty, non-nil list", func(t *testing.T) {
		items, bad, err := List[ClusterConnection](ctx, k.Dynamic, ClusterConnectionsGVR, testenv.Name(t), 0)
		if err != nil || items == nil || len(items) != 0 || bad != nil {
			t.Fatalf("List() = %v, %v, %v; want [], nil, nil", items, bad, err)
		}
	})

	t.Run("unknown resource is an error", func(t *testing.T) {
		gvr := GroupVersion.WithResource("nosuchthings")
		_, _, err := List[ClusterConnection](ctx, k.Dynamic, gvr, k.Namespace, 0)
		if !errors.Is(err, engine.ErrNotFound) || !strings.Contains(err.Error(), "list nosuchthings") {
			t.Fatalf("List() error = %v, want ErrNotFound naming the resource", err)
		}
	})
}
