package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/clusterpulse/clusterpulse/engine"
)

// FieldManager is the field manager recorded for every write ClusterPulse makes to the hub.
const FieldManager = "clusterpulse"

// PatchStatus sends the JSON merge patch {"status": status} to the status subresource of the
// object name of resource gvr in the hub namespace. Only .status can change this way; the
// spec is never touched.
//
// Merge-patch semantics apply (RFC 7386): a field absent from the marshalled status keeps its
// stored value. The typed status structs use omitempty, so zero values (an empty message, 0
// nodes, a nil lastSyncTime) are NOT sent and do not clear anything. This is what a failed
// collection wants — the error path sets phase, health and message (all non-empty) and leaves
// lastSyncTime at the last success — but it means every patch must set explicitly each field
// it means to change. To clear a field, pass a map with an explicit nil, e.g.
// map[string]any{"message": nil}. A status that marshals to {} (the original's silent empty
// patch) is refused with ErrInvalid. A missing object is an ErrNotFound error.
func (h *Hub) PatchStatus(ctx context.Context, gvr schema.GroupVersionResource, name string, status any) error {
	st, err := json.Marshal(status)
	if err != nil {
		return fmt.Errorf("patch status of %s %s/%s: encode: %w", gvr.Resource, h.Namespace, name, err)
	}
	if t := bytes.TrimSpace(st); bytes.Equal(t, []byte("{}")) || bytes.Equal(t, []byte("null")) {
		return fmt.Errorf("patch status of %s %s/%s: empty status: %w", gvr.Resource, h.Namespace, name, engine.ErrInvalid)
	}
	body, err := json.Marshal(map[string]json.RawMessage{"status": st})
	if err != nil {
		return fmt.Errorf("patch status of %s %s/%s: encode: %w", gvr.Resource, h.Namespace, name, err)
	}
	_, err = h.Dynamic.Resource(gvr).Namespace(h.Namespace).Patch(ctx, name, types.MergePatchType, body,
		metav1.PatchOptions{FieldManager: FieldManager}, "status")
	if err != nil {
		return fmt.Errorf("patch status of %s %s/%s: %w", gvr.Resource, h.Namespace, name, classify(err))
	}
	return nil
}

// PatchClusterConnectionStatus merge-patches the status of a ClusterConnection; see
// PatchStatus for what zero fields mean.
func (h *Hub) PatchClusterConnectionStatus(ctx context.Context, name string, st ClusterConnectionStatus) error {
	return h.PatchStatus(ctx, ClusterConnectionsGVR, name, st)
}

// PatchRegistryConnectionStatus merge-patches the status of a RegistryConnection; see
// PatchStatus for what zero fields mean. available is always sent, false included: an
// unavailable registry is a state every check reports, not an absent field.
func (h *Hub) PatchRegistryConnectionStatus(ctx context.Context, name string, st RegistryConnectionStatus) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("patch status of %s %s/%s: encode: %w", RegistryConnectionsGVR.Resource, h.Namespace, name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("patch status of %s %s/%s: encode: %w", RegistryConnectionsGVR.Resource, h.Namespace, name, err)
	}
	m["available"] = st.Available
	return h.PatchStatus(ctx, RegistryConnectionsGVR, name, m)
}

// PatchMetricSourceStatus merge-patches the status of a MetricSource; see PatchStatus for
// what zero fields mean.
func (h *Hub) PatchMetricSourceStatus(ctx context.Context, name string, st MetricSourceStatus) error {
	return h.PatchStatus(ctx, MetricSourcesGVR, name, st)
}

// PatchMonitorAccessPolicyStatus merge-patches the status of a MonitorAccessPolicy; see
// PatchStatus for what zero fields mean.
func (h *Hub) PatchMonitorAccessPolicyStatus(ctx context.Context, name string, st MonitorAccessPolicyStatus) error {
	return h.PatchStatus(ctx, MonitorAccessPoliciesGVR, name, st)
}
