package kube

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/testenv"
)

func TestPatchStatusRefusesEmptyPatch(t *testing.T) {
	h := &Hub{Namespace: "clusterpulse"} // no clients: refused before any request
	for name, st := range map[string]any{
		"zero typed status": ClusterConnectionStatus{},
		"nil":               nil,
		"empty map":         map[string]any{},
	} {
		t.Run(name, func(t *testing.T) {
			err := h.PatchStatus(context.Background(), ClusterConnectionsGVR, "prod", st)
			if !errors.Is(err, engine.ErrInvalid) || !strings.Contains(err.Error(), "clusterconnections clusterpulse/prod: empty status") {
				t.Fatalf("PatchStatus() error = %v, want ErrInvalid for an empty status", err)
			}
		})
	}
}

func TestPatchStatusOnAPIServer(t *testing.T) {
	k := testenv.NewKube(t)
	installCRDs(t)
	ctx := context.Background()
	h, err := NewHub(k.Config, k.Namespace)
	if err != nil {
		t.Fatalf("NewHub() error = %v", err)
	}
	createCC(t, k.Dynamic, k.Namespace, "prod", map[string]any{
		"endpoint":       "https://api.prod.example.com:6443",
		"credentialsRef": map[string]any{"name": "prod-creds"},
		"labels":         map[string]any{"env": "prod"},
	})
	get := func(t *testing.T) *ClusterConnection {
		t.Helper()
		u, err := k.Dynamic.Resource(ClusterConnectionsGVR).Namespace(k.Namespace).Get(ctx, "prod", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get ClusterConnection: %v", err)
		}
		cc, err := Decode[ClusterConnection](u)
		if err != nil {
			t.Fatalf("decode ClusterConnection: %v", err)
		}
		return &cc
	}
	before := get(t)
	synced := metav1.NewTime(time.Now().Add(-time.Minute).UTC().Truncate(time.Second))

	t.Run("success", func(t *testing.T) {
		st := ClusterConnectionStatus{Phase: "Connected", Health: "healthy", Message: "Cluster is reachable", LastSyncTime: &synced, Nodes: 3, Namespaces: 12}
		if err := h.PatchClusterConnectionStatus(ctx, "prod", st); err != nil {
			t.Fatalf("PatchClusterConnectionStatus() error = %v", err)
		}
		if diff := cmp.Diff(st, get(t).Status); diff != "" {
			t.Errorf("status mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("error path persists and keeps the last sync time", func(t *testing.T) {
		st := ClusterConnectionStatus{Phase: "Error", Health: "unhealthy", Message: "dial tcp 10.1.2.3:6443: connect: connection refused"}
		if err := h.PatchClusterConnectionStatus(ctx, "prod", st); err != nil {
			t.Fatalf("PatchClusterConnectionStatus() error = %v", err)
		}
		want := ClusterConnectionStatus{Phase: "Error", Health: "unhealthy", Message: st.Message, LastSyncTime: &synced, Nodes: 3, Namespaces: 12}
		if diff := cmp.Diff(want, get(t).Status); diff != "" {
			t.Errorf("status mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("explicit nil clears a field", func(t *testing.T) {
		if err := h.PatchStatus(ctx, ClusterConnectionsGVR, "prod", map[string]any{"message": nil, "nodes": 0}); err != nil {
			t.Fatalf("PatchStatus() error = %v", err)
		}
		want := ClusterConnectionStatus{Phase: "Error", Health: "unhealthy", LastSyncTime: &synced, Namespaces: 12}
		if diff := cmp.Diff(want, get(t).Status); diff != "" {
			t.Errorf("status mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("spec and metadata unchanged by status patches", func(t *testing.T) {
		after := get(t)
		if diff := cmp.Diff(before.Spec, after.Spec); diff != "" {
			t.Errorf("spec changed (-before +after):\n%s", diff)
		}
		if before.Generation != after.Generation {
			t.Errorf("generation %d -> %d, want unchanged", before.Generation, after.Generation)
		}
	})

	t.Run("missing object", func(t *testing.T) {
		err := h.PatchClusterConnectionStatus(ctx, "absent", ClusterConnectionStatus{Phase: "Error"})
		if !errors.Is(err, engine.ErrNotFound) || !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "clusterconnections "+k.Namespace+"/absent") {
			t.Fatalf("PatchClusterConnectionStatus() error = %v, want ErrNotFound naming the object", err)
		}
	})
}

func TestPatchRegistryConnectionStatusSendsAvailableFalse(t *testing.T) {
	k := testenv.NewKube(t)
	installCRDs(t)
	ctx := context.Background()
	h, err := NewHub(k.Config, k.Namespace)
	if err != nil {
		t.Fatalf("NewHub() error = %v", err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "clusterpulse.io/v1alpha1", "kind": "RegistryConnection",
		"metadata": map[string]any{"name": "docker-hub"},
		"spec":     map[string]any{"endpoint": "https://registry.example.com"},
	}}
	if _, err := k.Dynamic.Resource(RegistryConnectionsGVR).Namespace(k.Namespace).Create(ctx, u, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create RegistryConnection: %v", err)
	}
	status := func(t *testing.T) RegistryConnectionStatus {
		t.Helper()
		u, err := k.Dynamic.Resource(RegistryConnectionsGVR).Namespace(k.Namespace).Get(ctx, "docker-hub", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get RegistryConnection: %v", err)
		}
		rc, err := Decode[RegistryConnection](u)
		if err != nil {
			t.Fatalf("decode RegistryConnection: %v", err)
		}
		return rc.Status
	}
	steps := []struct {
		name string
		st   RegistryConnectionStatus
		want RegistryConnectionStatus
	}{
		{
			name: "available",
			st:   RegistryConnectionStatus{Phase: "Connected", Health: "healthy", Available: true, ResponseTime: 12, Message: "Registry is available"},
			want: RegistryConnectionStatus{Phase: "Connected", Health: "healthy", Available: true, ResponseTime: 12, Message: "Registry is available"},
		},
		{
			name: "unavailable",
			st:   RegistryConnectionStatus{Phase: "Error", Health: "unhealthy", Message: "GET /v2/: 503"},
			want: RegistryConnectionStatus{Phase: "Error", Health: "unhealthy", Available: false, ResponseTime: 12, Message: "GET /v2/: 503"},
		},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := h.PatchRegistryConnectionStatus(ctx, "docker-hub", s.st); err != nil {
				t.Fatalf("PatchRegistryConnectionStatus() error = %v", err)
			}
			if diff := cmp.Diff(s.want, status(t)); diff != "" {
				t.Errorf("status mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
