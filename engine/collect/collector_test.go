package collect

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/clusterpulse/clusterpulse/engine"
)

func TestPaginate(t *testing.T) {
	expired := apierrors.NewResourceExpired("continue token too old")
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no"))
	tests := []struct {
		name string
		// replies answers each request in turn: a continue token or an error.
		replies   []any
		wantErr   error
		wantItems int
		wantCalls []string // the Continue token of each request
		wantReset int
	}{
		{name: "one page", replies: []any{""}, wantItems: 1, wantCalls: []string{""}},
		{name: "three pages", replies: []any{"a", "b", ""}, wantItems: 3, wantCalls: []string{"", "a", "b"}},
		{
			name:      "expired token restarts once",
			replies:   []any{"a", expired, "a", ""},
			wantItems: 2, wantCalls: []string{"", "a", "", "a"}, wantReset: 1,
		},
		{
			name:    "expired twice fails",
			replies: []any{"a", expired, "a", expired},
			wantErr: expired, wantItems: 1, wantCalls: []string{"", "a", "", "a"}, wantReset: 1,
		},
		{name: "other error fails", replies: []any{"a", forbidden}, wantErr: forbidden, wantItems: 1, wantCalls: []string{"", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []string
			items, resets := 0, 0
			err := paginate(context.Background(), 7, func() { items = 0; resets++ }, func(_ context.Context, o metav1.ListOptions) (string, error) {
				if o.Limit != 7 {
					t.Errorf("Limit = %d, want 7", o.Limit)
				}
				calls = append(calls, o.Continue)
				r := tt.replies[len(calls)-1]
				if err, ok := r.(error); ok {
					return "", err
				}
				items++
				return r.(string), nil
			})
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			got := struct {
				Calls         []string
				Items, Resets int
			}{calls, items, resets}
			want := struct {
				Calls         []string
				Items, Resets int
			}{tt.wantCalls, tt.wantItems, tt.wantReset}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("paginate mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWrapKinds(t *testing.T) {
	gr := schema.GroupResource{Resource: "pods"}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{name: "forbidden", err: apierrors.NewForbidden(gr, "", errors.New("no")), want: engine.ErrForbidden},
		{name: "unauthorized", err: apierrors.NewUnauthorized("bad token"), want: engine.ErrForbidden},
		{name: "unavailable", err: apierrors.NewServiceUnavailable("metrics-server down"), want: engine.ErrUnavailable},
		{name: "timeout", err: apierrors.NewTimeoutError("slow", 1), want: engine.ErrUnavailable},
		{name: "deadline", err: context.DeadlineExceeded, want: engine.ErrUnavailable},
		{name: "network", err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, want: engine.ErrUnavailable},
		{name: "not found", err: apierrors.NewNotFound(gr, "x"), want: engine.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := wrap("list pods", tt.err)
			if !errors.Is(got, tt.want) || !errors.Is(got, tt.err) {
				t.Errorf("wrap(%v) = %v, want it to wrap %v and the original", tt.err, got, tt.want)
			}
		})
	}
	if wrap("x", nil) != nil {
		t.Errorf("wrap(nil) != nil")
	}
}

// TestCollectUnreachable runs a pass against a closed port: node collection fails with
// ErrUnavailable, and so does every soft part, each reported.
func TestCollectUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	c, err := New(&rest.Config{Host: "https://" + addr, Timeout: 5 * time.Second, TLSClientConfig: rest.TLSClientConfig{Insecure: true}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	res, err := c.Collect(context.Background(), Options{})
	if !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("Collect error = %v, want ErrUnavailable", err)
	}
	if res == nil {
		t.Fatal("Collect returned no Result")
	}
	for _, part := range []string{PartNodes, PartPods, PartNamespaces, PartDeployments, PartServices, PartStatefulSets, PartDaemonSets, PartNodeMetrics, PartInfo, PartOperators, PartClusterOperators} {
		if !errors.Is(res.Errors[part], engine.ErrUnavailable) {
			t.Errorf("Errors[%s] = %v, want ErrUnavailable", part, res.Errors[part])
		}
		if _, ok := res.Timings[part]; !ok {
			t.Errorf("Timings[%s] missing", part)
		}
	}
	st := res.State
	if st.Nodes != nil || st.Metrics != nil || st.Namespaces != nil || st.NamespaceCounts != nil || st.Info != nil || st.Operators != nil || st.ClusterOperators != nil {
		t.Errorf("State of a failed pass is not empty: %+v", st)
	}
}

func TestNewRejectsNilConfig(t *testing.T) {
	if _, err := New(nil); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("New(nil) error = %v, want ErrInvalid", err)
	}
}
