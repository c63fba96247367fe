package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/redis/go-redis/v9"
	"sigs.k8s.io/yaml"

	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/metricsource"
	"github.com/clusterpulse/clusterpulse/engine/policy"
	"github.com/clusterpulse/clusterpulse/engine/store"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// testNow is the clock of the integration tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// specOnce loads the embedded spec once per test binary (read-only afterwards).
var specOnce = sync.OnceValues(loadSpec)

func mustSpec(t testing.TB) *openapi3.T {
	t.Helper()
	spec, err := specOnce()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// proxyAddr is the trusted proxy address of test servers; requests from it may set the
// identity headers.
const proxyAddr = "10.9.8.7"

// env is a test API over real Redis with a per-test prefix.
type env struct {
	t        *testing.T
	h        http.Handler
	srv      *server
	st       *store.Store
	policies *policy.Store
	sources  *RedisSources
	client   *redis.Client
}

// newEnv builds the API over the test Redis; reviewer may be nil.
func newEnv(t *testing.T, reviewer TokenReviewer) *env {
	t.Helper()
	return newEnvGroups(t, reviewer, nil)
}

// newEnvGroups is newEnv with a group resolver (nil for none).
func newEnvGroups(t *testing.T, reviewer TokenReviewer, groups GroupResolver) *env {
	t.Helper()
	r := testenv.NewRedis(t)
	client := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { client.Close() })
	client.AddHook(noScan{t})
	st := store.New(client, store.Options{Prefix: r.Prefix, Clock: func() time.Time { return testNow }})
	ps := policy.NewStore(client, st.Keys())
	cache := policy.NewCache(ps, policy.CacheOptions{TTL: time.Nanosecond, GenerationRefresh: -1})
	auth := NewAuthenticator(AuthOptions{
		HeaderUser: "X-Forwarded-User", HeaderEmail: "X-Forwarded-Email", HeaderGroups: "X-Forwarded-Groups",
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix(proxyAddr + "/32")},
		Secret:         "s3cret", SecretHeader: "X-Proxy-Secret",
		Reviewer: reviewer, CacheTTL: time.Minute, Groups: groups,
	})
	sources := NewRedisSources(client, st.Keys())
	h, srv := newServer(Deps{
		Store: st, Policies: policy.NewEngine(cache), PolicyCache: cache, Sources: sources, Auth: auth,
		Spec: mustSpec(t), CORSOrigins: []string{"https://ui.example"}, Now: func() time.Time { return testNow },
	})
	if len(srv.routeErrs) > 0 {
		t.Fatalf("route registration: %v", srv.routeErrs)
	}
	return &env{t: t, h: h, srv: srv, st: st, policies: ps, sources: sources, client: client}
}

// addPolicies compiles the YAML policies (separated by ---) and stores them.
func (e *env) addPolicies(docs string) {
	e.t.Helper()
	for _, doc := range strings.Split(docs, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var p kube.MonitorAccessPolicy
		if err := yaml.UnmarshalStrict([]byte(doc), &p); err != nil {
			e.t.Fatalf("parse policy: %v\n%s", err, doc)
		}
		if p.Namespace == "" {
			p.Namespace = "ops"
		}
		c, err := policy.Compile(&p, testNow)
		if err != nil {
			c = policy.Failed(&p, testNow, err)
		}
		if _, err := e.policies.Save(context.Background(), c); err != nil {
			e.t.Fatal(err)
		}
	}
}

// addSource compiles a MetricSource (YAML) and stores it through engine/store.
func (e *env) addSource(doc string) *metricsource.Compiled {
	e.t.Helper()
	var ms kube.MetricSource
	if err := yaml.UnmarshalStrict([]byte(doc), &ms); err != nil {
		e.t.Fatalf("parse metric source: %v", err)
	}
	c, err := metricsource.Compile(&ms)
	if err != nil {
		e.t.Fatal(err)
	}
	def, err := json.Marshal(c)
	if err != nil {
		e.t.Fatal(err)
	}
	// Stored with the writer job metricsource uses, so the API reads what the job writes.
	_, err = e.st.SaveMetricSource(context.Background(), store.MetricSourceDef{Namespace: c.Namespace, Name: c.Name,
		ResourceTypeName: c.RBAC.ResourceTypeName, Kind: c.Kind, APIVersion: c.APIVersion, Hash: c.Hash, CompiledAt: c.CompiledAt, Definition: def})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// noScan fails the test when the API sends a command that walks the keyspace: no request
// path may SCAN or KEYS.
type noScan struct{ t *testing.T }

func (h noScan) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h noScan) check(cmds ...redis.Cmder) {
	for _, c := range cmds {
		switch strings.ToLower(c.Name()) {
		case "scan", "keys":
			h.t.Errorf("the API sent %v", c.Args())
		}
	}
}

