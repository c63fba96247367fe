package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clusterpulse/clusterpulse/engine"
)

// Defaults and thresholds of a check; docs/jobs.md documents them for operators.
const (
	// DefaultTimeout bounds a whole check (every request of it) when Target.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxCatalogEntries is the number of catalog entries read when
	// Target.MaxCatalogEntries is zero.
	DefaultMaxCatalogEntries = 100
	// CatalogPageSize is the largest n asked of /v2/_catalog per page.
	CatalogPageSize = 100
	// SlowThreshold is the /v2/ response time above which an available registry is degraded.
	SlowThreshold = 5000 * time.Millisecond
	// DefaultHealthCheckPath is the path probed when Target.HealthCheckPaths is empty.
	DefaultHealthCheckPath = "/v2/"
)

// Feature names set in engine.RegistryStatus.Features when the registry is available.
const (
	// FeatureDockerV2API: the registry sent Docker-Distribution-Api-Version.
	FeatureDockerV2API = "docker_v2_api"
	// FeatureHarbor: the answers look like Harbor's (Server header or token realm).
	FeatureHarbor = "harbor_detected"
	// FeatureArtifactory: the answers look like JFrog Artifactory's.
	FeatureArtifactory = "artifactory_detected"
	// FeatureNexus: the answers look like Sonatype Nexus's.
	FeatureNexus = "nexus_detected"
	// FeatureContentDigest: an answer carried Docker-Content-Digest.
	FeatureContentDigest = "content_digest"
	// FeaturePagination: the catalog answered with a Link header (more pages).
	FeaturePagination = "pagination"
	// FeatureCatalogAccessible: GET /v2/_catalog answered 200.
	FeatureCatalogAccessible = "catalog_accessible"
	// FeatureRequiresAuth: GET /v2/ without credentials answered 401.
	FeatureRequiresAuth = "requires_auth"
)

// maxBody bounds what is read of one answer (a catalog page of 100 names is a few KiB).
const maxBody = 4 << 20

// Target is one registry to check, taken from a RegistryConnection and its credentials Secret.
type Target struct {
	// Endpoint is the registry base URL; https:// is assumed when it has no scheme and a
	// trailing / is ignored.
	Endpoint string
	// Username and Password, when either is set, answer Basic challenges and authenticate to
	// the token realm of Bearer challenges.
	Username, Password string
	// HealthCheckPaths are probed after /v2/; each must answer 2xx or 401. Empty means
	// DefaultHealthCheckPath only.
	HealthCheckPaths []string
	// CheckCatalog lists /v2/_catalog, up to MaxCatalogEntries names (zero means
	// DefaultMaxCatalogEntries).
	CheckCatalog      bool
	MaxCatalogEntries int
	// SkipTLSVerify turns off verification of the registry's certificate.
	SkipTLSVerify bool
	// RootCAs, when set, replaces the system roots for verification.
	RootCAs *x509.CertPool
	// Timeout bounds the whole check; zero means DefaultTimeout.
	Timeout time.Duration
}

// Client checks one registry. It keeps the authentication learnt from challenges (Basic or
// Bearer tokens per scope) between its requests. It is safe for concurrent use, but one Client
// per registry is the intended use.
type Client struct {
	target  Target
	base    *url.URL
	hc      *http.Client
	timeout time.Duration
	now     func() time.Time

	mu       sync.Mutex
	useBasic bool
	tokens   map[string]string // challenge (realm, service, scope) → token
}

