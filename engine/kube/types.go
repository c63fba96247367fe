package kube

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of every ClusterPulse custom resource.
var GroupVersion = schema.GroupVersion{Group: "clusterpulse.io", Version: "v1alpha1"}

// The resources of the four ClusterPulse kinds, for the dynamic client.
var (
	// ClusterConnectionsGVR is the resource of ClusterConnection objects.
	ClusterConnectionsGVR = GroupVersion.WithResource("clusterconnections")
	// RegistryConnectionsGVR is the resource of RegistryConnection objects.
	RegistryConnectionsGVR = GroupVersion.WithResource("registryconnections")
	// MetricSourcesGVR is the resource of MetricSource objects.
	MetricSourcesGVR = GroupVersion.WithResource("metricsources")
	// MonitorAccessPoliciesGVR is the resource of MonitorAccessPolicy objects.
	MonitorAccessPoliciesGVR = GroupVersion.WithResource("monitoraccesspolicies")
)

// AddToScheme registers the ClusterPulse kinds and their lists with s, so that typed
// conversions (runtime.DefaultUnstructuredConverter, codecs) know them.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&ClusterConnection{}, &ClusterConnectionList{},
		&RegistryConnection{}, &RegistryConnectionList{},
		&MetricSource{}, &MetricSourceList{},
		&MonitorAccessPolicy{}, &MonitorAccessPolicyList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// CredentialsRef names the Secret that holds the credentials for a connection.
// +kubebuilder:object:generate=true
type CredentialsRef struct {
	// Name is the name of the Secret.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Namespace is the namespace of the Secret; it defaults to the namespace of the object
	// that refers to it.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}
