package kube

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MetricSource declares a kind of Kubernetes resource to collect from every cluster: which
// fields to extract, which values to compute from them, which aggregations to build, and
// under which resource type name MonitorAccessPolicy rules grant access to the result.
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=ms;metricsrc
// +kubebuilder:printcolumn:name="Source Kind",type=string,JSONPath=`.spec.source.kind`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Resources",type=integer,JSONPath=`.status.resourcesCollected`
// +kubebuilder:printcolumn:name="Clusters",type=integer,JSONPath=`.status.clustersCollected`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MetricSource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired collection.
	// +kubebuilder:validation:Required
	Spec MetricSourceSpec `json:"spec"`
	// Status is the observed state of the collection, written by ClusterPulse.
	// +optional
	Status MetricSourceStatus `json:"status,omitempty"`
}

// MetricSourceList is a list of MetricSource objects.
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
type MetricSourceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the MetricSource objects.
	Items []MetricSource `json:"items"`
}

// MetricSourceSpec is the desired state of a MetricSource.
// +kubebuilder:object:generate=true
// +kubebuilder:validation:XValidation:rule="!has(self.computed) || self.computed.all(c, !self.fields.exists(f, f.name == c.name))",message="computed field names must differ from extracted field names"
type MetricSourceSpec struct {
	// Source selects the resources to collect.
	// +kubebuilder:validation:Required
	Source ResourceTarget `json:"source"`

	// Fields are the values extracted from every resource; names are unique.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=128
	// +listType=map
	// +listMapKey=name
	Fields []FieldExtraction `json:"fields"`

	// Computed are values calculated from the extracted fields with the expression language;
	// names are unique and differ from the field names.
	// +optional
	// +kubebuilder:validation:MaxItems=128
	// +listType=map
	// +listMapKey=name
	Computed []ComputedField `json:"computed,omitempty"`

	// Aggregations summarize the collected resources of each cluster; names are unique.
	// +optional
	// +kubebuilder:validation:MaxItems=128
	// +listType=map
	// +listMapKey=name
	Aggregations []Aggregation `json:"aggregations,omitempty"`

	// Collection sets the interval, timeouts and limits of the collection.
	// +optional
	// +kubebuilder:default={}
	Collection CollectionConfig `json:"collection,omitempty"`

	// RBAC names the resource type that MonitorAccessPolicy rules use to grant access to the
	// collected data, and how filtering applies to it.
	// +kubebuilder:validation:Required
	RBAC MetricSourceRBAC `json:"rbac"`
}

// ResourceTarget selects the Kubernetes resources a MetricSource collects.
// +kubebuilder:object:generate=true
type ResourceTarget struct {
	// APIVersion is the API version of the resources: `v1` for the core group,
	// `group/version` otherwise (e.g. `apps/v1`).
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	APIVersion string `json:"apiVersion"`

	// Kind is the kind of the resources, e.g. `PersistentVolumeClaim`.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind"`

	// Scope says whether the resources are `Namespaced` or `Cluster`-scoped.
	// +optional
	// +kubebuilder:validation:Enum=Namespaced;Cluster
	// +kubebuilder:default=Namespaced
	Scope string `json:"scope,omitempty"`

	// Namespaces restricts collection of namespaced resources to some namespaces.
	// +optional
	Namespaces *NamespaceSelector `json:"namespaces,omitempty"`

	// LabelSelector restricts collection to resources whose labels match.
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
}

// NamespaceSelector chooses namespaces by name; entries may use the wildcards `*` and `?`.
// +kubebuilder:object:generate=true
type NamespaceSelector struct {
	// Include lists the namespaces to collect from; empty means all.
	// +optional
	// +kubebuilder:validation:items:MaxLength=253
	Include []string `json:"include,omitempty"`

	// Exclude lists the namespaces never collected from; it wins over Include.
	// +optional
	// +kubebuilder:validation:items:MaxLength=253
	Exclude []string `json:"exclude,omitempty"`
}

// FieldExtraction extracts one value from every collected resource.
// +kubebuilder:object:generate=true
type FieldExtraction struct {
	// Name is the name of the value, used by expressions, aggregations and policy filters.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Path is the JSONPath-like location of the value in the resource, e.g.
	// `.spec.resources.requests.storage`.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Path string `json:"path"`

	// Type is the type the value is converted to.
	// +optional
	// +kubebuilder:validation:Enum=string;integer;float;boolean;quantity;timestamp;arrayLength
	// +kubebuilder:default=string
	Type string `json:"type,omitempty"`

	// Default is used when the path is absent, converted to Type.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Default *string `json:"default,omitempty"`
}

// ComputedField calculates a value from the extracted fields with the expression language.
// +kubebuilder:object:generate=true
type ComputedField struct {
	// Name is the name of the value.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Expression computes the value, e.g. `round(capacityBytes / 1073741824, 1)`.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	Expression string `json:"expression"`

	// Type is the type the result is converted to.
	// +optional
	// +kubebuilder:validation:Enum=string;integer;float;boolean
	// +kubebuilder:default=float
	Type string `json:"type,omitempty"`
}

