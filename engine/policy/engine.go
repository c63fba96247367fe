package policy

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Principal is an authenticated caller.
type Principal struct {
	// Username is the canonical user name (system:serviceaccount:<ns>:<name> for a service
	// account).
	Username string
	// Email is the caller's email address, if known; policies may name users by it.
	Email string
	// Groups are the caller's groups.
	Groups []string
}

// IsServiceAccount reports whether the principal is a Kubernetes service account.
func (p Principal) IsServiceAccount() bool {
	return strings.HasPrefix(p.Username, serviceAccountPrefix)
}

// cacheKey identifies the principal in a Cache: the same user with other groups is another
// principal.
func (p Principal) cacheKey() string {
	groups := slices.Clone(p.Groups)
	slices.Sort(groups)
	groups = slices.Compact(groups)
	return p.Username + "\x00" + p.Email + "\x00" + strings.Join(groups, "\x00")
}

// ClusterInfo is what a decision needs to know about a cluster: its name and the labels of its
// ClusterConnection (spec.labels).
type ClusterInfo struct {
	Name   string
	Labels map[string]string
}

// Object is what a Matcher needs to know about one item of a resource kind.
//
// Namespace is the item's namespace; Namespaces replaces it for items that span several (an
// operator's available_in_namespaces, where "*" means all namespaces). Labels are the item's
// labels (_labels for a custom resource). Fields are the values field filters look at (a
// custom resource's values); numbers, bools and strings are compared in their text form.
type Object struct {
	Name       string
	Namespace  string
	Namespaces []string
	Labels     map[string]string
	Fields     map[string]any
}

// Decision is what a principal may do on one cluster.
type Decision struct {
	// Cluster is the cluster's name.
	Cluster string
	// Visible is true when the caller may see the cluster (the view permission).
	Visible bool
	// ViewMetrics is true when the caller may also see metrics history (node metrics_history,
	// /metrics/... queries). It is never true without Visible.
	ViewMetrics bool
	// Denied is true when a policy decided against the caller (a Deny policy, default: deny,
	// view: false, or a Deny policy in error), as opposed to no policy matching.
	Denied bool
	// Policy is "namespace/name" of the deciding policy; empty when none matched.
	Policy string
	// Reason explains the decision in one sentence.
	Reason string

	// rule is the deciding Allow rule; nil with Visible means default: allow (built-in kinds
	// unrestricted, no custom types).
	rule *Rule
}

// Permissions returns the actions the caller has on the cluster, as /auth/permissions lists
// them: nil, ["view"] or ["view", "view_metrics"].
func (d Decision) Permissions() []string {
	switch {
	case !d.Visible:
		return nil
	case d.ViewMetrics:
		return []string{"view", "view_metrics"}
	}
	return []string{"view"}
}

// Matcher returns the matcher of a built-in kind (nodes, namespaces, operators, pods, events,
// alerts) on the cluster. A kind the deciding rule does not list is unrestricted; on a cluster
// that is not visible everything is rejected. For any other kind it behaves like Custom with
// no filterable fields. It never returns nil.
func (d Decision) Matcher(kind string) *Matcher {
	if !IsBuiltin(kind) {
		m, _ := d.Custom(kind, nil)
		return m
	}
	if !d.Visible {
		return noneMatcher()
	}
	if d.rule == nil {
		return &Matcher{kind: kind}
	}
	rr := d.rule.resource(kind)
	if rr == nil {
		return &Matcher{kind: kind}
	}
	return newMatcher(kind, rr, nil, true)
}

// Custom returns the matcher of MetricSource type typ on the cluster, and whether the caller
// may see the type there at all (false means 403). Custom types are implicitly denied: only
// an entry for typ in the deciding rule with visibility other than none grants it. Field
// filters on fields not in filterable (the MetricSource's rbac.filterableFields) are ignored.
func (d Decision) Custom(typ string, filterable []string) (*Matcher, bool) {
	if !d.Visible || d.rule == nil {
		return noneMatcher(), false
	}
	rr := d.rule.resource(typ)
	if rr == nil || rr.Visibility == VisibilityNone {
		return noneMatcher(), false
	}
	return newMatcher(typ, rr, filterable, false), true
}

// CustomTypes returns the MetricSource types the caller may see on the cluster (entries of
// the deciding rule with visibility other than none), sorted.
func (d Decision) CustomTypes() []string {
	out := []string{}
	if !d.Visible || d.rule == nil {
		return out
	}
	for _, rr := range d.rule.Resources {
		if !IsBuiltin(rr.Type) && rr.Visibility != VisibilityNone && !slices.Contains(out, rr.Type) {
			out = append(out, rr.Type)
		}
	}
	slices.Sort(out)
	return out
}

