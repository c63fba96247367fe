package collect

import (
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/clusterpulse/clusterpulse/engine"
)

// roleLabelPrefix marks a node role label: node-role.kubernetes.io/<role>.
const roleLabelPrefix = "node-role.kubernetes.io/"

// NodeFromAPI converts a node and the reduction of the pods bound to it into the node JSON of
// the original ClusterPulse, stamped with now. Real usage (CPUUsed, MemoryUsed) is not set
// here: see NodeUsage.ApplyTo.
func NodeFromAPI(n *corev1.Node, pods PodAccumulator, now time.Time) engine.Node {
	out := engine.Node{
		Name:        n.Name,
		Timestamp:   engine.NewTime(now),
		Status:      NodeStatus(n),
		Roles:       NodeRoles(n.Labels),
		Conditions:  make([]engine.NodeCondition, 0, len(n.Status.Conditions)),
		Labels:      cloneMap(n.Labels),
		Annotations: cloneMap(n.Annotations),
		Taints:      make([]engine.Taint, 0, len(n.Spec.Taints)),

		KernelVersion:    n.Status.NodeInfo.KernelVersion,
		OSImage:          n.Status.NodeInfo.OSImage,
		ContainerRuntime: n.Status.NodeInfo.ContainerRuntimeVersion,
		KubeletVersion:   n.Status.NodeInfo.KubeletVersion,
		Architecture:     n.Status.NodeInfo.Architecture,

		ImagesCount:     len(n.Status.Images),
		VolumesAttached: len(n.Status.VolumesAttached),
	}
	for _, c := range n.Status.Conditions {
		out.Conditions = append(out.Conditions, engine.NodeCondition{
			Type:               string(c.Type),
			Status:             string(c.Status),
			Reason:             c.Reason,
			Message:            c.Message,
			LastTransitionTime: engine.NewTime(c.LastTransitionTime.Time),
		})
	}
	for _, t := range n.Spec.Taints {
		out.Taints = append(out.Taints, engine.Taint{Key: t.Key, Value: t.Value, Effect: string(t.Effect)})
	}

	capacity, alloc := n.Status.Capacity, n.Status.Allocatable
	out.CPUCapacity = cpuOf(capacity, corev1.ResourceCPU)
	out.MemoryCapacity = bytesOf(capacity, corev1.ResourceMemory)
	out.StorageCapacity = bytesOf(capacity, corev1.ResourceEphemeralStorage)
	out.PodsCapacity = bytesOf(capacity, corev1.ResourcePods)
	out.CPUAllocatable = cpuOf(alloc, corev1.ResourceCPU)
	out.MemoryAllocatable = bytesOf(alloc, corev1.ResourceMemory)
	out.StorageAllocatable = bytesOf(alloc, corev1.ResourceEphemeralStorage)
	out.PodsAllocatable = bytesOf(alloc, corev1.ResourcePods)

	// The first address of each type wins, as in the original.
	for _, a := range n.Status.Addresses {
		switch a.Type {
		case corev1.NodeInternalIP:
			if out.InternalIP == "" {
				out.InternalIP = a.Address
			}
		case corev1.NodeExternalIP:
			if out.ExternalIP == "" {
				out.ExternalIP = a.Address
			}
		case corev1.NodeHostName:
			if out.Hostname == "" {
				out.Hostname = a.Address
			}
		}
	}

	pods.ApplyTo(&out)
	return out
}

// NodeStatus derives the node status of the original: SchedulingDisabled when the node is
// cordoned (it overrides readiness), else Ready or NotReady from the Ready condition (True is
// Ready, False or Unknown NotReady), else Unknown when the node reports no Ready condition.
func NodeStatus(n *corev1.Node) string {
	if n.Spec.Unschedulable {
		return engine.NodeSchedulingDisabled
	}
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		if c.Status == corev1.ConditionTrue {
			return engine.NodeReady
		}
		return engine.NodeNotReady
	}
	return engine.NodeUnknown
}

// NodeRoles returns the sorted roles named by node-role.kubernetes.io/<role> labels (never
// nil). The legacy label kubernetes.io/role=<role> is honoured too.
func NodeRoles(labels map[string]string) []string {
	roles := []string{}
	for k, v := range labels {
		if r, ok := strings.CutPrefix(k, roleLabelPrefix); ok && r != "" {
			roles = append(roles, r)
		} else if k == "kubernetes.io/role" && v != "" {
			roles = append(roles, v)
		}
	}
	slices.Sort(roles)
	return slices.Compact(roles)
}

// cpuOf returns the CPU quantity name of list in cores, 0 when absent.
func cpuOf(list corev1.ResourceList, name corev1.ResourceName) float64 {
	q, ok := list[name]
	if !ok {
		return 0
	}
	return engine.CPUCores(q)
}

// bytesOf returns the quantity name of list as an integer (bytes, or a count for pods), 0
// when absent.
func bytesOf(list corev1.ResourceList, name corev1.ResourceName) int64 {
	q, ok := list[name]
	if !ok {
		return 0
	}
	return engine.Bytes(q)
}

// cloneMap copies m, returning an empty map for nil so the wire format never sees null.
func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
