package httpapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/policy"
)

// Alert severities.
const (
	severityCritical = "critical"
	severityWarning  = "warning"
)

// Alert types, each derived from collected state.
const (
	alertClusterUnreachable         = "ClusterUnreachable"
	alertClusterStale               = "ClusterDataStale"
	alertNodeNotReady               = "NodeNotReady"
	alertClusterOperatorDegraded    = "ClusterOperatorDegraded"
	alertClusterOperatorUnavailable = "ClusterOperatorUnavailable"
	alertOperatorFailed             = "OperatorFailed"
	alertRegistryUnavailable        = "RegistryUnavailable"
	alertRegistryDegraded           = "RegistryDegraded"
)

// minStaleAfter is the least age at which a cluster's data counts as stale; otherwise three
// collection intervals.
const minStaleAfter = 5 * time.Minute

// alertJSON is one derived alert. The original served hashes nothing wrote; these are derived
// on each request from the state the collectors keep. Cluster is empty for registry alerts,
// which belong to the fleet.
type alertJSON struct {
	Name         string      `json:"name"`
	Type         string      `json:"type"`
	Severity     string      `json:"severity"`
	Cluster      string      `json:"cluster"`
	ResourceKind string      `json:"resource_kind"`
	ResourceName string      `json:"resource_name"`
	Message      string      `json:"message"`
	Since        engine.Time `json:"since,omitzero"`
}

// alertInput is the state of a cluster, beyond its head, that its alerts are derived from.
type alertInput struct {
	Nodes            []engine.Node
	Operators        []engine.Operator
	ClusterOperators []engine.ClusterOperator
}

// deriveAlerts computes the alerts of a cluster from its state, showing only nodes and
// operators the caller may see.
func deriveAlerts(h clusterHead, d policy.Decision, in alertInput, now time.Time) []alertJSON {
	out := []alertJSON{}
	add := func(typ, sev, kind, name, msg string, since engine.Time) {
		out = append(out, alertJSON{Name: name, Type: typ, Severity: sev, Cluster: h.Name, ResourceKind: kind, ResourceName: name, Message: msg, Since: since})
	}
	if st := h.Status; st != nil {
		if st.Health == engine.HealthUnhealthy {
			add(alertClusterUnreachable, severityCritical, "cluster", h.Name, "Cluster is unreachable: "+st.Message, st.LastSuccess)
		}
		staleAfter := minStaleAfter
		if h.Spec != nil && h.Spec.Monitoring.Interval > 0 {
			staleAfter = max(staleAfter, 3*time.Duration(h.Spec.Monitoring.Interval)*time.Second)
		}
		if !st.LastSuccess.IsZero() && now.Sub(st.LastSuccess.Time) > staleAfter {
			add(alertClusterStale, severityWarning, "cluster", h.Name,
				fmt.Sprintf("No successful collection for %s", now.Sub(st.LastSuccess.Time).Round(time.Second)), st.LastSuccess)
		}
	}
	nodesM := d.Matcher(policy.KindNodes)
	for _, n := range in.Nodes {
		if (n.Status == engine.NodeNotReady || n.Status == engine.NodeUnknown) && nodesM.Allows(nodeObject(n)) {
			var since engine.Time
			for _, c := range n.Conditions {
				if c.Type == "Ready" {
					since = c.LastTransitionTime
				}
			}
			add(alertNodeNotReady, severityWarning, "node", n.Name, fmt.Sprintf("Node %s is %s", n.Name, n.Status), since)
		}
	}
	for _, o := range visibleOperators(d, in.Operators) {
		if o.Status == "Failed" {
			add(alertOperatorFailed, severityWarning, "operator", o.Name, fmt.Sprintf("Operator %s is in phase Failed", o.Name), o.UpdatedAt)
		}
	}
	for _, co := range in.ClusterOperators {
		switch {
		case co.Degraded:
			add(alertClusterOperatorDegraded, severityCritical, "clusteroperator", co.Name, "ClusterOperator "+co.Name+" is degraded: "+co.Message, co.LastTransitionTime)
		case !co.Available:
			add(alertClusterOperatorUnavailable, severityCritical, "clusteroperator", co.Name, "ClusterOperator "+co.Name+" is unavailable: "+co.Message, co.LastTransitionTime)
		}
	}
	return out
}

// clusterAlerts derives the alerts of a cluster and keeps those the decision's alerts matcher
// lets through. Both alert endpoints use it.
func clusterAlerts(h clusterHead, d policy.Decision, in alertInput, now time.Time) []alertJSON {
	return policy.Filter(d.Matcher(policy.KindAlerts), deriveAlerts(h, d, in, now), alertObject)
}

