package httpapi

import (
	"container/list"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/policy"
)

// errUnauthenticated means the request carries no identity, or one that could not be
// verified; it is answered with 401.
var errUnauthenticated = errors.New("authentication required")

// TokenReviewer verifies a bearer token. ok is false when the token is not valid.
type TokenReviewer interface {
	Review(ctx context.Context, token string) (p policy.Principal, ok bool, err error)
}

// KubeTokenReviewer verifies tokens with a TokenReview (authentication.k8s.io/v1) on the hub.
// The API's own identity needs permission to create tokenreviews.
type KubeTokenReviewer struct {
	// Client talks to the hub's API server.
	Client kubernetes.Interface
}

// Review creates a TokenReview for token. Service account usernames
// (system:serviceaccount:<ns>:<name>) become service account principals.
func (k KubeTokenReviewer) Review(ctx context.Context, token string) (policy.Principal, bool, error) {
	tr, err := k.Client.AuthenticationV1().TokenReviews().Create(ctx,
		&authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		return policy.Principal{}, false, fmt.Errorf("token review: %w: %w", engine.ErrUnavailable, err)
	}
	if !tr.Status.Authenticated || tr.Status.User.Username == "" {
		return policy.Principal{}, false, nil
	}
	groups := tr.Status.User.Groups
	if groups == nil {
		groups = []string{}
	}
	return policy.Principal{Username: tr.Status.User.Username, Groups: groups}, true, nil
}

// AuthOptions configure an Authenticator.
type AuthOptions struct {
	// HeaderUser, HeaderEmail and HeaderGroups are the trusted proxy's identity headers.
	HeaderUser, HeaderEmail, HeaderGroups string
	// TrustedProxies are the networks whose connections may set the identity headers.
	TrustedProxies []netip.Prefix
	// Secret and SecretHeader: a request carrying Secret in SecretHeader is from a trusted
	// proxy, whatever its address. An empty Secret disables this.
	Secret, SecretHeader string
	// Reviewer verifies bearer tokens; nil disables bearer authentication.
	Reviewer TokenReviewer
	// CacheTTL is how long a successful review is reused; zero disables the cache.
	CacheTTL time.Duration
	// CacheEntries bounds the review cache; zero means 10000.
	CacheEntries int
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Groups, when set, completes every principal (canonical username, groups of the hub's
	// OpenShift User and Group objects).
	Groups GroupResolver
}

// Authenticator derives the principal of a request: from the identity headers when the
// request comes from a trusted proxy (then a bearer token is ignored), else from a bearer
// token verified by TokenReview. It is safe for concurrent use.
type Authenticator struct {
	opts  AuthOptions
	cache *tokenCache
}

// NewAuthenticator returns an Authenticator.
func NewAuthenticator(opts AuthOptions) *Authenticator {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.CacheEntries <= 0 {
		opts.CacheEntries = 10000
	}
	return &Authenticator{opts: opts, cache: newTokenCache(opts.CacheEntries)}
}

// Authenticate returns the principal of r. The error means no usable identity (answered
// with 401), or wraps engine.ErrUnavailable when the token or the groups could not be checked
// (503).
func (a *Authenticator) Authenticate(r *http.Request) (policy.Principal, error) {
	p, err := a.identify(r)
	if err != nil || a.opts.Groups == nil {
		return p, err
	}
	return a.opts.Groups.Resolve(r.Context(), p)
}

// identify returns the principal of r as the proxy headers or the token review give it.
func (a *Authenticator) identify(r *http.Request) (policy.Principal, error) {
	if p, ok := a.fromHeaders(r); ok {
		return p, nil
	}
	token, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok || a.opts.Reviewer == nil {
		return policy.Principal{}, errUnauthenticated
	}
	return a.review(r.Context(), token)
}

// fromHeaders returns the principal of the identity headers when r comes from a trusted
// proxy and names a user.
func (a *Authenticator) fromHeaders(r *http.Request) (policy.Principal, bool) {
	if !a.fromTrustedProxy(r) {
		return policy.Principal{}, false
	}
	user := strings.TrimSpace(r.Header.Get(a.opts.HeaderUser))
	if user == "" {
		return policy.Principal{}, false
	}
	return policy.Principal{
		Username: user,
		Email:    strings.TrimSpace(r.Header.Get(a.opts.HeaderEmail)),
		Groups:   splitGroups(r.Header.Get(a.opts.HeaderGroups)),
	}, true
}

// review verifies token, through the cache.
func (a *Authenticator) review(ctx context.Context, token string) (policy.Principal, error) {
	key := sha256.Sum256([]byte(token))
	now := a.opts.Clock()
	if a.opts.CacheTTL > 0 {
		if p, ok := a.cache.get(key, now); ok {
			return p, nil
		}
	}
	p, ok, err := a.opts.Reviewer.Review(ctx, token)
	if err != nil {
		return policy.Principal{}, err
	}
	if !ok {
		// Invalid tokens are not cached: a flood of garbage must not evict valid entries.
		return policy.Principal{}, errUnauthenticated
	}
	if a.opts.CacheTTL > 0 {
		a.cache.put(key, p, now.Add(a.opts.CacheTTL))
	}
	return p, nil
}

// Forget drops what this replica caches for r's caller (logout, cache clear): the review of
// its bearer token and its group resolution, so the next request is checked again. It returns
// the number of entries dropped.
func (a *Authenticator) Forget(r *http.Request) int {
	n := 0
	if a.opts.Groups != nil {
		if p, ok := a.fromHeaders(r); ok {
			n += a.opts.Groups.Forget(p)
		}
	}
	token, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		return n
	}
	key := sha256.Sum256([]byte(token))
	if a.opts.Groups != nil && !a.fromTrustedProxy(r) {
		if p, ok := a.cache.peek(key); ok {
			n += a.opts.Groups.Forget(p)
		}
	}
	return n + a.cache.remove(key)
}

