package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/policy"
)

// clusterJSON is one cluster in /clusters and /clusters/{name}: the original shape plus
// data_age_seconds and, for callers who see part of the cluster, filter_metadata.
type clusterJSON struct {
	Name           string               `json:"name"`
	Accessible     bool                 `json:"accessible"`
	Spec           any                  `json:"spec"`
	Info           any                  `json:"info"`
	Metrics        any                  `json:"metrics"`
	Status         engine.ClusterStatus `json:"status"`
	OperatorCount  int                  `json:"operator_count"`
	DataAgeSeconds *float64             `json:"data_age_seconds"`
	FilterMetadata *filterMetadata      `json:"filter_metadata,omitempty"`
}

// emptyObject marshals as {}.
type emptyObject struct{}

// detailWantFor says what a cluster answer needs beyond the head for decision d.
func detailWantFor(d policy.Decision) detailWant {
	return detailWant{
		Operators:      !d.Matcher(policy.KindOperators).Unrestricted(),
		NodesAndCounts: restricted(d),
	}
}

// buildCluster assembles a cluster answer scoped to decision d.
func (s *server) buildCluster(h clusterHead, d policy.Decision, det clusterDetail) clusterJSON {
	out := clusterJSON{Name: h.Name, Accessible: true, Spec: emptyObject{}, Info: emptyObject{}, Metrics: emptyObject{},
		Status:         engine.ClusterStatus{Health: engine.HealthUnknown, Message: "Status unavailable"},
		DataAgeSeconds: dataAge(h.Status, s.Now())}
	if h.Spec != nil {
		out.Spec = h.Spec
	}
	if h.Info != nil {
		info := *h.Info
		if info.APIURL == "" && h.Spec != nil {
			info.APIURL = h.Spec.Endpoint
		}
		out.Info = info
	}
	if h.Status != nil {
		out.Status = *h.Status
	}
	if h.Metrics != nil || restricted(d) {
		m, meta := scopedMetrics(d, h.Metrics, det)
		out.Metrics, out.FilterMetadata = m, meta
	}
	if det.OperatorsTotal != nil {
		out.OperatorCount = *det.OperatorsTotal
	} else {
		out.OperatorCount = len(visibleOperators(d, det.Operators))
	}
	return out
}

// handleClusters lists the clusters the caller may see, sorted by name, in two round trips
// (heads, then the details the caller's scope needs).
func (s *server) handleClusters() http.Handler {
	return s.callerAPI(0, func(r *http.Request, sc *scope) (any, error) {
		heads, decisions, err := s.visibleClusters(r.Context(), sc.c)
		if err != nil {
			return nil, err
		}
		heads = cut(r, sc, heads)
		decisions = decisions[min(sc.win.offset, len(decisions)):][:len(heads)]
		names := make([]string, len(heads))
		wants := make([]detailWant, len(heads))
		for i, h := range heads {
			names[i], wants[i] = h.Name, detailWantFor(decisions[i])
		}
		dets, err := s.readDetails(r.Context(), names, wants)
		if err != nil {
			return nil, err
		}
		out := make([]clusterJSON, len(heads))
		for i, h := range heads {
			out[i] = s.buildCluster(h, decisions[i], dets[i])
		}
		return out, nil
	})
}

// handleCluster returns one cluster: 403 when the caller may not see it, 404 when it may but
// the cluster does not exist.
func (s *server) handleCluster() http.Handler {
	return s.clusterAPI(notList, func(r *http.Request, sc *scope) (any, error) {
		dets, err := s.readDetails(r.Context(), []string{sc.h.Name}, []detailWant{detailWantFor(sc.d)})
		if err != nil {
			return nil, err
		}
		return s.buildCluster(sc.h, sc.d, dets[0]), nil
	})
}

// handleNodes lists a cluster's nodes the caller may see, sorted by name, optionally
// filtered by role and status, reading only the nodes the page needs (listNodes).
func (s *server) handleNodes() http.Handler {
	return s.clusterAPI(0, func(r *http.Request, sc *scope) (any, error) {
		q := nodeQuery{m: sc.d.Matcher(policy.KindNodes), role: r.URL.Query().Get("role"), status: r.URL.Query().Get("status")}
		nodes, total, err := s.listNodes(r.Context(), sc.h.Name, q, sc.win)
		if err != nil {
			return nil, err
		}
		if nodes == nil {
			nodes = []engine.Node{}
		}
		announce(r, sc, total)
		return nodes, nil
	})
}

// metricsHistoryLimit is how many samples node detail returns, newest first.
const metricsHistoryLimit = 100

