package httpapi

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/clusterpulse/clusterpulse/engine/policy"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// hubIdentity creates a service account in the test namespace bound to a ClusterRole with
// exactly rules, and returns a dynamic client authenticated as it: the API's identity on the
// hub with the permissions docs/api.md asks for, nothing more.
func hubIdentity(t *testing.T, k *testenv.Kube, name string, rules []rbacv1.PolicyRule) dynamic.Interface {
	t.Helper()
	ctx := context.Background()
	if _, err := k.Client.CoreV1().ServiceAccounts(k.Namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	role := k.Namespace + "-" + name
	rbac := k.Client.RbacV1()
	if _, err := rbac.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: role}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rbac.ClusterRoles().Delete(context.Background(), role, metav1.DeleteOptions{}) })
	if _, err := rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: k.Namespace}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rbac.ClusterRoleBindings().Delete(context.Background(), role, metav1.DeleteOptions{}) })
	tr, err := k.Client.CoreV1().ServiceAccounts(k.Namespace).CreateToken(ctx, name,
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.AnonymousClientConfig(k.Config)
	cfg.BearerToken = tr.Status.Token
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return dc
}

// createObject creates a cluster-scoped User or Group and deletes it when the test ends.
func createObject(t *testing.T, dc dynamic.Interface, resource, kind, name string, field string, values []string) {
	t.Helper()
	gvr := openShiftUsers
	if resource == "groups" {
		gvr = openShiftGroups
	}
	items := make([]any, len(values))
	for i, v := range values {
		items[i] = v
	}
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "user.openshift.io/v1", "kind": kind,
		"metadata": map[string]any{"name": name}, field: items}}
	if _, err := dc.Resource(gvr).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create %s %s: %v", kind, name, err)
	}
	t.Cleanup(func() { _ = dc.Resource(gvr).Delete(context.Background(), name, metav1.DeleteOptions{}) })
}

