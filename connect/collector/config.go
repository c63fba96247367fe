package collector

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Modes of pushing (COLLECTOR_MODE).
const (
	// ModeUnary pushes each batch with the PushBatch RPC (HTTP/1.1 or HTTP/2, any load balancer).
	ModeUnary = "unary"
	// ModeStream pushes over the original Connect stream (gRPC, HTTP/2 end to end).
	ModeStream = "stream"
)

// Defaults of the agent.
const (
	DefaultBufferBytes  = 64 << 20
	DefaultBackoffMin   = time.Second
	DefaultBackoffMax   = 5 * time.Minute
	DefaultHeartbeat    = 30 * time.Second
	DefaultFlushTimeout = 10 * time.Second
)

// Config is the agent's environment. CLUSTER_NAME, INGESTER_ADDRESS, COLLECTOR_TOKEN,
// COLLECT_INTERVAL, BUFFER_SIZE, OPERATOR_SCAN_INTERVAL, LOG_LEVEL and the INGESTER_TLS_*
// variables keep the original names and meanings; intervals accept plain seconds ("60") as
// the original did, or Go durations ("1m"), and booleans accept true, 1 or yes.
type Config struct {
	ClusterName     string `envconfig:"CLUSTER_NAME" desc:"name of this cluster's ClusterConnection on the hub (required)"`
	IngesterAddress string `envconfig:"INGESTER_ADDRESS" default:"ingester:9443" desc:"host:port of the ingester, or a base URL (http://… or https://…)"`
	Token           string `envconfig:"COLLECTOR_TOKEN" desc:"the collector token bound to CLUSTER_NAME (sent as a bearer token)"`
	CollectInterval string `envconfig:"COLLECT_INTERVAL" default:"60" desc:"time between two cluster collections (seconds, or a duration such as 1m)"`
	CollectTimeout  string `envconfig:"COLLECT_TIMEOUT" default:"60" desc:"bound of one cluster collection (seconds or duration); each MetricSource has its own timeoutSeconds"`
	OperatorScan    string `envconfig:"OPERATOR_SCAN_INTERVAL" default:"300" desc:"time between two scans of OLM operators and ClusterOperators (seconds or duration)"`
	BufferSize      int    `envconfig:"BUFFER_SIZE" default:"10000" desc:"most batches kept while the ingester is unreachable (the original's count limit; the byte limit is the real bound)"`
	BufferMaxBytes  int64  `envconfig:"BUFFER_MAX_BYTES" default:"67108864" desc:"most bytes (encoded batches) kept while the ingester is unreachable; the oldest batch is dropped first"`
	Mode            string `envconfig:"COLLECTOR_MODE" default:"unary" desc:"unary (PushBatch over HTTP/1.1 or HTTP/2) or stream (the original gRPC stream)"`
	Heartbeat       string `envconfig:"HEARTBEAT_INTERVAL" default:"30" desc:"time between two heartbeats (seconds or duration)"`
	Compress        string `envconfig:"COLLECTOR_COMPRESS" default:"true" desc:"gzip the batches sent"`
	FlushTimeout    string `envconfig:"COLLECTOR_FLUSH_TIMEOUT" default:"10" desc:"on SIGTERM, how long the agent keeps pushing what is buffered (seconds or duration)"`
	HTTPPort        int    `envconfig:"COLLECTOR_HTTP_PORT" default:"8080" desc:"port of /healthz and /metrics (0: not served)"`
	APIURL          string `envconfig:"CLUSTER_API_URL" desc:"the cluster's API URL as users know it (cluster info api_url); default the in-cluster address"`
	Kubeconfig      string `envconfig:"KUBECONFIG" desc:"kubeconfig of the cluster to collect, for local runs; in-cluster service account when unset"`

	TLSEnabled    string `envconfig:"INGESTER_TLS_ENABLED" default:"false" desc:"connect to the ingester with TLS"`
	TLSCA         string `envconfig:"INGESTER_TLS_CA" desc:"PEM CA bundle that signed the ingester's certificate; empty means the system pool"`
	TLSServerName string `envconfig:"INGESTER_TLS_SERVER_NAME" desc:"name the ingester's certificate is checked against, when it differs from the dialled host (OpenShift passthrough routes)"`
	TLSCert       string `envconfig:"INGESTER_TLS_CERT" desc:"PEM client certificate, for ingesters that require one"`
	TLSKey        string `envconfig:"INGESTER_TLS_KEY" desc:"PEM private key of INGESTER_TLS_CERT"`

	LogLevel string `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
}

// settings are the parsed values of a Config.
type settings struct {
	collectInterval, collectTimeout, operatorScan, heartbeat, flushTimeout time.Duration
	tls, compress                                                          bool
	baseURL                                                                string
}

// parse validates c and returns its parsed values; every error names the variable.
func (c Config) parse() (settings, error) {
	var s settings
	var errs []error
	dur := func(name, v string, min time.Duration, dst *time.Duration) {
		d, err := parseInterval(v)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
		case d < min:
			errs = append(errs, fmt.Errorf("%s=%q: below %s", name, v, min))
		default:
			*dst = d
		}
	}
	boolean := func(name, v string, dst *bool) {
		b, err := parseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
		}
		*dst = b
	}
	if c.ClusterName == "" {
		errs = append(errs, errors.New("CLUSTER_NAME is required"))
	}
	if c.IngesterAddress == "" {
		errs = append(errs, errors.New("INGESTER_ADDRESS is required"))
	}
	dur("COLLECT_INTERVAL", c.CollectInterval, time.Second, &s.collectInterval)
	dur("COLLECT_TIMEOUT", c.CollectTimeout, time.Second, &s.collectTimeout)
	dur("OPERATOR_SCAN_INTERVAL", c.OperatorScan, time.Second, &s.operatorScan)
	dur("HEARTBEAT_INTERVAL", c.Heartbeat, time.Second, &s.heartbeat)
	dur("COLLECTOR_FLUSH_TIMEOUT", c.FlushTimeout, 0, &s.flushTimeout)
	boolean("INGESTER_TLS_ENABLED", c.TLSEnabled, &s.tls)
	boolean("COLLECTOR_COMPRESS", c.Compress, &s.compress)
	if c.BufferSize < 1 {
		errs = append(errs, fmt.Errorf("BUFFER_SIZE=%d: below 1", c.BufferSize))
	}
	if c.BufferMaxBytes < 1<<10 {
		errs = append(errs, fmt.Errorf("BUFFER_MAX_BYTES=%d: below 1024", c.BufferMaxBytes))
	}
	if c.Mode != ModeUnary && c.Mode != ModeStream {
		errs = append(errs, fmt.Errorf("COLLECTOR_MODE=%q: not %s or %s", c.Mode, ModeUnary, ModeStream))
	}
	if c.HTTPPort < 0 || c.HTTPPort > 65535 {
		errs = append(errs, fmt.Errorf("COLLECTOR_HTTP_PORT=%d: not a TCP port", c.HTTPPort))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("INGESTER_TLS_CERT and INGESTER_TLS_KEY go together"))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "warning", "error":
	default:
		errs = append(errs, fmt.Errorf("LOG_LEVEL=%q: not debug, info, warn or error", c.LogLevel))
	}
	if c.IngesterAddress != "" {
		u, err := baseURL(c.IngesterAddress, s.tls)
		if err != nil {
			errs = append(errs, fmt.Errorf("INGESTER_ADDRESS=%q: %w", c.IngesterAddress, err))
		}
		s.baseURL = u
	}
	return s, errors.Join(errs...)
}

// parseInterval reads plain seconds ("60", as the original) or a Go duration ("1m30s").
func parseInterval(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > int64(24*time.Hour/time.Second)*365 {
			return 0, errors.New("out of range")
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New("not seconds or a duration")
	}
	if d < 0 {
		return 0, errors.New("negative")
	}
	return d, nil
}

// parseBool accepts what the original accepted (true, 1, yes) and their opposites.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off", "":
		return false, nil
	}
	return false, errors.New("not a boolean (true, 1, yes, false, 0, no)")
}

// baseURL turns INGESTER_ADDRESS into the base URL of the Connect client: a host:port gets
// the scheme that INGESTER_TLS_ENABLED implies.
func baseURL(addr string, tls bool) (string, error) {
	if strings.Contains(addr, "://") {
		if !strings.HasPrefix(addr, "http://") && !strings.HasPrefix(addr, "https://") {
			return "", errors.New("scheme must be http or https")
		}
		return strings.TrimRight(addr, "/"), nil
	}
	if strings.ContainsAny(addr, "/ ") {
		return "", errors.New("not host:port")
	}
	if tls {
		return "https://" + addr, nil
	}
	return "http://" + addr, nil
}
