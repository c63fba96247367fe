package jobs

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/registry"
)

// RegistryConnection defaults (the CRD defaults, and the original's values for objects created
// before the CRD had them).
const (
	defaultRegistryInterval = 60 * time.Second
	minRegistryInterval     = 30 * time.Second
	defaultRegistryTimeout  = 10 * time.Second
)

// RegistryConnection status phases.
const (
	phaseConnected = "Connected"
	phaseError     = "Error"
)

func registryJob() job {
	return job{
		name:        "registry",
		summary:     "health-check every RegistryConnection (Docker Registry v2): status patched and stored in Redis",
		concurrency: 5,
		setup: func(*flag.FlagSet) func(context.Context, *runner) error {
			return runRegistry
		},
	}
}

// runRegistry is one pass of job registry: list the RegistryConnections, check the due ones of
// this shard, store and patch each result, and remove the Redis state of registries whose
// RegistryConnection is gone.
func runRegistry(ctx context.Context, r *runner) error {
	items, bad, err := r.hub.RegistryConnections(ctx)
	if err != nil {
		return cannotRun("hub API unusable: %w", err)
	}
	present := map[string]bool{}
	for _, b := range bad {
		present[b.Name] = true
		if r.shard.Owns(b.Name) {
			r.reportInvalidRegistry(ctx, b)
		}
	}
	byName := map[string]*kube.RegistryConnection{}
	units := make([]unit, 0, len(items))
	for i := range items {
		rc := &items[i]
		present[rc.Name] = true
		byName[rc.Name] = rc
		units = append(units, unit{name: rc.Name, interval: registryInterval(rc), deadline: registryTimeout(rc) + 10*time.Second})
	}
	r.runUnits(ctx, units, func(ctx context.Context, u unit) result {
		return r.checkRegistry(ctx, byName[u.name])
	})
	if err := ctx.Err(); err != nil {
		return cannotRun("interrupted: %w", err)
	}
	return r.removeGoneRegistries(ctx, present)
}

func registryInterval(rc *kube.RegistryConnection) time.Duration {
	d := time.Duration(rc.Spec.Monitoring.Interval) * time.Second
	if d <= 0 {
		return defaultRegistryInterval
	}
	return max(d, minRegistryInterval)
}

func registryTimeout(rc *kube.RegistryConnection) time.Duration {
	d := time.Duration(rc.Spec.Monitoring.Timeout) * time.Second
	if d <= 0 {
		return defaultRegistryTimeout
	}
	return d
}

// registrySpec is the stored form of a RegistryConnection spec, with the defaults applied.
func registrySpec(rc *kube.RegistryConnection) engine.RegistrySpec {
	s := rc.Spec
	spec := engine.RegistrySpec{
		DisplayName: s.DisplayName,
		Endpoint:    s.Endpoint,
		Type:        s.Type,
		Insecure:    s.Insecure,
		SkipTLS:     s.SkipTLSVerify,
		Labels:      s.Labels,
		Monitoring: engine.RegistryMonitoring{
			Interval:          int32(registryInterval(rc) / time.Second),
			Timeout:           int32(registryTimeout(rc) / time.Second),
			CheckCatalog:      s.Monitoring.CheckCatalog,
			MaxCatalogEntries: s.Monitoring.MaxCatalogEntries,
		},
		HealthCheckPaths: s.HealthCheckPaths,
	}
	if spec.Monitoring.MaxCatalogEntries <= 0 {
		spec.Monitoring.MaxCatalogEntries = registry.DefaultMaxCatalogEntries
	}
	if n, err := registry.NormalizeEndpoint(s.Endpoint); err == nil {
		spec.Endpoint = n.String()
	}
	if s.CredentialsRef != nil {
		spec.CredentialsRef = &engine.CredentialsRef{Name: s.CredentialsRef.Name, Namespace: s.CredentialsRef.Namespace}
	}
	return spec
}

