package httpapi

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/clusterpulse/clusterpulse/engine"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/clusterpulse/clusterpulse/engine/envconf"
	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/policy"
	"github.com/clusterpulse/clusterpulse/engine/store"
)

// Server timeouts, as the original's http.Server, and the graceful shutdown window.
const (
	readTimeout     = 15 * time.Second
	writeTimeout    = 30 * time.Second
	idleTimeout     = 60 * time.Second
	shutdownTimeout = 15 * time.Second
)

// Run serves the REST API until ctx is cancelled (`clusterpulse api`). It reads the
// environment (the original variable names, reference §8.2), connects to Redis and, for
// TokenReview, to the hub, and shuts down gracefully.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: clusterpulse api\n\nServe the ClusterPulse REST API.")
		fmt.Fprintln(stderr)
		envconf.Usage(stderr, Config{}, store.Config{}, kube.HubConfig{})
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	log := engine.NewLogger(stderr, cfg.LogLevel)
	var rcfg store.Config
	if err := envconf.Load(getenv, &rcfg); err != nil {
		return fmt.Errorf("read redis configuration: %w", err)
	}
	if err := rcfg.Validate(); err != nil {
		return err
	}
	st, err := store.Open(rcfg)
	if err != nil {
		return fmt.Errorf("open redis: %w", err)
	}
	defer st.Close()
	spec, err := loadSpec()
	if err != nil {
		return err
	}
	proxies, _ := cfg.proxyPrefixes() // validated by LoadConfig
	authOpts := AuthOptions{
		HeaderUser: cfg.HeaderUser, HeaderEmail: cfg.HeaderEmail, HeaderGroups: cfg.HeaderGroups,
		TrustedProxies: proxies, Secret: cfg.TrustedProxySecret, SecretHeader: cfg.TrustedProxySecretHeader,
		CacheTTL: time.Duration(cfg.TokenCacheTTLSeconds) * time.Second,
	}
	if cfg.TokenReview || cfg.OpenShiftGroups {
		var hub kube.HubConfig
		if err := envconf.Load(getenv, &hub); err != nil {
			return fmt.Errorf("read hub configuration: %w", err)
		}
		rc, err := hub.RESTConfig()
		if err != nil {
			return fmt.Errorf("hub configuration: %w", err)
		}
		if cfg.TokenReview {
			cs, err := kubernetes.NewForConfig(rc)
			if err != nil {
				return fmt.Errorf("hub client for token review: %w", err)
			}
			authOpts.Reviewer = KubeTokenReviewer{Client: cs}
		}
		if cfg.OpenShiftGroups {
			dc, err := dynamic.NewForConfig(rc)
			if err != nil {
				return fmt.Errorf("hub client for OpenShift groups: %w", err)
			}
			authOpts.Groups = NewOpenShiftGroups(dc, OpenShiftGroupOptions{CacheTTL: time.Duration(cfg.GroupCacheTTLSeconds) * time.Second})
		}
	}
	pstore := policy.NewStore(st.Client(), st.Keys())
	cache := policy.NewCache(pstore, policy.CacheOptions{TTL: cfg.rbacCacheTTL()})
	var redirect string
	if cfg.OAuthProxyEnabled {
		redirect = "/oauth2/sign_out"
	}
	handler := NewServer(Deps{
		Logger: log, Store: st, Policies: policy.NewEngine(cache), PolicyCache: cache,
		Sources: NewRedisSources(st.Client(), st.Keys()), Auth: NewAuthenticator(authOpts), Spec: spec,
		CORSOrigins: cfg.CORSOrigins, LogoutRedirect: redirect,
	})
	srv := &http.Server{
		Addr:              net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		Handler:           handler,
		ReadTimeout:       readTimeout,
		ReadHeaderTimeout: readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", srv.Addr, err)
	}
	log.Info("api listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	log.Info("api stopped")
	return nil
}
