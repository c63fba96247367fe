package httpapi

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"

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
)

// minStaleAfter is the least age at which a cluster's data counts as stale; otherwise three
// collection intervals.
const minStaleAfter = 5 * time.Minute

// alertJSON is one derived alert. The original served hashes nothing wrote; these are derived
// on each request from the state the collectors keep.
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

// deriveAlerts computes the alerts of a cluster from its state, showing only nodes and
// operators the caller may see.
func deriveAlerts(h clusterHead, d policy.Decision, nodes []engine.Node, ops []engine.Operator, cops []engine.ClusterOperator, now time.Time) []alertJSON {
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
	for _, n := range nodes {
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
	for _, o := range visibleOperators(d, ops) {
		if o.Status == "Failed" {
			add(alertOperatorFailed, severityWarning, "operator", o.Name, fmt.Sprintf("Operator %s is in phase Failed", o.Name), o.UpdatedAt)
		}
	}
	for _, co := range cops {
		switch {
		case co.Degraded:
			add(alertClusterOperatorDegraded, severityCritical, "clusteroperator", co.Name, "ClusterOperator "+co.Name+" is degraded: "+co.Message, co.LastTransitionTime)
		case !co.Available:
			add(alertClusterOperatorUnavailable, severityCritical, "clusteroperator", co.Name, "ClusterOperator "+co.Name+" is unavailable: "+co.Message, co.LastTransitionTime)
		}
	}
	return out
}

// alertObject describes an alert to the alerts matcher: its name is the name of the object it
// concerns, its labels its type and severity.
func alertObject(a alertJSON) policy.Object {
	return policy.Object{Name: a.Name, Labels: map[string]string{"type": a.Type, "severity": a.Severity}}
}

// handleAlerts lists the alerts derived from a cluster's state (critical first, then by type
// and name), optionally of one severity.
func (s *server) handleAlerts() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		win, err := parseWindow(r, 0)
		if err != nil {
			writeErr(w, r, s.Logger, err)
			return
		}
		c, err := s.caller(r)
		if err != nil {
			writeErr(w, r, s.Logger, err)
			return
		}
		h, d, err := s.cluster(r, c, chi.URLParam(r, "name"))
		if err != nil {
			writeErr(w, r, s.Logger, err)
			return
		}
		ctx := r.Context()
		nodes, err := s.Store.Nodes(ctx, h.Name)
		if err != nil {
			writeErr(w, r, s.Logger, err)
			return
		}
		ops, err := readOrEmpty(s.Store.Operators(ctx, h.Name))
		if err != nil {
			writeErr(w, r, s.Logger, err)
			return
		}
		cops, err := readOrEmpty(s.Store.ClusterOperators(ctx, h.Name))
		if err != nil {
			writeErr(w, r, s.Logger, err)
			return
		}
		alerts := policy.Filter(d.Matcher(policy.KindAlerts), deriveAlerts(h, d, nodes, ops, cops, c.now), alertObject)
		if sev := r.URL.Query().Get("severity"); sev != "" {
			alerts = slices.DeleteFunc(alerts, func(a alertJSON) bool { return a.Severity != sev })
		}
		rank := map[string]int{severityCritical: 0, severityWarning: 1}
		slices.SortStableFunc(alerts, func(a, b alertJSON) int {
			return cmp.Or(cmp.Compare(rank[a.Severity], rank[b.Severity]), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Name, b.Name))
		})
		writeJSON(w, r, http.StatusOK, cut(w, r, alerts, win))
	})
}
