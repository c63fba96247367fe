package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
)

// Effects of a policy, as written in spec.access.effect and in the compiled JSON.
const (
	EffectAllow = "Allow"
	EffectDeny  = "Deny"
)

// Values of spec.scope.clusters.default.
const (
	DefaultAllow = "allow"
	DefaultDeny  = "deny"
	DefaultNone  = "none"
)

// Values of resources[].visibility.
const (
	VisibilityAll      = "all"
	VisibilityNone     = "none"
	VisibilityFiltered = "filtered"
)

// The built-in resource kinds; every other resources[].type names a MetricSource type.
const (
	KindNodes      = "nodes"
	KindNamespaces = "namespaces"
	KindOperators  = "operators"
	KindPods       = "pods"
	KindEvents     = "events"
	KindAlerts     = "alerts"
)

// Priority bounds and default of spec.identity.priority.
const (
	MinPriority     = 1
	MaxPriority     = 10000
	DefaultPriority = 100
)

// serviceAccountPrefix starts the username of every Kubernetes service account.
const serviceAccountPrefix = "system:serviceaccount:"

// IsBuiltin reports whether kind is one of the built-in resource kinds (nodes, namespaces,
// operators, pods, events, alerts) or the fleet-level kind registries: never a MetricSource type.
func IsBuiltin(kind string) bool {
	switch kind {
	case KindNodes, KindNamespaces, KindOperators, KindPods, KindEvents, KindAlerts, KindRegistries:
		return true
	}
	return false
}

// Compiled is a compiled MonitorAccessPolicy in the original ClusterPulse JSON (reference
// §2.3, snake_case), stored in the `data` field of the policy hash, plus two additions:
// Warnings (parts of the spec that have no effect) and Error (why the spec could not be
// compiled; see Failed). After Compile or Decode it also holds the compiled regular
// expressions, so deciding never parses anything.
type Compiled struct {
	PolicyName           string   `json:"policy_name"`
	Namespace            string   `json:"namespace"`
	Priority             int      `json:"priority"`
	Effect               string   `json:"effect"`
	Enabled              bool     `json:"enabled"`
	Users                []string `json:"users"`
	Groups               []string `json:"groups"`
	ServiceAccounts      []string `json:"service_accounts"`
	DefaultClusterAccess string   `json:"default_cluster_access"`
	ClusterRules         []Rule   `json:"cluster_rules"`
	NotBefore            *string  `json:"not_before"`
	NotAfter             *string  `json:"not_after"`
	CompiledAt           string   `json:"compiled_at"`
	Hash                 string   `json:"hash"`
	CustomResourceTypes  []string `json:"custom_resource_types"`
	Warnings             []string `json:"warnings,omitempty"`
	Error                string   `json:"error,omitempty"`

	notBefore, notAfter time.Time
	key                 string
}

// Rule is a compiled cluster rule: which clusters, which actions, and what within them.
type Rule struct {
	ClusterSelector Selector       `json:"cluster_selector"`
	Permissions     Permissions    `json:"permissions"`
	Resources       []ResourceRule `json:"resources"`
}

// Selector is a compiled cluster selector. MatchNames, MatchPattern and MatchLabels are the
// spec's; NamePatterns and PatternRegex are the regular expressions the wildcards of
// MatchNames and the anchored MatchPattern became.
type Selector struct {
	MatchNames   []string          `json:"matchNames,omitempty"`
	NamePatterns []Pair            `json:"name_patterns,omitempty"`
	MatchPattern string            `json:"matchPattern,omitempty"`
	PatternRegex string            `json:"pattern_regex,omitempty"`
	MatchLabels  map[string]string `json:"matchLabels,omitempty"`

	names   *matchSpec
	pattern *regexp.Regexp
}

// Permissions are a rule's actions with their defaults applied (view true, viewMetrics
// false).
type Permissions struct {
	View        bool `json:"view"`
	ViewMetrics bool `json:"viewMetrics"`
}

