package kube

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MonitorAccessPolicy grants or denies users, groups and service accounts access to
// clusters and to what ClusterPulse collected from them: nodes, namespaces, operators, pods,
// events, alerts and MetricSource resource types. Policies are ordered by priority, highest
// first; the first policy that matches a cluster decides everything about it.
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=map;policy
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Effect",type=string,JSONPath=`.spec.access.effect`
// +kubebuilder:printcolumn:name="Priority",type=integer,JSONPath=`.spec.identity.priority`
// +kubebuilder:printcolumn:name="Users",type=integer,JSONPath=`.status.affectedUsers`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MonitorAccessPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the policy.
	// +kubebuilder:validation:Required
	Spec PolicySpec `json:"spec"`
	// Status is the compiled state of the policy, written by ClusterPulse.
	// +optional
	Status MonitorAccessPolicyStatus `json:"status,omitempty"`
}

// MonitorAccessPolicyList is a list of MonitorAccessPolicy objects.
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
type MonitorAccessPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the MonitorAccessPolicy objects.
	Items []MonitorAccessPolicy `json:"items"`
}

// PolicySpec is the content of a MonitorAccessPolicy.
// +kubebuilder:object:generate=true
type PolicySpec struct {
	// Identity says whom the policy applies to and with which priority.
	// +kubebuilder:validation:Required
	Identity PolicyIdentity `json:"identity"`

	// Access says whether the policy allows or denies, and whether it is enabled.
	// +kubebuilder:validation:Required
	Access PolicyAccess `json:"access"`

	// Scope says which clusters, and what within them, the policy covers.
	// +optional
	// +kubebuilder:default={}
	Scope PolicyScope `json:"scope,omitempty"`

	// Lifecycle limits the time during which the policy applies.
	// +optional
	Lifecycle *PolicyLifecycle `json:"lifecycle,omitempty"`
}

// PolicyIdentity says whom a policy applies to and how it ranks against other policies.
// +kubebuilder:object:generate=true
type PolicyIdentity struct {
	// Subjects are the users, groups and service accounts the policy applies to.
	// +optional
	Subjects Subjects `json:"subjects,omitempty"`

	// Priority orders the policies, highest first; at equal priority Deny comes before Allow.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +kubebuilder:default=100
	Priority int32 `json:"priority,omitempty"`
}

// Subjects lists the principals a policy applies to; a principal matching any entry is a
// subject.
// +kubebuilder:object:generate=true
type Subjects struct {
	// Users are exact user names or email addresses.
	// +optional
	// +kubebuilder:validation:items:MaxLength=1024
	Users []string `json:"users,omitempty"`

	// Groups are exact group names.
	// +optional
	// +kubebuilder:validation:items:MaxLength=1024
	Groups []string `json:"groups,omitempty"`

	// ServiceAccounts are Kubernetes service accounts of the hub, matched as the user
	// system:serviceaccount:<namespace>:<name>.
	// +optional
	ServiceAccounts []ServiceAccountRef `json:"serviceAccounts,omitempty"`
}

// ServiceAccountRef names a service account.
// +kubebuilder:object:generate=true
type ServiceAccountRef struct {
	// Name is the name of the service account.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Namespace is the namespace of the service account.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:default=default
	Namespace string `json:"namespace,omitempty"`
}

// PolicyAccess is the effect of a policy and whether it is enabled.
// +kubebuilder:object:generate=true
type PolicyAccess struct {
	// Effect is `Allow` or `Deny`.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:Enum=Allow;Deny
	Effect string `json:"effect"`

	// Enabled switches the policy on or off without deleting it.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`
}

// PolicyScope is what a policy covers.
// +kubebuilder:object:generate=true
type PolicyScope struct {
	// Clusters selects clusters and what is visible within them.
	// +optional
	// +kubebuilder:default={}
	Clusters ClusterScope `json:"clusters,omitempty"`
}

