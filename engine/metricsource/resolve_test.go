package metricsource

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/clusterpulse/clusterpulse/engine"
)

// staticDiscovery serves fixed resource lists by group/version and records what was asked, to
// prove that Resolve fetches only its own group/version. The real API server's discovery is
// exercised by TestResolveIntegration.
type staticDiscovery struct {
	lists map[string][]metav1.APIResource
	err   error
	asked []string
}

func (d *staticDiscovery) ServerResourcesForGroupVersion(gv string) (*metav1.APIResourceList, error) {
	d.asked = append(d.asked, gv)
	if d.err != nil {
		return nil, d.err
	}
	rs, ok := d.lists[gv]
	if !ok {
		return nil, apierrors.NewNotFound(schema.GroupResource{}, gv)
	}
	return &metav1.APIResourceList{GroupVersion: gv, APIResources: rs}, nil
}

func TestResolve(t *testing.T) {
	list := []string{"get", "list", "watch"}
	disc := &staticDiscovery{lists: map[string][]metav1.APIResource{
		"gateway.networking.k8s.io/v1": {
			{Name: "gateways", Kind: "Gateway", Namespaced: true, Verbs: list},
			{Name: "gateways/status", Kind: "Gateway", Namespaced: true, Verbs: []string{"get", "patch"}},
			{Name: "gatewayclasses", Kind: "GatewayClass", Verbs: list},
		},
		"v1": {
			{Name: "bindings", Kind: "Binding", Namespaced: true, Verbs: []string{"create"}},
			{Name: "persistentvolumeclaims", Kind: "PersistentVolumeClaim", Namespaced: true, Verbs: list},
		},
		"example.com/v1": {
			{Name: "widgets", Kind: "Widget", Namespaced: true, Verbs: list},
			{Name: "wIdgets", Kind: "WIDGET", Namespaced: true, Verbs: list},
		},
	}}
	tests := []struct {
		apiVersion, kind string
		want             Target
		wantErr          error
	}{
		{"gateway.networking.k8s.io/v1", "Gateway", Target{GVR: schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}, Namespaced: true}, nil},
		{"gateway.networking.k8s.io/v1", "GatewayClass", Target{GVR: schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gatewayclasses"}}, nil},
		{"gateway.networking.k8s.io/v1", "gatewayclass", Target{GVR: schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gatewayclasses"}}, nil},
		{"v1", "PersistentVolumeClaim", Target{GVR: schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}, Namespaced: true}, nil},
		{"example.com/v1", "Widget", Target{GVR: schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}, Namespaced: true}, nil},
		{"example.com/v1", "widget", Target{}, engine.ErrNotFound}, // two case-insensitive matches
		{"v1", "Binding", Target{}, engine.ErrNotFound},            // no list verb
		{"v1", "Pod", Target{}, engine.ErrNotFound},
		{"apps/v1", "Deployment", Target{}, engine.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.apiVersion+" "+tt.kind, func(t *testing.T) {
			ms := compileTestSource()
			ms.Spec.Source.APIVersion, ms.Spec.Source.Kind = tt.apiVersion, tt.kind
			c, err := Compile(ms)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			disc.asked = nil
			got, err := c.Resolve(disc)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Resolve error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Resolve (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{tt.apiVersion}, disc.asked); diff != "" {
				t.Errorf("group versions fetched (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("discovery failure", func(t *testing.T) {
		c, err := Compile(compileTestSource())
		if err != nil {
			t.Fatalf("Compile: %v", err)
		}
		_, err = c.Resolve(&staticDiscovery{err: errors.New("connection refused")})
		if !errors.Is(err, engine.ErrUnavailable) {
			t.Fatalf("Resolve error = %v, want ErrUnavailable", err)
		}
	})
}