// fromTrustedProxy reports whether r's direct peer is a trusted proxy (by address or by the
// shared secret). X-Forwarded-For is never consulted: it is set by whoever sends the request.
func (a *Authenticator) fromTrustedProxy(r *http.Request) bool {
	if a.opts.Secret != "" {
		got := r.Header.Get(a.opts.SecretHeader)
		if got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(a.opts.Secret)) == 1 {
			return true
		}
	}
	if len(a.opts.TrustedProxies) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range a.opts.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// bearerToken extracts the token of an "Authorization: Bearer <token>" header.
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// splitGroups splits a comma-separated groups header, dropping empty entries; never nil.
func splitGroups(h string) []string {
	out := []string{}
	for _, g := range strings.Split(h, ",") {
		if g = strings.TrimSpace(g); g != "" {
			out = append(out, g)
		}
	}
	return out
}

// tokenCache is a bounded LRU of reviewed tokens (by SHA-256, never the token itself).
type tokenCache struct {
	mu    sync.Mutex
	max   int
	order *list.List
	items map[[32]byte]*list.Element
}

type tokenEntry struct {
	key     [32]byte
	p       policy.Principal
	expires time.Time
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, order: list.New(), items: map[[32]byte]*list.Element{}}
}

func (c *tokenCache) get(key [32]byte, now time.Time) (policy.Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return policy.Principal{}, false
	}
	e := el.Value.(*tokenEntry)
	if !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.items, key)
		return policy.Principal{}, false
	}
	c.order.MoveToFront(el)
	return e.p, true
}

// peek returns the principal cached for key, expired or not.
func (c *tokenCache) peek(key [32]byte) (policy.Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return policy.Principal{}, false
	}
	return el.Value.(*tokenEntry).p, true
}

func (c *tokenCache) put(key [32]byte, p policy.Principal, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		el.Value = &tokenEntry{key, p, expires}
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(&tokenEntry{key, p, expires})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*tokenEntry).key)
	}
}

func (c *tokenCache) remove(key [32]byte) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return 0
	}
	c.order.Remove(el)
	delete(c.items, key)
	return 1
}

// principalFrom returns the principal stored in ctx by the authentication middleware.
func principalFrom(ctx context.Context) (policy.Principal, bool) {
	p, ok := ctx.Value(keyPrincipal).(policy.Principal)
	return p, ok
}
