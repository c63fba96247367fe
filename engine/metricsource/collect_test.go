package metricsource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
)

// pager serves pages of objs the way the API server does (limit/continue), recording every
// request. Unit tests of the paging, truncation and retry logic use it; the real API server is
// exercised by the integration test.
type pager struct {
	mu    sync.Mutex
	objs  map[string][]map[string]any // by namespace; "" lists all namespaces in order
	order []string
	calls []metav1.ListOptions
	nss   []string // the namespace of each request
	// fail, when set, may return an error for a request (n counts requests from 0).
	fail func(n int, ns string, opts metav1.ListOptions) error
	// emptyTail makes the last page announce a continue token whose page is empty, as the API
	// server may do when it filters on the server side.
	emptyTail bool
}

func newPager(perNamespace map[string]int) *pager {
	p := &pager{objs: map[string][]map[string]any{}}
	for _, ns := range []string{"a", "b", "c", "d"} {
		n, ok := perNamespace[ns]
		if !ok {
			continue
		}
		p.order = append(p.order, ns)
		for i := 0; i < n; i++ {
			p.objs[ns] = append(p.objs[ns], map[string]any{
				"metadata": map[string]any{"name": fmt.Sprintf("o%03d", i), "namespace": ns,
					"labels": map[string]any{"i": strconv.Itoa(i)}},
				"spec": map[string]any{"size": fmt.Sprintf("%dGi", i+1), "tier": []any{"a", "b"}[i%2]},
			})
		}
	}
	return p
}

func (p *pager) list(ctx context.Context, ns string, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	p.mu.Lock()
	n := len(p.calls)
	p.calls = append(p.calls, opts)
	p.nss = append(p.nss, ns)
	fail := p.fail
	p.mu.Unlock()
	if fail != nil {
		if err := fail(n, ns, opts); err != nil {
			return nil, err
		}
	}
	var all []map[string]any
	if ns == "" {
		for _, name := range p.order {
			all = append(all, p.objs[name]...)
		}
	} else {
		all = p.objs[ns]
	}
	start := 0
	if opts.Continue != "" {
		var err error
		if start, err = strconv.Atoi(opts.Continue); err != nil {
			return nil, apierrors.NewBadRequest("bad continue")
		}
	}
	end := len(all)
	if opts.Limit > 0 && start+int(opts.Limit) < end {
		end = start + int(opts.Limit)
	}
	out := &unstructured.UnstructuredList{}
	for _, o := range all[start:end] {
		out.Items = append(out.Items, unstructured.Unstructured{Object: o})
	}
	if end < len(all) {
		out.SetContinue(strconv.Itoa(end))
	} else if p.emptyTail && start < len(all) {
		// Say "more" although nothing more will match: the next page comes back empty.
		out.SetContinue(strconv.Itoa(len(all)))
	}
	return out, nil
}

func collectTestCompiled(t *testing.T, mutate func(ms *kube.MetricSource)) *Compiled {
	t.Helper()
	ms := &kube.MetricSource{Spec: kube.MetricSourceSpec{
		Source: kube.ResourceTarget{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		Fields: []kube.FieldExtraction{
			{Name: "size", Path: ".spec.size", Type: "quantity"},
			{Name: "tier", Path: ".spec.tier"},
		},
		Computed: []kube.ComputedField{{Name: "sizeGi", Expression: "size / 1073741824", Type: "integer"}},
		Aggregations: []kube.Aggregation{
			{Name: "count", Function: "count"},
			{Name: "sumGi", Field: "sizeGi", Function: "sum"},
			{Name: "byTier", Function: "count", GroupBy: "tier"},
		},
		Collection: kube.CollectionConfig{BatchSize: 10, RetryAttempts: 3},
		RBAC:       kube.MetricSourceRBAC{ResourceTypeName: "pvc"},
	}}
	ms.Name, ms.Namespace = "src", "mon"
	if mutate != nil {
		mutate(ms)
	}
	c, err := Compile(ms)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return c
}

var namespacedPVC = Target{GVR: schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}, Namespaced: true}

