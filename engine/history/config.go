package history

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Config is the VictoriaMetrics configuration: the original VM_ENABLED and VM_ENDPOINT
// (reference §8.1) plus a timeout, retries, authentication and a separate query endpoint,
// which the original lacked.
type Config struct {
	// Enabled turns history on. When it is false the callers write nothing and the history
	// API answers that history is not configured; this package does not check it.
	Enabled bool `envconfig:"VM_ENABLED" default:"false" desc:"write history to VictoriaMetrics"`
	// Endpoint is the base URL of VictoriaMetrics single-node (or of vminsert's
	// /insert/<tenant>/prometheus, or of vmauth). Writes go to Endpoint +
	// /api/v1/import/prometheus.
	Endpoint string `envconfig:"VM_ENDPOINT" default:"http://victoriametrics:8428" desc:"VictoriaMetrics base URL for writes (and queries unless VM_QUERY_ENDPOINT is set)"`
	// QueryEndpoint is the base URL queries go to (/api/v1/query...); empty means Endpoint.
	// Set it for a VictoriaMetrics cluster, where vmselect is not vminsert.
	QueryEndpoint string `envconfig:"VM_QUERY_ENDPOINT" desc:"VictoriaMetrics base URL for queries, when reads go elsewhere (vmselect)"`
	// Timeout bounds each HTTP request (one attempt), not the whole Write.
	Timeout time.Duration `envconfig:"VM_TIMEOUT" default:"10s" desc:"timeout of one VictoriaMetrics request"`
	// WriteAttempts is how many times one POST is tried when VictoriaMetrics is unreachable,
	// answers 5xx or 429 (at least 1; the caller's context bounds the total time).
	WriteAttempts int `envconfig:"VM_WRITE_ATTEMPTS" default:"3" desc:"attempts per VictoriaMetrics write before it is reported failed"`
	// Username and Password send HTTP basic authentication.
	Username string `envconfig:"VM_USERNAME" desc:"basic-auth user for VictoriaMetrics"`
	Password string `envconfig:"VM_PASSWORD" desc:"basic-auth password for VictoriaMetrics"`
	// BearerToken sends "Authorization: Bearer <token>"; it excludes Username/Password.
	BearerToken string `envconfig:"VM_BEARER_TOKEN" desc:"bearer token for VictoriaMetrics"`
}

// LoadConfig reads Config from the environment and validates it.
func LoadConfig() (Config, error) {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		return Config{}, fmt.Errorf("read victoriametrics configuration: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks what envconfig cannot. Each error names the environment variable; no error
// contains a credential.
func (c Config) Validate() error {
	var errs []error
	if err := checkBaseURL(c.Endpoint); err != nil {
		errs = append(errs, fmt.Errorf("VM_ENDPOINT: %w", err))
	}
	if c.QueryEndpoint != "" {
		if err := checkBaseURL(c.QueryEndpoint); err != nil {
			errs = append(errs, fmt.Errorf("VM_QUERY_ENDPOINT: %w", err))
		}
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("VM_TIMEOUT=%s is not positive", c.Timeout))
	}
	if c.WriteAttempts < 1 {
		errs = append(errs, fmt.Errorf("VM_WRITE_ATTEMPTS=%d is below 1", c.WriteAttempts))
	}
	if c.BearerToken != "" && (c.Username != "" || c.Password != "") {
		errs = append(errs, errors.New("VM_BEARER_TOKEN and VM_USERNAME/VM_PASSWORD are both set; use one"))
	}
	if c.Password != "" && c.Username == "" {
		errs = append(errs, errors.New("VM_PASSWORD is set but VM_USERNAME is empty"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid victoriametrics configuration: %w", err)
	}
	return nil
}

// checkBaseURL accepts an absolute http or https URL with a host and without query or
// fragment. It never echoes the URL, which may carry credentials.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("no host")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return errors.New("has a query or fragment")
	}
	return nil
}

// queryBase returns the base URL for queries.
func (c Config) queryBase() string {
	if c.QueryEndpoint != "" {
		return strings.TrimRight(c.QueryEndpoint, "/")
	}
	return strings.TrimRight(c.Endpoint, "/")
}