// checkRegistry checks one registry, stores the result with an event and patches the
// RegistryConnection status. The unit fails when the registry is unavailable, its credentials
// cannot be read, or the result could not be stored or patched.
func (r *runner) checkRegistry(ctx context.Context, rc *kube.RegistryConnection) result {
	spec := registrySpec(rc)
	target := registry.Target{
		Endpoint:          rc.Spec.Endpoint,
		HealthCheckPaths:  rc.Spec.HealthCheckPaths,
		CheckCatalog:      rc.Spec.Monitoring.CheckCatalog,
		MaxCatalogEntries: int(spec.Monitoring.MaxCatalogEntries),
		SkipTLSVerify:     rc.Spec.SkipTLSVerify,
		Timeout:           registryTimeout(rc),
	}
	var st engine.RegistryStatus
	user, pass, err := r.registryCredentials(ctx, rc)
	if err != nil {
		st = engine.RegistryStatus{
			Health:       engine.HealthUnhealthy,
			Message:      "registry not checked: " + err.Error(),
			Error:        err.Error(),
			LastCheck:    engine.NewTime(r.now()),
			Features:     map[string]bool{},
			Repositories: []string{},
		}
	} else {
		target.Username, target.Password = user, pass
		st = registry.Check(ctx, target)
	}

	// Store and patch with a context of their own: a check that used up the unit's deadline
	// must still be recorded.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	ev := engine.Event{
		Type:      engine.EventRegistryReconciled,
		Cluster:   rc.Name,
		Timestamp: st.LastCheck,
		Data:      map[string]any{"available": st.Available, "health": st.Health, "response_time": st.ResponseTime},
	}
	var errs []error
	if err := r.store.WriteRegistry(wctx, rc.Name, spec, st, ev); err != nil {
		errs = append(errs, err)
	}
	if err := r.hub.PatchStatus(wctx, kube.RegistryConnectionsGVR, rc.Name, registryStatusPatch(st, rc.Spec.Monitoring.CheckCatalog)); err != nil {
		errs = append(errs, err)
	}
	detail := st.Health + ": " + st.Message
	if err := errors.Join(errs...); err != nil {
		r.log.Error("record registry check", "registry", rc.Name, "err", err)
		return result{detail: detail + "; not recorded: " + err.Error(), failed: true}
	}
	return result{detail: detail, failed: !st.Available}
}

// registryCredentials reads username and password from the Secret named by
// spec.credentialsRef (namespace defaults to the RegistryConnection's). No reference means
// anonymous access.
func (r *runner) registryCredentials(ctx context.Context, rc *kube.RegistryConnection) (user, pass string, err error) {
	ref := rc.Spec.CredentialsRef
	if ref == nil || ref.Name == "" {
		return "", "", nil
	}
	ns := ref.Namespace
	if ns == "" {
		ns = rc.Namespace
	}
	if ns == "" {
		ns = r.hub.Namespace
	}
	sec, err := r.hub.Core.CoreV1().Secrets(ns).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return "", "", fmt.Errorf("read credentials secret %s/%s: %w", ns, ref.Name, err)
	}
	user, pass = strings.TrimSpace(string(sec.Data["username"])), string(sec.Data["password"])
	if user == "" && pass == "" {
		return "", "", fmt.Errorf("credentials secret %s/%s has neither username nor password: %w", ns, ref.Name, engine.ErrInvalid)
	}
	return user, pass, nil
}

// registryStatusPatch is the merge patch of a RegistryConnection status for one check. Every
// field is sent; fields that no longer apply are sent as null so the patch clears them (a
// stale version or feature list on an unreachable registry would mislead).
func registryStatusPatch(st engine.RegistryStatus, catalog bool) map[string]any {
	phase := phaseConnected
	if !st.Available {
		phase = phaseError
	}
	m := map[string]any{
		"phase":           phase,
		"health":          st.Health,
		"available":       st.Available,
		"lastCheckTime":   st.LastCheck.UTC().Format(time.RFC3339),
		"responseTime":    st.ResponseTime,
		"message":         truncate(st.Message, 1024),
		"version":         nil,
		"features":        nil,
		"repositoryCount": nil,
	}
	if st.Version != "" {
		m["version"] = st.Version
	}
	if len(st.Features) > 0 {
		m["features"] = st.Features
	}
	if catalog && st.Features[registry.FeatureCatalogAccessible] {
		m["repositoryCount"] = st.RepositoryCount
	}
	return m
}

// reportInvalidRegistry marks a RegistryConnection that could not be decoded as failed, in
// its status and in the summary.
func (r *runner) reportInvalidRegistry(ctx context.Context, b *kube.DecodeError) {
	start := r.now()
	msg := "invalid RegistryConnection: " + b.Err.Error()
	patch := map[string]any{"phase": phaseError, "health": engine.HealthUnhealthy, "available": false,
		"message": truncate(msg, 1024), "lastCheckTime": r.now().UTC().Format(time.RFC3339)}
	detail := msg
	if err := r.hub.PatchStatus(ctx, kube.RegistryConnectionsGVR, b.Name, patch); err != nil {
		detail += "; status not patched: " + err.Error()
	}
	r.record(b.Name, outcomeFailed, start, detail)
}

// removeGoneRegistries deletes the Redis state of the registries of this shard that have no
// RegistryConnection any more.
func (r *runner) removeGoneRegistries(ctx context.Context, present map[string]bool) error {
	names, err := r.store.RegistryNames(ctx)
	if err != nil {
		return cannotRun("redis unusable: %w", err)
	}
	for _, n := range names {
		if present[n] || !r.shard.Owns(n) {
			continue
		}
		start := r.now()
		if err := r.store.DeleteRegistry(ctx, n); err != nil {
			r.record(n, outcomeFailed, start, "delete state of removed RegistryConnection: "+err.Error())
			continue
		}
		r.record(n, outcomeDeleted, start, "RegistryConnection gone, state removed from Redis")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n-3], "") + "..."
}
