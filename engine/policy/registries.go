package policy

import "time"

// KindRegistries is the fleet-level resource type of registries (RegistryConnections). Unlike
// the other types it is not decided per cluster: see Registries.
const KindRegistries = "registries"

// RegistryAccess says which registries of the fleet a principal may see. The zero value lets
// every registry through. Build one with Registries; it is safe for concurrent use.
type RegistryAccess struct {
	// restricted is true when some Active Allow policy lists registries: then only what
	// grants allow is visible.
	restricted bool
	grants     []*Matcher
	hides      []*Matcher
	// closed is true when an enabled Deny policy in error applies: every registry is hidden.
	closed bool
	// Reason explains the outcome in one sentence.
	Reason string
}

// Registries returns which registries the principal whose policies these are may see at now.
//
// Registries are fleet-level: the `registries` entry of every rule counts (the first one when
// a rule lists the type twice), whatever the rule's cluster selector and permissions select.
// Among the Active policies (enabled, inside their validity window, compiled without error):
//
//   - If no Allow policy has a `registries` entry, every registry is visible, as before the
//     kind existed.
//   - Otherwise a registry is visible only if a `registries` entry of an Allow policy with a
//     visibility other than none lets it through (its name and labels filters; an entry
//     without filters lets every registry through).
//   - A `registries` entry of a Deny policy hides the registries its filters select (without
//     filters: every registry), whatever the Allow policies grant and whatever the
//     priorities; its visibility is ignored.
//
// An enabled Deny policy in error hides every registry, as it hides every cluster.
func Registries(policies []*Compiled, now time.Time) RegistryAccess {
	var a RegistryAccess
	for _, p := range policies {
		if p.Error != "" {
			if p.Effect == EffectDeny && p.Enabled {
				return RegistryAccess{closed: true, Reason: "Deny policy " + p.Key() + " is in error and hides every registry until fixed"}
			}
			continue
		}
		if !p.Active(now) {
			continue
		}
		for i := range p.ClusterRules {
			rr := p.ClusterRules[i].resource(KindRegistries)
			if rr == nil {
				continue
			}
			if p.Effect == EffectDeny {
				hide := *rr
				hide.Visibility = VisibilityFiltered
				a.hides = append(a.hides, newMatcher(KindRegistries, &hide, nil, false))
				continue
			}
			a.restricted = true
			if rr.Visibility != VisibilityNone {
				a.grants = append(a.grants, newMatcher(KindRegistries, rr, nil, false))
			}
		}
	}
	switch {
	case a.restricted && len(a.hides) > 0:
		a.Reason = "registries granted by registries entries of Allow policies, less those Deny policies hide"
	case a.restricted:
		a.Reason = "registries granted by registries entries of Allow policies"
	case len(a.hides) > 0:
		a.Reason = "every registry except those Deny policies hide"
	default:
		a.Reason = "no policy restricts registries"
	}
	return a
}

// Restricted reports whether some registries may be hidden from the principal, so callers
// must filter.
func (a RegistryAccess) Restricted() bool {
	return a.closed || a.restricted || len(a.hides) > 0
}

// Allows reports whether the principal may see the registry called name with labels (its
// spec.labels).
func (a RegistryAccess) Allows(name string, labels map[string]string) bool {
	if a.closed {
		return false
	}
	o := Object{Name: name, Labels: labels}
	for _, m := range a.hides {
		if m.Allows(o) {
			return false
		}
	}
	if !a.restricted {
		return true
	}
	for _, m := range a.grants {
		if m.Allows(o) {
			return true
		}
	}
	return false
}