// ResourceRule is a compiled resources[] entry (the original CompiledResourceFilter):
// literals and patterns (as Pairs) of the allowed and denied names and namespaces, required
// labels, field filters and aggregation rules.
type ResourceRule struct {
	Type             string                 `json:"type"`
	Visibility       string                 `json:"visibility"`
	AllowedNames     []string               `json:"allowed_names,omitempty"`
	DeniedNames      []string               `json:"denied_names,omitempty"`
	NamePatterns     []Pair                 `json:"name_patterns,omitempty"`
	DenyNamePatterns []Pair                 `json:"deny_name_patterns,omitempty"`
	AllowedNS        []string               `json:"allowed_ns,omitempty"`
	DeniedNS         []string               `json:"denied_ns,omitempty"`
	NSPatterns       []Pair                 `json:"ns_patterns,omitempty"`
	DenyNSPatterns   []Pair                 `json:"deny_ns_patterns,omitempty"`
	Labels           map[string]string      `json:"labels,omitempty"`
	FieldFilters     map[string]FieldFilter `json:"field_filters,omitempty"`
	AggregationRules *AggregationRules      `json:"aggregation_rules,omitempty"`

	names, namespaces *matchSpec
	fields            map[string]*matchSpec
}

// FieldFilter is a compiled filter on one MetricSource field.
type FieldFilter struct {
	AllowedLiterals []string `json:"allowed_literals,omitempty"`
	DeniedLiterals  []string `json:"denied_literals,omitempty"`
	AllowedPatterns []Pair   `json:"allowed_patterns,omitempty"`
	DeniedPatterns  []Pair   `json:"denied_patterns,omitempty"`
}

