package collect

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/clusterpulse/clusterpulse/engine"
)

// NodeMetricsGVR is the resource of metrics.k8s.io NodeMetrics, served by metrics-server (or
// an equivalent adapter) when the cluster has one.
var NodeMetricsGVR = schema.GroupVersionResource{Group: "metrics.k8s.io", Version: "v1beta1", Resource: "nodes"}

// NodeUsage is a node's real resource usage from metrics.k8s.io: CPU in cores and memory in
// bytes.
type NodeUsage struct {
	Name   string
	CPU    float64
	Memory int64
}

// NodeUsageFromUnstructured reads a metrics.k8s.io/v1beta1 NodeMetrics object. A missing or
// malformed usage quantity is an error wrapping engine.ErrInvalid: no usage is better than a
// wrong zero.
func NodeUsageFromUnstructured(u *unstructured.Unstructured) (NodeUsage, error) {
	out := NodeUsage{Name: u.GetName()}
	cpu, _, err := unstructured.NestedString(u.Object, "usage", "cpu")
	if err != nil || cpu == "" {
		return NodeUsage{}, fmt.Errorf("node metrics %q: usage.cpu is missing: %w", out.Name, engine.ErrInvalid)
	}
	mem, _, err := unstructured.NestedString(u.Object, "usage", "memory")
	if err != nil || mem == "" {
		return NodeUsage{}, fmt.Errorf("node metrics %q: usage.memory is missing: %w", out.Name, engine.ErrInvalid)
	}
	if out.CPU, err = engine.ParseCPU(cpu); err != nil {
		return NodeUsage{}, fmt.Errorf("node metrics %q: %w", out.Name, err)
	}
	if out.Memory, err = engine.ParseBytes(mem); err != nil {
		return NodeUsage{}, fmt.Errorf("node metrics %q: %w", out.Name, err)
	}
	return out, nil
}

// ApplyTo sets the real usage fields of n.
func (u NodeUsage) ApplyTo(n *engine.Node) {
	cpu, mem := u.CPU, u.Memory
	n.CPUUsed = &cpu
	n.MemoryUsed = &mem
}
