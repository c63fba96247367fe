package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clusterpulse/clusterpulse/engine"
)

func TestNormalizeEndpoint(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		invalid bool
	}{
		{in: "registry.example.com", want: "https://registry.example.com"},
		{in: "registry.example.com:5000/", want: "https://registry.example.com:5000"},
		{in: "http://127.0.0.1:5000//", want: "http://127.0.0.1:5000"},
		{in: " https://r.example.com/prefix/ ", want: "https://r.example.com/prefix"},
		{in: "", invalid: true},
		{in: "ftp://r.example.com", invalid: true},
		{in: "https://user:pw@r.example.com", invalid: true},
		{in: "https://r.example.com/?x=1", invalid: true},
		{in: "https://", invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := NormalizeEndpoint(tt.in)
			if tt.invalid {
				if !errors.Is(err, engine.ErrInvalid) {
					t.Fatalf("NormalizeEndpoint(%q) error = %v, want ErrInvalid", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizeEndpoint(%q): %v", tt.in, err)
			}
			if got := u.String(); got != tt.want {
				t.Errorf("NormalizeEndpoint(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseChallenges(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want map[string]map[string]string
	}{
		{
			name: "docker hub",
			in:   []string{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`},
			want: map[string]map[string]string{"bearer": {"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/alpine:pull"}},
		},
		{
			name: "basic",
			in:   []string{`Basic realm="Registry Realm"`},
			want: map[string]map[string]string{"basic": {"realm": "Registry Realm"}},
		},
		{
			name: "two challenges, escapes, unquoted value",
			in:   []string{`Basic realm="a \"b\", c", Bearer realm=https://x/token, scope="registry:catalog:*"`},
			want: map[string]map[string]string{
				"basic":  {"realm": `a "b", c`},
				"bearer": {"realm": "https://x/token", "scope": "registry:catalog:*"},
			},
		},
		{name: "empty", in: []string{""}, want: map[string]map[string]string{}},
		{name: "garbage", in: []string{`=,"`}, want: map[string]map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseChallenges(tt.in)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("parseChallenges(%q) (-want +got):\n%s", tt.in, d)
			}
		})
	}
}

func TestNextLink(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want string
	}{
		{name: "distribution", in: []string{`</v2/_catalog?last=b&n=2>; rel="next"`}, want: "/v2/_catalog?last=b&n=2"},
		{name: "unquoted rel among others", in: []string{`<https://x/a>; rel=prev, <https://x/b>; rel=next`}, want: "https://x/b"},
		{name: "no next", in: []string{`</v2/_catalog?last=b>; rel="prev"`}, want: ""},
		{name: "none", in: nil, want: ""},
		{name: "malformed", in: []string{`</v2/_catalog; rel="next"`}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextLink(tt.in); got != tt.want {
				t.Errorf("nextLink(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestGrade(t *testing.T) {
	tests := []struct {
		name        string
		st          engine.RegistryStatus
		problems    []string
		notes       []string
		wantHealth  string
		wantMessage string
	}{
		{
			name:        "fast and clean",
			st:          engine.RegistryStatus{Available: true, ResponseTime: 12},
			wantHealth:  engine.HealthHealthy,
			wantMessage: "registry available (12 ms)",
		},
		{
			name:        "exactly at threshold is healthy",
			st:          engine.RegistryStatus{Available: true, ResponseTime: 5000},
			wantHealth:  engine.HealthHealthy,
			wantMessage: "registry available (5000 ms)",
		},
		{
			name:        "slow",
			st:          engine.RegistryStatus{Available: true, ResponseTime: 5001},
			wantHealth:  engine.HealthDegraded,
			wantMessage: "registry degraded: slow: /v2/ answered in 5001 ms (threshold 5000 ms)",
		},
		{
			name:        "failed path with note",
			st:          engine.RegistryStatus{Available: true, ResponseTime: 3},
			problems:    []string{"health check path /x answered 404 Not Found"},
			notes:       []string{"catalog not accessible: denied"},
			wantHealth:  engine.HealthDegraded,
			wantMessage: "registry degraded: health check path /x answered 404 Not Found; catalog not accessible: denied",
		},
		{
			name:        "unavailable",
			st:          engine.RegistryStatus{Error: "connection refused", ResponseTime: 1},
			problems:    []string{"ignored"},
			wantHealth:  engine.HealthUnhealthy,
			wantMessage: "registry unavailable: connection refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.st
			grade(&st, tt.problems, tt.notes)
			if st.Health != tt.wantHealth || st.Message != tt.wantMessage {
				t.Errorf("grade: health %q message %q, want %q %q", st.Health, st.Message, tt.wantHealth, tt.wantMessage)
			}
			if st.Features == nil || st.Repositories == nil {
				t.Errorf("grade left nil Features or Repositories")
			}
		})
	}
}

// tokenRegistry emulates a registry with a Bearer token service (as Harbor and Docker Hub):
// every /v2/ request without the right token gets a challenge whose scope depends on the
// path; the realm hands out a token per scope to alice:secret only.
type tokenRegistry struct {
	srv         *httptest.Server
	tokenCalls  atomic.Int32
	repos       []string
	serverHdr   string
	anonymousOK bool
}

func newTokenRegistry(t *testing.T, repos []string) *tokenRegistry {
	t.Helper()
	tr := &tokenRegistry{repos: repos}
	mux := http.NewServeMux()
	mux.HandleFunc("/service/token", func(w http.ResponseWriter, r *http.Request) {
		tr.tokenCalls.Add(1)
		u, p, ok := r.BasicAuth()
		authed := ok && u == "alice" && p == "secret"
		if !authed && !(tr.anonymousOK && !ok) {
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("service") != "test-registry" {
			http.Error(w, "bad service", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, `{"token":"tok-%s"}`, r.URL.Query().Get("scope"))
	})
	check := func(w http.ResponseWriter, r *http.Request, scope string) bool {
		w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
		if tr.serverHdr != "" {
			w.Header().Set("Server", tr.serverHdr)
		}
		if r.Header.Get("Authorization") == "Bearer tok-"+scope {
			return true
		}
		ch := fmt.Sprintf(`Bearer realm="%s/service/token",service="test-registry"`, tr.srv.URL)
		if scope != "" {
			ch += `,scope="` + scope + `"`
		}
		w.Header().Set("WWW-Authenticate", ch)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
		return false
	}
	mux.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/" {
			http.NotFound(w, r)
			return
		}
		if check(w, r, "") {
			fmt.Fprint(w, "{}")
		}
	})
	mux.HandleFunc("/v2/_catalog", func(w http.ResponseWriter, r *http.Request) {
		if check(w, r, "registry:catalog:*") {
			fmt.Fprintf(w, `{"repositories":[%s]}`, quoteAll(tr.repos))
		}
	})
	tr.srv = httptest.NewServer(mux)
	t.Cleanup(tr.srv.Close)
	return tr
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ",")
}

func TestCheckBearerTokenFlow(t *testing.T) {
	allFeatures := func(over map[string]bool) map[string]bool {
		m := map[string]bool{
			FeatureDockerV2API: true, FeatureHarbor: true, FeatureArtifactory: false, FeatureNexus: false,
			FeatureContentDigest: false, FeaturePagination: false, FeatureCatalogAccessible: false, FeatureRequiresAuth: true,
		}
		for k, v := range over {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name        string
		user, pass  string
		anonymousOK bool
		want        engine.RegistryStatus
		wantInMsg   string
	}{
		{
			name: "right credentials",
			user: "alice", pass: "secret",
			want: engine.RegistryStatus{
				Available: true, Health: engine.HealthHealthy, RequiresAuth: true, Version: "registry/2.0",
				RepositoryCount: 2, Repositories: []string{"a/one", "b/two"},
				Features: allFeatures(map[string]bool{FeatureCatalogAccessible: true}),
			},
		},
		{
			name: "wrong password",
			user: "alice", pass: "nope",
			want: engine.RegistryStatus{
				Available: true, Health: engine.HealthDegraded, RequiresAuth: true, Version: "registry/2.0",
				Repositories: []string{}, Features: allFeatures(nil),
			},
			wantInMsg: "credentials rejected: token realm",
		},
		{
			name: "no credentials, realm refuses anonymous",
			want: engine.RegistryStatus{
				Available: true, Health: engine.HealthHealthy, RequiresAuth: true, Version: "registry/2.0",
				Repositories: []string{}, Features: allFeatures(nil),
			},
			wantInMsg: "requires authentication and no credentials are configured; catalog not accessible",
		},
		{
			name:        "no credentials, anonymous token",
			anonymousOK: true,
			want: engine.RegistryStatus{
				Available: true, Health: engine.HealthHealthy, RequiresAuth: true, Version: "registry/2.0",
				RepositoryCount: 2, Repositories: []string{"a/one", "b/two"},
				Features: allFeatures(map[string]bool{FeatureCatalogAccessible: true}),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newTokenRegistry(t, []string{"a/one", "b/two"})
			reg.anonymousOK = tt.anonymousOK
			got := Check(context.Background(), Target{
				Endpoint: reg.srv.URL, Username: tt.user, Password: tt.pass, CheckCatalog: true,
			})
			if !strings.Contains(got.Message, tt.wantInMsg) {
				t.Errorf("message %q does not contain %q", got.Message, tt.wantInMsg)
			}
			if d := cmp.Diff(tt.want, got, ignoreVolatile); d != "" {
				t.Errorf("Check (-want +got):\n%s", d)
			}
		})
	}
}

// ignoreVolatile leaves out the fields that depend on timing and wording.
var ignoreVolatile = cmp.FilterPath(func(p cmp.Path) bool {
	switch p.Last().String() {
	case ".LastCheck", ".ResponseTime", ".Message":
		return true
	}
	return false
}, cmp.Ignore())

func TestCheckTokenCachedPerScope(t *testing.T) {
	reg := newTokenRegistry(t, []string{"x"})
	c, err := NewClient(Target{Endpoint: reg.srv.URL, Username: "alice", Password: "secret", CheckCatalog: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 2 {
		if st := c.Check(context.Background()); st.Health != engine.HealthHealthy {
			t.Fatalf("Check: %+v", st)
		}
	}
	// One token for /v2/ (no scope) and one for the catalog scope, then cached.
	if got := reg.tokenCalls.Load(); got != 2 {
		t.Errorf("token realm called %d times, want 2", got)
	}
}

func TestCheckCatalogPagination(t *testing.T) {
	all := make([]string, 250)
	for i := range all {
		all[i] = fmt.Sprintf("repo-%03d", i)
	}
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
		switch r.URL.Path {
		case "/v2/":
			fmt.Fprint(w, "{}")
		case "/v2/_catalog":
			requests.Add(1)
			n, err := strconv.Atoi(r.URL.Query().Get("n"))
			if err != nil || n <= 0 {
				http.Error(w, "n required", http.StatusBadRequest)
				return
			}
			start := 0
			if last := r.URL.Query().Get("last"); last != "" {
				for i, v := range all {
					if v == last {
						start = i + 1
					}
				}
			}
			end := min(start+n, len(all))
			page := all[start:end]
			if end < len(all) {
				w.Header().Set("Link", fmt.Sprintf(`</v2/_catalog?last=%s&n=%d>; rel="next"`, page[len(page)-1], n))
			}
			fmt.Fprintf(w, `{"repositories":[%s]}`, quoteAll(page))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	tests := []struct {
		name         string
		max          int
		wantCount    int
		wantRequests int32
		wantNote     bool
	}{
		{name: "stops at max within first page", max: 30, wantCount: 30, wantRequests: 1, wantNote: true},
		{name: "follows links up to max", max: 220, wantCount: 220, wantRequests: 3, wantNote: true},
		{name: "reads everything", max: 1000, wantCount: 250, wantRequests: 3},
		{name: "default max", max: 0, wantCount: 100, wantRequests: 1, wantNote: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requests.Store(0)
			st := Check(context.Background(), Target{Endpoint: srv.URL, CheckCatalog: true, MaxCatalogEntries: tt.max})
			if st.RepositoryCount != tt.wantCount {
				t.Errorf("RepositoryCount = %d, want %d", st.RepositoryCount, tt.wantCount)
			}
			if d := cmp.Diff(all[:min(tt.wantCount, engine.MaxRegistryRepositories)], st.Repositories); d != "" {
				t.Errorf("Repositories (-want +got):\n%s", d)
			}
			if got := requests.Load(); got != tt.wantRequests {
				t.Errorf("catalog requests = %d, want %d", got, tt.wantRequests)
			}
			if !st.Features[FeaturePagination] || !st.Features[FeatureCatalogAccessible] {
				t.Errorf("features %v: want pagination and catalog_accessible", st.Features)
			}
			if got := strings.Contains(st.Message, "maxCatalogEntries"); got != tt.wantNote {
				t.Errorf("message %q: truncation note = %v, want %v", st.Message, got, tt.wantNote)
			}
			if st.Health != engine.HealthHealthy {
				t.Errorf("health %q, want healthy", st.Health)
			}
		})
	}
}

func TestCheckCatalogRefusesForeignLink(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/_catalog" {
			w.Header().Set("Link", `<https://elsewhere.example.com/v2/_catalog?last=a>; rel="next"`)
			fmt.Fprint(w, `{"repositories":["a"]}`)
			return
		}
		fmt.Fprint(w, "{}")
	}))
	defer srv.Close()
	st := Check(context.Background(), Target{Endpoint: srv.URL, CheckCatalog: true, Username: "u", Password: "p"})
	if st.Features[FeatureCatalogAccessible] || !strings.Contains(st.Message, "is not on") {
		t.Errorf("foreign next link followed: %+v", st)
	}
}

func TestCheckHealthPathsAndStatuses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/", "/ok":
			w.Header().Set("Server", "Nexus/3.61.0 (OSS)")
			fmt.Fprint(w, "{}")
		case "/auth":
			w.WriteHeader(http.StatusUnauthorized)
		case "/broken":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()

	tests := []struct {
		name       string
		endpoint   string
		paths      []string
		wantHealth string
		wantAvail  bool
		wantInMsg  string
	}{
		{name: "default path", endpoint: srv.URL, wantHealth: engine.HealthHealthy, wantAvail: true, wantInMsg: "registry available"},
		{name: "extra paths pass", endpoint: srv.URL, paths: []string{"/v2/", "ok", "/auth"}, wantHealth: engine.HealthHealthy, wantAvail: true},
		{name: "failing path degrades", endpoint: srv.URL, paths: []string{"/ok", "/broken", "/missing"}, wantHealth: engine.HealthDegraded, wantAvail: true,
			wantInMsg: "health check path /broken answered 500 Internal Server Error; health check path /missing answered 404 Not Found"},
		{name: "503 on /v2/", endpoint: down.URL, wantHealth: engine.HealthUnhealthy, wantInMsg: "answered 503 Service Unavailable"},
		{name: "invalid endpoint", endpoint: "ftp://x", wantHealth: engine.HealthUnhealthy, wantInMsg: "scheme must be http or https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := Check(context.Background(), Target{Endpoint: tt.endpoint, HealthCheckPaths: tt.paths})
			if st.Health != tt.wantHealth || st.Available != tt.wantAvail {
				t.Errorf("health %q available %v, want %q %v (message %q)", st.Health, st.Available, tt.wantHealth, tt.wantAvail, st.Message)
			}
			if !strings.Contains(st.Message, tt.wantInMsg) {
				t.Errorf("message %q does not contain %q", st.Message, tt.wantInMsg)
			}
			if tt.wantAvail != (st.Error == "") {
				t.Errorf("Error = %q with available %v", st.Error, st.Available)
			}
			if tt.wantAvail && !st.Features[FeatureNexus] {
				t.Errorf("features %v: want nexus_detected", st.Features)
			}
		})
	}
}

func TestCheckTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	st := Check(context.Background(), Target{Endpoint: srv.URL, Timeout: 200 * time.Millisecond})
	if st.Available || st.Health != engine.HealthUnhealthy || st.ResponseTime < 150 || st.ResponseTime > 5000 {
		t.Errorf("Check of a server that never answers: %+v", st)
	}
}
