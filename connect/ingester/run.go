package ingester

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/envconf"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/clusterpulse/clusterpulse/engine/history"
	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/store"
)

// Run runs `clusterpulse ingester`: it reads the environment through getenv only, serves
// until ctx is cancelled (SIGTERM), then fails /readyz and drains in-flight requests for at most
// INGESTER_SHUTDOWN_TIMEOUT. The JSON log goes to stderr.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("clusterpulse ingester", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout)
			return nil
		}
		return fmt.Errorf("ingester: %w (see `clusterpulse ingester --help`)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("ingester: unexpected arguments %q", fs.Args())
	}

	var (
		cfg  Config
		hcfg kube.HubConfig
		scfg store.Config
		vcfg history.Config
	)
	for _, spec := range []any{&cfg, &hcfg, &scfg, &vcfg} {
		if err := envconf.Load(getenv, spec); err != nil {
			return fmt.Errorf("ingester: %w", err)
		}
	}
	if err := errors.Join(cfg.Validate(), scfg.Validate(), vcfg.Validate()); err != nil {
		return fmt.Errorf("ingester: %w", err)
	}
	log := engine.NewLogger(stderr, cfg.LogLevel)
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}

	st, err := store.Open(scfg)
	if err != nil {
		return fmt.Errorf("ingester: %w", err)
	}
	defer st.Close()
	var hw HistoryWriter
	if vcfg.Enabled {
		w, err := history.NewWriter(vcfg)
		if err != nil {
			return fmt.Errorf("ingester: %w", err)
		}
		hw = w
	}
	hub, err := hcfg.Hub()
	if err != nil {
		return fmt.Errorf("ingester: %w", err)
	}
	srv, err := NewServer(Options{
		Store: st, History: hw, Clusters: hub, Replica: cfg.Hostname, Logger: log,
		MaxMessageBytes: cfg.MaxMessageBytes, RateLimit: cfg.RateLimit,
		PresenceTTL: cfg.PresenceTTL, DedupTTL: cfg.DedupTTL, ClusterCacheTTL: cfg.ClusterCacheTTL,
	})
	if err != nil {
		return err
	}
	var tcfg *tls.Config
	if cfg.TLSEnabled {
		if tcfg, err = tlsConfig(cfg.TLSCert, cfg.TLSKey, cfg.TLSClientCA); err != nil {
			return fmt.Errorf("ingester: %w", err)
		}
	}
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return fmt.Errorf("ingester: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if err := st.Ping(pctx); err != nil {
		log.Warn("redis not reachable at start; /readyz fails until it is", "err", err)
	}
	cancel()
	log.Info("ingester listening", "addr", ln.Addr().String(), "tls", cfg.TLSEnabled,
		"client_auth", cfg.TLSClientCA != "", "history", vcfg.Enabled, "replica", cfg.Hostname)
	return serve(ctx, ln, srv, tcfg, cfg.ShutdownTimeout, log)
}

// serve serves srv on ln (h2c and HTTP/1.1, or TLS when tcfg is set) until ctx is done, then
// drains: /readyz fails at once and in-flight requests get up to drain to finish.
func serve(ctx context.Context, ln net.Listener, srv *Server, tcfg *tls.Config, drain time.Duration, log *slog.Logger) error {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(tcfg == nil)
	hs := &http.Server{
		Handler:           srv,
		Protocols:         &p,
		TLSConfig:         tcfg,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() {
		if tcfg != nil {
			errc <- hs.ServeTLS(ln, "", "")
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("ingester: serve: %w", err)
	case <-ctx.Done():
	}
	srv.Drain()
	log.Info("ingester draining", "timeout", drain.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
		return fmt.Errorf("ingester: drain: %w", err)
	}
	log.Info("ingester stopped")
	return nil
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "Usage: clusterpulse ingester")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Serves the collector protocol (clusterpulse.collector.v1.CollectorService) with Connect,")
	fmt.Fprintln(w, "gRPC and gRPC-Web on one port, plus /healthz, /readyz and /metrics. Stateless: run any")
	fmt.Fprintln(w, "number of replicas behind a load balancer. See docs/push.md.")
	fmt.Fprintln(w)
	envconf.Usage(w, envSpecs()...)
}
