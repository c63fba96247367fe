package collect

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/version"

	"github.com/clusterpulse/clusterpulse/engine"
)

func TestInfoFromClusterVersion(t *testing.T) {
	const api = "https://api.prod-east.example.com:6443"
	tests := []struct {
		file string
		want engine.ClusterInfo
	}{
		{
			file: "clusterversion.json",
			want: engine.ClusterInfo{
				APIURL:                 api,
				Version:                "4.17.12",
				Platform:               engine.PlatformOpenShift,
				Channel:                "stable-4.17",
				ClusterID:              "6f1c2a9e-3b1d-4c2e-9a47-0d2b8f3e5c11",
				Image:                  "quay.io/openshift-release-dev/ocp-release@sha256:3f1c",
				UpdateAvailable:        ptr(true),
				AvailableUpdateVersion: "4.17.14",
				AvailableUpdates:       []string{"4.17.14", "4.17.13"},
				VersionState:           "Completed",
				VersionStartedTime:     ts(t, "2026-01-10T12:00:00Z"),
				VersionCompletionTime:  ts(t, "2026-01-10T13:12:44Z"),
				Conditions: []engine.ClusterOperatorCondition{
					{Type: "RetrievedUpdates", Status: "True", LastTransitionTime: ts(t, "2025-06-02T14:40:03Z")},
					{Type: "Available", Status: "True", Message: "Done applying 4.17.12", LastTransitionTime: ts(t, "2026-01-10T13:12:44Z")},
					{Type: "Failing", Status: "False", LastTransitionTime: ts(t, "2026-01-10T13:05:10Z")},
					{Type: "Progressing", Status: "False", Message: "Cluster version is 4.17.12", LastTransitionTime: ts(t, "2026-01-10T13:12:44Z")},
					{Type: "ReleaseAccepted", Status: "True", Reason: "PayloadLoaded", Message: `Payload loaded version="4.17.12" image="quay.io/openshift-release-dev/ocp-release@sha256:3f1c"`, LastTransitionTime: ts(t, "2026-01-10T12:00:00Z")},
				},
				IsProgressing: ptr(false),
				IsDegraded:    ptr(false),
				IsAvailable:   ptr(true),
			},
		},
		{
			// An upgrade in progress that fails: the desired version is not reported yet, so
			// the newest history entry gives it; no updates are offered.
			file: "clusterversion_upgrading.json",
			want: engine.ClusterInfo{
				APIURL:             api,
				Version:            "4.18.1",
				Platform:           engine.PlatformOpenShift,
				Channel:            "fast-4.18",
				ClusterID:          "0d4c1f7a-2222-4b6e-8f00-9a1b2c3d4e5f",
				Image:              "quay.io/openshift-release-dev/ocp-release@sha256:4e18",
				UpdateAvailable:    ptr(false),
				VersionState:       "Partial",
				VersionStartedTime: ts(t, "2026-02-13T09:00:00Z"),
				Conditions: []engine.ClusterOperatorCondition{
					{Type: "Available", Status: "True", Message: "Done applying 4.17.12", LastTransitionTime: ts(t, "2026-02-13T09:00:00Z")},
					{Type: "Failing", Status: "True", Reason: "ClusterOperatorDegraded", Message: "Cluster operator machine-config is degraded", LastTransitionTime: ts(t, "2026-02-13T09:30:00Z")},
					{Type: "Progressing", Status: "True", Reason: "ClusterOperatorDegraded", Message: "Unable to apply 4.18.1: machine-config is degraded", LastTransitionTime: ts(t, "2026-02-13T09:00:00Z")},
				},
				IsProgressing: ptr(true),
				IsDegraded:    ptr(true),
				IsAvailable:   ptr(true),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := InfoFromClusterVersion(api, readObject(t, tt.file))
			if err != nil {
				t.Fatalf("InfoFromClusterVersion: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("InfoFromClusterVersion mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInfoFromClusterVersionMalformed(t *testing.T) {
	tests := []struct {
		name string
		obj  map[string]any
	}{
		{name: "channel not a string", obj: map[string]any{"spec": map[string]any{"channel": 4.17}}},
		{name: "history not a list", obj: map[string]any{"status": map[string]any{"history": "yesterday"}}},
		{name: "conditions not a list", obj: map[string]any{"status": map[string]any{"conditions": map[string]any{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := InfoFromClusterVersion("", &unstructured.Unstructured{Object: tt.obj})
			if !errors.Is(err, engine.ErrInvalid) {
				t.Errorf("error = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestInfoFromServerVersion(t *testing.T) {
	tests := []struct {
		name string
		v    *version.Info
		want engine.ClusterInfo
	}{
		{name: "version", v: &version.Info{Major: "1", Minor: "31", GitVersion: "v1.31.0", Platform: "linux/amd64"}, want: engine.ClusterInfo{APIURL: "https://10.0.0.1:6443", Version: "v1.31.0", Platform: engine.PlatformKubernetes}},
		{name: "nil", want: engine.ClusterInfo{APIURL: "https://10.0.0.1:6443", Platform: engine.PlatformKubernetes}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, InfoFromServerVersion("https://10.0.0.1:6443", tt.v)); diff != "" {
				t.Errorf("InfoFromServerVersion mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConsoleURL(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		route    string
		want     string
	}{
		{name: "route with TLS", endpoint: "https://api.prod-east.example.com:6443", route: "route_console.json", want: "https://console-openshift-console.apps.prod-east.example.com"},
		{name: "route without TLS, host from status", endpoint: "https://api.lab.internal:6443", route: "route_plain_status_host.json", want: "http://console.apps.lab.internal"},
		{name: "derived with port", endpoint: "https://api.prod-east.example.com:6443", want: "https://console-openshift-console.apps.prod-east.example.com"},
		{name: "derived without port, upper case", endpoint: "https://API.Cluster.Example.ORG", want: "https://console-openshift-console.apps.cluster.example.org"},
		{name: "derived with path", endpoint: "https://api.c1.example.com:6443/", want: "https://console-openshift-console.apps.c1.example.com"},
		{name: "not api host", endpoint: "https://k8s.example.com:6443", want: ""},
		{name: "ip address", endpoint: "https://10.0.0.1:6443", want: ""},
		{name: "bare api", endpoint: "https://api.:6443", want: ""},
		{name: "empty", endpoint: "", want: ""},
		{name: "garbage", endpoint: "://%%%", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var route *unstructured.Unstructured
			if tt.route != "" {
				route = readObject(t, tt.route)
			}
			if got := ConsoleURL(tt.endpoint, route); got != tt.want {
				t.Errorf("ConsoleURL(%q) = %q, want %q", tt.endpoint, got, tt.want)
			}
		})
	}
}