// resource returns the first entry of the rule for typ, or nil.
func (r *Rule) resource(typ string) *ResourceRule {
	for i := range r.Resources {
		if r.Resources[i].Type == typ {
			return &r.Resources[i]
		}
	}
	return nil
}

// matches reports whether the selector selects the cluster: every constraint that is set
// must hold; an empty selector selects every cluster.
func (s *Selector) matches(c ClusterInfo) bool {
	if s.names != nil && !s.names.match(c.Name) {
		return false
	}
	if s.pattern != nil && !s.pattern.MatchString(c.Name) {
		return false
	}
	for k, v := range s.MatchLabels {
		if got, ok := c.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Engine answers access questions: which policies apply to a principal (read through a
// Cache) and what they decide for a cluster. The zero Engine can Decide but has no policies.
type Engine struct {
	cache *Cache
}

// NewEngine returns an Engine that reads principals' policies through cache.
func NewEngine(cache *Cache) *Engine { return &Engine{cache: cache} }

// Policies returns the policies that name p, ordered for evaluation (see Sort), from the
// cache or Redis. Callers must not modify them.
func (e *Engine) Policies(ctx context.Context, p Principal) ([]*Compiled, error) {
	if e.cache == nil {
		return nil, fmt.Errorf("policies of %q: engine has no cache", p.Username)
	}
	return e.cache.Policies(ctx, p)
}

// Decide decides what the principal whose policies these are may do on cluster at now.
//
// Only enabled policies inside their validity window count. An enabled Deny policy in error
// (see Failed) denies every cluster before anything else is consulted; an Allow policy in
// error is skipped. Otherwise the policies are taken in evaluation order and the first one
// that matches the cluster decides everything about it: a Deny policy matches the clusters its
// rules select and hides them; an Allow policy matches the clusters its rules select (the
// first selecting rule applies; view: false hides the cluster) and, with default: allow or
// deny, every other cluster (view only, or hidden). With no matching policy the cluster is
// not visible.
func (e *Engine) Decide(policies []*Compiled, cluster ClusterInfo, now time.Time) Decision {
	if !slices.IsSortedFunc(policies, compareOrder) {
		policies = slices.Clone(policies)
		Sort(policies)
	}
	d := Decision{Cluster: cluster.Name}
	for _, p := range policies {
		if p.Error != "" && p.Effect == EffectDeny && p.Enabled {
			d.Denied, d.Policy = true, p.Key()
			d.Reason = fmt.Sprintf("Deny policy %s is in error and denies every cluster until fixed: %s", p.Key(), p.Error)
			return d
		}
	}
	for _, p := range policies {
		if p.Error != "" || !p.Active(now) {
			continue
		}
		rule := p.match(cluster)
		if p.Effect == EffectDeny {
			if rule == nil {
				continue
			}
			d.Denied, d.Policy = true, p.Key()
			d.Reason = "denied by policy " + d.Policy
			return d
		}
		if rule == nil {
			switch p.DefaultClusterAccess {
			case DefaultAllow:
				d.Visible, d.Policy = true, p.Key()
				d.Reason = "allowed (view only) by the default of policy " + d.Policy
				return d
			case DefaultDeny:
				d.Denied, d.Policy = true, p.Key()
				d.Reason = "denied by the default of policy " + d.Policy
				return d
			}
			continue
		}
		d.Policy = p.Key()
		if !rule.Permissions.View {
			d.Denied = true
			d.Reason = "policy " + d.Policy + " grants no view permission"
			return d
		}
		d.Visible, d.ViewMetrics, d.rule = true, rule.Permissions.ViewMetrics, rule
		d.Reason = "allowed by policy " + d.Policy
		return d
	}
	d.Reason = "no policy grants access to the cluster"
	return d
}

// match returns the first rule of the policy whose selector selects the cluster, or nil.
func (c *Compiled) match(cluster ClusterInfo) *Rule {
	for i := range c.ClusterRules {
		if c.ClusterRules[i].ClusterSelector.matches(cluster) {
			return &c.ClusterRules[i]
		}
	}
	return nil
}

// Matcher decides which objects of one kind on one cluster the caller may see. It is never
// nil when returned by a Decision; its methods are safe for concurrent use.
type Matcher struct {
	kind              string
	none              bool
	names, namespaces *matchSpec
	labels            map[string]string
	fields            map[string]*matchSpec
	include, exclude  map[string]struct{}
	hasInclude        bool
}

func noneMatcher() *Matcher { return &Matcher{none: true} }

// newMatcher builds the matcher of entry rr. For custom types only the fields in filterable
// are filtered on; builtin applies every field filter.
func newMatcher(kind string, rr *ResourceRule, filterable []string, builtin bool) *Matcher {
	if rr.Visibility == VisibilityNone {
		return noneMatcher()
	}
	m := &Matcher{kind: kind, names: rr.names, namespaces: rr.namespaces, labels: rr.Labels}
	for f, spec := range rr.fields {
		if !builtin && !slices.Contains(filterable, f) {
			continue
		}
		if m.fields == nil {
			m.fields = map[string]*matchSpec{}
		}
		m.fields[f] = spec
	}
	if a := rr.AggregationRules; a != nil {
		m.hasInclude = len(a.Include) > 0
		m.include = toSet(a.Include)
		m.exclude = toSet(a.Exclude)
	}
	return m
}

// None reports whether the matcher rejects everything (visibility: none, a hidden cluster, or
// a custom type not granted).
func (m *Matcher) None() bool { return m.none }

// Unrestricted reports whether the matcher accepts every object, so callers may skip
// filtering.
func (m *Matcher) Unrestricted() bool {
	return !m.none && !m.names.restricts() && !m.namespaces.restricts() && len(m.labels) == 0 && len(m.fields) == 0
}

// Allows reports whether the caller may see o: its name, namespaces, labels and fields must
// pass every constraint of the entry.
func (m *Matcher) Allows(o Object) bool {
	if !m.Admits(o.Name, m.objectNamespaces(o)...) {
		return false
	}
	for k, v := range m.labels {
		if got, ok := o.Labels[k]; !ok || got != v {
			return false
		}
	}
	for f, spec := range m.fields {
		v, ok := o.Fields[f]
		if !ok || v == nil {
			// A missing field fails an allow list and passes a deny-only list.
			if spec.hasAllow() {
				return false
			}
			continue
		}
		if !spec.match(formatValue(v)) {
			return false
		}
	}
	return true
}

// Admits reports whether the name and namespace filters admit an object called name in
// namespaces (none for a cluster-scoped object); labels and fields are not checked. Use it to
// authorize what a request names before looking the object up, so that a name the caller may
// not see is 403 whether or not it exists.
func (m *Matcher) Admits(name string, namespaces ...string) bool {
	if m.none {
		return false
	}
	if m.names.restricts() && !m.names.match(name) {
		return false
	}
	if m.namespaces.restricts() {
		if m.kind == KindNamespaces && len(namespaces) == 0 {
			// A namespace is its own namespace: a namespaces filter on the namespaces
			// kind filters them by name.
			namespaces = []string{name}
		}
		return m.namespacesPass(namespaces)
	}
	return true
}

// objectNamespaces returns the namespaces of o: Namespaces, else Namespace, else none.
func (m *Matcher) objectNamespaces(o Object) []string {
	if len(o.Namespaces) > 0 {
		return o.Namespaces
	}
	if o.Namespace != "" {
		return []string{o.Namespace}
	}
	return nil
}

// namespacesPass applies the namespaces constraint: any namespace passing suffices, "*" (all
// namespaces) passes, and an object without namespaces fails an allow list.
func (m *Matcher) namespacesPass(namespaces []string) bool {
	if len(namespaces) == 0 {
		return !m.namespaces.hasAllow()
	}
	for _, ns := range namespaces {
		if ns == "*" || m.namespaces.match(ns) {
			return true
		}
	}
	return false
}

// NamespaceAllowed reports whether objects in namespace ns can pass the namespaces filter
// (e.g. to recompute per-namespace counts over what the caller may see).
func (m *Matcher) NamespaceAllowed(ns string) bool {
	if m.none {
		return false
	}
	return !m.namespaces.restricts() || m.namespacesPass([]string{ns})
}

// TrimNamespaces returns the namespaces (an operator's available_in_namespaces) that pass the
// namespaces filter, in order; "*" stays. It never returns nil.
func (m *Matcher) TrimNamespaces(namespaces []string) []string {
	out := []string{}
	for _, ns := range namespaces {
		if m.NamespaceAllowed(ns) {
			out = append(out, ns)
		}
	}
	return out
}

// AggregationVisible reports whether the aggregation called name of a custom type is shown:
// with an include list only the names it lists, otherwise every name the exclude list does
// not list.
func (m *Matcher) AggregationVisible(name string) bool {
	if m.none {
		return false
	}
	if m.hasInclude {
		_, ok := m.include[name]
		return ok
	}
	_, excluded := m.exclude[name]
	return !excluded
}

// Filter returns the items the matcher allows, in order, using object to describe each one.
// It never returns nil.
func Filter[T any](m *Matcher, items []T, object func(T) Object) []T {
	out := make([]T, 0, len(items))
	if m.none {
		return out
	}
	if m.Unrestricted() {
		return append(out, items...)
	}
	for _, it := range items {
		if m.Allows(object(it)) {
			out = append(out, it)
		}
	}
	return out
}

// formatValue renders a field value as text for field filters: strings as they are, integers
// in decimal, floats in their shortest form (42, not 42.000000), bools as true/false.
func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}
