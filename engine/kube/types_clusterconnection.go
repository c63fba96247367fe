package kube

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterConnection declares a managed Kubernetes or OpenShift cluster that ClusterPulse
// monitors: its API endpoint, the Secret with its credentials, labels and how its state is
// collected (pulled by the hub or pushed by a collector agent).
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=cc
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.spec.endpoint`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Health",type=string,JSONPath=`.status.health`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterConnection struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired connection.
	// +kubebuilder:validation:Required
	Spec ClusterConnectionSpec `json:"spec"`
	// Status is the observed state of the connection, written by ClusterPulse.
	// +optional
	Status ClusterConnectionStatus `json:"status,omitempty"`
}

// ClusterConnectionList is a list of ClusterConnection objects.
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
type ClusterConnectionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the ClusterConnection objects.
	Items []ClusterConnection `json:"items"`
}

// ClusterConnectionSpec is the desired state of a ClusterConnection.
// +kubebuilder:object:generate=true
type ClusterConnectionSpec struct {
	// DisplayName is a human-friendly name of the cluster.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	DisplayName string `json:"displayName,omitempty"`

	// Endpoint is the URL of the cluster's Kubernetes API server, e.g.
	// https://api.prod-east.example.com:6443.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	Endpoint string `json:"endpoint"`

	// CredentialsRef names the Secret with the key `token` (a bearer token) and the optional
	// key `ca.crt` (the PEM CA bundle of the API server).
	// +kubebuilder:validation:Required
	CredentialsRef CredentialsRef `json:"credentialsRef"`

	// Labels are free key/value pairs describing the cluster (env, team, region, ...);
	// MonitorAccessPolicy selectors match them with matchLabels.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// Monitoring sets how often and how patiently the cluster is collected.
	// +optional
	// +kubebuilder:default={}
	Monitoring MonitoringConfig `json:"monitoring,omitempty"`

	// CollectionMode is `pull` (the hub lists the cluster's API) or `push` (a collector agent
	// on the cluster streams its state to the ingester).
	// +optional
	// +kubebuilder:validation:Enum=pull;push
	// +kubebuilder:default=pull
	CollectionMode string `json:"collectionMode,omitempty"`

	// IngesterAddress is the address of the ingester that the collector agent pushes to;
	// required in push mode.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	IngesterAddress string `json:"ingesterAddress,omitempty"`

	// CollectorVersion overrides the image tag of the collector agent deployed in push mode.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	CollectorVersion string `json:"collectorVersion,omitempty"`

	// InsecureSkipTLSVerify turns off verification of the API server's TLS certificate.
	// Verification is on unless this is true, also when the Secret has no `ca.crt` (then the
	// system roots are used).
	// +optional
	InsecureSkipTLSVerify bool `json:"insecureSkipTLSVerify,omitempty"`
}

// MonitoringConfig sets the collection interval and timeout of a ClusterConnection.
// +kubebuilder:object:generate=true
type MonitoringConfig struct {
	// Interval is the time between two collections, in seconds.
	// +optional
	// +kubebuilder:validation:Minimum=30
	// +kubebuilder:default=30
	Interval int32 `json:"interval,omitempty"`

	// Timeout is the time allowed to reach the cluster's API server, in seconds.
	// +optional
	// +kubebuilder:validation:Minimum=5
	// +kubebuilder:default=10
	Timeout int32 `json:"timeout,omitempty"`
}

// ClusterConnectionStatus is the observed state of a ClusterConnection.
// +kubebuilder:object:generate=true
type ClusterConnectionStatus struct {
	// Phase is `Connected` or `Error`.
	// +optional
	Phase string `json:"phase,omitempty"`

	// LastSyncTime is the time of the last successful collection.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`

	// Health summarizes the cluster's health: `healthy` or `unhealthy`.
	// +optional
	Health string `json:"health,omitempty"`

	// Message explains the phase and health, e.g. the last collection error.
	// +optional
	Message string `json:"message,omitempty"`

	// Nodes is the number of nodes seen in the last collection.
	// +optional
	Nodes int32 `json:"nodes,omitempty"`

	// Namespaces is the number of namespaces seen in the last collection.
	// +optional
	Namespaces int32 `json:"namespaces,omitempty"`

	// CollectorStatus describes the collector agent (push mode only).
	// +optional
	CollectorStatus *CollectorStatus `json:"collectorStatus,omitempty"`
}

// CollectorStatus describes the collector agent of a push-mode cluster.
// +kubebuilder:object:generate=true
type CollectorStatus struct {
	// Connected says whether the agent has sent a heartbeat recently.
	// +optional
	Connected bool `json:"connected,omitempty"`

	// LastHeartbeat is the time of the agent's last heartbeat.
	// +optional
	LastHeartbeat *metav1.Time `json:"lastHeartbeat,omitempty"`

	// Version is the version the agent reports.
	// +optional
	Version string `json:"version,omitempty"`
}
