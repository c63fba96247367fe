package httpapi

import (
	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/policy"
)

// nodeObject describes a node to a matcher.
func nodeObject(n engine.Node) policy.Object {
	return policy.Object{Name: n.Name, Labels: n.Labels}
}

// operatorObject describes an OLM operator to a matcher: its name (else display name) and the
// namespaces it serves ("*" for all).
func operatorObject(o engine.Operator) policy.Object {
	name := o.Name
	if name == "" {
		name = o.DisplayName
	}
	return policy.Object{Name: name, Namespaces: o.AvailableInNamespaces}
}

// namespaceObject describes a namespace to a matcher.
func namespaceObject(ns string) policy.Object {
	return policy.Object{Name: ns}
}

// visibleOperators filters operators with the decision's operators matcher and trims each
// one's available_in_namespaces to the namespaces that pass. It never returns nil.
func visibleOperators(d policy.Decision, ops []engine.Operator) []engine.Operator {
	m := d.Matcher(policy.KindOperators)
	if m.Unrestricted() {
		if ops == nil {
			return []engine.Operator{}
		}
		return ops
	}
	out := []engine.Operator{}
	for _, o := range ops {
		if !m.Allows(operatorObject(o)) {
			continue
		}
		trimmed := m.TrimNamespaces(o.AvailableInNamespaces)
		if len(trimmed) != len(o.AvailableInNamespaces) {
			o.AvailableInNamespaces = trimmed
			o.AvailableCount = len(trimmed)
			o.AllAvailableNamespaces = nil
			o.AvailableNamespacesDetail = joinDetail(trimmed)
		}
		out = append(out, o)
	}
	return out
}

// joinDetail is the available_namespaces_detail of a trimmed namespace list.
func joinDetail(ns []string) string {
	if len(ns) == 1 && ns[0] == "*" {
		return "All namespaces"
	}
	out := ""
	for i, n := range ns {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}

// filterMetadata says how cluster metrics were scoped to the caller.
type filterMetadata struct {
	Filtered          bool   `json:"filtered"`
	TotalNamespaces   int    `json:"total_namespaces"`
	VisibleNamespaces int    `json:"visible_namespaces"`
	TotalNodes        int    `json:"total_nodes"`
	VisibleNodes      int    `json:"visible_nodes"`
	Note              string `json:"note,omitempty"`
}

// restricted reports whether the caller sees only part of a cluster's nodes, namespaces or
// pods, so that its counts must be recomputed.
func restricted(d policy.Decision) bool {
	return !d.Matcher(policy.KindNodes).Unrestricted() || !d.Matcher(policy.KindNamespaces).Unrestricted() ||
		!d.Matcher(policy.KindPods).Unrestricted()
}

// scopedMetrics recomputes a cluster's metrics over what the caller may see: nodes through
// the nodes matcher; namespaces through the namespaces matcher; pods and deployments from the
// per-namespace counts of the visible namespaces (pods also through the pods matcher's
// namespace filter). det must hold nodes, namespaces and counts when d is restricted.
func scopedMetrics(d policy.Decision, m *engine.ClusterMetrics, det clusterDetail) (engine.ClusterMetrics, *filterMetadata) {
	var base engine.ClusterMetrics
	if m != nil {
		base = *m
	}
	if !restricted(d) {
		return base, nil
	}
	nodesM, nsM, podsM := d.Matcher(policy.KindNodes), d.Matcher(policy.KindNamespaces), d.Matcher(policy.KindPods)
	out := engine.ClusterMetrics{Timestamp: base.Timestamp}
	meta := &filterMetadata{Filtered: true, TotalNodes: len(det.Nodes),
		Note: "Counts cover only the nodes, namespaces and pods your access policies let you see"}
	for _, n := range det.Nodes {
		if !nodesM.Allows(nodeObject(n)) {
			continue
		}
		out.Nodes++
		if n.Status == engine.NodeReady {
			out.NodesReady++
		}
		out.CPUCapacity += n.CPUCapacity
		out.MemoryCapacity += n.MemoryCapacity
	}
	meta.VisibleNodes = out.Nodes
	names := det.Namespaces
	if !det.HasNamespaces {
		for _, c := range det.NamespaceCounts {
			names = append(names, c.Name)
		}
	}
	visible := map[string]bool{}
	for _, ns := range names {
		if nsM.Allows(namespaceObject(ns)) {
			visible[ns] = true
		}
	}
	meta.TotalNamespaces, meta.VisibleNamespaces = len(names), len(visible)
	out.Namespaces = len(visible)
	for _, c := range det.NamespaceCounts {
		if !visible[c.Name] {
			continue
		}
		out.Deployments += c.Deployments
		if podsM.NamespaceAllowed(c.Name) {
			out.Pods += c.Pods
			out.PodsRunning += c.PodsByPhase["Running"]
		}
	}
	return out, meta
}
