package collect

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/clusterpulse/clusterpulse/engine"
)

func TestClusterOperatorsFromList(t *testing.T) {
	got, err := ClusterOperatorsFromList(readItems(t, "clusteroperators.json"))
	if err != nil {
		t.Fatalf("ClusterOperatorsFromList: %v", err)
	}
	degradedMsg := `OAuthServerRouteEndpointAccessibleControllerDegraded: Get "https://oauth-openshift.apps.example.com/healthz": EOF`
	want := []engine.ClusterOperator{
		{
			Name: "authentication", Version: "4.17.12", // the "operator" entry, although not first
			Available: true, Degraded: true, Upgradeable: true,
			Message: degradedMsg, Reason: "OAuthServerRouteEndpointAccessibleController_SyncError",
			LastTransitionTime: ts(t, "2026-02-13T09:58:00Z"),
			Conditions: []engine.ClusterOperatorCondition{
				{Type: "Degraded", Status: "True", LastTransitionTime: ts(t, "2026-02-13T09:58:00Z"), Reason: "OAuthServerRouteEndpointAccessibleController_SyncError", Message: degradedMsg},
				{Type: "Progressing", Status: "False", LastTransitionTime: ts(t, "2026-02-13T09:50:00Z"), Reason: "AsExpected", Message: "AuthenticatorCertKeyProgressing: All is well"},
				{Type: "Available", Status: "True", LastTransitionTime: ts(t, "2026-01-10T13:00:00Z"), Reason: "AsExpected", Message: "All is well"},
				{Type: "Upgradeable", Status: "True", LastTransitionTime: ts(t, "2025-06-02T14:20:00Z"), Reason: "AsExpected"},
				{Type: "EvaluationConditionsDetected", Status: "Unknown", LastTransitionTime: ts(t, "2025-06-02T14:20:00Z"), Reason: "NoData"},
			},
			Versions: []engine.ClusterOperatorVersion{{Name: "oauth-apiserver", Version: "4.17.12"}, {Name: "operator", Version: "4.17.12"}, {Name: "oauth-openshift", Version: "4.17.12_openshift"}},
			RelatedObjects: []engine.RelatedObject{
				{Group: "operator.openshift.io", Resource: "authentications", Name: "cluster"},
				{Resource: "namespaces", Name: "openshift-authentication"},
			},
		},
		{
			Name: "dns", Version: "4.17.12", Available: true, Upgradeable: true, // no Upgradeable condition: upgradeable
			LastTransitionTime: ts(t, "2026-01-10T13:02:30Z"),
			Conditions: []engine.ClusterOperatorCondition{
				{Type: "Available", Status: "True", LastTransitionTime: ts(t, "2026-01-10T13:01:00Z"), Reason: "AsExpected", Message: `DNS "default" is available.`},
				{Type: "Progressing", Status: "False", LastTransitionTime: ts(t, "2026-01-10T13:02:30Z"), Reason: "AsExpected", Message: "Desired and current number of DNSes are equal"},
				{Type: "Degraded", Status: "False", LastTransitionTime: ts(t, "2025-06-02T14:20:00Z"), Reason: "DNSNotDegraded"},
			},
			Versions: []engine.ClusterOperatorVersion{
				{Name: "operator", Version: "4.17.12"},
				{Name: "coredns", Version: "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:c0de"},
				{Name: "openshift-cli", Version: "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:0c11"},
			},
			RelatedObjects: []engine.RelatedObject{
				{Resource: "namespaces", Name: "openshift-dns-operator"},
				{Group: "operator.openshift.io", Resource: "dnses", Name: "default"},
				{Resource: "namespaces", Name: "openshift-dns"},
			},
		},
		{
			Name: "image-registry", Version: "4.17.12", // no "operator" entry nor one named like it: the first
			Available: true, Progressing: true, Upgradeable: true,
			Message: "Progressing: The deployment has not completed", Reason: "DeploymentNotCompleted",
			LastTransitionTime: ts(t, "2026-02-13T10:00:00Z"),
			Conditions: []engine.ClusterOperatorCondition{
				{Type: "Progressing", Status: "True", LastTransitionTime: ts(t, "2026-02-13T10:00:00Z"), Reason: "DeploymentNotCompleted", Message: "Progressing: The deployment has not completed"},
				{Type: "Available", Status: "True", LastTransitionTime: ts(t, "2026-01-10T13:00:00Z"), Reason: "Ready", Message: "Available: The registry is ready"},
			},
			Versions:       []engine.ClusterOperatorVersion{{Name: "image-registry-pruner", Version: "4.17.12"}, {Name: "cluster-image-registry-operator", Version: "4.17.11"}},
			RelatedObjects: []engine.RelatedObject{},
		},
		{
			Name: "insights", Upgradeable: true, // no status yet: unavailable, nothing to say
			Conditions: []engine.ClusterOperatorCondition{}, Versions: []engine.ClusterOperatorVersion{}, RelatedObjects: []engine.RelatedObject{},
		},
		{
			Name: "machine-config", Version: "4.17.12", // named like the operator
			Progressing: true, Upgradeable: false,
			Message:            "Cluster not available for [{operator 4.17.12}]: machine-config pool worker is not ready",
			Reason:             "MachineConfigPoolsFailed",
			LastTransitionTime: ts(t, "2026-02-13T09:10:00Z"),
			Conditions: []engine.ClusterOperatorCondition{
				{Type: "Progressing", Status: "True", LastTransitionTime: ts(t, "2026-02-13T09:10:00Z"), Message: "Working towards 4.18.1"},
				{Type: "Available", Status: "False", LastTransitionTime: ts(t, "2026-02-13T09:05:00Z"), Reason: "MachineConfigPoolsFailed", Message: "Cluster not available for [{operator 4.17.12}]: machine-config pool worker is not ready"},
				{Type: "Upgradeable", Status: "False", LastTransitionTime: ts(t, "2026-02-13T09:00:00Z"), Reason: "PoolUpdating", Message: "One or more machine config pools are updating, please see `oc get mcp` for further details"},
			},
			Versions:       []engine.ClusterOperatorVersion{{Name: "machine-config", Version: "4.17.12"}},
			RelatedObjects: []engine.RelatedObject{},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ClusterOperatorsFromList mismatch (-want +got):\n%s", diff)
	}
}

func TestClusterOperatorsFromListSkipsMalformed(t *testing.T) {
	items := []unstructured.Unstructured{
		{Object: map[string]any{"metadata": map[string]any{"name": "good"}}},
		{Object: map[string]any{"metadata": map[string]any{"name": "bad-conditions"}, "status": map[string]any{"conditions": "all fine"}}},
		{Object: map[string]any{"metadata": map[string]any{"name": "bad-versions"}, "status": map[string]any{"versions": 3}}},
	}
	got, err := ClusterOperatorsFromList(items)
	if !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("error = %v, want ErrInvalid", err)
	}
	var names []string
	for _, co := range got {
		names = append(names, co.Name)
	}
	if diff := cmp.Diff([]string{"good"}, names); diff != "" {
		t.Errorf("converted operators mismatch (-want +got):\n%s", diff)
	}
}
