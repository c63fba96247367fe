package ingester

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/store"
)

// MinTokenLength is the shortest collector token RegisterToken accepts
// (store.MinCollectorTokenLength).
const MinTokenLength = store.MinCollectorTokenLength

// RegisterToken binds token to cluster (store.RegisterCollectorToken, the key
// collector:token:{sha256}): from now on the ingester accepts token for cluster and for no
// other. job pull registers the token of each collector it installs; tests call this.
func RegisterToken(ctx context.Context, st *store.Store, cluster, token string) error {
	return st.RegisterCollectorToken(ctx, cluster, token)
}

// RevokeToken removes token (store.RevokeCollectorToken); the ingester rejects it from then
// on. Revoking an unknown token is not an error.
func RevokeToken(ctx context.Context, st *store.Store, token string) error {
	return st.RevokeCollectorToken(ctx, token)
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header, or "".
func bearerToken(h http.Header) string {
	v := h.Get("Authorization")
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// clusterKey is the context key under which the authenticated cluster is stored.
type clusterKey struct{}

// authenticatedCluster returns the cluster the auth interceptor bound the request to.
func authenticatedCluster(ctx context.Context) (string, bool) {
	c, ok := ctx.Value(clusterKey{}).(string)
	return c, ok && c != ""
}

// ClusterLister lists the ClusterConnections of the hub; *kube.Hub implements it.
type ClusterLister interface {
	ClusterConnections(ctx context.Context) ([]kube.ClusterConnection, []*kube.DecodeError, error)
}

// pushClusters answers "is this a push-mode ClusterConnection?" from the hub. It is a cache
// only (every replica keeps its own, and losing it costs one LIST): the list is re-read when it
// is older than ttl, and at most once a second when an unknown name is asked for, so a new
// ClusterConnection is accepted at once and a deleted one is refused within ttl.
//
// The hub, not Redis, is asked because the CR is the authority: cluster:{c}:spec is written by
// job pull and may be missing (first run) or stale (deleted CR) for a whole job interval.
type pushClusters struct {
	list ClusterLister
	ttl  time.Duration
	now  func() time.Time

	mu      sync.Mutex
	fetched time.Time
	push    map[string]bool
}

// negativeRefresh bounds how often an unknown cluster name triggers a re-read of the list.
const negativeRefresh = time.Second

func (p *pushClusters) isPush(ctx context.Context, name string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	age := p.now().Sub(p.fetched)
	if p.push != nil && age < p.ttl && (p.push[name] || age < negativeRefresh) {
		return p.push[name], nil
	}
	ccs, _, err := p.list.ClusterConnections(ctx)
	if err != nil {
		return false, fmt.Errorf("list ClusterConnections: %w: %w", engine.ErrUnavailable, err)
	}
	push := make(map[string]bool, len(ccs))
	for _, cc := range ccs {
		if cc.Spec.CollectionMode == engine.CollectionModePush && cc.DeletionTimestamp == nil {
			push[cc.Name] = true
		}
	}
	p.push, p.fetched = push, p.now()
	return push[name], nil
}

// authorizer resolves a bearer token to a cluster and checks that the cluster is in push mode.
type authorizer struct {
	store    *store.Store
	clusters *pushClusters
}

// authorize returns the cluster token belongs to, or a Connect error: Unauthenticated for a
// missing or unknown token, PermissionDenied when the cluster is not a push-mode
// ClusterConnection, Unavailable when Redis or the hub cannot answer.
func (a *authorizer) authorize(ctx context.Context, token string) (string, error) {
	if token == "" {
		return "", connect.NewError(connect.CodeUnauthenticated, errors.New("missing collector token (Authorization: Bearer <token>)"))
	}
	cluster, err := a.store.CollectorTokenCluster(ctx, token)
	if err != nil {
		return "", toConnectError(err)
	}
	if cluster == "" {
		return "", connect.NewError(connect.CodeUnauthenticated, errors.New("unknown collector token"))
	}
	ok, err := a.clusters.isPush(ctx, cluster)
	if err != nil {
		return "", toConnectError(err)
	}
	if !ok {
		return "", connect.NewError(connect.CodePermissionDenied, fmt.Errorf("cluster %q is not a push-mode ClusterConnection", cluster))
	}
	return cluster, nil
}

// authInterceptor authenticates every unary call by its bearer token and binds it to the
// token's cluster (the handlers then refuse any other cluster). A stream may carry the token in
// its header too; without one it is authenticated by its register message instead, which is
// what the original collectors rely on.
type authInterceptor struct {
	auth *authorizer
}

func (i authInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		cluster, err := i.auth.authorize(ctx, bearerToken(req.Header()))
		if err != nil {
			return nil, err
		}
		return next(context.WithValue(ctx, clusterKey{}, cluster), req)
	}
}

func (i authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		tok := bearerToken(conn.RequestHeader())
		if tok == "" {
			return next(ctx, conn)
		}
		cluster, err := i.auth.authorize(ctx, tok)
		if err != nil {
			return err
		}
		return next(context.WithValue(ctx, clusterKey{}, cluster), conn)
	}
}
