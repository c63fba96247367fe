package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/go-chi/chi/v5"

	"github.com/clusterpulse/clusterpulse/engine/policy"
	"github.com/clusterpulse/clusterpulse/engine/store"
	"github.com/clusterpulse/clusterpulse/openapi"
)

// requestTimeout bounds the context of every request, as the original's Timeout(30s).
const requestTimeout = 30 * time.Second

// Deps are what the server needs. Every field is required except Now and Metrics.
type Deps struct {
	// Logger receives the access log and errors.
	Logger *slog.Logger
	// Store reads cluster, registry and custom-resource state.
	Store *store.Store
	// Policies reads each principal's policies (through the per-replica cache).
	Policies *policy.Engine
	// PolicyCache is the cache behind Policies, dropped for a principal on logout.
	PolicyCache *policy.Cache
	// Sources reads MetricSource definitions.
	Sources Sources
	// Auth derives each request's principal.
	Auth *Authenticator
	// Spec is the OpenAPI document (openapi.Load).
	Spec *openapi3.T
	// CORSOrigins are the allowed CORS origins ("*" for any).
	CORSOrigins []string
	// LogoutRedirect, when set, is returned by /auth/logout as "redirect".
	LogoutRedirect string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// server holds the dependencies the handlers close over.
type server struct {
	Deps
	metrics *selfMetrics
	// nodeChunk is how many nodes a filtered node list reads per round trip.
	nodeChunk int
	// routeErrs collects routes registered without a spec operation (a bug caught by tests).
	routeErrs []error
}

// NewServer returns the API handler: every route of routes.go behind the global middleware.
func NewServer(d Deps) http.Handler {
	h, _ := newServer(d)
	return h
}

// newServer also returns the server, for tests that look at route registration errors.
func newServer(d Deps) (http.Handler, *server) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{Deps: d, metrics: newSelfMetrics(), nodeChunk: defaultNodeChunk}
	r := chi.NewRouter()
	r.Use(withRequestID, observe(d.Logger, s.metrics), recoverer(d.Logger), timeout(requestTimeout),
		cors(d.CORSOrigins), securityHeaders, compress)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "no such route")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusMethodNotAllowed, "method not allowed")
	})
	s.routes(&registrar{r: r, s: s})
	return r, s
}

// authMode says whether a route needs a principal.
type authMode int

const (
	public   authMode = iota // no authentication
	optional                 // a principal if there is one
	required                 // 401 without a principal
)

// registrar registers routes with their spec operation, request validation and
// authentication, so routes.go reads as the list of the API's surface.
type registrar struct {
	r chi.Router
	s *server
}

// handle registers h for method and pattern (a chi pattern, identical to the OpenAPI path).
func (g *registrar) handle(method, pattern string, auth authMode, h http.Handler) {
	route, err := g.s.specRoute(method, pattern)
	if err != nil {
		g.s.routeErrs = append(g.s.routeErrs, err)
		g.r.Method(method, pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, r, http.StatusInternalServerError, "route without specification")
		}))
		return
	}
	g.r.Method(method, pattern, g.s.authenticate(auth, g.s.validate(route, h)))
}

// specRoute finds the operation of method and path in the spec.
func (s *server) specRoute(method, path string) (*routers.Route, error) {
	if s.Spec == nil {
		return nil, errors.New("no OpenAPI document")
	}
	item := s.Spec.Paths.Find(path)
	if item == nil || item.GetOperation(method) == nil {
		return nil, fmt.Errorf("route %s %s is not in the OpenAPI document", method, path)
	}
	return &routers.Route{Spec: s.Spec, Path: path, PathItem: item, Method: method, Operation: item.GetOperation(method)}, nil
}

// validate checks the request's parameters against the spec; a bad parameter is a 400 that
// names it.
func (s *server) validate(route *routers.Route, next http.Handler) http.Handler {
	opts := &openapi3filter.Options{
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		ExcludeRequestBody: true,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		params := map[string]string{}
		if rc := chi.RouteContext(r.Context()); rc != nil {
			for i, k := range rc.URLParams.Keys {
				params[k] = rc.URLParams.Values[i]
			}
		}
		in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts}
		if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
			var re *openapi3filter.RequestError
			msg := err.Error()
			if errors.As(err, &re) {
				msg = re.Error()
			}
			writeError(w, r, http.StatusBadRequest, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticate puts the request's principal in its context; required routes answer 401
// without one.
func (s *server) authenticate(mode authMode, next http.Handler) http.Handler {
	if mode == public {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.Auth.Authenticate(r)
		switch {
		case err == nil:
			r = r.WithContext(context.WithValue(r.Context(), keyPrincipal, p))
		case errors.Is(err, errUnauthenticated):
			if mode == required {
				w.Header().Set("WWW-Authenticate", `Bearer realm="clusterpulse"`)
				writeError(w, r, http.StatusUnauthorized, "authentication required")
				return
			}
		default:
			writeErr(w, r, s.Logger, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// handleOpenAPI serves the spec as JSON.
func handleOpenAPI(spec *openapi3.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, http.StatusOK, spec)
	})
}

// loadSpec parses the embedded OpenAPI document.
func loadSpec() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	spec, err := loader.LoadFromData(openapi.YAML())
	if err != nil {
		return nil, fmt.Errorf("parse openapi document: %w", err)
	}
	if err := spec.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("validate openapi document: %w", err)
	}
	return spec, nil
}
