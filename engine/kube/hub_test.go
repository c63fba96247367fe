package kube

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/testenv"
)

const testKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: hub
  cluster:
    server: https://hub.example.com:6443
contexts:
- name: hub
  context: {cluster: hub, user: admin, namespace: ignored}
current-context: hub
users:
- name: admin
  user:
    token: secret-token
`

// unsetenv unsets name for the duration of the test.
func unsetenv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "")
	os.Unsetenv(name)
}

func TestHubFromEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(testKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		env           map[string]string // "" value: unset
		wantNamespace string
		wantHost      string
		wantErr       string
	}{
		{name: "defaults", env: map[string]string{"NAMESPACE": "", "KUBECONFIG": path}, wantNamespace: "clusterpulse", wantHost: "https://hub.example.com:6443"},
		{name: "namespace", env: map[string]string{"NAMESPACE": "monitoring", "KUBECONFIG": path}, wantNamespace: "monitoring", wantHost: "https://hub.example.com:6443"},
		{name: "kubeconfig list", env: map[string]string{"KUBECONFIG": filepath.Join(t.TempDir(), "absent") + string(filepath.ListSeparator) + path}, wantNamespace: "clusterpulse", wantHost: "https://hub.example.com:6443"},
		{name: "neither kubeconfig nor in-cluster", env: map[string]string{"KUBECONFIG": "", "KUBERNETES_SERVICE_HOST": "", "KUBERNETES_SERVICE_PORT": ""}, wantErr: "KUBECONFIG is not set and the in-cluster configuration is unusable"},
		{name: "unreadable kubeconfig", env: map[string]string{"KUBECONFIG": t.TempDir()}, wantErr: "load hub kubeconfig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unsetenv(t, "NAMESPACE")
			for k, v := range tt.env {
				if v == "" {
					unsetenv(t, k)
				} else {
					t.Setenv(k, v)
				}
			}
			h, err := HubFromEnv()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("HubFromEnv() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("HubFromEnv() error = %v", err)
			}
			if h.Namespace != tt.wantNamespace || h.Core == nil || h.Dynamic == nil {
				t.Errorf("HubFromEnv() = %+v, want namespace %q and both clients", h, tt.wantNamespace)
			}
			c, err := LoadHubConfig()
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := c.RESTConfig()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Host != tt.wantHost || cfg.BearerToken != "secret-token" {
				t.Errorf("RESTConfig() host %q token %q, want %q and the kubeconfig token", cfg.Host, cfg.BearerToken, tt.wantHost)
			}
		})
	}
}

func TestNewHub(t *testing.T) {
	t.Run("nil config", func(t *testing.T) {
		if _, err := NewHub(nil, "x"); !errors.Is(err, engine.ErrInvalid) {
			t.Fatalf("NewHub(nil) error = %v, want ErrInvalid", err)
		}
	})
	t.Run("input config untouched, namespace defaulted", func(t *testing.T) {
		cfg := &rest.Config{Host: "https://hub.example.com"}
		h, err := NewHub(cfg, "")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(rest.Config{Host: "https://hub.example.com"}, *cfg, cmp.Comparer(func(a, b rest.Config) bool {
			return a.Host == b.Host && a.ContentType == b.ContentType && a.UserAgent == b.UserAgent && a.QPS == b.QPS
		})); diff != "" {
			t.Errorf("NewHub modified its input (-want +got):\n%s", diff)
		}
		if h.Namespace != DefaultNamespace {
			t.Errorf("Namespace = %q, want %q", h.Namespace, DefaultNamespace)
		}
	})
}

func TestClassify(t *testing.T) {
	gr := schema.GroupResource{Resource: "secrets"}
	plain := errors.New("dial tcp: connection refused")
	tests := []struct {
		name string
		err  error
		want error // nil: returned unchanged
	}{
		{"not found", apierrors.NewNotFound(gr, "x"), engine.ErrNotFound},
		{"forbidden", apierrors.NewForbidden(gr, "x", errors.New("no")), engine.ErrForbidden},
		{"unauthorized", apierrors.NewUnauthorized("no"), engine.ErrForbidden},
		{"invalid", apierrors.NewBadRequest("bad"), engine.ErrInvalid},
		{"timeout", apierrors.NewServerTimeout(gr, "list", 1), engine.ErrUnavailable},
		{"unavailable", apierrors.NewServiceUnavailable("down"), engine.ErrUnavailable},
		{"transport", plain, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.err)
			if tt.want == nil {
				if got != tt.err {
					t.Fatalf("classify() = %v, want the error unchanged", got)
				}
				return
			}
			if !errors.Is(got, tt.want) || !errors.Is(got, tt.err) || got.Error() != tt.err.Error() {
				t.Fatalf("classify() = %v, want %v wrapping the original with the same text", got, tt.want)
			}
			if apierrors.ReasonForError(got) != apierrors.ReasonForError(tt.err) {
				t.Errorf("classify() hides the API status: reason %q, want %q", apierrors.ReasonForError(got), apierrors.ReasonForError(tt.err))
			}
		})
	}
	if classify(nil) != nil {
		t.Errorf("classify(nil) != nil")
	}
}

// TestHubWireFormatOnAPIServer proves that the typed client asks for protobuf and the dynamic
// client for JSON, on the real apiserver.
func TestHubWireFormatOnAPIServer(t *testing.T) {
	k := testenv.NewKube(t)
	var mu sync.Mutex
	accept := map[string]string{} // path prefix -> Accept header
	cfg := rest.CopyConfig(k.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			accept[strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0]] = r.Header.Get("Accept")
			mu.Unlock()
			return rt.RoundTrip(r)
		})
	})
	h, err := NewHub(cfg, k.Namespace)
	if err != nil {
		t.Fatalf("NewHub() error = %v", err)
	}
	ctx := context.Background()
	if _, err := h.Core.CoreV1().Secrets(k.Namespace).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		t.Fatalf("list secrets: %v", err)
	}
	if _, err := h.Dynamic.Resource(schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}).Namespace(k.Namespace).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		t.Fatalf("list roles: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := accept["api"]; !strings.HasPrefix(got, "application/vnd.kubernetes.protobuf") {
		t.Errorf("typed client Accept = %q, want protobuf first", got)
	}
	if got := accept["apis"]; !strings.HasPrefix(got, "application/json") {
		t.Errorf("dynamic client Accept = %q, want JSON", got)
	}
}
