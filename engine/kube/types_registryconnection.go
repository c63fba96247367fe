package kube

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RegistryConnection declares a container registry (Docker Registry HTTP API v2) whose
// availability ClusterPulse checks.
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=rc;regcon
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.spec.endpoint`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Available",type=boolean,JSONPath=`.status.available`
// +kubebuilder:printcolumn:name="Health",type=string,JSONPath=`.status.health`
// +kubebuilder:printcolumn:name="Response Time",type=integer,JSONPath=`.status.responseTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RegistryConnection struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired connection.
	// +kubebuilder:validation:Required
	Spec RegistryConnectionSpec `json:"spec"`
	// Status is the observed state of the registry, written by ClusterPulse.
	// +optional
	Status RegistryConnectionStatus `json:"status,omitempty"`
}

// RegistryConnectionList is a list of RegistryConnection objects.
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
type RegistryConnectionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the RegistryConnection objects.
	Items []RegistryConnection `json:"items"`
}

// RegistryConnectionSpec is the desired state of a RegistryConnection.
// +kubebuilder:object:generate=true
type RegistryConnectionSpec struct {
	// DisplayName is a human-friendly name of the registry.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	DisplayName string `json:"displayName,omitempty"`

	// Endpoint is the base URL of the registry, e.g. https://registry.example.com;
	// `https://` is assumed when no scheme is given.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	Endpoint string `json:"endpoint"`

	// Type describes the registry product (e.g. `docker`, `harbor`, `quay`); informational.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Type string `json:"type,omitempty"`

	// CredentialsRef names an optional Secret with the keys `username` and `password`, sent as
	// HTTP Basic authentication.
	// +optional
	CredentialsRef *CredentialsRef `json:"credentialsRef,omitempty"`

	// Insecure allows plain HTTP to the registry.
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// SkipTLSVerify turns off verification of the registry's TLS certificate.
	// +optional
	SkipTLSVerify bool `json:"skipTLSVerify,omitempty"`

	// Monitoring sets how often and how the registry is checked.
	// +optional
	// +kubebuilder:default={}
	Monitoring RegistryMonitoring `json:"monitoring,omitempty"`

	// Labels are free key/value pairs describing the registry.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// HealthCheckPaths are the paths probed on every check; each must answer 200 or 401.
	// +optional
	// +kubebuilder:default={"/v2/"}
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=1024
	HealthCheckPaths []string `json:"healthCheckPaths,omitempty"`
}

// RegistryMonitoring sets the check interval, timeout and catalog listing of a
// RegistryConnection.
// +kubebuilder:object:generate=true
type RegistryMonitoring struct {
	// Interval is the time between two checks, in seconds.
	// +optional
	// +kubebuilder:validation:Minimum=30
	// +kubebuilder:default=60
	Interval int32 `json:"interval,omitempty"`

	// Timeout is the time allowed for one check, in seconds.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=10
	Timeout int32 `json:"timeout,omitempty"`

	// CheckCatalog lists the registry's catalog (GET /v2/_catalog) to count repositories.
	// +optional
	CheckCatalog bool `json:"checkCatalog,omitempty"`

	// MaxCatalogEntries is the page size of the catalog request.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=100
	MaxCatalogEntries int32 `json:"maxCatalogEntries,omitempty"`
}

// RegistryConnectionStatus is the observed state of a RegistryConnection.
// +kubebuilder:object:generate=true
type RegistryConnectionStatus struct {
	// Phase is `Connected` or `Error`.
	// +optional
	Phase string `json:"phase,omitempty"`

	// Health is `healthy`, `degraded` (slow answers) or `unhealthy`.
	// +optional
	Health string `json:"health,omitempty"`

	// Available says whether the registry answered the last check.
	// +optional
	Available bool `json:"available,omitempty"`

	// LastCheckTime is the time of the last check.
	// +optional
	LastCheckTime *metav1.Time `json:"lastCheckTime,omitempty"`

	// ResponseTime is the duration of the last check, in milliseconds.
	// +optional
	ResponseTime int64 `json:"responseTime,omitempty"`

	// Message explains the phase and health.
	// +optional
	Message string `json:"message,omitempty"`

	// RepositoryCount is the number of repositories in the catalog (when checkCatalog is on).
	// +optional
	RepositoryCount int32 `json:"repositoryCount,omitempty"`

	// Version is the registry API version reported in the Docker-Distribution-Api-Version
	// header.
	// +optional
	Version string `json:"version,omitempty"`

	// Features are the capabilities detected on the last check (docker_v2_api,
	// harbor_detected, catalog_accessible, ...).
	// +optional
	Features map[string]bool `json:"features,omitempty"`
}