// TestOpenShiftGroups resolves callers from User and Group objects on the real kube-apiserver
// (with stand-in CRDs), as the API's own identity holding only get users and list groups:
// canonicalisation to the User named by the email, groups from the User, from Group
// membership of the canonical identity or of the email, none found, a service account; the
// groups found drive the policies; the cache keeps a resolution until its TTL or a logout; a
// TTL of 0 disables it; and an identity that may not list groups gets 503.
func TestOpenShiftGroups(t *testing.T) {
	testenv.InstallCRDs(t, "testdata/openshift-user-crds")
	k := testenv.NewKube(t)
	id := strings.ToLower(k.Namespace)
	admin := k.Dynamic
	apiDC := hubIdentity(t, k, "api", []rbacv1.PolicyRule{
		{APIGroups: []string{"user.openshift.io"}, Resources: []string{"users"}, Verbs: []string{"get"}},
		{APIGroups: []string{"user.openshift.io"}, Resources: []string{"groups"}, Verbs: []string{"list"}},
	})
	alice, bob, carol, dave := "alice-"+id, "bob-"+id, "carol-"+id, "dave-"+id
	// Object names of CRDs must be DNS subdomains (OpenShift's own User allows "@"), so
	// alice's email, the name of her User, has no "@" here; the lookup is the same.
	aliceMail := alice + ".example.com"
	createObject(t, admin, "users", "User", aliceMail, "groups", []string{"direct-" + id})
	createObject(t, admin, "users", "User", bob, "groups", nil)
	createObject(t, admin, "groups", "Group", "team-"+id, "users", []string{"someone-" + id, bob})
	createObject(t, admin, "groups", "Group", "other-"+id, "users", []string{"someone-" + id})
	createObject(t, admin, "groups", "Group", "mail-"+id, "users", []string{carol + "@example.com"})
	sa := "system:serviceaccount:" + k.Namespace + ":robot"
	createObject(t, admin, "groups", "Group", "robots-"+id, "users", []string{sa})

	var clock atomic.Int64
	clock.Store(testNow.UnixNano())
	resolver := NewOpenShiftGroups(apiDC, OpenShiftGroupOptions{CacheTTL: time.Minute, Clock: func() time.Time { return time.Unix(0, clock.Load()) }})
	e := newEnvGroups(t, nil, resolver)
	e.fleet()
	e.addPolicies(`
metadata: {name: team}
spec:
  identity: {subjects: {groups: [team-` + id + `]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [dev-1]}}]}}`)

	type me struct {
		Username string   `json:"username"`
		Email    string   `json:"email"`
		Groups   []string `json:"groups"`
	}
	tests := []struct {
		name string
		as   who
		want me
	}{
		{"user named by the email: canonical username, groups of the User", who{user: alice, email: aliceMail, groups: []string{"from-proxy"}},
			me{aliceMail, aliceMail, []string{"from-proxy", "direct-" + id}}},
		{"user without groups: groups whose users list them", who{user: bob},
			me{bob, "", []string{"team-" + id}}},
		{"no user: groups that list the email", who{user: carol, email: carol + "@example.com"},
			me{carol, carol + "@example.com", []string{"mail-" + id}}},
		{"nothing found: the proxy's groups only", who{user: dave, groups: []string{"from-proxy"}},
			me{dave, "", []string{"from-proxy"}}},
		{"service account", who{user: sa},
			me{sa, "", []string{"robots-" + id}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.get(tt.as, "/api/v1/auth/me")
			if rec.Code != http.StatusOK {
				t.Fatalf("auth/me: %d %s", rec.Code, rec.Body)
			}
			if diff := cmp.Diff(tt.want, decode[me](t, rec)); diff != "" {
				t.Errorf("auth/me (-want +got):\n%s", diff)
			}
		})
	}

	bobWho := who{user: bob}
	clusters := func() any { return clusterNames(t, e.get(bobWho, "/api/v1/clusters")) }
	t.Run("groups found drive the policies", func(t *testing.T) {
		if diff := cmp.Diff([]string{"dev-1"}, clusters()); diff != "" {
			t.Errorf("clusters of bob (-want +got):\n%s", diff)
		}
	})

	// bob leaves the team: the cached resolution holds until the TTL or a logout.
	if err := admin.Resource(openShiftGroups).Delete(context.Background(), "team-"+id, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Run("cached within the TTL", func(t *testing.T) {
		clock.Add(int64(30 * time.Second))
		if diff := cmp.Diff([]string{"dev-1"}, clusters()); diff != "" {
			t.Errorf("clusters of bob (-want +got):\n%s", diff)
		}
	})
	t.Run("resolved again after the TTL", func(t *testing.T) {
		clock.Add(int64(31 * time.Second))
		if diff := cmp.Diff([]string(nil), clusters()); diff != "" {
			t.Errorf("clusters of bob (-want +got):\n%s", diff)
		}
	})
	createObject(t, admin, "groups", "Group", "team2-"+id, "users", []string{bob})
	e.addPolicies(`
metadata: {name: team2}
spec:
  identity: {subjects: {groups: [team2-` + id + `]}}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [prod-west]}}]}}`)
	t.Run("logout drops the resolution", func(t *testing.T) {
		if diff := cmp.Diff([]string(nil), clusters()); diff != "" {
			t.Fatalf("clusters of bob before logout, cached (-want +got):\n%s", diff)
		}
		if rec := e.do(bobWho, http.MethodPost, "/api/v1/auth/logout", nil); rec.Code != http.StatusOK {
			t.Fatalf("logout: %d %s", rec.Code, rec.Body)
		}
		if diff := cmp.Diff([]string{"prod-west"}, clusters()); diff != "" {
			t.Errorf("clusters of bob after logout (-want +got):\n%s", diff)
		}
	})

	t.Run("TTL 0 disables the cache", func(t *testing.T) {
		uncached := newEnvGroups(t, nil, NewOpenShiftGroups(apiDC, OpenShiftGroupOptions{}))
		erin := "erin-" + id
		get := func() []string { return decode[me](t, uncached.get(who{user: erin}, "/api/v1/auth/me")).Groups }
		if diff := cmp.Diff([]string{}, get()); diff != "" {
			t.Errorf("groups (-want +got):\n%s", diff)
		}
		createObject(t, admin, "groups", "Group", "late-"+id, "users", []string{erin})
		if diff := cmp.Diff([]string{"late-" + id}, get()); diff != "" {
			t.Errorf("groups after joining (-want +got):\n%s", diff)
		}
	})

	t.Run("an identity that may not list groups gets 503", func(t *testing.T) {
		weak := hubIdentity(t, k, "weak", []rbacv1.PolicyRule{
			{APIGroups: []string{"user.openshift.io"}, Resources: []string{"users"}, Verbs: []string{"get"}},
		})
		we := newEnvGroups(t, nil, NewOpenShiftGroups(weak, OpenShiftGroupOptions{CacheTTL: time.Minute}))
		rec := we.get(bobWho, "/api/v1/clusters")
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("status %d %s, want 503", rec.Code, rec.Body)
		}
		if rec := we.get(who{user: alice, email: aliceMail}, "/api/v1/auth/me"); rec.Code != http.StatusOK {
			t.Errorf("a User with groups needs no list: status %d %s, want 200", rec.Code, rec.Body)
		}
	})
}

// TestLRUCache checks the bound, the expiry and removal of the group cache.
func TestLRUCache(t *testing.T) {
	c := newLRUCache[string, int](2)
	now := testNow
	c.put("a", 1, now.Add(time.Minute))
	c.put("b", 2, now.Add(time.Minute))
	if _, ok := c.get("a", now); !ok { // a is now the most recent
		t.Fatal("a missing")
	}
	c.put("c", 3, now.Add(time.Second)) // evicts b
	got := map[string]bool{}
	for _, k := range []string{"a", "b", "c"} {
		_, got[k] = c.get(k, now)
	}
	if diff := cmp.Diff(map[string]bool{"a": true, "b": false, "c": true}, got); diff != "" {
		t.Errorf("present (-want +got):\n%s", diff)
	}
	if _, ok := c.get("c", now.Add(time.Second)); ok {
		t.Error("c present at its expiry")
	}
	if n := c.remove("a"); n != 1 || c.len() != 0 {
		t.Errorf("remove = %d, len = %d; want 1, 0", n, c.len())
	}
}

// TestResolveKeepsProxyGroups checks the merge of the principal's own groups with those
// found, without duplicates, and that a cached result is reused for the same raw identity.
func TestResolveKeepsProxyGroups(t *testing.T) {
	g := NewOpenShiftGroups(nil, OpenShiftGroupOptions{CacheTTL: time.Minute, Clock: func() time.Time { return testNow }})
	p := policy.Principal{Username: "u", Email: "u@example.com", Groups: []string{"a", "b"}}
	g.cache.put(groupCacheKey(p), groupResult{username: "u@example.com", groups: []string{"b", "c"}}, testNow.Add(time.Second))
	got, err := g.Resolve(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	want := policy.Principal{Username: "u@example.com", Email: "u@example.com", Groups: []string{"a", "b", "c"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
