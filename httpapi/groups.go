package httpapi

import (
	"container/list"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/policy"
)

// GroupResolver completes a principal with what the hub knows about it: the canonical
// username and more groups.
type GroupResolver interface {
	// Resolve returns p completed. An error means the hub could not be asked (answered with
	// 503: proceeding without groups could skip a Deny policy that names one).
	Resolve(ctx context.Context, p policy.Principal) (policy.Principal, error)
	// Forget drops what is cached for p (as Authenticate derived it before resolution).
	Forget(p policy.Principal) int
}

// The OpenShift user API (user.openshift.io/v1): cluster-scoped User objects with a top-level
// groups list, and Group objects with a top-level users list.
var (
	openShiftUsers  = schema.GroupVersionResource{Group: "user.openshift.io", Version: "v1", Resource: "users"}
	openShiftGroups = schema.GroupVersionResource{Group: "user.openshift.io", Version: "v1", Resource: "groups"}
)

// groupListPage is the page size of the LIST of Group objects.
const groupListPage = 500

// OpenShiftGroupOptions configure an OpenShiftGroups.
type OpenShiftGroupOptions struct {
	// CacheTTL is how long a resolution is reused (also one that found nothing); zero
	// disables the cache.
	CacheTTL time.Duration
	// CacheEntries bounds the cache (least recently used entries go first); zero means 10000.
	CacheEntries int
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
}

// OpenShiftGroups resolves principals from OpenShift User and Group objects on the hub, as
// the original did (reference §1.4). The identities tried are the username, then the email
// when it differs (never for a service account). The first one with a User object becomes the
// canonical username (openshift/oauth-proxy may send the email's local part while the User is
// named by the full email); if that User lists groups they are the groups found. Otherwise the
// Group objects are listed and the groups whose users contain the canonical identity (then
// each other identity, the first with memberships winning) are the groups found. The groups
// found are added to those the principal already has (proxy header or TokenReview). The hub
// identity of the API needs get on users and list on groups (user.openshift.io). Results are
// cached per replica, bounded, for CacheTTL. It is safe for concurrent use.
type OpenShiftGroups struct {
	client dynamic.Interface
	ttl    time.Duration
	now    func() time.Time
	cache  *lruCache[string, groupResult]
}

// groupResult is a cached resolution.
type groupResult struct {
	username string
	groups   []string
}

// NewOpenShiftGroups returns an OpenShiftGroups asking the hub through client.
func NewOpenShiftGroups(client dynamic.Interface, opts OpenShiftGroupOptions) *OpenShiftGroups {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.CacheEntries <= 0 {
		opts.CacheEntries = 10000
	}
	return &OpenShiftGroups{client: client, ttl: opts.CacheTTL, now: opts.Clock, cache: newLRUCache[string, groupResult](opts.CacheEntries)}
}

// groupCacheKey is the raw identity a resolution depends on.
func groupCacheKey(p policy.Principal) string { return p.Username + "\x00" + p.Email }

// Resolve returns p with the canonical username and the groups of the hub added.
func (g *OpenShiftGroups) Resolve(ctx context.Context, p policy.Principal) (policy.Principal, error) {
	key := groupCacheKey(p)
	now := g.now()
	var r groupResult
	ok := false
	if g.ttl > 0 {
		r, ok = g.cache.get(key, now)
	}
	if !ok {
		var err error
		if r, err = g.lookup(ctx, p); err != nil {
			return policy.Principal{}, err
		}
		if g.ttl > 0 {
			g.cache.put(key, r, now.Add(g.ttl))
		}
	}
	res := policy.Principal{Username: r.username, Email: p.Email, Groups: slices.Clone(p.Groups)}
	if res.Groups == nil {
		res.Groups = []string{}
	}
	for _, grp := range r.groups {
		if !slices.Contains(res.Groups, grp) {
			res.Groups = append(res.Groups, grp)
		}
	}
	return res, nil
}

// Forget drops the cached resolution of p.
func (g *OpenShiftGroups) Forget(p policy.Principal) int { return g.cache.remove(groupCacheKey(p)) }

// lookup asks the hub (uncached).
func (g *OpenShiftGroups) lookup(ctx context.Context, p policy.Principal) (groupResult, error) {
	candidates := []string{p.Username}
	if p.Email != "" && p.Email != p.Username && !p.IsServiceAccount() {
		candidates = append(candidates, p.Email)
	}
	canonical := ""
	for _, c := range candidates {
		u, err := g.client.Resource(openShiftUsers).Get(ctx, c, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return groupResult{}, fmt.Errorf("get OpenShift user %q: %w: %w", c, engine.ErrUnavailable, err)
		}
		canonical = c
		groups, _, _ := unstructured.NestedStringSlice(u.Object, "groups")
		if len(groups) > 0 {
			return groupResult{username: canonical, groups: groups}, nil
		}
		break
	}
	// The canonical identity first, then the other candidates.
	order := candidates
	if canonical != "" {
		order = append([]string{canonical}, slices.DeleteFunc(slices.Clone(candidates), func(c string) bool { return c == canonical })...)
	}
	members := map[string][]string{}
	opts := metav1.ListOptions{Limit: groupListPage}
	for {
		list, err := g.client.Resource(openShiftGroups).List(ctx, opts)
		if err != nil {
			return groupResult{}, fmt.Errorf("list OpenShift groups: %w: %w", engine.ErrUnavailable, err)
		}
		for _, grp := range list.Items {
			users, _, _ := unstructured.NestedStringSlice(grp.Object, "users")
			for _, c := range order {
				if slices.Contains(users, c) {
					members[c] = append(members[c], grp.GetName())
				}
			}
		}
		if opts.Continue = list.GetContinue(); opts.Continue == "" {
			break
		}
	}
	username := p.Username
	if canonical != "" {
		username = canonical
	}
	for _, c := range order {
		if len(members[c]) > 0 {
			slices.Sort(members[c])
			return groupResult{username: username, groups: members[c]}, nil
		}
	}
	return groupResult{username: username}, nil
}

// lruCache is a bounded map whose entries expire; the least recently used entries are evicted
// first. It is safe for concurrent use.
type lruCache[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	order *list.List
	items map[K]*list.Element
}

type lruEntry[K comparable, V any] struct {
	key     K
	v       V
	expires time.Time
}

func newLRUCache[K comparable, V any](max int) *lruCache[K, V] {
	return &lruCache[K, V]{max: max, order: list.New(), items: map[K]*list.Element{}}
}

func (c *lruCache[K, V]) get(key K, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	el, ok := c.items[key]
	if !ok {
		return zero, false
	}
	e := el.Value.(*lruEntry[K, V])
	if !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.items, key)
		return zero, false
	}
	c.order.MoveToFront(el)
	return e.v, true
}

func (c *lruCache[K, V]) put(key K, v V, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		el.Value = &lruEntry[K, V]{key, v, expires}
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry[K, V]{key, v, expires})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*lruEntry[K, V]).key)
	}
}

func (c *lruCache[K, V]) remove(key K) int {
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

func (c *lruCache[K, V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
