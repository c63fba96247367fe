package ingester

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clusterpulse/clusterpulse/engine/history"
	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/store"
)

// Config is the ingester's own environment (besides Redis, VictoriaMetrics and the hub).
// INGESTER_PORT and the INGESTER_TLS_* variables keep the original names.
type Config struct {
	Port       int    `envconfig:"INGESTER_PORT" default:"9443" desc:"TCP port serving Connect, gRPC and gRPC-Web (h2c, or TLS when enabled)"`
	TLSEnabled bool   `envconfig:"INGESTER_TLS_ENABLED" default:"false" desc:"serve TLS instead of h2c"`
	TLSCert    string `envconfig:"INGESTER_TLS_CERT" default:"/etc/ingester-tls/tls.crt" desc:"PEM certificate chain; re-read when the file changes"`
	TLSKey     string `envconfig:"INGESTER_TLS_KEY" default:"/etc/ingester-tls/tls.key" desc:"PEM private key; re-read when the file changes"`
	// TLSClientCA turns on client-certificate authentication (new).
	TLSClientCA string `envconfig:"INGESTER_TLS_CLIENT_CA" desc:"PEM bundle; when set every client must present a certificate it signed"`

	MaxMessageBytes int           `envconfig:"INGESTER_MAX_MESSAGE_BYTES" default:"16777216" desc:"largest accepted message (bytes, after decompression)"`
	RateLimit       int           `envconfig:"INGESTER_RATE_LIMIT" default:"20" desc:"requests per second accepted per cluster, across all replicas (0 = no limit)"`
	PresenceTTL     time.Duration `envconfig:"INGESTER_PRESENCE_TTL" default:"90s" desc:"how long a collector counts as connected after its last request"`
	DedupTTL        time.Duration `envconfig:"INGESTER_DEDUP_TTL" default:"24h" desc:"how long a stored batch id is remembered (longer than a collector's buffer lasts)"`
	ClusterCacheTTL time.Duration `envconfig:"INGESTER_CLUSTER_CACHE_TTL" default:"15s" desc:"how long a replica caches the list of push-mode ClusterConnections"`
	ShutdownTimeout time.Duration `envconfig:"INGESTER_SHUTDOWN_TIMEOUT" default:"25s" desc:"how long SIGTERM waits for in-flight requests"`
	LogLevel        string        `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	Hostname        string        `envconfig:"HOSTNAME" desc:"replica name recorded in presence (the pod name)"`
}

// Validate checks what the tags cannot; each error names the variable.
func (c Config) Validate() error {
	var errs []error
	if c.Port < 1 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("INGESTER_PORT=%d: not a TCP port", c.Port))
	}
	if c.TLSEnabled && (c.TLSCert == "" || c.TLSKey == "") {
		errs = append(errs, errors.New("INGESTER_TLS_CERT and INGESTER_TLS_KEY are required with INGESTER_TLS_ENABLED"))
	}
	if c.TLSClientCA != "" && !c.TLSEnabled {
		errs = append(errs, errors.New("INGESTER_TLS_CLIENT_CA needs INGESTER_TLS_ENABLED=true"))
	}
	if c.MaxMessageBytes < 1<<10 {
		errs = append(errs, fmt.Errorf("INGESTER_MAX_MESSAGE_BYTES=%d: below 1024", c.MaxMessageBytes))
	}
	if c.RateLimit < 0 {
		errs = append(errs, fmt.Errorf("INGESTER_RATE_LIMIT=%d: negative", c.RateLimit))
	}
	if c.PresenceTTL < time.Second {
		errs = append(errs, fmt.Errorf("INGESTER_PRESENCE_TTL=%s: below 1s", c.PresenceTTL))
	}
	if c.DedupTTL < time.Minute {
		errs = append(errs, fmt.Errorf("INGESTER_DEDUP_TTL=%s: below 1m", c.DedupTTL))
	}
	if c.ClusterCacheTTL < 0 {
		errs = append(errs, fmt.Errorf("INGESTER_CLUSTER_CACHE_TTL=%s: negative", c.ClusterCacheTTL))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "warning", "error":
	default:
		errs = append(errs, fmt.Errorf("LOG_LEVEL=%q: not debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// envSpecs are the configuration structs the ingester reads, in the order --help lists them.
func envSpecs() []any {
	return []any{Config{}, kube.HubConfig{}, store.Config{}, history.Config{}}
}