// alertObject describes an alert to the alerts matcher: its name is the name of the object it
// concerns, its labels its type and severity.
func alertObject(a alertJSON) policy.Object {
	return policy.Object{Name: a.Name, Labels: map[string]string{"type": a.Type, "severity": a.Severity}}
}

// registryAlert derives the alert of a registry from its status, if it has one: unavailable
// (critical) or degraded, that is slow (warning). A registry never checked has no alert.
func registryAlert(name string, st *engine.RegistryStatus) (alertJSON, bool) {
	if st == nil {
		return alertJSON{}, false
	}
	a := alertJSON{Name: name, ResourceKind: "registry", ResourceName: name, Since: st.LastCheck}
	reason := cmp.Or(st.Message, st.Error)
	switch {
	case !st.Available:
		a.Type, a.Severity, a.Message = alertRegistryUnavailable, severityCritical, "Registry "+name+" is unavailable"
	case st.Health == engine.HealthDegraded:
		a.Type, a.Severity, a.Message = alertRegistryDegraded, severityWarning, "Registry "+name+" is degraded"
	default:
		return alertJSON{}, false
	}
	if reason != "" {
		a.Message += ": " + reason
	}
	return a, true
}

// readAlertInputs reads what deriveAlerts needs for the named clusters in at most three
// pipelined round trips, whatever their number: the node and operator summaries and the
// ClusterOperators of every cluster; then the node names of the clusters whose node summary
// counts a node not ready (or that have none) and the operators of the clusters whose summary
// counts a failed one (or that have none); then those nodes. A fleet where every node is ready
// and no operator failed costs one round trip.
func (s *server) readAlertInputs(ctx context.Context, names []string) ([]alertInput, error) {
	k := s.Store.Keys()
	type cmds struct {
		nodesSummary, opsSummary, cops, ops *redis.StringCmd
		nodeNames                           *redis.StringSliceCmd
		nodes                               []*redis.StringCmd
	}
	all := make([]cmds, len(names))
	_, err := s.Store.Client().Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range names {
			all[i].nodesSummary = p.HGet(ctx, k.NodesSummary(n), "data")
			all[i].opsSummary = p.Get(ctx, k.OperatorsSummary(n))
			all[i].cops = p.Get(ctx, k.ClusterOperators(n))
		}
		return nil
	})
	if err := pipelineErr("read alert state", err); err != nil {
		return nil, err
	}
	out := make([]alertInput, len(names))
	var wantNodes, wantOps []int
	for i, n := range names {
		cops, err := decodeInto[[]engine.ClusterOperator](all[i].cops, fmt.Sprintf("cluster operators of cluster %q", n))
		if err != nil {
			return nil, err
		}
		if cops != nil {
			out[i].ClusterOperators = *cops
		}
		ns, err := decodeInto[engine.NodesSummary](all[i].nodesSummary, fmt.Sprintf("nodes summary of cluster %q", n))
		if err != nil {
			return nil, err
		}
		if ns == nil || ns.NotReady > 0 {
			wantNodes = append(wantNodes, i)
		}
		opsSum, err := decodeInto[engine.OperatorsSummary](all[i].opsSummary, fmt.Sprintf("operators summary of cluster %q", n))
		if err != nil {
			return nil, err
		}
		if opsSum == nil || opsSum.ByStatus["Failed"] > 0 {
			wantOps = append(wantOps, i)
		}
	}
	if len(wantNodes)+len(wantOps) == 0 {
		return out, nil
	}
	_, err = s.Store.Client().Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, i := range wantNodes {
			all[i].nodeNames = p.SMembers(ctx, k.Nodes(names[i]))
		}
		for _, i := range wantOps {
			all[i].ops = p.Get(ctx, k.Operators(names[i]))
		}
		return nil
	})
	if err := pipelineErr("read alert state", err); err != nil {
		return nil, err
	}
	var nodeCmds int
	for _, i := range wantNodes {
		if err := all[i].nodeNames.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("read nodes of cluster %q: %w: %w", names[i], engine.ErrUnavailable, err)
		}
		nodeCmds += len(all[i].nodeNames.Val())
	}
	for _, i := range wantOps {
		ops, err := decodeInto[[]engine.Operator](all[i].ops, fmt.Sprintf("operators of cluster %q", names[i]))
		if err != nil {
			return nil, err
		}
		if ops != nil {
			out[i].Operators = *ops
		}
	}
	if nodeCmds == 0 {
		return out, nil
	}
	_, err = s.Store.Client().Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, i := range wantNodes {
			nodeNames := all[i].nodeNames.Val()
			slices.Sort(nodeNames)
			for _, node := range nodeNames {
				all[i].nodes = append(all[i].nodes, p.HGet(ctx, k.Node(names[i], node), "current"))
			}
		}
		return nil
	})
	if err := pipelineErr("read nodes", err); err != nil {
		return nil, err
	}
	for _, i := range wantNodes {
		for _, cmd := range all[i].nodes {
			node, err := decodeInto[engine.Node](cmd, fmt.Sprintf("node of cluster %q", names[i]))
			if err != nil {
				return nil, err
			}
			if node != nil {
				out[i].Nodes = append(out[i].Nodes, *node)
			}
		}
	}
	return out, nil
}

