package collect

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/clusterpulse/clusterpulse/engine"
)

func TestOperatorsFromOLM(t *testing.T) {
	got := OperatorsFromOLM(readItems(t, "subscriptions.json"), readItems(t, "csvs.json"))
	want := []engine.Operator{
		{
			Name: "cert-manager-operator.v1.14.0", DisplayName: "cert-manager Operator for Red Hat OpenShift", Version: "1.14.0",
			Status: "Succeeded", Namespace: "cert-manager-operator", InstalledNamespace: "cert-manager-operator",
			InstallModes: []string{"AllNamespaces"}, InstallMode: engine.InstallModeAllNamespaces, Provider: "Red Hat",
			CreatedAt: ts(t, "2026-01-05T09:30:00Z"), UpdatedAt: ts(t, "2026-01-05T09:31:10Z"),
			IsClusterWide: true, AvailableInNamespaces: []string{"*"}, AvailableNamespacesDetail: "All namespaces",
		},
		{
			// WATCH_NAMESPACE in the subscription overrides the OperatorGroup's target.
			Name: "postgresoperator.v5.7.2", DisplayName: "Crunchy Postgres for Kubernetes", Version: "5.7.2",
			Status: "Succeeded", Namespace: "databases", InstalledNamespace: "databases",
			InstallModes: []string{"OwnNamespace", "SingleNamespace", "AllNamespaces"}, InstallMode: engine.InstallModeSingleNamespace, Provider: "Crunchy Data",
			CreatedAt: ts(t, "2025-10-10T10:10:10Z"), UpdatedAt: ts(t, "2025-10-10T10:12:00Z"),
			AvailableInNamespaces: []string{"db-prod", "db-staging"}, AvailableCount: 2, AvailableNamespacesDetail: "db-prod, db-staging",
		},
		{
			// Still installing: currentCSV names it; the OperatorGroup targets two namespaces.
			Name: "strimzi-cluster-operator.v0.43.0", DisplayName: "Strimzi", Version: "0.43.0",
			Status: "Installing", Namespace: "kafka", InstalledNamespace: "kafka",
			InstallModes: []string{"OwnNamespace", "SingleNamespace", "MultiNamespace", "AllNamespaces"}, InstallMode: engine.InstallModeSingleNamespace, Provider: "Strimzi",
			CreatedAt: ts(t, "2026-02-13T09:59:30Z"), UpdatedAt: ts(t, "2026-02-13T10:00:00Z"),
			AvailableInNamespaces: []string{"kafka", "kafka-dev"}, AvailableCount: 2, AvailableNamespacesDetail: "kafka, kafka-dev",
		},
		{
			// No target annotation and no AllNamespaces support: the installed namespace.
			Name: "etcdoperator.v0.9.4", DisplayName: "etcd", Version: "0.9.4",
			Status: "Unknown", Namespace: "legacy", InstalledNamespace: "legacy",
			InstallModes: []string{"OwnNamespace", "SingleNamespace"}, InstallMode: engine.InstallModeSingleNamespace, Provider: "CNCF",
			CreatedAt:             ts(t, "2024-03-03T03:03:03Z"),
			AvailableInNamespaces: []string{"legacy"}, AvailableCount: 1, AvailableNamespacesDetail: "legacy",
		},
		{
			// The CSV is gone: listed with what the subscription tells.
			Name: "ghost-operator.v0.1.0", DisplayName: "ghost-operator",
			Status: "Unknown", Namespace: "legacy", InstalledNamespace: "legacy",
			InstallModes: []string{}, InstallMode: engine.InstallModeSingleNamespace,
			AvailableInNamespaces: []string{"legacy"}, AvailableCount: 1, AvailableNamespacesDetail: "legacy",
		},
		{
			// Supports AllNamespaces but its OperatorGroup targets its own namespace only; a
			// malformed lastUpdateTime is left out.
			Name: "grafana-operator.v5.15.1", DisplayName: "Grafana Operator", Version: "5.15.1",
			Status: "Succeeded", Namespace: "team-a", InstalledNamespace: "team-a",
			InstallModes: []string{"OwnNamespace", "SingleNamespace", "AllNamespaces"}, InstallMode: engine.InstallModeSingleNamespace, Provider: "Grafana Labs",
			CreatedAt:             ts(t, "2025-12-01T08:00:00Z"),
			AvailableInNamespaces: []string{"team-a"}, AvailableCount: 1, AvailableNamespacesDetail: "team-a",
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OperatorsFromOLM mismatch (-want +got):\n%s", diff)
	}
}

func TestTrimCSVKeepsWhatOperatorsFromOLMReads(t *testing.T) {
	subs, csvs := readItems(t, "subscriptions.json"), readItems(t, "csvs.json")
	trimmed := make([]unstructured.Unstructured, 0, len(csvs))
	for _, c := range csvs {
		trimmed = append(trimmed, trimCSV(c))
	}
	if diff := cmp.Diff(OperatorsFromOLM(subs, csvs), OperatorsFromOLM(subs, trimmed)); diff != "" {
		t.Errorf("operators from trimmed CSVs differ (-full +trimmed):\n%s", diff)
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(trimmed[0].Object, "spec", "icon"); found {
		t.Errorf("trimCSV kept spec.icon")
	}
}

func TestSplitNamespaces(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{in: "", want: nil},
		{in: "a", want: []string{"a"}},
		{in: ` "a", 'b' ,,c `, want: []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, splitNamespaces(tt.in)); diff != "" {
				t.Errorf("splitNamespaces mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