// ClusterScope selects clusters with rules and says what happens to the others.
// +kubebuilder:object:generate=true
type ClusterScope struct {
	// Default is what an Allow policy decides for clusters no rule selects: `allow` (view
	// only), `deny`, or `none` (the policy does not match them; lower policies decide). A
	// Deny policy ignores it.
	// +optional
	// +kubebuilder:validation:Enum=allow;deny;none
	// +kubebuilder:default=none
	Default string `json:"default,omitempty"`

	// Rules select clusters; the first rule whose selector matches a cluster applies to it.
	// +optional
	Rules []ClusterRule `json:"rules,omitempty"`
}

// ClusterRule grants permissions and resource visibility on the clusters its selector
// matches.
// +kubebuilder:object:generate=true
type ClusterRule struct {
	// Selector chooses the clusters; an empty selector matches every cluster.
	// +optional
	Selector ClusterSelector `json:"selector,omitempty"`

	// Permissions are the actions allowed on the selected clusters; `view` defaults to true
	// and `viewMetrics` to false.
	// +optional
	Permissions *Permissions `json:"permissions,omitempty"`

	// Resources restrict what is visible within the selected clusters, per resource type.
	// Built-in types not listed are unrestricted; MetricSource types not listed are hidden.
	// +optional
	Resources []ResourceFilter `json:"resources,omitempty"`
}

// ClusterSelector chooses clusters; every constraint that is set must hold.
// +kubebuilder:object:generate=true
type ClusterSelector struct {
	// MatchNames are cluster names, literal or with the wildcards `*` and `?`.
	// +optional
	// +kubebuilder:validation:items:MaxLength=253
	MatchNames []string `json:"matchNames,omitempty"`

	// MatchPattern is an RE2 regular expression matched against the whole cluster name.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	MatchPattern string `json:"matchPattern,omitempty"`

	// MatchLabels are labels that the ClusterConnection's spec.labels must all have.
	// +optional
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
}

// Permissions are the actions allowed on the clusters a rule selects.
// +kubebuilder:object:generate=true
type Permissions struct {
	// View allows seeing the clusters (default true).
	// +optional
	View *bool `json:"view,omitempty"`

	// ViewMetrics allows node metrics history and history queries (default false).
	// +optional
	ViewMetrics *bool `json:"viewMetrics,omitempty"`
}

// ResourceFilter restricts the visibility of one resource type within a cluster.
// +kubebuilder:object:generate=true
type ResourceFilter struct {
	// Type is a built-in type (`nodes`, `namespaces`, `operators`, `pods`, `events`,
	// `alerts`) or a MetricSource's rbac.resourceTypeName.
	// +kubebuilder:validation:Required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Type string `json:"type"`

	// Visibility is `all`, `none` or `filtered`; with `all` or `filtered` the filters apply.
	// +optional
	// +kubebuilder:validation:Enum=all;none;filtered
	// +kubebuilder:default=all
	Visibility string `json:"visibility,omitempty"`

	// Filters restrict which objects of the type are visible.
	// +optional
	Filters *ResourceFilters `json:"filters,omitempty"`

	// Aggregations restrict which aggregations of a MetricSource type are visible.
	// +optional
	Aggregations *AggregationRules `json:"aggregations,omitempty"`
}

// ResourceFilters are the constraints an object must meet to be visible; every constraint
// that is set must hold.
// +kubebuilder:object:generate=true
type ResourceFilters struct {
	// Namespaces restricts the objects' namespaces.
	// +optional
	Namespaces *PatternFilter `json:"namespaces,omitempty"`

	// Names restricts the objects' names.
	// +optional
	Names *PatternFilter `json:"names,omitempty"`

	// Labels are labels the objects must all have.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// Fields restrict values of MetricSource fields, by field name.
	// +optional
	Fields map[string]PatternFilter `json:"fields,omitempty"`
}