func TestCollectTruncation(t *testing.T) {
	tests := []struct {
		name          string
		objects       int
		max           int32
		emptyTail     bool
		wantCount     int
		wantTruncated bool
	}{
		{"below max", 25, 30, false, 25, false},
		{"exactly max on a page boundary", 30, 30, false, 30, false},
		{"exactly max mid page", 25, 25, false, 25, false},
		{"one more than max", 31, 30, false, 30, true},
		{"one more than max mid page", 26, 25, false, 25, true},
		{"exactly max and an empty last page", 30, 30, true, 30, false},
		{"max of one", 5, 1, false, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPager(map[string]int{"a": tt.objects})
			p.emptyTail = tt.emptyTail
			c := collectTestCompiled(t, func(ms *kube.MetricSource) { ms.Spec.Collection.MaxResources = tt.max })
			res, err := collect(context.Background(), p.list, namespacedPVC, c, CollectOptions{Cluster: "c1"})
			if err != nil {
				t.Fatalf("collect: %v", err)
			}
			got := []any{res.Collection.ResourceCount, len(res.Collection.Resources), res.Collection.Truncated, res.Meta.Truncated}
			want := []any{tt.wantCount, tt.wantCount, tt.wantTruncated, tt.wantTruncated}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("count, len, truncated, meta truncated (-want +got):\n%s", diff)
			}
			// The kept resources are the first ones listed, and every page asked for batchSize.
			for i, r := range res.Collection.Resources {
				if want := fmt.Sprintf("a/o%03d", i); r.ID != want {
					t.Fatalf("resource %d = %s, want %s", i, r.ID, want)
				}
			}
			for _, call := range p.calls {
				if call.Limit != 10 {
					t.Errorf("LIST limit = %d, want batchSize 10", call.Limit)
				}
			}
		})
	}
}

func TestCollectResult(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := newPager(map[string]int{"a": 3, "b": 2})
	c := collectTestCompiled(t, func(ms *kube.MetricSource) {
		ms.Spec.Source.LabelSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}
	})
	res, err := collect(context.Background(), p.list, namespacedPVC, c, CollectOptions{Cluster: "c1", Now: func() time.Time { return at }})
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	if got := p.calls[0].LabelSelector; got != "app=db" {
		t.Errorf("label selector sent = %q, want app=db", got)
	}
	wantRes := []engine.CustomResource{
		{ID: "a/o000", Namespace: "a", Name: "o000", Labels: map[string]string{"i": "0"}, Values: map[string]any{"size": 1073741824.0, "tier": "a", "sizeGi": 1.0}},
		{ID: "a/o001", Namespace: "a", Name: "o001", Labels: map[string]string{"i": "1"}, Values: map[string]any{"size": 2147483648.0, "tier": "b", "sizeGi": 2.0}},
		{ID: "a/o002", Namespace: "a", Name: "o002", Labels: map[string]string{"i": "2"}, Values: map[string]any{"size": 3221225472.0, "tier": "a", "sizeGi": 3.0}},
		{ID: "b/o000", Namespace: "b", Name: "o000", Labels: map[string]string{"i": "0"}, Values: map[string]any{"size": 1073741824.0, "tier": "a", "sizeGi": 1.0}},
		{ID: "b/o001", Namespace: "b", Name: "o001", Labels: map[string]string{"i": "1"}, Values: map[string]any{"size": 2147483648.0, "tier": "b", "sizeGi": 2.0}},
	}
	want := &Result{
		Collection: engine.CustomCollection{CollectedAt: engine.NewTime(at), SourceID: "mon/src", ClusterName: "c1",
			ResourceCount: 5, Resources: wantRes},
		Aggregations: engine.AggregationResults{ComputedAt: engine.NewTime(at), SourceID: "mon/src",
			Values: map[string]any{"count": 5.0, "sumGi": 9.0, "byTier": map[string]any{"a": 3.0, "b": 2.0}}},
		Meta: engine.CustomMeta{SourceID: "mon/src", ClusterName: "c1", LastCollectionTime: engine.NewTime(at), ResourceCount: 5},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
}

