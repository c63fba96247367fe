package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/policy"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// countingReviewer counts reviews and delegates to next.
type countingReviewer struct {
	next TokenReviewer
	n    atomic.Int64
}

func (c *countingReviewer) Review(ctx context.Context, token string) (policy.Principal, bool, error) {
	c.n.Add(1)
	return c.next.Review(ctx, token)
}

// staticReviewer knows one token.
type staticReviewer map[string]policy.Principal

func (s staticReviewer) Review(_ context.Context, token string) (policy.Principal, bool, error) {
	if token == "down" {
		return policy.Principal{}, false, engine.ErrUnavailable
	}
	p, ok := s[token]
	return p, ok, nil
}

// TestAuthenticate covers the identity rules: proxy headers only from trusted addresses or
// with the shared secret (never via X-Forwarded-For), then bearer tokens.
func TestAuthenticate(t *testing.T) {
	a := NewAuthenticator(AuthOptions{
		HeaderUser: "X-Forwarded-User", HeaderEmail: "X-Forwarded-Email", HeaderGroups: "X-Forwarded-Groups",
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")},
		Secret:         "s3cret", SecretHeader: "X-Proxy-Secret",
		Reviewer: staticReviewer{"good": {Username: "system:serviceaccount:mon:reader", Groups: []string{"system:serviceaccounts"}}},
	})
	proxy := map[string]string{"X-Forwarded-User": "alice", "X-Forwarded-Email": "alice@example.com", "X-Forwarded-Groups": "devs, ops,,"}
	aliceP := policy.Principal{Username: "alice", Email: "alice@example.com", Groups: []string{"devs", "ops"}}
	saP := policy.Principal{Username: "system:serviceaccount:mon:reader", Groups: []string{"system:serviceaccounts"}}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range proxy {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name    string
		remote  string
		headers map[string]string
		want    policy.Principal
		wantErr error
	}{
		{"headers from a trusted address", "10.1.2.3:5000", proxy, aliceP, nil},
		{"headers from a trusted IPv6 address", "[fd00::1]:5000", proxy, aliceP, nil},
		{"forged headers from an untrusted address", "192.0.2.1:5000", proxy, policy.Principal{}, errUnauthenticated},
		{"X-Forwarded-For does not make a request trusted", "192.0.2.1:5000", with(map[string]string{"X-Forwarded-For": "10.1.2.3"}), policy.Principal{}, errUnauthenticated},
		{"shared secret from anywhere", "192.0.2.1:5000", with(map[string]string{"X-Proxy-Secret": "s3cret"}), aliceP, nil},
		{"wrong secret", "192.0.2.1:5000", with(map[string]string{"X-Proxy-Secret": "guess"}), policy.Principal{}, errUnauthenticated},
		{"proxy identity wins over a bearer token", "10.1.2.3:5000", with(map[string]string{"Authorization": "Bearer good"}), aliceP, nil},
		{"forged headers with a valid token: the token", "192.0.2.1:5000", with(map[string]string{"Authorization": "Bearer good"}), saP, nil},
		{"valid token", "192.0.2.1:5000", map[string]string{"Authorization": "Bearer good"}, saP, nil},
		{"invalid token", "192.0.2.1:5000", map[string]string{"Authorization": "Bearer garbage"}, policy.Principal{}, errUnauthenticated},
		{"not a bearer scheme", "192.0.2.1:5000", map[string]string{"Authorization": "Basic Z29vZA=="}, policy.Principal{}, errUnauthenticated},
		{"reviewer down", "192.0.2.1:5000", map[string]string{"Authorization": "Bearer down"}, policy.Principal{}, engine.ErrUnavailable},
		{"trusted proxy without a user header", "10.1.2.3:5000", map[string]string{"X-Forwarded-Groups": "admins"}, policy.Principal{}, errUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/api/v1/auth/me", nil)
			req.RemoteAddr = tt.remote
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			got, err := a.Authenticate(req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTokenCacheBounded checks that reviews are cached, bounded and expire.
func TestTokenCacheBounded(t *testing.T) {
	now := testNow
	rev := &countingReviewer{next: staticReviewer{"a": {Username: "a"}, "b": {Username: "b"}, "c": {Username: "c"}}}
	a := NewAuthenticator(AuthOptions{Reviewer: rev, CacheTTL: time.Minute, CacheEntries: 2, Clock: func() time.Time { return now }})
	call := func(tok string) {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if _, err := a.Authenticate(req); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name  string
		do    func()
		wantN int64
	}{
		{"first review", func() { call("a") }, 1},
		{"cached", func() { call("a") }, 1},
		{"second token", func() { call("b") }, 2},
		{"third token evicts the least recently used (a)", func() { call("c") }, 3},
		{"b still cached", func() { call("b") }, 3},
		{"a reviewed again", func() { call("a") }, 4},
		{"expired after the TTL", func() { now = now.Add(2 * time.Minute); call("a") }, 5},
	}
	for _, s := range steps {
		s.do()
		if got := rev.n.Load(); got != s.wantN {
			t.Fatalf("%s: reviews = %d, want %d", s.name, got, s.wantN)
		}
	}
}

// TestProxyHeadersThroughAPI checks the identity rules end to end, with JSON 401 bodies.
func TestProxyHeadersThroughAPI(t *testing.T) {
	e := newEnv(t, nil)
	forged := http.Header{"X-Forwarded-User": {"admin"}, "X-Forwarded-Groups": {"admins"}}
	tests := []struct {
		name   string
		as     who
		hdr    http.Header
		status int
		want   any
	}{
		{"forged headers from an untrusted address", anonymous, forged, 401, map[string]any{"error": "authentication required"}},
		{"trusted proxy", who{user: "alice", email: "a@x", groups: []string{"g1", "g2"}}, nil, 200,
			map[string]any{"username": "alice", "email": "a@x", "groups": []any{"g1", "g2"}}},
		{"shared secret", anonymous, http.Header{"X-Forwarded-User": {"carol"}, "X-Proxy-Secret": {"s3cret"}}, 200,
			map[string]any{"username": "carol", "email": "", "groups": []any{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.do(tt.as, http.MethodGet, "/api/v1/auth/me", tt.hdr)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if diff := cmp.Diff(tt.want, decode[any](t, rec)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("auth status without identity", func(t *testing.T) {
		rec := e.get(anonymous, "/api/v1/auth/status")
		want := map[string]any{"authenticated": false, "message": "User is not authenticated"}
		if diff := cmp.Diff(want, decode[any](t, rec)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

// TestTokenReviewRealAPIServer calls the API with a real service account token, verified by a
// TokenReview against the test kube-apiserver.
func TestTokenReviewRealAPIServer(t *testing.T) {
	k := testenv.NewKube(t)
	cs, err := kubernetes.NewForConfig(testenv.KubeConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	rev := &countingReviewer{next: KubeTokenReviewer{Client: cs}}
	e := newEnv(t, rev)
	e.fleet()
	ctx := context.Background()
	sa := "dashboard"
	if _, err := k.Client.CoreV1().ServiceAccounts(k.Namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := k.Client.CoreV1().ServiceAccounts(k.Namespace).CreateToken(ctx, sa,
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.addPolicies(`
metadata: {name: dashboard}
spec:
  identity: {subjects: {serviceAccounts: [{name: ` + sa + `, namespace: ` + k.Namespace + `}]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: ["dev-*", stale-1]}}]}}`)
	token := who{token: tr.Status.Token}
	username := "system:serviceaccount:" + k.Namespace + ":" + sa

	rec := e.get(token, "/api/v1/auth/me")
	if rec.Code != http.StatusOK {
		t.Fatalf("auth/me: %d %s", rec.Code, rec.Body)
	}
	want := map[string]any{"username": username, "email": "",
		"groups": []any{"system:serviceaccounts", "system:serviceaccounts:" + k.Namespace, "system:authenticated"}}
	if diff := cmp.Diff(want, decode[any](t, rec)); diff != "" {
		t.Errorf("auth/me (-want +got):\n%s", diff)
	}
	rec = e.get(token, "/api/v1/clusters")
	if diff := cmp.Diff([]string{"dev-1", "stale-1"}, clusterNames(t, rec)); diff != "" {
		t.Errorf("clusters of the service account (-want +got):\n%s", diff)
	}
	rec = e.get(token, "/api/v1/auth/policies")
	pols := decode[struct {
		Policies []struct {
			Source string `json:"source"`
			State  string `json:"state"`
		} `json:"policies"`
		Order []string `json:"evaluation_order"`
	}](t, rec)
	if diff := cmp.Diff([]string{"ops/dashboard"}, pols.Order); diff != "" || len(pols.Policies) != 1 || pols.Policies[0].Source != "serviceaccount" || pols.Policies[0].State != "Active" {
		t.Errorf("auth/policies = %+v", pols)
	}
	if n := rev.n.Load(); n != 1 {
		t.Errorf("token reviews = %d, want 1 (cached)", n)
	}
	if rec := e.do(token, http.MethodPost, "/api/v1/auth/logout", nil); rec.Code != http.StatusOK {
		t.Errorf("logout: %d %s", rec.Code, rec.Body)
	}
	e.get(token, "/api/v1/auth/me")
	if n := rev.n.Load(); n != 2 {
		t.Errorf("token reviews after logout = %d, want 2 (the call after logout reviews again)", n)
	}
	if rec := e.get(who{token: "garbage.token.value"}, "/api/v1/auth/me"); rec.Code != http.StatusUnauthorized {
		t.Errorf("garbage token: status %d, want 401", rec.Code)
	}
}
