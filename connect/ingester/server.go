package ingester

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1/collectorv1connect"
	"github.com/clusterpulse/clusterpulse/engine/store"
)

// DefaultMaxMessageBytes is the default largest message (16 MiB); the original died at 4 MiB.
const DefaultMaxMessageBytes = 16 << 20

// Options are the dependencies and limits of a Server.
type Options struct {
	// Store is the Redis store (required).
	Store *store.Store
	// History receives the samples; nil disables history.
	History HistoryWriter
	// Clusters lists the ClusterConnections (required); *kube.Hub implements it.
	Clusters ClusterLister
	// Replica names this replica in presence keys and claim owners; default the host name.
	Replica string
	// Logger receives the log; nil discards it.
	Logger *slog.Logger

	// MaxMessageBytes bounds one message; zero means DefaultMaxMessageBytes.
	MaxMessageBytes int
	// RateLimit is the requests per second accepted per cluster across replicas; 0 disables it.
	RateLimit int
	// PresenceTTL, DedupTTL and ClusterCacheTTL: see Config; zero means the Config default.
	PresenceTTL, DedupTTL, ClusterCacheTTL time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Server is the ingester's HTTP handler: the CollectorService (Connect, gRPC and gRPC-Web on
// the same paths) plus /healthz, /readyz and /metrics. It keeps no state another replica would
// need: presence, de-duplication and rate limits live in Redis.
type Server struct {
	mux      *http.ServeMux
	store    *store.Store
	draining atomic.Bool
}

// NewServer returns the ingester handler for opts.
func NewServer(opts Options) (*Server, error) {
	if opts.Store == nil || opts.Clusters == nil {
		return nil, errors.New("ingester: Store and Clusters are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Replica == "" {
		opts.Replica, _ = os.Hostname()
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if opts.PresenceTTL <= 0 {
		opts.PresenceTTL = 90 * time.Second
	}
	if opts.DedupTTL <= 0 {
		opts.DedupTTL = 24 * time.Hour
	}
	if opts.ClusterCacheTTL <= 0 {
		opts.ClusterCacheTTL = 15 * time.Second
	}
	m := newMetrics()
	auth := &authorizer{store: opts.Store, clusters: &pushClusters{list: opts.Clusters, ttl: opts.ClusterCacheTTL, now: opts.Now}}
	svc := &service{
		store:    opts.Store,
		history:  opts.History,
		auth:     auth,
		presence: &presenceWriter{store: opts.Store, ttl: opts.PresenceTTL, replica: opts.Replica, now: opts.Now},
		metrics:  m,
		log:      opts.Logger,
		replica:  opts.Replica,
		dedupTTL: opts.DedupTTL,
		now:      opts.Now,
	}
	s := &Server{mux: http.NewServeMux(), store: opts.Store}
	path, h := collectorv1connect.NewCollectorServiceHandler(svc,
		connect.WithReadMaxBytes(opts.MaxMessageBytes),
		connect.WithInterceptors(
			metricsInterceptor{m},
			authInterceptor{auth},
			limitInterceptor{&rateLimiter{store: opts.Store, limit: opts.RateLimit, now: opts.Now}},
		),
	)
	s.routes(path, h, m)
	return s, nil
}

// routes lists the whole HTTP surface.
func (s *Server) routes(servicePath string, service http.Handler, m *metrics) {
	s.mux.Handle(servicePath, service)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	s.mux.HandleFunc("GET /readyz", s.ready)
	s.mux.Handle("GET /metrics", m)
}

// ready answers 200 while Redis answers and the server is not draining.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		http.Error(w, "redis: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// ServeHTTP serves every route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Drain makes /readyz fail, so load balancers stop sending new requests before shutdown.
func (s *Server) Drain() { s.draining.Store(true) }