// handleNode returns one node: 403 when the caller may not see it (a name the name filter
// rejects is 403 whether or not it exists), 404 when it does not exist. metrics_history needs
// include_metrics=true and the viewMetrics permission; without the permission it is absent.
func (s *server) handleNode() http.Handler {
	return s.clusterAPI(notList, func(r *http.Request, sc *scope) (any, error) {
		name := chi.URLParam(r, "node")
		m := sc.d.Matcher(policy.KindNodes)
		denied := fmt.Errorf("access to node %s is not permitted: %w", name, engine.ErrForbidden)
		if !m.Admits(name) {
			return nil, denied
		}
		n, err := s.Store.Node(r.Context(), sc.h.Name, name)
		if errors.Is(err, engine.ErrNotFound) {
			return nil, fmt.Errorf("node %s not found in cluster %s: %w", name, sc.h.Name, engine.ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
		if !m.Allows(nodeObject(n)) {
			return nil, denied
		}
		body, err := json.Marshal(n)
		if err != nil {
			return nil, fmt.Errorf("encode node %q: %w", name, err)
		}
		out := map[string]json.RawMessage{}
		if err := json.Unmarshal(body, &out); err != nil {
			return nil, fmt.Errorf("encode node %q: %w", name, err)
		}
		if r.URL.Query().Get("include_metrics") == "true" && sc.d.ViewMetrics {
			samples, err := s.Store.NodeHistory(r.Context(), sc.h.Name, name, metricsHistoryLimit)
			if err != nil {
				return nil, err
			}
			slices.Reverse(samples)
			if samples == nil {
				samples = []engine.NodeSample{}
			}
			raw, err := json.Marshal(samples)
			if err != nil {
				return nil, fmt.Errorf("encode metrics of node %q: %w", name, err)
			}
			out["metrics_history"] = raw
		}
		return out, nil
	})
}

// readOrEmpty turns a missing key into the zero value.
func readOrEmpty[T any](v T, err error) (T, error) {
	if errors.Is(err, engine.ErrNotFound) {
		var zero T
		return zero, nil
	}
	return v, err
}

// handleOperators lists a cluster's OLM operators the caller may see, sorted by name,
// optionally those available in a namespace or in a CSV phase.
func (s *server) handleOperators() http.Handler {
	return s.clusterAPI(0, func(r *http.Request, sc *scope) (any, error) {
		ops, err := readOrEmpty(s.Store.Operators(r.Context(), sc.h.Name))
		if err != nil {
			return nil, err
		}
		ns, status := r.URL.Query().Get("namespace"), r.URL.Query().Get("status")
		var picked []engine.Operator
		for _, o := range ops {
			if ns != "" && !slices.Contains(o.AvailableInNamespaces, ns) && !slices.Equal(o.AvailableInNamespaces, []string{"*"}) {
				continue
			}
			if status != "" && o.Status != status {
				continue
			}
			picked = append(picked, o)
		}
		out := visibleOperators(sc.d, picked)
		slices.SortStableFunc(out, func(a, b engine.Operator) int { return strings.Compare(a.Name, b.Name) })
		return cut(r, sc, out), nil
	})
}

// namespaceJSON is a namespace with counts (with_operator_count / with_resource_counts).
type namespaceJSON struct {
	Name           string          `json:"name"`
	OperatorCount  *int            `json:"operator_count,omitempty"`
	ResourceCounts *resourceCounts `json:"resource_counts,omitempty"`
	TotalResources *int            `json:"total_resources,omitempty"`
}

type resourceCounts struct {
	Pods         int `json:"pods"`
	Deployments  int `json:"deployments"`
	Services     int `json:"services"`
	StatefulSets int `json:"statefulsets"`
	DaemonSets   int `json:"daemonsets"`
}

// handleNamespaces lists a cluster's namespaces the caller may see: sorted names, or objects
// with operator and resource counts (sorted by total resources, descending, then name).
func (s *server) handleNamespaces() http.Handler {
	return s.clusterAPI(0, func(r *http.Request, sc *scope) (any, error) {
		ctx, h, d := r.Context(), sc.h, sc.d
		list, err := readOrEmpty(s.Store.Namespaces(ctx, h.Name))
		if err != nil {
			return nil, err
		}
		counts, err := readOrEmpty(s.Store.NamespaceCounts(ctx, h.Name))
		if err != nil {
			return nil, err
		}
		names := list.Namespaces
		if len(names) == 0 {
			for _, c := range counts {
				names = append(names, c.Name)
			}
		}
		m := d.Matcher(policy.KindNamespaces)
		visible := []string{}
		for _, ns := range names {
			if m.Allows(namespaceObject(ns)) {
				visible = append(visible, ns)
			}
		}
		slices.Sort(visible)
		visible = slices.Compact(visible)
		q := r.URL.Query()
		withOps, withCounts := q.Get("with_operator_count") == "true", q.Get("with_resource_counts") == "true"
		if !withOps && !withCounts {
			return cut(r, sc, visible), nil
		}
		var ops []engine.Operator
		if withOps {
			all, err := readOrEmpty(s.Store.Operators(ctx, h.Name))
			if err != nil {
				return nil, err
			}
			ops = visibleOperators(d, all)
		}
		byName := map[string]engine.NamespaceCounts{}
		for _, c := range counts {
			byName[c.Name] = c
		}
		pods := d.Matcher(policy.KindPods)
		out := make([]namespaceJSON, 0, len(visible))
		for _, ns := range visible {
			e := namespaceJSON{Name: ns}
			if withOps {
				n := 0
				for _, o := range ops {
					if slices.Contains(o.AvailableInNamespaces, ns) || slices.Equal(o.AvailableInNamespaces, []string{"*"}) {
						n++
					}
				}
				e.OperatorCount = &n
			}
			if withCounts {
				c := byName[ns]
				rc := resourceCounts{Deployments: c.Deployments, Services: c.Services, StatefulSets: c.StatefulSets, DaemonSets: c.DaemonSets}
				if pods.NamespaceAllowed(ns) {
					rc.Pods = c.Pods
				}
				total := rc.Pods + rc.Deployments + rc.Services + rc.StatefulSets + rc.DaemonSets
				e.ResourceCounts, e.TotalResources = &rc, &total
			}
			out = append(out, e)
		}
		if withCounts {
			slices.SortStableFunc(out, func(a, b namespaceJSON) int { return *b.TotalResources - *a.TotalResources })
		}
		return cut(r, sc, out), nil
	})
}

// eventObject describes a ClusterPulse event to the events matcher. These events are the
// collection outcomes of the cluster (no namespace, no labels); their name is their type, so
// `names` filters select event types (e.g. cluster.reconciled).
func eventObject(e engine.Event) policy.Object {
	return policy.Object{Name: e.Type}
}

// handleEvents lists a cluster's events, newest first (limit default 100).
func (s *server) handleEvents() http.Handler {
	return s.clusterAPI(defaultPageSize, func(r *http.Request, sc *scope) (any, error) {
		events, err := s.Store.Events(r.Context(), sc.h.Name, 0)
		if err != nil {
			return nil, err
		}
		return cut(r, sc, policy.Filter(sc.d.Matcher(policy.KindEvents), events, eventObject)), nil
	})
}

// handleClusterOperators lists a cluster's OpenShift ClusterOperators, sorted by name. They
// are cluster infrastructure, visible to whoever may see the cluster.
func (s *server) handleClusterOperators() http.Handler {
	return s.clusterAPI(0, func(r *http.Request, sc *scope) (any, error) {
		ops, err := readOrEmpty(s.Store.ClusterOperators(r.Context(), sc.h.Name))
		if err != nil {
			return nil, err
		}
		if ops == nil {
			ops = []engine.ClusterOperator{}
		}
		slices.SortStableFunc(ops, func(a, b engine.ClusterOperator) int { return strings.Compare(a.Name, b.Name) })
		return cut(r, sc, ops), nil
	})
}

// handleClusterMetrics returns a cluster's metrics, recomputed over the nodes, namespaces and
// pods the caller may see, with filter_metadata saying so.
func (s *server) handleClusterMetrics() http.Handler {
	type answer struct {
		engine.ClusterMetrics
		Cluster        string          `json:"cluster"`
		DataAgeSeconds *float64        `json:"data_age_seconds"`
		FilterMetadata *filterMetadata `json:"filter_metadata"`
	}
	return s.clusterAPI(notList, func(r *http.Request, sc *scope) (any, error) {
		h, d := sc.h, sc.d
		dets, err := s.readDetails(r.Context(), []string{h.Name}, []detailWant{{NodesAndCounts: restricted(d)}})
		if err != nil {
			return nil, err
		}
		m, meta := scopedMetrics(d, h.Metrics, dets[0])
		if meta == nil {
			meta = &filterMetadata{Filtered: false, TotalNamespaces: m.Namespaces, VisibleNamespaces: m.Namespaces,
				TotalNodes: m.Nodes, VisibleNodes: m.Nodes}
		}
		return answer{ClusterMetrics: m, Cluster: h.Name, DataAgeSeconds: dataAge(h.Status, s.Now()), FilterMetadata: meta}, nil
	})
}