// registryAlerts derives the alerts of the registries the caller may see (policy.Registries,
// as /registries/status), reading every registry's spec and status in one round trip.
func (s *server) registryAlerts(ctx context.Context, c *caller) ([]alertJSON, error) {
	names, err := s.Store.RegistryNames(ctx)
	if err != nil {
		return nil, err
	}
	access := policy.Registries(c.policies, c.now)
	k := s.Store.Keys()
	specs := make([]*redis.StringCmd, len(names))
	statuses := make([]*redis.StringCmd, len(names))
	_, err = s.Store.Client().Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range names {
			if access.Restricted() {
				specs[i] = p.Get(ctx, k.RegistrySpec(n))
			}
			statuses[i] = p.Get(ctx, k.RegistryStatus(n))
		}
		return nil
	})
	if err := pipelineErr("read registries", err); err != nil {
		return nil, err
	}
	out := []alertJSON{}
	for i, n := range names {
		if access.Restricted() {
			spec, err := decodeInto[engine.RegistrySpec](specs[i], fmt.Sprintf("spec of registry %q", n))
			if err != nil {
				return nil, err
			}
			var labels map[string]string
			if spec != nil {
				labels = spec.Labels
			}
			if !access.Allows(n, labels) {
				continue
			}
		}
		st, err := decodeInto[engine.RegistryStatus](statuses[i], fmt.Sprintf("status of registry %q", n))
		if err != nil {
			return nil, err
		}
		if a, ok := registryAlert(n, st); ok {
			out = append(out, a)
		}
	}
	return out, nil
}

// severityRank orders severities, most severe first.
func severityRank(sev string) int {
	if sev == severityCritical {
		return 0
	}
	return 1
}

// keepSeverity keeps the alerts of the request's severity parameter, if it has one.
func keepSeverity(r *http.Request, alerts []alertJSON) []alertJSON {
	if sev := r.URL.Query().Get("severity"); sev != "" {
		return slices.DeleteFunc(alerts, func(a alertJSON) bool { return a.Severity != sev })
	}
	return alerts
}

// handleAlerts lists the alerts derived from a cluster's state (critical first, then by type
// and name), optionally of one severity.
func (s *server) handleAlerts() http.Handler {
	return s.clusterAPI(0, func(r *http.Request, sc *scope) (any, error) {
		in, err := s.readAlertInputs(r.Context(), []string{sc.h.Name})
		if err != nil {
			return nil, err
		}
		alerts := keepSeverity(r, clusterAlerts(sc.h, sc.d, in[0], sc.c.now))
		slices.SortStableFunc(alerts, func(a, b alertJSON) int {
			return cmp.Or(cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Name, b.Name))
		})
		return cut(r, sc, alerts), nil
	})
}

// handleFleetAlerts lists the alerts of every cluster the caller may see (each derived and
// filtered as by handleAlerts) and of every registry it may see, optionally of one severity,
// sorted by severity (critical first), cluster (registry alerts, which have none, first),
// name, then type.
func (s *server) handleFleetAlerts() http.Handler {
	return s.callerAPI(0, func(r *http.Request, sc *scope) (any, error) {
		ctx, c := r.Context(), sc.c
		heads, decisions, err := s.visibleClusters(ctx, c)
		if err != nil {
			return nil, err
		}
		names := make([]string, len(heads))
		for i, h := range heads {
			names[i] = h.Name
		}
		inputs, err := s.readAlertInputs(ctx, names)
		if err != nil {
			return nil, err
		}
		alerts, err := s.registryAlerts(ctx, c)
		if err != nil {
			return nil, err
		}
		for i, h := range heads {
			alerts = append(alerts, clusterAlerts(h, decisions[i], inputs[i], c.now)...)
		}
		alerts = keepSeverity(r, alerts)
		slices.SortStableFunc(alerts, func(a, b alertJSON) int {
			return cmp.Or(cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)), cmp.Compare(a.Cluster, b.Cluster),
				cmp.Compare(a.Name, b.Name), cmp.Compare(a.Type, b.Type))
		})
		return cut(r, sc, alerts), nil
	})
}
