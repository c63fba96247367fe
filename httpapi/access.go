package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/policy"
)

// caller is the authenticated principal of a request with its policies, read once per
// request (one Redis round trip, or none from the per-replica cache).
type caller struct {
	p        policy.Principal
	policies []*policy.Compiled
	eng      *policy.Engine
	now      time.Time
}

// caller returns the request's caller. Routes that call it are registered as required, so a
// missing principal is a bug and answered as 401 all the same.
func (s *server) caller(r *http.Request) (*caller, error) {
	p, ok := principalFrom(r.Context())
	if !ok {
		return nil, errUnauthenticated
	}
	pols, err := s.Policies.Policies(r.Context(), p)
	if err != nil {
		return nil, fmt.Errorf("read policies of %q: %w", p.Username, err)
	}
	return &caller{p: p, policies: pols, eng: s.Policies, now: s.Now()}, nil
}

// decide decides what the caller may do on cluster name with labels.
func (c *caller) decide(name string, labels map[string]string) policy.Decision {
	return c.eng.Decide(c.policies, policy.ClusterInfo{Name: name, Labels: labels}, c.now)
}

// userJSON is the {username, email, groups} of auth answers.
type userJSON struct {
	Username string   `json:"username"`
	Email    string   `json:"email"`
	Groups   []string `json:"groups"`
}

func userOf(p policy.Principal) userJSON {
	g := p.Groups
	if g == nil {
		g = []string{}
	}
	return userJSON{Username: p.Username, Email: p.Email, Groups: g}
}

// errHidden is the 403 of a cluster the caller may not see, whether or not it exists.
func errHidden(name string) error {
	return fmt.Errorf("access denied to cluster '%s': %w", name, engine.ErrForbidden)
}

// cluster reads the head of cluster name and authorizes it: 403 when the caller may not see
// it (whether or not it exists), 404 when it may but the cluster does not exist.
func (s *server) cluster(r *http.Request, c *caller, name string) (clusterHead, policy.Decision, error) {
	heads, err := s.readHeads(r.Context(), []string{name}, false)
	if err != nil {
		return clusterHead{}, policy.Decision{}, err
	}
	h := heads[0]
	d := c.decide(name, h.labels())
	if !d.Visible {
		return h, d, errHidden(name)
	}
	if !h.Exists {
		return h, d, fmt.Errorf("cluster '%s' not found: %w", name, engine.ErrNotFound)
	}
	return h, d, nil
}
