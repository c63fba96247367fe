package collect

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/clusterpulse/clusterpulse/engine"
)

// ClusterOperatorGVR is the resource of OpenShift ClusterOperators (cluster-scoped).
var ClusterOperatorGVR = schema.GroupVersionResource{Group: "config.openshift.io", Version: "v1", Resource: "clusteroperators"}

// ClusterOperatorFromUnstructured converts an OpenShift ClusterOperator:
//   - available, progressing, degraded: the condition of that type is True;
//   - upgradeable: the Upgradeable condition is not False. OpenShift documents a missing
//     Upgradeable condition as "upgradeable", and most operators never set it;
//   - message and reason: from Degraded=True, else Available≠True (including a missing
//     Available condition: no message then), else Progressing=True;
//   - version: the status.versions entry named "operator", else the one named like the
//     operator, else the first one;
//   - last_transition_time: the latest among the conditions.
//
// A status of the wrong shape is an error wrapping engine.ErrInvalid.
func ClusterOperatorFromUnstructured(u *unstructured.Unstructured) (engine.ClusterOperator, error) {
	out := engine.ClusterOperator{Name: u.GetName(), Upgradeable: true}
	conds, err := conditionsOf(u.Object)
	if err != nil {
		return engine.ClusterOperator{}, fmt.Errorf("cluster operator %q: %v: %w", out.Name, err, engine.ErrInvalid)
	}
	out.Conditions = conds
	byType := map[string]engine.ClusterOperatorCondition{}
	for _, c := range conds {
		byType[c.Type] = c
		if c.LastTransitionTime.After(out.LastTransitionTime.Time) {
			out.LastTransitionTime = c.LastTransitionTime
		}
	}
	out.Available = byType["Available"].Status == "True"
	out.Progressing = byType["Progressing"].Status == "True"
	out.Degraded = byType["Degraded"].Status == "True"
	if c, ok := byType["Upgradeable"]; ok {
		out.Upgradeable = c.Status != "False"
	}
	switch {
	case out.Degraded:
		out.Message, out.Reason = byType["Degraded"].Message, byType["Degraded"].Reason
	case !out.Available:
		out.Message, out.Reason = byType["Available"].Message, byType["Available"].Reason
	case out.Progressing:
		out.Message, out.Reason = byType["Progressing"].Message, byType["Progressing"].Reason
	}

	versions, err := nestedMaps(u.Object, "status", "versions")
	if err != nil {
		return engine.ClusterOperator{}, fmt.Errorf("cluster operator %q: %v: %w", out.Name, err, engine.ErrInvalid)
	}
	out.Versions = make([]engine.ClusterOperatorVersion, 0, len(versions))
	for _, v := range versions {
		var cv engine.ClusterOperatorVersion
		cv.Name, _ = v["name"].(string)
		cv.Version, _ = v["version"].(string)
		out.Versions = append(out.Versions, cv)
	}
	out.Version = operatorVersion(out.Name, out.Versions)

	related, err := nestedMaps(u.Object, "status", "relatedObjects")
	if err != nil {
		return engine.ClusterOperator{}, fmt.Errorf("cluster operator %q: %v: %w", out.Name, err, engine.ErrInvalid)
	}
	out.RelatedObjects = make([]engine.RelatedObject, 0, len(related))
	for _, r := range related {
		var ro engine.RelatedObject
		ro.Group, _ = r["group"].(string)
		ro.Resource, _ = r["resource"].(string)
		ro.Namespace, _ = r["namespace"].(string)
		ro.Name, _ = r["name"].(string)
		out.RelatedObjects = append(out.RelatedObjects, ro)
	}
	return out, nil
}

func operatorVersion(name string, versions []engine.ClusterOperatorVersion) string {
	for _, want := range []string{"operator", name} {
		for _, v := range versions {
			if v.Name == want {
				return v.Version
			}
		}
	}
	if len(versions) > 0 {
		return versions[0].Version
	}
	return ""
}

// ClusterOperatorsFromList converts every ClusterOperator of items, sorted by name. Objects
// that do not convert are left out and returned as one joined error, so one malformed
// operator does not hide the others.
func ClusterOperatorsFromList(items []unstructured.Unstructured) ([]engine.ClusterOperator, error) {
	out := make([]engine.ClusterOperator, 0, len(items))
	var bad []string
	for i := range items {
		co, err := ClusterOperatorFromUnstructured(&items[i])
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		out = append(out, co)
	}
	slices.SortFunc(out, func(a, b engine.ClusterOperator) int { return cmp.Compare(a.Name, b.Name) })
	if len(bad) > 0 {
		return out, fmt.Errorf("%d cluster operators skipped: %s: %w", len(bad), strings.Join(bad, "; "), engine.ErrInvalid)
	}
	return out, nil
}
