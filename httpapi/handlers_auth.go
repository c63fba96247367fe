package httpapi

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/clusterpulse/clusterpulse/engine/policy"
)

// handleHealthz answers liveness probes.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz answers readiness probes: ready when Redis answers a PING within 2 s.
func (s *server) handleReadyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.Store.Ping(ctx); err != nil {
			s.Logger.Warn("readiness check failed", "err", err)
			w.Header().Set("Cache-Control", "no-store")
			body := map[string]string{"status": "not ready", "error": "redis unavailable"}
			writeJSON(w, r, http.StatusServiceUnavailable, body)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, r, http.StatusOK, map[string]string{"status": "ready"})
	})
}

// handleAuthStatus says whether the request is authenticated; it never fails.
func handleAuthStatus() http.Handler {
	type answer struct {
		Authenticated bool      `json:"authenticated"`
		Message       string    `json:"message"`
		User          *userJSON `json:"user,omitempty"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := principalFrom(r.Context())
		if !ok {
			writeJSON(w, r, http.StatusOK, answer{Message: "User is not authenticated"})
			return
		}
		u := userOf(p)
		writeJSON(w, r, http.StatusOK, answer{Authenticated: true, Message: "User is authenticated", User: &u})
	})
}

// handleAuthMe returns the caller's identity.
func handleAuthMe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := principalFrom(r.Context())
		writeJSON(w, r, http.StatusOK, userOf(p))
	})
}

// handleAuthPermissions lists the clusters the caller may see and its actions on each.
func (s *server) handleAuthPermissions() http.Handler {
	type clusterPerms struct {
		Permissions []string `json:"permissions"`
		AccessLevel string   `json:"access_level"`
	}
	type summary struct {
		TotalClusters      int `json:"total_clusters"`
		AccessibleClusters int `json:"accessible_clusters"`
	}
	type answer struct {
		User                   userJSON                `json:"user"`
		Summary                summary                 `json:"summary"`
		Clusters               map[string]clusterPerms `json:"clusters"`
		AccessibleClusterNames []string                `json:"accessible_cluster_names"`
		EvaluatedAt            string                  `json:"evaluated_at"`
	}
	return s.callerAPI(notList, func(r *http.Request, sc *scope) (any, error) {
		c := sc.c
		heads, _, err := s.visibleClusters(r.Context(), c)
		if err != nil {
			return nil, err
		}
		a := answer{User: userOf(c.p), Clusters: map[string]clusterPerms{}, AccessibleClusterNames: []string{},
			EvaluatedAt: c.now.UTC().Format(time.RFC3339)}
		for _, h := range heads {
			d := c.decide(h.Name, h.labels())
			level := "limited"
			if d.ViewMetrics {
				level = "full"
			}
			a.Clusters[h.Name] = clusterPerms{Permissions: d.Permissions(), AccessLevel: level}
			a.AccessibleClusterNames = append(a.AccessibleClusterNames, h.Name)
		}
		// As in the original, total_clusters counts the accessible clusters: the size of the
		// fleet is not the caller's business.
		a.Summary = summary{TotalClusters: len(heads), AccessibleClusters: len(heads)}
		return a, nil
	})
}

// handleAuthPolicies lists the policies that name the caller, in evaluation order, with
// their state now (so a policy in error shows why).
func (s *server) handleAuthPolicies() http.Handler {
	type entry struct {
		Source   string           `json:"source"`
		Policy   *policy.Compiled `json:"policy"`
		Priority int              `json:"priority"`
		State    string           `json:"state"`
		Message  string           `json:"message"`
	}
	type user struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	}
	type answer struct {
		User            user     `json:"user"`
		TotalPolicies   int      `json:"total_policies"`
		Policies        []entry  `json:"policies"`
		EvaluationOrder []string `json:"evaluation_order"`
		RetrievedAt     string   `json:"retrieved_at"`
	}
	return s.callerAPI(notList, func(_ *http.Request, sc *scope) (any, error) {
		c := sc.c
		u := userOf(c.p)
		a := answer{User: user{u.Username, u.Groups}, Policies: []entry{}, EvaluationOrder: []string{},
			RetrievedAt: c.now.UTC().Format(time.RFC3339)}
		for _, pol := range c.policies {
			state, msg := pol.State(c.now)
			a.Policies = append(a.Policies, entry{Source: policySource(pol, c.p), Policy: pol, Priority: pol.Priority, State: state, Message: msg})
			a.EvaluationOrder = append(a.EvaluationOrder, pol.Key())
		}
		a.TotalPolicies = len(a.Policies)
		return a, nil
	})
}

// policySource says through which subject a policy names p: "user", "serviceaccount" or
// "group:<g>".
func policySource(c *policy.Compiled, p policy.Principal) string {
	switch {
	case slices.Contains(c.Users, p.Username) || (p.Email != "" && slices.Contains(c.Users, p.Email)):
		return "user"
	case slices.Contains(c.ServiceAccounts, p.Username):
		return "serviceaccount"
	}
	for _, g := range p.Groups {
		if slices.Contains(c.Groups, g) {
			return "group:" + g
		}
	}
	return "user"
}

// handleLogout drops what this replica caches for the caller.
func (s *server) handleLogout() http.Handler {
	type answer struct {
		Message  string `json:"message"`
		Redirect string `json:"redirect,omitempty"`
	}
	return s.api(func(r *http.Request, _ *scope) (any, error) {
		p, _ := principalFrom(r.Context())
		s.PolicyCache.Forget(p)
		s.Auth.Forget(r)
		return answer{Message: "Logout successful", Redirect: s.LogoutRedirect}, nil
	})
}

// handleCacheClear drops this replica's cached policies and token review of the caller.
func (s *server) handleCacheClear() http.Handler {
	type answer struct {
		Message            string `json:"message"`
		RBACEntriesCleared int    `json:"rbac_entries_cleared"`
		User               string `json:"user"`
	}
	return s.api(func(r *http.Request, _ *scope) (any, error) {
		p, _ := principalFrom(r.Context())
		before := s.PolicyCache.Len()
		s.PolicyCache.Forget(p)
		cleared := max(before-s.PolicyCache.Len(), 0)
		s.Auth.Forget(r)
		return answer{Message: "Cache cleared successfully", RBACEntriesCleared: cleared, User: p.Username}, nil
	})
}

// visibleClusters returns the heads of the clusters the caller may see, sorted by name, and
// their decisions.
func (s *server) visibleClusters(ctx context.Context, c *caller) ([]clusterHead, []policy.Decision, error) {
	names, err := s.Store.ClusterNames(ctx)
	if err != nil {
		return nil, nil, err
	}
	heads, err := s.readHeads(ctx, names, true)
	if err != nil {
		return nil, nil, err
	}
	var out []clusterHead
	var decisions []policy.Decision
	for _, h := range heads {
		if d := c.decide(h.Name, h.labels()); d.Visible {
			out = append(out, h)
			decisions = append(decisions, d)
		}
	}
	return out, decisions, nil
}
