package engine

import (
	"encoding/json"
	"slices"
)

// MaxRegistryRepositories is how many repository names RegistryStatus.Repositories keeps.
const MaxRegistryRepositories = 20

// RegistrySpec is the part of a RegistryConnection stored at registry:{r}:spec, with the
// original snake_case keys. Labels marshals as {} when nil. CredentialsRef is omitted when the
// registry is anonymous. HealthCheckPaths (new: the original ignored the CR field) lists the
// paths probed, omitted when empty (meaning the default "/v2/").
type RegistrySpec struct {
	DisplayName      string             `json:"display_name"`
	Endpoint         string             `json:"endpoint"`
	Type             string             `json:"type"`
	Insecure         bool               `json:"insecure"`
	SkipTLS          bool               `json:"skip_tls"`
	Labels           map[string]string  `json:"labels"`
	Monitoring       RegistryMonitoring `json:"monitoring"`
	CredentialsRef   *CredentialsRef    `json:"credentials_ref,omitempty"`
	HealthCheckPaths []string           `json:"health_check_paths,omitempty"`
}

// MarshalJSON writes s with a nil Labels as {}.
func (s RegistrySpec) MarshalJSON() ([]byte, error) {
	type plain RegistrySpec
	p := plain(s)
	p.Labels = orEmptyMap(p.Labels)
	return json.Marshal(p)
}

// RegistryMonitoring is a RegistryConnection's spec.monitoring; Interval and Timeout are
// seconds.
type RegistryMonitoring struct {
	Interval          int32 `json:"interval"`
	Timeout           int32 `json:"timeout"`
	CheckCatalog      bool  `json:"check_catalog"`
	MaxCatalogEntries int32 `json:"max_catalog_entries"`
}

// RegistryStatus is the outcome of a registry health check at registry:{r}:status.
//
// Available is true when /v2/ answered 200 or 401; RequiresAuth when it answered 401.
// Health (HealthHealthy, HealthDegraded when slow, HealthUnhealthy when unavailable) and
// Message are new here so the CR status can be patched from this value alone. ResponseTime is
// in milliseconds. Features (e.g. docker_v2_api, catalog_accessible) marshals as {} and
// Repositories as [] when nil. Error is the failure text, omitted when the check succeeded.
type RegistryStatus struct {
	Available       bool            `json:"available"`
	Health          string          `json:"health"`
	Message         string          `json:"message"`
	RequiresAuth    bool            `json:"requires_auth"`
	ResponseTime    int64           `json:"response_time"`
	Version         string          `json:"version"`
	RepositoryCount int             `json:"repository_count"`
	Features        map[string]bool `json:"features"`
	Repositories    []string        `json:"repositories"`
	LastCheck       Time            `json:"last_check,omitzero"`
	Error           string          `json:"error,omitempty"`
}

// MarshalJSON writes s with a nil Features as {} and a nil Repositories as [].
func (s RegistryStatus) MarshalJSON() ([]byte, error) {
	type plain RegistryStatus
	p := plain(s)
	p.Features = orEmptyMap(p.Features)
	p.Repositories = orEmpty(p.Repositories)
	return json.Marshal(p)
}

// SetRepositories records the catalog: RepositoryCount is the number of repositories and
// Repositories the first MaxRegistryRepositories of them. (The original dropped the whole list
// when it had more than 20 entries; keeping the first 20 is more useful and equally bounded.)
func (s *RegistryStatus) SetRepositories(repos []string) {
	s.RepositoryCount = len(repos)
	s.Repositories = orEmpty(slices.Clone(repos[:min(len(repos), MaxRegistryRepositories)]))
}
