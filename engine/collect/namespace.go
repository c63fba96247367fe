package collect

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/clusterpulse/clusterpulse/engine"
)

// NamespaceNames appends the names of the namespaces of one LIST page to names.
func NamespaceNames(names []string, l *corev1.NamespaceList) []string {
	for i := range l.Items {
		names = append(names, l.Items[i].Name)
	}
	return names
}

// NamespaceTally holds per-namespace counts gathered from the LISTs of a collection pass:
// pods by phase (PodReduction.ByNamespace) and the number of deployments, services,
// statefulsets and daemonsets in each namespace.
type NamespaceTally struct {
	Pods         map[string]map[string]int
	Deployments  map[string]int
	Services     map[string]int
	StatefulSets map[string]int
	DaemonSets   map[string]int
}

// NamespaceCounts returns the counts of every namespace in names and of every namespace that
// holds counted objects (a namespace created between two LISTs still shows), sorted by name.
// A namespace without objects gets zero counts and an empty PodsByPhase.
func NamespaceCounts(names []string, t NamespaceTally) []engine.NamespaceCounts {
	all := slices.Clone(names)
	for ns := range t.Pods {
		all = append(all, ns)
	}
	for _, m := range []map[string]int{t.Deployments, t.Services, t.StatefulSets, t.DaemonSets} {
		for ns := range m {
			all = append(all, ns)
		}
	}
	slices.Sort(all)
	all = slices.Compact(all)

	out := make([]engine.NamespaceCounts, 0, len(all))
	for _, ns := range all {
		c := engine.NamespaceCounts{
			Name:         ns,
			PodsByPhase:  map[string]int{},
			Deployments:  t.Deployments[ns],
			Services:     t.Services[ns],
			StatefulSets: t.StatefulSets[ns],
			DaemonSets:   t.DaemonSets[ns],
		}
		for phase, n := range t.Pods[ns] {
			c.PodsByPhase[phase] = n
			c.Pods += n
		}
		out = append(out, c)
	}
	return out
}