// NewClient validates t and returns a Client for it with its own HTTP client (timeout
// t.Timeout, TLS verified unless t.SkipTLSVerify). An unusable endpoint wraps
// engine.ErrInvalid.
func NewClient(t Target) (*Client, error) {
	base, err := NormalizeEndpoint(t.Endpoint)
	if err != nil {
		return nil, err
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{
		MinVersion:         tls.VersionTLS12,
		RootCAs:            t.RootCAs,
		InsecureSkipVerify: t.SkipTLSVerify, // #nosec G402 -- explicit opt-in in the RegistryConnection spec
	}
	return &Client{
		target:  t,
		base:    base,
		hc:      &http.Client{Transport: tr, Timeout: timeout},
		timeout: timeout,
		now:     time.Now,
		tokens:  map[string]string{},
	}, nil
}

// Close releases the idle connections of the client.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// NormalizeEndpoint turns a RegistryConnection endpoint into a base URL as the original did:
// https:// when no scheme is given, no trailing /. Only http and https with a host, without
// user information, query or fragment, are accepted; other values wrap engine.ErrInvalid.
func NormalizeEndpoint(endpoint string) (*url.URL, error) {
	e := strings.TrimSpace(endpoint)
	if e == "" {
		return nil, fmt.Errorf("registry endpoint is empty: %w", engine.ErrInvalid)
	}
	if !strings.Contains(e, "://") {
		e = "https://" + e
	}
	u, err := url.Parse(e)
	if err != nil {
		return nil, fmt.Errorf("registry endpoint %q is not a URL: %w", endpoint, engine.ErrInvalid)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("registry endpoint %q: scheme must be http or https: %w", endpoint, engine.ErrInvalid)
	case u.Hostname() == "":
		return nil, fmt.Errorf("registry endpoint %q has no host: %w", endpoint, engine.ErrInvalid)
	case u.User != nil:
		return nil, fmt.Errorf("registry endpoint %q must not carry user information: %w", endpoint, engine.ErrInvalid)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("registry endpoint %q must not have a query or fragment: %w", endpoint, engine.ErrInvalid)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// Check runs one health check of t with a fresh Client and returns its outcome. It never
// fails: an unusable endpoint or an unreachable registry is an unavailable, unhealthy status
// whose Error says why.
func Check(ctx context.Context, t Target) engine.RegistryStatus {
	c, err := NewClient(t)
	if err != nil {
		st := engine.RegistryStatus{LastCheck: engine.NewTime(time.Now()), Error: err.Error()}
		grade(&st, nil, nil)
		return st
	}
	defer c.Close()
	return c.Check(ctx)
}

// Check probes the registry: GET /v2/ (availability, response time, version, features), then
// each health check path, then the catalog when asked. See grade for the health rules.
func (c *Client) Check(ctx context.Context) engine.RegistryStatus {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	st := engine.RegistryStatus{LastCheck: engine.NewTime(c.now())}

	start := time.Now()
	ping, err := c.get(ctx, c.url(DefaultHealthCheckPath))
	st.ResponseTime = time.Since(start).Milliseconds()
	if err != nil {
		st.Error = err.Error()
		grade(&st, nil, nil)
		return st
	}
	if !ok2xx(ping.status) && ping.status != http.StatusUnauthorized {
		st.Error = fmt.Sprintf("GET %s answered %s", c.url(DefaultHealthCheckPath), statusText(ping.status))
		grade(&st, nil, nil)
		return st
	}

	st.Available = true
	st.RequiresAuth = ping.challenged
	st.Version = ping.header.Get("Docker-Distribution-Api-Version")
	st.Features = map[string]bool{
		FeatureDockerV2API:       st.Version != "",
		FeatureHarbor:            ping.looksLike("harbor"),
		FeatureArtifactory:       ping.looksLike("artifactory"),
		FeatureNexus:             ping.looksLike("nexus"),
		FeatureContentDigest:     ping.header.Get("Docker-Content-Digest") != "",
		FeaturePagination:        false,
		FeatureCatalogAccessible: false,
		FeatureRequiresAuth:      ping.challenged,
	}

	var problems, notes []string
	authRejected := ping.status == http.StatusUnauthorized && c.hasCredentials()
	switch {
	case authRejected:
		problems = append(problems, "credentials rejected: "+ping.authDetail())
	case ping.status == http.StatusUnauthorized:
		notes = append(notes, "requires authentication and no credentials are configured")
	}

	for _, p := range c.healthPaths() {
		r, err := c.get(ctx, c.url(p))
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("health check path %s: %v", p, err))
		case !ok2xx(r.status) && r.status != http.StatusUnauthorized:
			problems = append(problems, fmt.Sprintf("health check path %s answered %s", p, statusText(r.status)))
		case r.header.Get("Docker-Content-Digest") != "":
			st.Features[FeatureContentDigest] = true
		}
	}

	if c.target.CheckCatalog && !authRejected {
		limit := c.target.MaxCatalogEntries
		if limit <= 0 {
			limit = DefaultMaxCatalogEntries
		}
		repos, paginated, complete, err := c.catalog(ctx, limit)
		st.Features[FeaturePagination] = paginated
		if err != nil {
			notes = append(notes, "catalog not accessible: "+err.Error())
		} else {
			st.Features[FeatureCatalogAccessible] = true
			st.SetRepositories(repos)
			if !complete {
				notes = append(notes, fmt.Sprintf("catalog read up to maxCatalogEntries (%d); the registry may hold more repositories", limit))
			}
		}
	}
	grade(&st, problems, notes)
	return st
}

// grade sets Health and Message:
//   - unhealthy when the registry is unavailable (no answer, TLS failure, or /v2/ answered
//     neither 2xx nor 401);
//   - degraded when it is available but a health check path failed, the configured
//     credentials were rejected, or /v2/ took longer than SlowThreshold;
//   - healthy otherwise.
//
// notes (facts that do not change the health) are appended to the message.
func grade(st *engine.RegistryStatus, problems, notes []string) {
	if st.Features == nil {
		st.Features = map[string]bool{}
	}
	if st.Repositories == nil {
		st.Repositories = []string{}
	}
	var msg string
	switch {
	case !st.Available:
		st.Health = engine.HealthUnhealthy
		msg = "registry unavailable: " + st.Error
	default:
		if st.ResponseTime > SlowThreshold.Milliseconds() {
			problems = append(problems, fmt.Sprintf("slow: /v2/ answered in %d ms (threshold %d ms)", st.ResponseTime, SlowThreshold.Milliseconds()))
		}
		if len(problems) > 0 {
			st.Health = engine.HealthDegraded
			msg = "registry degraded: " + strings.Join(problems, "; ")
		} else {
			st.Health = engine.HealthHealthy
			msg = fmt.Sprintf("registry available (%d ms)", st.ResponseTime)
		}
	}
	if len(notes) > 0 {
		msg += "; " + strings.Join(notes, "; ")
	}
	st.Message = msg
}

// healthPaths returns the configured paths other than /v2/ (already probed), each starting
// with /, without duplicates.
func (c *Client) healthPaths() []string {
	var out []string
	for _, p := range c.target.HealthCheckPaths {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		if p == "/v2" || p == DefaultHealthCheckPath || slices.Contains(out, p) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func (c *Client) url(path string) string { return c.base.String() + path }

func (c *Client) hasCredentials() bool { return c.target.Username != "" || c.target.Password != "" }

// response is what the checks need of one answer.
type response struct {
	status int
	header http.Header
	body   []byte
	// challenged is true when the first, unauthenticated-or-preemptive attempt answered 401.
	challenged bool
	// realm is the Bearer token realm of the challenge, if any.
	realm string
	// authErr is why authentication could not be completed (e.g. the token realm refused).
	authErr error
}

func (r *response) looksLike(product string) bool {
	if strings.Contains(strings.ToLower(r.header.Get("Server")), product) {
		return true
	}
	switch product {
	case "harbor":
		// Harbor's token service lives at /service/token.
		return strings.HasSuffix(r.realm, "/service/token")
	case "artifactory":
		return r.header.Get("X-Artifactory-Id") != "" || strings.Contains(r.realm, "/artifactory/")
	case "nexus":
		return strings.Contains(strings.ToLower(r.header.Get("Www-Authenticate")), "nexus")
	}
	return false
}

func (r *response) authDetail() string {
	if r.authErr != nil {
		return r.authErr.Error()
	}
	return "the registry answered 401 Unauthorized"
}

// get sends GET u and answers one authentication challenge: Basic with the credentials, or
// Bearer by fetching a token from the challenge's realm (with the credentials, or anonymously)
// and sending the request again with it. Transport failures are returned as errors; every HTTP
// answer, 401 included, is a response.
func (c *Client) get(ctx context.Context, u string) (*response, error) {
	c.mu.Lock()
	basic := c.useBasic && c.hasCredentials()
	c.mu.Unlock()
	auth := ""
	if basic {
		auth = basicAuth(c.target.Username, c.target.Password)
	}
	r, err := c.send(ctx, u, auth)
	if err != nil || r.status != http.StatusUnauthorized {
		return r, err
	}
	r.challenged = true
	challenges := parseChallenges(r.header.Values("Www-Authenticate"))
	if ch, ok := challenges["bearer"]; ok {
		realm := ch["realm"]
		tok, err := c.token(ctx, ch)
		if err != nil {
			r.realm, r.authErr = realm, err
			return r, nil
		}
		r2, err := c.send(ctx, u, "Bearer "+tok)
		if err != nil {
			return nil, err
		}
		r2.challenged, r2.realm = true, realm
		return r2, nil
	}
	if basic || !c.hasCredentials() {
		return r, nil
	}
	// A Basic challenge, or a 401 without a challenge we understand: try Basic once and, if
	// it works, send it up front from now on.
	r2, err := c.send(ctx, u, basicAuth(c.target.Username, c.target.Password))
	if err != nil {
		return nil, err
	}
	r2.challenged = true
	if r2.status != http.StatusUnauthorized {
		c.mu.Lock()
		c.useBasic = true
		c.mu.Unlock()
	}
	return r2, nil
}

// send performs one GET with the given Authorization header value (none when empty).
func (c *Client) send(ctx context.Context, u, auth string) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	req.Header.Set("User-Agent", "clusterpulse/"+engine.Version)
	req.Header.Set("Accept", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("GET %s: read answer: %w", u, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// token returns a Bearer token for the challenge ch (cached per realm, service and scope):
// GET realm?service=…&scope=… with Basic credentials when the target has them.
func (c *Client) token(ctx context.Context, ch map[string]string) (string, error) {
	realm := ch["realm"]
	if realm == "" {
		return "", errors.New("bearer challenge without realm")
	}
	key := realm + "\x00" + ch["service"] + "\x00" + ch["scope"]
	c.mu.Lock()
	tok, ok := c.tokens[key]
	c.mu.Unlock()
	if ok {
		return tok, nil
	}
	ru, err := c.base.Parse(realm)
	if err != nil || (ru.Scheme != "http" && ru.Scheme != "https") || ru.Host == "" {
		return "", fmt.Errorf("bearer challenge realm %q is not an http(s) URL", realm)
	}
	q := ru.Query()
	if s := ch["service"]; s != "" {
		q.Set("service", s)
	}
	for _, s := range strings.Fields(ch["scope"]) {
		q.Add("scope", s)
	}
	ru.RawQuery = q.Encode()
	auth := ""
	if c.hasCredentials() {
		auth = basicAuth(c.target.Username, c.target.Password)
	}
	r, err := c.send(ctx, ru.String(), auth)
	if err != nil {
		return "", fmt.Errorf("token realm: %w", err)
	}
	if !ok2xx(r.status) {
		return "", fmt.Errorf("token realm %s answered %s", realm, statusText(r.status))
	}
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		return "", fmt.Errorf("token realm %s: decode answer: %w", realm, err)
	}
	tok = body.Token
	if tok == "" {
		tok = body.AccessToken
	}
	if tok == "" {
		return "", fmt.Errorf("token realm %s answered without a token", realm)
	}
	c.mu.Lock()
	c.tokens[key] = tok
	c.mu.Unlock()
	return tok, nil
}

// catalog reads /v2/_catalog page by page (n = min(CatalogPageSize, max), following
// Link rel="next" on the same host) until limit names are read or there is no next page.
// complete is false when it stopped at limit while the registry announced more.
func (c *Client) catalog(ctx context.Context, limit int) (repos []string, paginated, complete bool, err error) {
	n := min(CatalogPageSize, limit)
	next := c.url("/v2/_catalog?n=" + strconv.Itoa(n))
	seen := map[string]bool{}
	repos = []string{}
	for next != "" {
		if seen[next] {
			return nil, paginated, false, fmt.Errorf("catalog pagination loops at %s", next)
		}
		seen[next] = true
		r, err := c.get(ctx, next)
		if err != nil {
			return nil, paginated, false, err
		}
		if r.status != http.StatusOK {
			return nil, paginated, false, fmt.Errorf("GET %s answered %s", next, statusText(r.status))
		}
		var page struct {
			Repositories []string `json:"repositories"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			return nil, paginated, false, fmt.Errorf("GET %s: decode catalog: %w", next, err)
		}
		repos = append(repos, page.Repositories...)
		link := nextLink(r.header.Values("Link"))
		if link != "" {
			paginated = true
		}
		if len(repos) >= limit {
			return repos[:limit], paginated, link == "" && len(repos) == limit, nil
		}
		if link == "" {
			return repos, paginated, true, nil
		}
		nu, err := url.Parse(next)
		if err != nil {
			return nil, paginated, false, fmt.Errorf("catalog page URL %q: %w", next, err)
		}
		lu, err := nu.Parse(link)
		if err != nil || lu.Scheme != c.base.Scheme || lu.Host != c.base.Host {
			// Never follow a link (with credentials) to another host.
			return nil, paginated, false, fmt.Errorf("catalog next link %q is not on %s", link, c.base.Host)
		}
		next = lu.String()
	}
	return repos, paginated, true, nil
}

// nextLink returns the target of the rel="next" link in Link header values (RFC 8288), or "".
func nextLink(values []string) string {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if !strings.HasPrefix(part, "<") {
				continue
			}
			end := strings.Index(part, ">")
			if end < 0 {
				continue
			}
			target := part[1:end]
			for _, param := range strings.Split(part[end+1:], ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(param), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
					continue
				}
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)) {
					if strings.EqualFold(rel, "next") {
						return target
					}
				}
			}
		}
	}
	return ""
}

// parseChallenges parses WWW-Authenticate values (RFC 7235) into scheme (lower case) →
// parameters (keys lower case). Quoted values may contain commas and escaped characters.
func parseChallenges(values []string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, v := range values {
		s := v
		var cur map[string]string
		for {
			s = strings.TrimLeft(s, " \t,")
			if s == "" {
				break
			}
			tok := s[:tokenEnd(s)]
			rest := strings.TrimLeft(s[len(tok):], " \t")
			if tok == "" {
				break // malformed; keep what was parsed
			}
			if !strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, "==") {
				// A new scheme (token68 values such as "abc==" are not used by registries).
				cur = map[string]string{}
				out[strings.ToLower(tok)] = cur
				s = rest
				continue
			}
			rest = strings.TrimLeft(rest[1:], " \t")
			var val string
			if strings.HasPrefix(rest, `"`) {
				val, rest = quoted(rest)
			} else {
				e := strings.IndexAny(rest, ", \t")
				if e < 0 {
					e = len(rest)
				}
				val, rest = rest[:e], rest[e:]
			}
			if cur != nil {
				cur[strings.ToLower(tok)] = val
			}
			s = rest
		}
	}
	return out
}

// tokenEnd returns the length of the RFC 7230 token at the start of s.
func tokenEnd(s string) int {
	if i := strings.IndexAny(s, " \t,=\""); i >= 0 {
		return i
	}
	return len(s)
}

// quoted reads a quoted-string at the start of s and returns its value and the rest of s.
func quoted(s string) (string, string) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), ""
}

func basicAuth(user, pass string) string {
	req := http.Request{Header: http.Header{}}
	req.SetBasicAuth(user, pass)
	return req.Header.Get("Authorization")
}

func ok2xx(status int) bool { return status >= 200 && status < 300 }

func statusText(status int) string {
	return strconv.Itoa(status) + " " + http.StatusText(status)
}

// unwrapURLError drops the *url.Error wrapper (its text repeats the method and URL that the
// callers already name) and keeps the cause, e.g. a certificate or connection error.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