// Aggregation summarizes one field over the collected resources of a cluster.
// +kubebuilder:object:generate=true
// +kubebuilder:validation:XValidation:rule="self.function != 'percentile' || has(self.percentile)",message="percentile is required when function is percentile"
// +kubebuilder:validation:XValidation:rule="self.function == 'count' || has(self.field)",message="field is required unless function is count"
type Aggregation struct {
	// Name is the name of the result.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Field is the value aggregated: `namespace`, `name`, `labels.<key>`, or the name of an
	// extracted or computed field. Required except for count.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Field string `json:"field,omitempty"`

	// Function is the aggregation function.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Enum=count;sum;avg;min;max;percentile;distinct
	Function string `json:"function"`

	// Filter keeps only the resources that pass one condition.
	// +optional
	Filter *AggregationFilter `json:"filter,omitempty"`

	// GroupBy computes one result per distinct value of this field.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	GroupBy string `json:"groupBy,omitempty"`

	// Percentile is the percentile (1..100) computed by the percentile function.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Percentile *int32 `json:"percentile,omitempty"`
}

// AggregationFilter is a condition on one field of a resource.
// +kubebuilder:object:generate=true
type AggregationFilter struct {
	// Field is the field tested (same names as Aggregation.Field).
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Field string `json:"field"`

	// Operator is the comparison.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Enum=equals;notEquals;contains;startsWith;endsWith;greaterThan;lessThan;in;matches
	Operator string `json:"operator"`

	// Value is the operand, always a string (a number for greaterThan and lessThan, a
	// comma-separated list for in, an RE2 pattern for matches).
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Value string `json:"value,omitempty"`
}

// CollectionConfig sets the interval, timeouts and limits of a MetricSource's collection.
// +kubebuilder:object:generate=true
type CollectionConfig struct {
	// IntervalSeconds is the time between two collections.
	// +optional
	// +kubebuilder:validation:Minimum=30
	// +kubebuilder:default=60
	IntervalSeconds int32 `json:"intervalSeconds,omitempty"`

	// TimeoutSeconds is the time allowed to collect one cluster.
	// +optional
	// +kubebuilder:validation:Minimum=5
	// +kubebuilder:default=30
	TimeoutSeconds int32 `json:"timeoutSeconds,omitempty"`

	// MaxResources caps the resources collected per cluster.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=5000
	MaxResources int32 `json:"maxResources,omitempty"`

	// BatchSize is the page size of the LIST requests.
	// +optional
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:default=500
	BatchSize int32 `json:"batchSize,omitempty"`

	// RetryAttempts is how often a failed LIST request is retried.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=3
	RetryAttempts int32 `json:"retryAttempts,omitempty"`

	// Parallelism is the number of concurrent LIST requests per cluster.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=3
	Parallelism int32 `json:"parallelism,omitempty"`
}

// MetricSourceRBAC connects a MetricSource to MonitorAccessPolicy rules.
// +kubebuilder:object:generate=true
type MetricSourceRBAC struct {
	// ResourceTypeName is the resource type that policy rules name in resources[].type to
	// grant access to this data, and the {type} of the /custom/{type} API paths.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ResourceTypeName string `json:"resourceTypeName"`

	// FilterableFields are the fields that policy field filters may restrict on; filters on
	// other fields are ignored and reported in the policy status.
	// +optional
	// +kubebuilder:validation:items:MaxLength=253
	FilterableFields []string `json:"filterableFields,omitempty"`

	// FilterAggregations recomputes aggregations over only the resources a filtered caller
	// may see.
	// +optional
	// +kubebuilder:default=true
	FilterAggregations *bool `json:"filterAggregations,omitempty"`
}

// MetricSourceStatus is the observed state of a MetricSource.
// +kubebuilder:object:generate=true
type MetricSourceStatus struct {
	// Phase is `Active`, `Error` or `Disabled`.
	// +optional
	// +kubebuilder:validation:Enum=Active;Error;Disabled
	Phase string `json:"phase,omitempty"`

	// LastCollectionTime is the time the last collection finished.
	// +optional
	LastCollectionTime *metav1.Time `json:"lastCollectionTime,omitempty"`

	// LastCollectionDuration is the duration of the last collection, e.g. `1.234s`.
	// +optional
	LastCollectionDuration string `json:"lastCollectionDuration,omitempty"`

	// ResourcesCollected is the number of resources collected in the last run, over all
	// clusters.
	// +optional
	ResourcesCollected int32 `json:"resourcesCollected,omitempty"`

	// ClustersCollected is the number of clusters collected in the last run.
	// +optional
	ClustersCollected int32 `json:"clustersCollected,omitempty"`

	// ErrorsLastRun is the number of errors in the last run.
	// +optional
	ErrorsLastRun int32 `json:"errorsLastRun,omitempty"`

	// Message explains the phase.
	// +optional
	Message string `json:"message,omitempty"`

	// FieldValidation reports problems found in each field, computed field and aggregation.
	// +optional
	FieldValidation []FieldValidation `json:"fieldValidation,omitempty"`

	// Conditions are the standard conditions; `Ready` says whether the spec compiled and
	// the last collection succeeded.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// FieldValidation is the validation result of one field of a MetricSource.
// +kubebuilder:object:generate=true
type FieldValidation struct {
	// Field is the name of the field, computed field or aggregation.
	// +kubebuilder:validation:Required
	Field string `json:"field"`

	// Status is `valid`, `invalid` or `warning`.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Enum=valid;invalid;warning
	Status string `json:"status"`

	// Message explains an invalid or warning status.
	// +optional
	Message string `json:"message,omitempty"`
}
