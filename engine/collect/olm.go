package collect

import (
	"cmp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/clusterpulse/clusterpulse/engine"
)

// OLM resources (operators.coreos.com/v1alpha1), both namespaced.
var (
	SubscriptionGVR = schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1alpha1", Resource: "subscriptions"}
	CSVGVR          = schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1alpha1", Resource: "clusterserviceversions"}
)

// CSVSelector leaves out the copies of cluster-wide CSVs that OLM writes into every namespace
// (labelled olm.copiedFrom): on a cluster with many namespaces they outnumber the real CSVs
// by orders of magnitude and carry nothing new.
const CSVSelector = "!olm.copiedFrom"

// targetNamespacesAnnotation is set by OLM on a CSV to the namespaces its OperatorGroup
// targets ("" for all namespaces).
const targetNamespacesAnnotation = "olm.targetNamespaces"

// OperatorsFromOLM joins Subscriptions with the ClusterServiceVersions they installed (both
// from one LIST each; no per-item GET) and returns one Operator per subscription that names a
// CSV (status.installedCSV, else status.currentCSV while it installs), sorted by namespace
// and name. Fields:
//   - name, display_name, version, provider: the CSV's name, spec.displayName, spec.version,
//     spec.provider.name;
//   - namespace and installed_namespace: the subscription's namespace;
//   - status: the CSV's status.phase, else "Unknown" (also when the CSV is missing: the
//     operator is then listed with the CSV name and the package as display name);
//   - install_modes: the spec.installModes types with supported=true;
//   - created_at: the CSV's creation time; updated_at: its status.lastUpdateTime;
//   - the namespaces the operator serves, first match wins: the subscription's
//     spec.config.env WATCH_NAMESPACE (comma-separated) when set; the CSV annotation
//     olm.targetNamespaces (comma-separated, "" meaning all namespaces) when present;
//     all namespaces when the CSV supports AllNamespaces; else the installed namespace.
//     Serving all namespaces makes the operator cluster-wide (install_mode AllNamespaces,
//     available_in_namespaces ["*"]); otherwise install_mode is SingleNamespace.
func OperatorsFromOLM(subs, csvs []unstructured.Unstructured) []engine.Operator {
	type key struct{ namespace, name string }
	byName := make(map[key]*unstructured.Unstructured, len(csvs))
	for i := range csvs {
		byName[key{csvs[i].GetNamespace(), csvs[i].GetName()}] = &csvs[i]
	}
	out := make([]engine.Operator, 0, len(subs))
	for i := range subs {
		sub := &subs[i]
		csvName, _, _ := unstructured.NestedString(sub.Object, "status", "installedCSV")
		if csvName == "" {
			csvName, _, _ = unstructured.NestedString(sub.Object, "status", "currentCSV")
		}
		if csvName == "" {
			continue
		}
		out = append(out, operatorFromCSV(sub, csvName, byName[key{sub.GetNamespace(), csvName}]))
	}
	slices.SortFunc(out, func(a, b engine.Operator) int {
		return cmp.Or(cmp.Compare(a.InstalledNamespace, b.InstalledNamespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}

func operatorFromCSV(sub *unstructured.Unstructured, csvName string, csv *unstructured.Unstructured) engine.Operator {
	ns := sub.GetNamespace()
	op := engine.Operator{Name: csvName, Namespace: ns, InstalledNamespace: ns, Status: "Unknown", InstallModes: []string{}}
	allNamespacesSupported := false
	var targets []string
	targetsKnown := false
	if csv == nil {
		op.DisplayName, _, _ = unstructured.NestedString(sub.Object, "spec", "name")
	} else {
		obj := csv.Object
		op.DisplayName, _, _ = unstructured.NestedString(obj, "spec", "displayName")
		op.Version, _, _ = unstructured.NestedString(obj, "spec", "version")
		op.Provider, _, _ = unstructured.NestedString(obj, "spec", "provider", "name")
		if phase, _, _ := unstructured.NestedString(obj, "status", "phase"); phase != "" {
			op.Status = phase
		}
		op.CreatedAt = engine.NewTime(csv.GetCreationTimestamp().Time)
		op.UpdatedAt = parseTime(nestedValue(obj, "status", "lastUpdateTime"))
		modes, _ := nestedMaps(obj, "spec", "installModes")
		for _, m := range modes {
			typ, _ := m["type"].(string)
			if supported, _ := m["supported"].(bool); supported && typ != "" {
				op.InstallModes = append(op.InstallModes, typ)
				if typ == engine.InstallModeAllNamespaces {
					allNamespacesSupported = true
				}
			}
		}
		if v, ok := csv.GetAnnotations()[targetNamespacesAnnotation]; ok {
			targets, targetsKnown = splitNamespaces(v), true
		}
	}

	switch watch := watchNamespace(sub); {
	case len(watch) > 0:
		targets, targetsKnown = watch, true
	case targetsKnown:
	case allNamespacesSupported:
		targets, targetsKnown = nil, true
	default:
		targets = []string{ns}
	}
	op.IsClusterWide = targetsKnown && len(targets) == 0
	if op.IsClusterWide {
		op.InstallMode = engine.InstallModeAllNamespaces
	} else {
		op.InstallMode = engine.InstallModeSingleNamespace
	}
	op.SetAvailableNamespaces(targets)
	return op
}

// watchNamespace returns the namespaces of a WATCH_NAMESPACE override in the subscription's
// spec.config.env, nil when there is none.
func watchNamespace(sub *unstructured.Unstructured) []string {
	env, _ := nestedMaps(sub.Object, "spec", "config", "env")
	for _, e := range env {
		if name, _ := e["name"].(string); name == "WATCH_NAMESPACE" {
			v, _ := e["value"].(string)
			return splitNamespaces(v)
		}
	}
	return nil
}

// splitNamespaces splits a comma-separated namespace list, trimming spaces and quotes and
// dropping empty entries.
func splitNamespaces(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		part = strings.Trim(strings.TrimSpace(part), `"'`)
		if part != "" {
			out = append(out, part)
		}
	}
	return out
}

func nestedValue(obj map[string]any, fields ...string) any {
	v, _, _ := unstructured.NestedFieldNoCopy(obj, fields...)
	return v
}
