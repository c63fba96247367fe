package collector

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/clusterpulse/clusterpulse/engine"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/clusterpulse/clusterpulse/engine/envconf"
	"github.com/clusterpulse/clusterpulse/engine/kube"
)

// Run runs `clusterpulse collector`: it reads the environment through getenv only, collects the
// cluster it runs in (in-cluster configuration, or KUBECONFIG for local runs) and pushes to the
// ingester until ctx is cancelled (SIGTERM); it then pushes what is buffered for at most
// COLLECTOR_FLUSH_TIMEOUT. The JSON log goes to stderr.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("clusterpulse collector", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout)
			return nil
		}
		return fmt.Errorf("collector: %w (see `clusterpulse collector --help`)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("collector: unexpected arguments %q", fs.Args())
	}
	var cfg Config
	if err := envconf.Load(getenv, &cfg); err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	s, err := cfg.parse()
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	log := engine.NewLogger(stderr, cfg.LogLevel)

	restCfg, err := kube.HubConfig{Kubeconfig: cfg.Kubeconfig}.RESTConfig()
	if err != nil {
		return fmt.Errorf("collector: cluster configuration: %w", err)
	}
	// The original's client settings.
	restCfg.QPS, restCfg.Burst = 50, 100
	var hc *http.Client
	if s.tls || strings.HasPrefix(s.baseURL, "https://") {
		tc, err := clientTLS(cfg.TLSCA, cfg.TLSServerName, cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("collector: %w", err)
		}
		hc = defaultHTTPClient(cfg.Mode, tc)
	}
	agent, err := New(Options{
		Cluster: cfg.ClusterName, Token: cfg.Token, BaseURL: s.baseURL, HTTPClient: hc, Kube: restCfg,
		APIURL: cfg.APIURL, Mode: cfg.Mode, Compress: s.compress, Version: version(),
		CollectInterval: s.collectInterval, CollectTimeout: s.collectTimeout, OperatorScanInterval: s.operatorScan,
		HeartbeatInterval: s.heartbeat, FlushTimeout: flushTimeout(s.flushTimeout),
		BufferBatches: cfg.BufferSize, BufferBytes: cfg.BufferMaxBytes, Logger: log,
	})
	if err != nil {
		return err
	}
	if cfg.Token == "" {
		log.Warn("COLLECTOR_TOKEN is empty: the ingester will refuse every request")
	}
	var hs *http.Server
	if cfg.HTTPPort > 0 {
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.HTTPPort))
		if err != nil {
			return fmt.Errorf("collector: %w", err)
		}
		hs = &http.Server{Handler: agent.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("health server stopped", "err", err)
			}
		}()
		log.Info("serving /healthz and /metrics", "addr", ln.Addr().String())
	}
	err = agent.Run(ctx)
	if hs != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = hs.Shutdown(sctx)
		cancel()
	}
	return err
}

// flushTimeout maps COLLECTOR_FLUSH_TIMEOUT=0 to "no flush" (Options treats zero as default).
func flushTimeout(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// version is the module version of the binary, "dev" for a local build.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "Usage: clusterpulse collector")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Runs on a managed cluster: collects its nodes, pods, namespaces, cluster info, operators and")
	fmt.Fprintln(w, "MetricSources and pushes them to `clusterpulse ingester`. Keeps collecting while the ingester")
	fmt.Fprintln(w, "is unreachable (bounded buffer, oldest dropped first) and replays in order. Serves /healthz and")
	fmt.Fprintln(w, "/metrics on COLLECTOR_HTTP_PORT. See docs/push.md.")
	fmt.Fprintln(w)
	envconf.Usage(w, Config{})
}
