package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Install modes of an OLM operator (Operator.InstallMode).
const (
	InstallModeAllNamespaces   = "AllNamespaces"
	InstallModeSingleNamespace = "SingleNamespace"
)

// MaxListedNamespaces is how many namespaces Operator.AvailableInNamespaces lists at most; the
// full list then goes to AllAvailableNamespaces.
const MaxListedNamespaces = 20

// Operator is one OLM operator (a Subscription's installed ClusterServiceVersion): an element
// of the JSON array at cluster:{c}:operators. InstallModes and AvailableInNamespaces marshal as
// [] when nil; AllAvailableNamespaces is present only when the list was cut (see
// SetAvailableNamespaces). Status is the CSV phase, or "Unknown".
type Operator struct {
	Name                      string   `json:"name"`
	DisplayName               string   `json:"display_name"`
	Version                   string   `json:"version"`
	Status                    string   `json:"status"`
	Namespace                 string   `json:"namespace"`
	InstalledNamespace        string   `json:"installed_namespace"`
	InstallModes              []string `json:"install_modes"`
	InstallMode               string   `json:"install_mode"`
	Provider                  string   `json:"provider"`
	CreatedAt                 Time     `json:"created_at,omitzero"`
	UpdatedAt                 Time     `json:"updated_at,omitzero"`
	IsClusterWide             bool     `json:"is_cluster_wide"`
	AvailableInNamespaces     []string `json:"available_in_namespaces"`
	AvailableCount            int      `json:"available_count"`
	AvailableNamespacesDetail string   `json:"available_namespaces_detail"`
	AllAvailableNamespaces    []string `json:"all_available_namespaces,omitempty"`
}

// MarshalJSON writes o with nil InstallModes and AvailableInNamespaces as [].
func (o Operator) MarshalJSON() ([]byte, error) {
	type plain Operator
	p := plain(o)
	p.InstallModes = orEmpty(p.InstallModes)
	p.AvailableInNamespaces = orEmpty(p.AvailableInNamespaces)
	return json.Marshal(p)
}

// SetAvailableNamespaces fills the namespace fields of o from the namespaces the operator
// serves, as the original shapes them:
//   - a cluster-wide operator (IsClusterWide, or namespaces exactly ["*"]) gets ["*"],
//     AvailableCount 0 and the detail "All namespaces";
//   - otherwise the namespaces are sorted and de-duplicated; up to MaxListedNamespaces are
//     listed with the detail "a, b, c"; beyond that the first MaxListedNamespaces are listed,
//     AllAvailableNamespaces holds them all and the detail reads "N namespaces (showing first
//     20)".
func (o *Operator) SetAvailableNamespaces(namespaces []string) {
	o.AllAvailableNamespaces = nil
	if o.IsClusterWide || slices.Equal(namespaces, []string{"*"}) {
		o.AvailableInNamespaces = []string{"*"}
		o.AvailableCount = 0
		o.AvailableNamespacesDetail = "All namespaces"
		return
	}
	all := slices.Clone(namespaces)
	slices.Sort(all)
	all = orEmpty(slices.Compact(all))
	o.AvailableCount = len(all)
	if len(all) <= MaxListedNamespaces {
		o.AvailableInNamespaces = all
		o.AvailableNamespacesDetail = strings.Join(all, ", ")
		return
	}
	o.AvailableInNamespaces = slices.Clone(all[:MaxListedNamespaces])
	o.AllAvailableNamespaces = all
	o.AvailableNamespacesDetail = fmt.Sprintf("%d namespaces (showing first %d)", len(all), MaxListedNamespaces)
}

// OperatorsSummary is the roll-up of a cluster's OLM operators at
// cluster:{c}:operators_summary. ByStatus counts operators per Status, ByNamespace per
// InstalledNamespace.
type OperatorsSummary struct {
	Total         int               `json:"total"`
	ByStatus      map[string]int    `json:"by_status"`
	ByNamespace   map[string]int    `json:"by_namespace"`
	ByInstallMode InstallModeCounts `json:"by_install_mode"`
}

// MarshalJSON writes s with nil maps as {}.
func (s OperatorsSummary) MarshalJSON() ([]byte, error) {
	type plain OperatorsSummary
	p := plain(s)
	p.ByStatus = orEmptyMap(p.ByStatus)
	p.ByNamespace = orEmptyMap(p.ByNamespace)
	return json.Marshal(p)
}

// InstallModeCounts splits operators into cluster-wide and namespace-scoped ones.
type InstallModeCounts struct {
	ClusterWide     int `json:"cluster_wide"`
	NamespaceScoped int `json:"namespace_scoped"`
}