func (h noScan) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.check(cmd)
		return next(ctx, cmd)
	}
}

func (h noScan) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.check(cmds...)
		return next(ctx, cmds)
	}
}

// who is how a test request is authenticated.
type who struct {
	user, email string
	groups      []string
	token       string
}

// get performs a GET as w and validates the answer against the spec.
func (e *env) get(as who, target string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(as, http.MethodGet, target, nil)
}

// do performs a request through the trusted proxy (identity headers) or with a bearer token
// and validates the answer against the spec.
func (e *env) do(as who, method, target string, hdr http.Header) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(method, target, nil)
	req.RemoteAddr = "192.0.2.10:5555"
	for k, v := range hdr {
		req.Header[k] = v
	}
	if as.user != "" {
		req.RemoteAddr = proxyAddr + ":4444"
		req.Header.Set("X-Forwarded-User", as.user)
		if as.email != "" {
			req.Header.Set("X-Forwarded-Email", as.email)
		}
		req.Header.Set("X-Forwarded-Groups", strings.Join(as.groups, ","))
	}
	if as.token != "" {
		req.Header.Set("Authorization", "Bearer "+as.token)
	}
	return serveAndValidate(e.t, e.h, req)
}

// serveAndValidate serves req and checks the response against its operation in the spec
// (status declared, body matching the schema).
func serveAndValidate(t *testing.T, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	validateResponse(t, req, rec)
	return rec
}

// validateResponse validates one answer against the spec and fails the test if it does not
// match.
func validateResponse(t *testing.T, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	if err := checkResponse(mustSpec(t), req, rec); err != nil {
		t.Errorf("%s %s: answer %d does not match the spec: %v\nbody: %s", req.Method, req.URL, rec.Code, err, truncate(rec.Body.String()))
	}
}

// checkResponse validates one answer with openapi3filter.ValidateResponse: its status must be
// declared and its body must match the schema.
func checkResponse(spec *openapi3.T, req *http.Request, rec *httptest.ResponseRecorder) error {
	if req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "" {
		// CORS preflights are answered by the CORS middleware before routing, for every path;
		// they are transport, not operations of the API.
		return nil
	}
	route, params := findRoute(spec, req.Method, req.URL.Path)
	if route == nil {
		if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
			return fmt.Errorf("no operation in the spec for status %d", rec.Code)
		}
		return nil
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Options:                opts,
	}
	in.SetBodyBytes(rec.Body.Bytes())
	return openapi3filter.ValidateResponse(context.Background(), in)
}

func truncate(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}

// findRoute matches a path against the spec's templates (static segments first).
func findRoute(spec *openapi3.T, method, path string) (*routers.Route, map[string]string) {
	var best *routers.Route
	var bestParams map[string]string
	bestVars := -1
	for tmpl, item := range spec.Paths.Map() {
		params, ok := matchTemplate(tmpl, path)
		if !ok || item.GetOperation(method) == nil {
			continue
		}
		if bestVars == -1 || len(params) < bestVars {
			best = &routers.Route{Spec: spec, Path: tmpl, PathItem: item, Method: method, Operation: item.GetOperation(method)}
			bestParams, bestVars = params, len(params)
		}
	}
	return best, bestParams
}

func matchTemplate(tmpl, path string) (map[string]string, bool) {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return nil, false
	}
	params := map[string]string{}
	for i, seg := range ts {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			if ps[i] == "" {
				return nil, false
			}
			params[seg[1:len(seg)-1]] = ps[i]
			continue
		}
		if seg != ps[i] {
			return nil, false
		}
	}
	return params, true
}

// decode decodes a JSON answer into a T.
func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.NewDecoder(bytes.NewReader(rec.Body.Bytes())).Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", truncate(rec.Body.String()), err)
	}
	return v
}
