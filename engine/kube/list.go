package kube

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// DefaultPageSize is the LIST page size (the limit parameter) used when none is given.
const DefaultPageSize int64 = 500

// DecodeError reports one listed object that could not be converted into its Go type. It
// carries what a caller needs to report the problem on the object itself (for instance in its
// status) while the other objects are processed.
type DecodeError struct {
	// Resource is the resource the object was listed from.
	Resource schema.GroupVersionResource
	// Namespace and Name identify the object.
	Namespace string
	Name      string
	// Err is the conversion error.
	Err error
}

// Error names the object and the reason.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("decode %s %s/%s: %v", e.Resource.Resource, e.Namespace, e.Name, e.Err)
}

// Unwrap returns the conversion error.
func (e *DecodeError) Unwrap() error { return e.Err }

// List reads every object of resource gvr in namespace, page by page (limit/continue;
// pageSize <= 0 means DefaultPageSize), and converts each one into T. Objects come in the order
// the apiserver returns them (by name).
//
// A malformed object never stops the others: it is left out of items and reported in bad. err
// is set only when the LIST itself fails; then items and bad are nil, because a partial list
// is not a list a job may act on (it would look as if the missing objects were deleted).
func List[T any](ctx context.Context, dc dynamic.Interface, gvr schema.GroupVersionResource, namespace string, pageSize int64) (items []T, bad []*DecodeError, err error) {
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	rc := dc.Resource(gvr).Namespace(namespace)
	opts := metav1.ListOptions{Limit: pageSize}
	items = []T{}
	for {
		page, err := rc.List(ctx, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("list %s in namespace %q: %w", gvr.Resource, namespace, classify(err))
		}
		items, bad = decodeItems(gvr, page.Items, items, bad)
		opts.Continue = page.GetContinue()
		if opts.Continue == "" {
			return items, bad, nil
		}
	}
}

// decodeItems converts objs into T, appending the good ones to items and the malformed ones to
// bad.
func decodeItems[T any](gvr schema.GroupVersionResource, objs []unstructured.Unstructured, items []T, bad []*DecodeError) ([]T, []*DecodeError) {
	for i := range objs {
		v, err := Decode[T](&objs[i])
		if err != nil {
			bad = append(bad, &DecodeError{Resource: gvr, Namespace: objs[i].GetNamespace(), Name: objs[i].GetName(), Err: err})
			continue
		}
		items = append(items, v)
	}
	return items, bad
}

// Decode converts one unstructured object into T. Unknown fields are ignored (a newer CRD may
// carry fields this binary does not know); a field of the wrong type is an error.
func Decode[T any](u *unstructured.Unstructured) (T, error) {
	var v T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &v); err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// ClusterConnections lists the ClusterConnections of the hub namespace; see List for bad.
func (h *Hub) ClusterConnections(ctx context.Context) ([]ClusterConnection, []*DecodeError, error) {
	return List[ClusterConnection](ctx, h.Dynamic, ClusterConnectionsGVR, h.Namespace, DefaultPageSize)
}

// RegistryConnections lists the RegistryConnections of the hub namespace; see List for bad.
func (h *Hub) RegistryConnections(ctx context.Context) ([]RegistryConnection, []*DecodeError, error) {
	return List[RegistryConnection](ctx, h.Dynamic, RegistryConnectionsGVR, h.Namespace, DefaultPageSize)
}

// MetricSources lists the MetricSources of the hub namespace; see List for bad.
func (h *Hub) MetricSources(ctx context.Context) ([]MetricSource, []*DecodeError, error) {
	return List[MetricSource](ctx, h.Dynamic, MetricSourcesGVR, h.Namespace, DefaultPageSize)
}

// MonitorAccessPolicies lists the MonitorAccessPolicies of the hub namespace; see List for
// bad.
func (h *Hub) MonitorAccessPolicies(ctx context.Context) ([]MonitorAccessPolicy, []*DecodeError, error) {
	return List[MonitorAccessPolicy](ctx, h.Dynamic, MonitorAccessPoliciesGVR, h.Namespace, DefaultPageSize)
}