// SummarizeOperators rolls ops up into an OperatorsSummary.
func SummarizeOperators(ops []Operator) OperatorsSummary {
	s := OperatorsSummary{ByStatus: map[string]int{}, ByNamespace: map[string]int{}}
	for _, o := range ops {
		s.Total++
		s.ByStatus[o.Status]++
		s.ByNamespace[o.InstalledNamespace]++
		if o.IsClusterWide {
			s.ByInstallMode.ClusterWide++
		} else {
			s.ByInstallMode.NamespaceScoped++
		}
	}
	return s
}

// ClusterOperator is one OpenShift ClusterOperator (config.openshift.io/v1): an element of the
// JSON array at cluster:{c}:cluster_operators. The booleans come from the conditions of the
// same names; Message and Reason from the most important condition (Degraded=True, then
// Available≠True, then Progressing=True); LastTransitionTime is the latest among the
// conditions. Conditions, Versions and RelatedObjects marshal as [] when nil.
type ClusterOperator struct {
	Name               string                     `json:"name"`
	Version            string                     `json:"version"`
	Available          bool                       `json:"available"`
	Progressing        bool                       `json:"progressing"`
	Degraded           bool                       `json:"degraded"`
	Upgradeable        bool                       `json:"upgradeable"`
	Message            string                     `json:"message"`
	Reason             string                     `json:"reason"`
	LastTransitionTime Time                       `json:"last_transition_time,omitzero"`
	Conditions         []ClusterOperatorCondition `json:"conditions"`
	Versions           []ClusterOperatorVersion   `json:"versions"`
	RelatedObjects     []RelatedObject            `json:"related_objects"`
}

// MarshalJSON writes o with nil slices as [].
func (o ClusterOperator) MarshalJSON() ([]byte, error) {
	type plain ClusterOperator
	p := plain(o)
	p.Conditions = orEmpty(p.Conditions)
	p.Versions = orEmpty(p.Versions)
	p.RelatedObjects = orEmpty(p.RelatedObjects)
	return json.Marshal(p)
}

// ClusterOperatorCondition is one status condition of a ClusterOperator, or of the
// ClusterVersion (ClusterInfo.Conditions), which uses the same OpenShift condition type.
type ClusterOperatorCondition struct {
	Type               string `json:"type"`
	Status             string `json:"status"`
	LastTransitionTime Time   `json:"last_transition_time,omitzero"`
	Reason             string `json:"reason"`
	Message            string `json:"message"`
}

// ClusterOperatorVersion is one entry of a ClusterOperator's status.versions.
type ClusterOperatorVersion struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// RelatedObject is one entry of a ClusterOperator's status.relatedObjects.
type RelatedObject struct {
	Group     string `json:"group"`
	Resource  string `json:"resource"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// Problems reported in ClusterOperatorIssue.Condition.
const (
	IssueDegraded    = "Degraded"
	IssueUnavailable = "Unavailable"
)

// ClusterOperatorsSummary is the roll-up of a cluster's ClusterOperators at
// cluster:{c}:cluster_operators_summary. AllHealthy means every operator is available and none
// is degraded (true for an empty list); HasIssues means Issues is not empty. Issues is omitted
// when empty.
type ClusterOperatorsSummary struct {
	Total       int                    `json:"total"`
	Available   int                    `json:"available"`
	Degraded    int                    `json:"degraded"`
	Progressing int                    `json:"progressing"`
	Upgradeable int                    `json:"upgradeable"`
	Timestamp   Time                   `json:"timestamp,omitzero"`
	AllHealthy  bool                   `json:"all_healthy"`
	HasIssues   bool                   `json:"has_issues"`
	Issues      []ClusterOperatorIssue `json:"issues,omitempty"`
}

// ClusterOperatorIssue names one ClusterOperator that is degraded or unavailable. Condition is
// IssueDegraded when the operator is degraded (whether or not it is available), else
// IssueUnavailable.
type ClusterOperatorIssue struct {
	Name      string `json:"name"`
	Condition string `json:"condition"`
	Message   string `json:"message"`
}

// SummarizeClusterOperators rolls ops up into a ClusterOperatorsSummary stamped with at.
func SummarizeClusterOperators(ops []ClusterOperator, at time.Time) ClusterOperatorsSummary {
	s := ClusterOperatorsSummary{Timestamp: NewTime(at)}
	for _, o := range ops {
		s.Total++
		if o.Available {
			s.Available++
		}
		if o.Degraded {
			s.Degraded++
		}
		if o.Progressing {
			s.Progressing++
		}
		if o.Upgradeable {
			s.Upgradeable++
		}
		switch {
		case o.Degraded:
			s.Issues = append(s.Issues, ClusterOperatorIssue{Name: o.Name, Condition: IssueDegraded, Message: o.Message})
		case !o.Available:
			s.Issues = append(s.Issues, ClusterOperatorIssue{Name: o.Name, Condition: IssueUnavailable, Message: o.Message})
		}
	}
	s.AllHealthy = s.Available == s.Total && s.Degraded == 0
	s.HasIssues = len(s.Issues) > 0
	return s
}