// PatternFilter is an allow list and a deny list of literals or wildcard patterns (`*`,
// `?`). A denied match rejects; a non-empty allowed list must match.
// +kubebuilder:object:generate=true
type PatternFilter struct {
	// Allowed are the accepted values.
	// +optional
	// +kubebuilder:validation:items:MaxLength=253
	Allowed []string `json:"allowed,omitempty"`

	// Denied are the rejected values; they win over Allowed.
	// +optional
	// +kubebuilder:validation:items:MaxLength=253
	Denied []string `json:"denied,omitempty"`
}

// AggregationRules choose the visible aggregations of a MetricSource type by name.
// +kubebuilder:object:generate=true
type AggregationRules struct {
	// Include lists the visible aggregations; when set, all others are hidden.
	// +optional
	// +kubebuilder:validation:items:MaxLength=253
	Include []string `json:"include,omitempty"`

	// Exclude lists hidden aggregations; used when Include is empty.
	// +optional
	// +kubebuilder:validation:items:MaxLength=253
	Exclude []string `json:"exclude,omitempty"`
}

// PolicyLifecycle limits when a policy applies.
// +kubebuilder:object:generate=true
type PolicyLifecycle struct {
	// Validity is the time window of the policy.
	// +optional
	Validity *Validity `json:"validity,omitempty"`
}

// Validity is a time window; a policy outside it does not apply.
// +kubebuilder:object:generate=true
type Validity struct {
	// NotBefore is the RFC 3339 time from which the policy applies.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	NotBefore string `json:"notBefore,omitempty"`

	// NotAfter is the RFC 3339 time after which the policy no longer applies.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	NotAfter string `json:"notAfter,omitempty"`
}

// MonitorAccessPolicyStatus is the compiled state of a MonitorAccessPolicy.
// +kubebuilder:object:generate=true
type MonitorAccessPolicyStatus struct {
	// State is `Active`, `Inactive` (disabled or not yet valid), `Expired`, `Error` (the spec
	// cannot be compiled) or `Pending` (not compiled yet).
	// +optional
	// +kubebuilder:validation:Enum=Active;Inactive;Error;Pending;Expired
	// +kubebuilder:default=Pending
	State string `json:"state,omitempty"`

	// Message explains the state.
	// +optional
	Message string `json:"message,omitempty"`

	// CompiledAt is the RFC 3339 time the policy was last compiled.
	// +optional
	CompiledAt string `json:"compiledAt,omitempty"`

	// Hash identifies the compiled spec (first 16 hex digits of its SHA-256).
	// +optional
	Hash string `json:"hash,omitempty"`

	// AffectedUsers is the number of users the policy names.
	// +optional
	AffectedUsers int32 `json:"affectedUsers,omitempty"`

	// AffectedGroups is the number of groups the policy names.
	// +optional
	AffectedGroups int32 `json:"affectedGroups,omitempty"`

	// AffectedServiceAccounts is the number of service accounts the policy names.
	// +optional
	AffectedServiceAccounts int32 `json:"affectedServiceAccounts,omitempty"`

	// CustomResourceTypes is the number of MetricSource resource types the policy names.
	// +optional
	CustomResourceTypes int32 `json:"customResourceTypes,omitempty"`

	// CustomResourceWarnings report problems with the MetricSource resource types the policy
	// names (e.g. a type no MetricSource declares).
	// +optional
	CustomResourceWarnings []string `json:"customResourceWarnings,omitempty"`

	// Warnings report parts of the spec that have no effect, e.g. a field filter on a field
	// that is not filterable, or `default` on a Deny policy.
	// +optional
	Warnings []string `json:"warnings,omitempty"`

	// EvaluationCount is the number of access decisions the policy took part in.
	// +optional
	EvaluationCount int64 `json:"evaluationCount,omitempty"`

	// LastEvaluated is the time of the policy's last access decision.
	// +optional
	LastEvaluated *metav1.Time `json:"lastEvaluated,omitempty"`

	// Conditions are the standard conditions of the policy.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}
