package jobs

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/policy"
)

// Job policy settings.
const (
	// policyConcurrency is the default --concurrency of job policy: compiling is cheap, the
	// work is two Redis round trips and one status patch per policy.
	policyConcurrency = 10
	// policyDeadline bounds the work on one policy (store and patch).
	policyDeadline = 30 * time.Second
	// policyMessageLimit bounds .status.message.
	policyMessageLimit = 1024
)

func policyJob() job {
	return job{
		name:        "policy",
		summary:     "compile every MonitorAccessPolicy into the Redis indexes, evaluate validity windows, patch .status",
		concurrency: policyConcurrency,
		setup: func(*flag.FlagSet) func(context.Context, *runner) error {
			return runPolicy
		},
	}
}

// policyUnit is what the pass knows about one MonitorAccessPolicy: the decoded object, or the
// reason it could not be decoded.
type policyUnit struct {
	p   *kube.MonitorAccessPolicy
	bad *kube.DecodeError
}

// runPolicy is one pass of job policy: list the MonitorAccessPolicies and the MetricSources,
// compile and store every policy of this shard (each run, whatever the time since the last
// one, because validity windows move with the clock), patch each status, and remove the
// stored policies whose object is gone. Save and Remove increment the policy generation only
// when something changed.
func runPolicy(ctx context.Context, r *runner) error {
	items, bad, err := r.hub.MonitorAccessPolicies(ctx)
	if err != nil {
		return cannotRun("hub API unusable: %w", err)
	}
	// The MetricSources only feed warnings: a policy is compiled and stored without them.
	lookup, typesErr := r.policyTypeLookup(ctx)
	if typesErr != nil {
		r.log.Warn("custom resource types of the policies not checked", "err", typesErr)
	}
	ps := policy.NewStore(r.store.Client(), r.store.Keys())
	before, err := ps.Generation(ctx)
	if err != nil {
		return cannotRun("redis unusable: %w", err)
	}

	present := map[string]bool{}
	byName := map[string]policyUnit{}
	units := make([]unit, 0, len(items)+len(bad))
	for i := range items {
		p := &items[i]
		present[p.Name] = true
		byName[p.Name] = policyUnit{p: p}
		units = append(units, unit{name: p.Name, deadline: policyDeadline})
	}
	for _, b := range bad {
		present[b.Name] = true
		byName[b.Name] = policyUnit{bad: b}
		units = append(units, unit{name: b.Name, deadline: policyDeadline})
	}
	// interval 0: every unit is due on every run.
	r.runUnits(ctx, units, func(ctx context.Context, u unit) result {
		pu := byName[u.name]
		if pu.bad != nil {
			return r.compileUndecodablePolicy(ctx, ps, pu.bad)
		}
		now := r.now()
		c, err := policy.Compile(pu.p, now)
		if err != nil {
			c = policy.Failed(pu.p, now, err)
		}
		return r.recordPolicy(ctx, ps, c, now, lookup, typesErr)
	})
	if err := ctx.Err(); err != nil {
		return cannotRun("interrupted: %w", err)
	}
	if err := r.removeGonePolicies(ctx, ps, present); err != nil {
		return err
	}
	after, err := ps.Generation(ctx)
	if err != nil {
		return cannotRun("redis unusable: %w", err)
	}
	r.log.Info("policy generation", "before", before, "after", after)
	return nil
}

// policyTypeLookup lists the MetricSources and returns the lookup of their resource types
// (rbac.resourceTypeName) with the filterable fields; types provided by several
// MetricSources have the union of their fields.
func (r *runner) policyTypeLookup(ctx context.Context) (policy.TypeLookup, error) {
	sources, _, err := r.hub.MetricSources(ctx)
	if err != nil {
		return nil, err
	}
	types := map[string][]string{}
	for _, ms := range sources {
		t := ms.Spec.RBAC.ResourceTypeName
		if t == "" {
			continue
		}
		types[t] = append(types[t], ms.Spec.RBAC.FilterableFields...)
	}
	return func(typ string) ([]string, bool) {
		f, ok := types[typ]
		return f, ok
	}, nil
}

// recordPolicy stores the compiled (or failed) policy c in Redis and patches the policy's
// status with its state at now. The unit fails when the policy is in Error or could not be
// stored or patched.
func (r *runner) recordPolicy(ctx context.Context, ps *policy.Store, c *policy.Compiled, now time.Time, lookup policy.TypeLookup, typesErr error) result {
	state, message := c.State(now)
	var missing, fieldWarnings []string
	if typesErr == nil {
		missing, fieldWarnings = c.TypeWarnings(lookup)
	}

	// Store and patch with a context of their own: a unit whose deadline passed must still
	// be recorded.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var errs []error
	changed, saveErr := ps.Save(wctx, c)
	if saveErr != nil {
		errs = append(errs, saveErr)
		message += "; not stored in Redis: " + saveErr.Error()
	}
	patch := policyStatusPatch(c, state, message, now, missing, fieldWarnings, typesErr)
	if err := r.hub.PatchStatus(wctx, kube.MonitorAccessPoliciesGVR, c.PolicyName, patch); err != nil {
		errs = append(errs, err)
	}

	detail := state + ": " + message
	switch {
	case saveErr != nil:
	case changed:
		detail += "; stored (changed)"
	default:
		detail += "; unchanged"
	}
	if n := len(missing) + len(fieldWarnings) + len(c.Warnings); n > 0 {
		detail += fmt.Sprintf("; %d warning(s)", n)
	}
	if err := errors.Join(errs...); err != nil {
		r.log.Error("record policy", "policy", c.Key(), "err", err)
		return result{detail: detail + "; not recorded: " + err.Error(), failed: true}
	}
	return result{detail: detail, failed: state == policy.StateError}
}