// AggregationRules choose the visible aggregations of a MetricSource type by name.
type AggregationRules struct {
	Include []string `json:"include,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
}

// Key returns "namespace/name" of the policy.
func (c *Compiled) Key() string {
	if c.key != "" {
		return c.key
	}
	return c.Namespace + "/" + c.PolicyName
}

// Compile compiles p at time now. It returns an error wrapping engine.ErrInvalid for a spec
// that cannot be compiled (unknown effect, default or visibility, priority out of range, an
// invalid or over-long matchPattern, a bad glob, an unparsable or inverted validity window);
// it never panics. Warnings that need no MetricSource are in the result's Warnings; see
// TypeWarnings for the rest.
func Compile(p *kube.MonitorAccessPolicy, now time.Time) (*Compiled, error) {
	c, err := compile(p, now)
	if err != nil {
		return nil, fmt.Errorf("compile policy %s/%s: %w: %w", p.Namespace, p.Name, engine.ErrInvalid, err)
	}
	return c, nil
}

func compile(p *kube.MonitorAccessPolicy, now time.Time) (*Compiled, error) {
	spec := &p.Spec
	c := base(p, now)
	switch c.Effect {
	case EffectAllow, EffectDeny:
	default:
		return nil, fmt.Errorf("effect %q is neither %s nor %s", spec.Access.Effect, EffectAllow, EffectDeny)
	}
	if c.Priority < MinPriority || c.Priority > MaxPriority {
		return nil, fmt.Errorf("priority %d is outside [%d, %d]", c.Priority, MinPriority, MaxPriority)
	}
	for _, sa := range spec.Identity.Subjects.ServiceAccounts {
		if sa.Name == "" {
			return nil, fmt.Errorf("service account without a name")
		}
	}
	switch c.DefaultClusterAccess {
	case DefaultAllow, DefaultDeny, DefaultNone:
	default:
		return nil, fmt.Errorf("scope.clusters.default %q is not one of allow, deny, none", c.DefaultClusterAccess)
	}
	if v := spec.Lifecycle; v != nil && v.Validity != nil {
		var err error
		if c.NotBefore, c.notBefore, err = parseTime("notBefore", v.Validity.NotBefore); err != nil {
			return nil, err
		}
		if c.NotAfter, c.notAfter, err = parseTime("notAfter", v.Validity.NotAfter); err != nil {
			return nil, err
		}
		if !c.notBefore.IsZero() && !c.notAfter.IsZero() && c.notBefore.After(c.notAfter) {
			return nil, fmt.Errorf("validity notBefore %s is after notAfter %s", *c.NotBefore, *c.NotAfter)
		}
	}
	custom := map[string]bool{}
	for i, r := range spec.Scope.Clusters.Rules {
		rule, err := compileRule(r)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %w", i, err)
		}
		for _, res := range rule.Resources {
			if !IsBuiltin(res.Type) {
				custom[res.Type] = true
			}
		}
		c.ClusterRules = append(c.ClusterRules, rule)
	}
	c.CustomResourceTypes = slices.Sorted(maps.Keys(custom))
	if c.CustomResourceTypes == nil {
		c.CustomResourceTypes = []string{}
	}
	c.Warnings = specWarnings(c, spec)
	if err := c.prepare(); err != nil {
		return nil, err
	}
	return c, nil
}

// base fills the parts of a compiled policy that cannot fail: identity, effect, subjects,
// defaults, time and hash.
func base(p *kube.MonitorAccessPolicy, now time.Time) *Compiled {
	spec := &p.Spec
	c := &Compiled{
		PolicyName:           p.Name,
		Namespace:            p.Namespace,
		Priority:             int(spec.Identity.Priority),
		Effect:               spec.Access.Effect,
		Enabled:              spec.Access.Enabled == nil || *spec.Access.Enabled,
		Users:                unique(spec.Identity.Subjects.Users),
		Groups:               unique(spec.Identity.Subjects.Groups),
		ServiceAccounts:      []string{},
		DefaultClusterAccess: spec.Scope.Clusters.Default,
		ClusterRules:         []Rule{},
		CompiledAt:           now.UTC().Format(time.RFC3339),
		Hash:                 specHash(spec),
		CustomResourceTypes:  []string{},
	}
	if c.Priority == 0 {
		c.Priority = DefaultPriority
	}
	if c.DefaultClusterAccess == "" {
		c.DefaultClusterAccess = DefaultNone
	}
	var sas []string
	for _, sa := range spec.Identity.Subjects.ServiceAccounts {
		if sa.Name == "" {
			continue
		}
		ns := sa.Namespace
		if ns == "" {
			ns = "default"
		}
		sas = append(sas, serviceAccountPrefix+ns+":"+sa.Name)
	}
	c.ServiceAccounts = unique(sas)
	return c
}

// Failed returns the placeholder stored for a policy whose spec cannot be compiled (err from
// Compile): its identity, effect and subjects with Error set and no rules. Store.Save indexes
// it like any policy, so /auth/policies can show why it failed. Decide never applies a failed
// Allow policy, and a failed, enabled Deny policy fails closed: it denies every cluster to its
// subjects, before any other policy is consulted, until its spec is fixed.
func Failed(p *kube.MonitorAccessPolicy, now time.Time, err error) *Compiled {
	c := base(p, now)
	c.Priority = min(max(c.Priority, MinPriority), MaxPriority)
	c.Error = err.Error()
	return c
}

func parseTime(field, s string) (*string, time.Time, error) {
	if s == "" {
		return nil, time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("validity %s %q is not an RFC 3339 time: %w", field, s, err)
	}
	return &s, t, nil
}

// specHash is the first 16 hex digits of the SHA-256 of the spec's JSON, as in the original.
func specHash(spec *kube.PolicySpec) string {
	data, err := json.Marshal(spec)
	if err != nil {
		// A PolicySpec holds only strings, numbers, bools, maps and slices of them; Marshal
		// cannot fail on it. Hash the Go representation rather than panicking if it ever does.
		data = fmt.Appendf(nil, "%#v", spec)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:16]
}

func compileRule(r kube.ClusterRule) (Rule, error) {
	rule := Rule{
		ClusterSelector: Selector{
			MatchNames:   slices.Clone(r.Selector.MatchNames),
			MatchPattern: r.Selector.MatchPattern,
			MatchLabels:  maps.Clone(r.Selector.MatchLabels),
		},
		Permissions: Permissions{View: true},
		Resources:   []ResourceRule{},
	}
	sel := &rule.ClusterSelector
	for _, n := range sel.MatchNames {
		if !isGlob(n) {
			continue
		}
		pair, _, err := compileGlob(n)
		if err != nil {
			return Rule{}, fmt.Errorf("matchNames: %w", err)
		}
		sel.NamePatterns = append(sel.NamePatterns, pair)
	}
	if sel.MatchPattern != "" {
		pair, _, err := compileAnchored(sel.MatchPattern)
		if err != nil {
			return Rule{}, err
		}
		sel.PatternRegex = pair[1]
	}
	if p := r.Permissions; p != nil {
		if p.View != nil {
			rule.Permissions.View = *p.View
		}
		if p.ViewMetrics != nil {
			rule.Permissions.ViewMetrics = *p.ViewMetrics
		}
	}
	for j, res := range r.Resources {
		rr, err := compileResource(res)
		if err != nil {
			return Rule{}, fmt.Errorf("resources[%d] (%s): %w", j, res.Type, err)
		}
		rule.Resources = append(rule.Resources, rr)
	}
	return rule, nil
}

func compileResource(res kube.ResourceFilter) (ResourceRule, error) {
	rr := ResourceRule{Type: res.Type, Visibility: res.Visibility}
	if rr.Type == "" {
		return ResourceRule{}, fmt.Errorf("empty type")
	}
	switch rr.Visibility {
	case "":
		rr.Visibility = VisibilityAll
	case VisibilityAll, VisibilityNone, VisibilityFiltered:
	default:
		return ResourceRule{}, fmt.Errorf("visibility %q is not one of all, none, filtered", rr.Visibility)
	}
	if f := res.Filters; f != nil {
		var err error
		if f.Names != nil {
			if rr.AllowedNames, rr.NamePatterns, err = splitPatterns(f.Names.Allowed); err != nil {
				return ResourceRule{}, fmt.Errorf("names: %w", err)
			}
			if rr.DeniedNames, rr.DenyNamePatterns, err = splitPatterns(f.Names.Denied); err != nil {
				return ResourceRule{}, fmt.Errorf("names: %w", err)
			}
		}
		if f.Namespaces != nil {
			if rr.AllowedNS, rr.NSPatterns, err = splitPatterns(f.Namespaces.Allowed); err != nil {
				return ResourceRule{}, fmt.Errorf("namespaces: %w", err)
			}
			if rr.DeniedNS, rr.DenyNSPatterns, err = splitPatterns(f.Namespaces.Denied); err != nil {
				return ResourceRule{}, fmt.Errorf("namespaces: %w", err)
			}
		}
		if len(f.Labels) > 0 {
			rr.Labels = maps.Clone(f.Labels)
		}
		for field, pf := range f.Fields {
			var ff FieldFilter
			if ff.AllowedLiterals, ff.AllowedPatterns, err = splitPatterns(pf.Allowed); err != nil {
				return ResourceRule{}, fmt.Errorf("fields.%s: %w", field, err)
			}
			if ff.DeniedLiterals, ff.DeniedPatterns, err = splitPatterns(pf.Denied); err != nil {
				return ResourceRule{}, fmt.Errorf("fields.%s: %w", field, err)
			}
			if rr.FieldFilters == nil {
				rr.FieldFilters = map[string]FieldFilter{}
			}
			rr.FieldFilters[field] = ff
		}
	}
	if a := res.Aggregations; a != nil && (len(a.Include) > 0 || len(a.Exclude) > 0) {
		rr.AggregationRules = &AggregationRules{Include: slices.Clone(a.Include), Exclude: slices.Clone(a.Exclude)}
	}
	return rr, nil
}

// specWarnings lists the parts of the spec that have no effect.
func specWarnings(c *Compiled, spec *kube.PolicySpec) []string {
	var w []string
	if c.Effect == EffectDeny {
		if d := spec.Scope.Clusters.Default; d != "" && d != DefaultNone {
			w = append(w, fmt.Sprintf("scope.clusters.default %q is ignored: a Deny policy denies exactly the clusters its rules select", d))
		}
		if len(c.ClusterRules) == 0 {
			w = append(w, "the Deny policy has no rules and denies nothing")
		}
	}
	for i, r := range c.ClusterRules {
		if c.Effect == EffectDeny && (len(r.Resources) > 0 || spec.Scope.Clusters.Rules[i].Permissions != nil) {
			w = append(w, fmt.Sprintf("rule %d: permissions and resources are ignored: a Deny policy hides the whole cluster", i))
		}
		seen := map[string]bool{}
		for _, res := range r.Resources {
			if seen[res.Type] {
				w = append(w, fmt.Sprintf("rule %d: resource type %q is listed more than once; only the first entry applies", i, res.Type))
			}
			seen[res.Type] = true
			if IsBuiltin(res.Type) && res.AggregationRules != nil {
				w = append(w, fmt.Sprintf("rule %d: aggregations on built-in type %q are ignored", i, res.Type))
			}
		}
	}
	if len(c.Users)+len(c.Groups)+len(c.ServiceAccounts) == 0 {
		w = append(w, "the policy names no users, groups or service accounts and applies to nobody")
	}
	return w
}

// TypeLookup returns the rbac.filterableFields of the MetricSource whose rbac.resourceTypeName
// is typ; ok is false when no MetricSource provides typ.
type TypeLookup func(typ string) (filterable []string, ok bool)

// TypeWarnings checks the policy's custom resource types against the MetricSources (lookup).
// missing lists the types no MetricSource provides (status customResourceWarnings); fields
// lists field filters on fields that are not in the type's filterableFields, which Decide
// ignores (status warnings). Both are sorted.
func (c *Compiled) TypeWarnings(lookup TypeLookup) (missing, fields []string) {
	missingSet := map[string]bool{}
	fieldSet := map[string]bool{}
	for i, r := range c.ClusterRules {
		for _, res := range r.Resources {
			if IsBuiltin(res.Type) {
				continue
			}
			filterable, ok := lookup(res.Type)
			if !ok {
				missingSet[fmt.Sprintf("no MetricSource provides resource type %q", res.Type)] = true
				continue
			}
			for f := range res.FieldFilters {
				if !slices.Contains(filterable, f) {
					fieldSet[fmt.Sprintf("rule %d: field filter on %s.%s is ignored: %q is not in the MetricSource's rbac.filterableFields", i, res.Type, f, f)] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(missingSet)), slices.Sorted(maps.Keys(fieldSet))
}

// Decode parses a compiled policy as Store writes it and compiles its regular expressions.
// Stored patterns are compiled again, never trusted: an invalid one is an error.
func Decode(data []byte) (*Compiled, error) {
	var c Compiled
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("decode compiled policy: %w", err)
	}
	if err := c.prepare(); err != nil {
		return nil, fmt.Errorf("decode compiled policy %s: %w", c.Key(), err)
	}
	return &c, nil
}

// prepare builds the in-memory matchers from the JSON fields.
func (c *Compiled) prepare() error {
	c.key = c.Namespace + "/" + c.PolicyName
	var err error
	if c.NotBefore != nil {
		if _, c.notBefore, err = parseTime("notBefore", *c.NotBefore); err != nil {
			return err
		}
	}
	if c.NotAfter != nil {
		if _, c.notAfter, err = parseTime("notAfter", *c.NotAfter); err != nil {
			return err
		}
	}
	for i := range c.ClusterRules {
		r := &c.ClusterRules[i]
		sel := &r.ClusterSelector
		// The globs are compiled from matchNames itself (the translation is deterministic);
		// name_patterns only shows readers what they became.
		var literals []string
		var pairs []Pair
		for _, n := range sel.MatchNames {
			if !isGlob(n) {
				literals = append(literals, n)
				continue
			}
			pair, _, err := compileGlob(n)
			if err != nil {
				return fmt.Errorf("rule %d: matchNames: %w", i, err)
			}
			pairs = append(pairs, pair)
		}
		if sel.names, err = newMatchSpec(literals, pairs, nil, nil); err != nil {
			return fmt.Errorf("rule %d: %w", i, err)
		}
		if sel.MatchPattern != "" {
			src := sel.PatternRegex
			if src == "" {
				src = "^(?:" + sel.MatchPattern + ")$"
			}
			if sel.pattern, err = regexp.Compile(src); err != nil {
				return fmt.Errorf("rule %d: matchPattern %q: %w", i, sel.MatchPattern, err)
			}
		}
		for j := range r.Resources {
			if err := r.Resources[j].prepare(); err != nil {
				return fmt.Errorf("rule %d resources[%d]: %w", i, j, err)
			}
		}
	}
	return nil
}

func (rr *ResourceRule) prepare() error {
	var err error
	if rr.names, err = newMatchSpec(rr.AllowedNames, rr.NamePatterns, rr.DeniedNames, rr.DenyNamePatterns); err != nil {
		return err
	}
	if rr.namespaces, err = newMatchSpec(rr.AllowedNS, rr.NSPatterns, rr.DeniedNS, rr.DenyNSPatterns); err != nil {
		return err
	}
	rr.fields = nil
	for f, ff := range rr.FieldFilters {
		spec, err := newMatchSpec(ff.AllowedLiterals, ff.AllowedPatterns, ff.DeniedLiterals, ff.DeniedPatterns)
		if err != nil {
			return fmt.Errorf("field %s: %w", f, err)
		}
		if spec == nil {
			continue
		}
		if rr.fields == nil {
			rr.fields = map[string]*matchSpec{}
		}
		rr.fields[f] = spec
	}
	return nil
}

// Active reports whether the policy applies at now: it is enabled and now is inside its
// validity window (notBefore ≤ now ≤ notAfter).
func (c *Compiled) Active(now time.Time) bool {
	if !c.Enabled {
		return false
	}
	if !c.notBefore.IsZero() && now.Before(c.notBefore) {
		return false
	}
	if !c.notAfter.IsZero() && now.After(c.notAfter) {
		return false
	}
	return true
}

// Status states of a MonitorAccessPolicy.
const (
	StateActive   = "Active"
	StateInactive = "Inactive"
	StateExpired  = "Expired"
	StateError    = "Error"
)

// State returns the status state and message of the policy at now: Error for a policy that
// failed to compile, Inactive when disabled or not yet valid, Expired after notAfter, Active
// otherwise.
func (c *Compiled) State(now time.Time) (state, message string) {
	switch {
	case c.Error != "":
		return StateError, "Compilation failed: " + c.Error
	case !c.Enabled:
		return StateInactive, "Policy is disabled"
	case !c.notBefore.IsZero() && now.Before(c.notBefore):
		return StateInactive, "Policy not yet valid (notBefore " + *c.NotBefore + ")"
	case !c.notAfter.IsZero() && now.After(c.notAfter):
		return StateExpired, "Policy expired (notAfter " + *c.NotAfter + ")"
	}
	return StateActive, "Policy is active"
}

// subjects returns the index entries of the policy by kind: "user", "group", "sa" and
// "customtype".
func (c *Compiled) subjects() map[string][]string {
	return map[string][]string{
		"user":       c.Users,
		"group":      c.Groups,
		"sa":         c.ServiceAccounts,
		"customtype": c.CustomResourceTypes,
	}
}

// AppliesTo reports whether p is a subject of the policy: its username or email is one of the
// users, one of its groups is one of the groups, or it is one of the service accounts.
func (c *Compiled) AppliesTo(p Principal) bool {
	for _, u := range c.Users {
		if u == p.Username || (p.Email != "" && u == p.Email) {
			return true
		}
	}
	for _, g := range c.Groups {
		if slices.Contains(p.Groups, g) {
			return true
		}
	}
	return slices.Contains(c.ServiceAccounts, p.Username)
}

// unique returns values without empty strings and duplicates, in their first order; never
// nil.
func unique(values []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, v := range values {
		if v == "" || seen[v] {
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	return out
}

// compareOrder orders policies for evaluation: priority descending, Deny before Allow, then
// namespace/name.
func compareOrder(a, b *Compiled) int {
	if a.Priority != b.Priority {
		if a.Priority > b.Priority {
			return -1
		}
		return 1
	}
	if ad, bd := a.Effect == EffectDeny, b.Effect == EffectDeny; ad != bd {
		if ad {
			return -1
		}
		return 1
	}
	if a.Namespace != b.Namespace {
		if a.Namespace < b.Namespace {
			return -1
		}
		return 1
	}
	switch {
	case a.PolicyName < b.PolicyName:
		return -1
	case a.PolicyName > b.PolicyName:
		return 1
	}
	return 0
}

// Sort orders policies for evaluation in place: priority descending, Deny before Allow at
// equal priority, then namespace/name. The order is deterministic.
func Sort(policies []*Compiled) {
	slices.SortStableFunc(policies, compareOrder)
}