func TestCollectValueErrors(t *testing.T) {
	p := newPager(map[string]int{"a": 4})
	p.objs["a"][1]["spec"].(map[string]any)["size"] = "huge"                    // conversion error
	p.objs["a"][2]["spec"].(map[string]any)["size"] = []any{"not", "a", "size"} // conversion error
	c := collectTestCompiled(t, func(ms *kube.MetricSource) {
		ms.Spec.Computed = append(ms.Spec.Computed, kube.ComputedField{Name: "bad", Expression: "tier * 2"}) // "a" * 2: evaluation error
	})
	res, err := collect(context.Background(), p.list, namespacedPVC, c, CollectOptions{})
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	var sizes, bads []any
	for _, r := range res.Collection.Resources {
		sizes = append(sizes, r.Values["size"])
		bads = append(bads, r.Values["bad"])
	}
	if diff := cmp.Diff([]any{1073741824.0, nil, nil, 4294967296.0}, sizes); diff != "" {
		t.Errorf("sizes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{nil, nil, nil, nil}, bads); diff != "" {
		t.Errorf("bad (-want +got):\n%s", diff)
	}
	got := []int{res.ConversionErrors, res.EvalErrors, res.Meta.ErrorCount}
	// 4 evaluations of "bad", and sizeGi of the two null sizes (null / n is an error).
	if diff := cmp.Diff([]int{2, 6, 8}, got); diff != "" {
		t.Errorf("conversion, eval, meta error counts (-want +got):\n%s", diff)
	}
	if res.Meta.LastError == "" {
		t.Errorf("Meta.LastError is empty, want the first value error")
	}
}

func TestCollectRetries(t *testing.T) {
	transientErrs := []error{
		apierrors.NewInternalError(errors.New("etcd hiccup")),
		apierrors.NewTooManyRequests("slow down", 0),
		apierrors.NewServerTimeout(schema.GroupResource{Resource: "persistentvolumeclaims"}, "list", 0),
		apierrors.NewServiceUnavailable("restarting"),
		&netTimeoutErr{},
	}
	tests := []struct {
		name      string
		retries   int32
		failures  []error // returned by the first requests, in order
		wantErr   error   // nil: success
		wantCalls int
	}{
		{"transient errors within the budget", 5, transientErrs, nil, len(transientErrs) + 3},
		{"retries exhausted", 2, transientErrs, engine.ErrUnavailable, 3},
		{"no retries", 0, transientErrs[:1], engine.ErrUnavailable, 1},
		{"forbidden is not retried", 3, []error{apierrors.NewForbidden(schema.GroupResource{Resource: "persistentvolumeclaims"}, "", errors.New("no"))}, engine.ErrForbidden, 1},
		{"not found is not retried", 3, []error{apierrors.NewNotFound(schema.GroupResource{Resource: "persistentvolumeclaims"}, "")}, engine.ErrNotFound, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPager(map[string]int{"a": 25})
			p.fail = func(n int, _ string, _ metav1.ListOptions) error {
				if n < len(tt.failures) {
					return tt.failures[n]
				}
				return nil
			}
			c := collectTestCompiled(t, func(ms *kube.MetricSource) { ms.Spec.Collection.RetryAttempts = tt.retries })
			res, err := collect(context.Background(), p.list, namespacedPVC, c, CollectOptions{Backoff: time.Millisecond})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("collect: %v", err)
				}
				if res.Collection.ResourceCount != 25 {
					t.Errorf("ResourceCount = %d, want 25", res.Collection.ResourceCount)
				}
			} else if !errors.Is(err, tt.wantErr) {
				t.Fatalf("collect error = %v, want %v", err, tt.wantErr)
			}
			if len(p.calls) != tt.wantCalls {
				t.Errorf("LIST calls = %d, want %d", len(p.calls), tt.wantCalls)
			}
		})
	}
}

type netTimeoutErr struct{}

func (*netTimeoutErr) Error() string   { return "i/o timeout" }
func (*netTimeoutErr) Timeout() bool   { return true }
func (*netTimeoutErr) Temporary() bool { return true }