// policyStatusPatch is the merge patch of a MonitorAccessPolicy status. Every field the job
// owns is sent, zero counts and cleared lists (null) included, so nothing stale remains. When
// the MetricSources could not be listed (typesErr), customResourceWarnings keeps its value
// and warnings say that the types were not checked.
func policyStatusPatch(c *policy.Compiled, state, message string, now time.Time, missing, fieldWarnings []string, typesErr error) map[string]any {
	warnings := append([]string{}, c.Warnings...)
	warnings = append(warnings, fieldWarnings...)
	if typesErr != nil {
		warnings = append(warnings, "custom resource types not checked: list MetricSources: "+typesErr.Error())
	}
	m := map[string]any{
		"state":                   state,
		"message":                 truncate(message, policyMessageLimit),
		"compiledAt":              c.CompiledAt,
		"hash":                    c.Hash,
		"affectedUsers":           len(c.Users),
		"affectedGroups":          len(c.Groups),
		"affectedServiceAccounts": len(c.ServiceAccounts),
		"customResourceTypes":     len(c.CustomResourceTypes),
		"lastEvaluated":           now.UTC().Format(time.RFC3339),
		"warnings":                listOrNil(warnings),
	}
	if typesErr == nil {
		m["customResourceWarnings"] = listOrNil(missing)
	}
	return m
}

// listOrNil returns l, or nil (JSON null, which a merge patch uses to clear the field) when
// it is empty.
func listOrNil(l []string) any {
	if len(l) == 0 {
		return nil
	}
	return l
}

// compileUndecodablePolicy handles a MonitorAccessPolicy that could not be decoded: it is
// stored as failed (policy.Failed) with whatever identity and access could be read, so that a
// Deny policy fails closed and an Allow policy is not applied, and its status says why.
func (r *runner) compileUndecodablePolicy(ctx context.Context, ps *policy.Store, b *kube.DecodeError) result {
	u, err := r.hub.Dynamic.Resource(kube.MonitorAccessPoliciesGVR).Namespace(r.hub.Namespace).Get(ctx, b.Name, metav1.GetOptions{})
	if err != nil {
		return result{detail: "invalid MonitorAccessPolicy (" + b.Err.Error() + ") could not be read again: " + err.Error(), failed: true}
	}
	p := lenientPolicy(u)
	now := r.now()
	c := policy.Failed(&p, now, fmt.Errorf("invalid MonitorAccessPolicy: %w", b.Err))
	return r.recordPolicy(ctx, ps, c, now, func(string) ([]string, bool) { return nil, true }, nil)
}

// lenientPolicy reads what it can of a MonitorAccessPolicy that does not decode as a whole:
// its name, and spec.identity and spec.access, each only if it decodes by itself.
func lenientPolicy(u *unstructured.Unstructured) kube.MonitorAccessPolicy {
	p := kube.MonitorAccessPolicy{ObjectMeta: metav1.ObjectMeta{Name: u.GetName(), Namespace: u.GetNamespace()}}
	if m, ok, _ := unstructured.NestedMap(u.Object, "spec", "identity"); ok {
		var id kube.PolicyIdentity
		if runtime.DefaultUnstructuredConverter.FromUnstructured(m, &id) == nil {
			p.Spec.Identity = id
		}
	}
	if m, ok, _ := unstructured.NestedMap(u.Object, "spec", "access"); ok {
		var a kube.PolicyAccess
		if runtime.DefaultUnstructuredConverter.FromUnstructured(m, &a) == nil {
			p.Spec.Access = a
		}
	}
	return p
}

// removeGonePolicies removes from Redis the policies of the hub namespace (and of this shard)
// that have no MonitorAccessPolicy any more. Policies of other namespaces are left alone.
func (r *runner) removeGonePolicies(ctx context.Context, ps *policy.Store, present map[string]bool) error {
	names, err := ps.Names(ctx)
	if err != nil {
		return cannotRun("redis unusable: %w", err)
	}
	for _, full := range names {
		ns, name, ok := strings.Cut(full, "/")
		if !ok || ns != r.hub.Namespace || present[name] || !r.shard.Owns(name) {
			continue
		}
		start := r.now()
		removed, err := ps.Remove(ctx, ns, name)
		switch {
		case err != nil:
			r.record(name, outcomeFailed, start, "remove policy of deleted MonitorAccessPolicy: "+err.Error())
		case removed:
			r.record(name, outcomeDeleted, start, "MonitorAccessPolicy gone, policy removed from Redis")
		}
	}
	return nil
}
