package httpapi

import (
	"fmt"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/policy"
)

// registryJSON is one registry of /registries/status.
type registryJSON struct {
	Name   string                `json:"name"`
	Spec   engine.RegistrySpec   `json:"spec"`
	Status engine.RegistryStatus `json:"status"`
}

// handleRegistries lists the registries the caller may see (policy.Registries: the
// `registries` entries of its policies, every registry when none has one), sorted by name,
// with spec and status read in one pipelined round trip. A registry's availability is its
// status (available, health, message); unavailable and degraded registries are also alerts of
// GET /api/v1/alerts.
func (s *server) handleRegistries() http.Handler {
	return s.callerAPI(0, func(r *http.Request, sc *scope) (any, error) {
		access := policy.Registries(sc.c.policies, sc.c.now)
		ctx := r.Context()
		names, err := s.Store.RegistryNames(ctx)
		if err != nil {
			return nil, err
		}
		if !access.Restricted() {
			// Everything is visible: read only the window.
			names = cut(r, sc, names)
		}
		k := s.Store.Keys()
		specs := make([]*redis.StringCmd, len(names))
		statuses := make([]*redis.StringCmd, len(names))
		_, err = s.Store.Client().Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, n := range names {
				specs[i] = p.Get(ctx, k.RegistrySpec(n))
				statuses[i] = p.Get(ctx, k.RegistryStatus(n))
			}
			return nil
		})
		if err := pipelineErr("read registries", err); err != nil {
			return nil, err
		}
		out := make([]registryJSON, 0, len(names))
		for i, n := range names {
			spec, err := decodeInto[engine.RegistrySpec](specs[i], fmt.Sprintf("spec of registry %q", n))
			if err != nil {
				return nil, err
			}
			e := registryJSON{Name: n, Status: engine.RegistryStatus{Health: engine.HealthUnknown, Message: "Status unavailable"}}
			if spec != nil {
				e.Spec = *spec
			}
			if !access.Allows(n, e.Spec.Labels) {
				continue
			}
			st, err := decodeInto[engine.RegistryStatus](statuses[i], fmt.Sprintf("status of registry %q", n))
			if err != nil {
				return nil, err
			}
			if st != nil {
				e.Status = *st
			}
			out = append(out, e)
		}
		if access.Restricted() {
			out = cut(r, sc, out)
		}
		return out, nil
	})
}