func TestCollectExpiredContinue(t *testing.T) {
	expired := func(token string) error {
		err := apierrors.NewResourceExpired("continue token too old")
		err.ErrStatus.ListMeta.Continue = token
		return err
	}
	t.Run("resumes with the offered token", func(t *testing.T) {
		p := newPager(map[string]int{"a": 25})
		p.fail = func(n int, _ string, opts metav1.ListOptions) error {
			if opts.Continue == "10" {
				return expired("11") // the server skips one object that changed meanwhile
			}
			return nil
		}
		c := collectTestCompiled(t, nil)
		res, err := collect(context.Background(), p.list, namespacedPVC, c, CollectOptions{Backoff: time.Millisecond})
		if err != nil {
			t.Fatalf("collect: %v", err)
		}
		if res.Collection.ResourceCount != 24 {
			t.Errorf("ResourceCount = %d, want 24", res.Collection.ResourceCount)
		}
	})
	t.Run("fails without a token", func(t *testing.T) {
		p := newPager(map[string]int{"a": 25})
		p.fail = func(n int, _ string, opts metav1.ListOptions) error {
			if opts.Continue == "10" {
				return expired("")
			}
			return nil
		}
		c := collectTestCompiled(t, nil)
		if _, err := collect(context.Background(), p.list, namespacedPVC, c, CollectOptions{Backoff: time.Millisecond}); !apierrors.IsResourceExpired(err) {
			t.Fatalf("collect error = %v, want the 410", err)
		}
	})
}

func TestCollectNamespaces(t *testing.T) {
	tests := []struct {
		name             string
		include, exclude []string
		failNamespace    string
		namespaced       bool
		wantIDs          int
		wantListNS       []string // namespaces of the LIST calls, sorted
		wantNSErrors     int
		wantErr          bool
	}{
		{"no settings: one cluster-wide list", nil, nil, "", true, 9, []string{""}, 0, false},
		{"exact names: one list each", []string{"a", "c", "missing"}, nil, "", true, 5, []string{"a", "c", "missing"}, 0, false},
		{"exact names minus excluded", []string{"a", "c"}, []string{"c"}, "", true, 3, []string{"a"}, 0, false},
		{"pattern: cluster-wide and filtered", []string{"?"}, []string{"b"}, "", true, 5, []string{""}, 0, false},
		{"exclude only: cluster-wide and filtered", nil, []string{"a", "d"}, "", true, 6, []string{""}, 0, false},
		{"cluster-scoped ignores namespaces", []string{"a"}, nil, "", false, 9, []string{""}, 0, false},
		{"one namespace fails, the others are kept", []string{"a", "b", "c"}, nil, "b", true, 5, []string{"a", "b", "c"}, 1, false},
		{"every namespace fails", []string{"b"}, nil, "b", true, 0, []string{"b"}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPager(map[string]int{"a": 3, "b": 4, "c": 2})
			p.fail = func(_ int, ns string, _ metav1.ListOptions) error {
				if ns != "" && ns == tt.failNamespace {
					return apierrors.NewForbidden(schema.GroupResource{Resource: "persistentvolumeclaims"}, "", errors.New("denied"))
				}
				return nil
			}
			c := collectTestCompiled(t, func(ms *kube.MetricSource) {
				if tt.include != nil || tt.exclude != nil {
					ms.Spec.Source.Namespaces = &kube.NamespaceSelector{Include: tt.include, Exclude: tt.exclude}
				}
				ms.Spec.Collection.Parallelism = 2
			})
			target := namespacedPVC
			target.Namespaced = tt.namespaced
			res, err := collect(context.Background(), p.list, target, c, CollectOptions{})
			if tt.wantErr {
				if !errors.Is(err, engine.ErrForbidden) {
					t.Fatalf("collect error = %v, want ErrForbidden", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("collect: %v", err)
			}
			if got := res.Collection.ResourceCount; got != tt.wantIDs {
				t.Errorf("ResourceCount = %d, want %d", got, tt.wantIDs)
			}
			if got := len(res.NamespaceErrors); got != tt.wantNSErrors {
				t.Errorf("NamespaceErrors = %v, want %d", res.NamespaceErrors, tt.wantNSErrors)
			}
			listed := slices.Compact(slices.Sorted(slices.Values(p.nss)))
			if diff := cmp.Diff(tt.wantListNS, listed); diff != "" {
				t.Errorf("namespaces listed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCollectTimeout(t *testing.T) {
	block := func(ctx context.Context, ns string, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	c := collectTestCompiled(t, nil)
	c.Collection.Timeout = 50 * time.Millisecond
	start := time.Now()
	_, err := collect(context.Background(), block, namespacedPVC, c, CollectOptions{})
	if !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("collect error = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("collect took %v, want it bounded by the 50ms timeout", d)
	}
}
