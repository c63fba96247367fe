package httpapi

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/clusterpulse/clusterpulse/engine/envconf"
	"github.com/clusterpulse/clusterpulse/engine/policy"
)

// Config is the environment of `clusterpulse api` (reference §8.2 plus the trusted-proxy and
// TokenReview settings the original lacked). The Redis and hub settings are read by
// store.LoadConfig and kube.LoadHubConfig.
type Config struct {
	// Port and Host are where the API listens.
	Port int    `envconfig:"API_PORT" default:"8080" desc:"TCP port of the API"`
	Host string `envconfig:"API_HOST" default:"0.0.0.0" desc:"address the API listens on"`
	// CORSOrigins are the origins allowed by CORS, comma separated; "*" allows any origin
	// (without credentials), empty allows none.
	CORSOrigins []string `envconfig:"CORS_ORIGINS" desc:"allowed CORS origins, comma separated (\"*\": any origin, without credentials)"`
	// OAuthProxyEnabled adds the oauth-proxy sign-out redirect to the logout answer.
	OAuthProxyEnabled bool `envconfig:"OAUTH_PROXY_ENABLED" default:"true" desc:"logout answers with the oauth-proxy sign-out redirect"`
	// HeaderUser, HeaderEmail and HeaderGroups name the identity headers a trusted proxy sets
	// (groups comma separated).
	HeaderUser   string `envconfig:"OAUTH_HEADER_USER" default:"X-Forwarded-User" desc:"user header set by a trusted proxy"`
	HeaderEmail  string `envconfig:"OAUTH_HEADER_EMAIL" default:"X-Forwarded-Email" desc:"email header set by a trusted proxy"`
	HeaderGroups string `envconfig:"OAUTH_HEADER_GROUPS" default:"X-Forwarded-Groups" desc:"comma-separated groups header set by a trusted proxy"`
	// TrustedProxyCIDRs are the networks (comma separated CIDRs or addresses) whose direct
	// connections may set the identity headers. The connection's address is used, never
	// X-Forwarded-For.
	TrustedProxyCIDRs []string `envconfig:"TRUSTED_PROXY_CIDRS" desc:"proxy networks whose identity headers are trusted (connection address, never X-Forwarded-For)"`
	// TrustedProxySecret, when set, lets a request carrying it in TrustedProxySecretHeader set
	// the identity headers from any address.
	TrustedProxySecret       string `envconfig:"TRUSTED_PROXY_SECRET" desc:"shared secret that marks a request as coming from the proxy"`
	TrustedProxySecretHeader string `envconfig:"TRUSTED_PROXY_SECRET_HEADER" default:"X-Proxy-Secret" desc:"header carrying TRUSTED_PROXY_SECRET"`
	// TokenReview verifies `Authorization: Bearer` tokens with a TokenReview on the hub.
	TokenReview bool `envconfig:"TOKEN_REVIEW" default:"true" desc:"verify Bearer tokens with a TokenReview on the hub"`
	// TokenCacheTTLSeconds is how long a successful TokenReview is reused (0: not cached).
	TokenCacheTTLSeconds int `envconfig:"TOKEN_CACHE_TTL" default:"30" desc:"seconds a verified token is reused (0: not cached)"`
	// OpenShiftGroups completes every caller from the hub's OpenShift User and Group objects
	// (user.openshift.io/v1): canonical username and groups.
	OpenShiftGroups bool `envconfig:"OPENSHIFT_GROUPS" default:"false" desc:"add groups from the hub's OpenShift User/Group objects (needs get users, list groups)"`
	// GroupCacheTTLSeconds is how long a group resolution is reused (0: not cached).
	GroupCacheTTLSeconds int `envconfig:"GROUP_CACHE_TTL" default:"60" desc:"seconds an OpenShift group resolution is reused (0: not cached)"`
	// RBACCacheTTLSeconds is how long a principal's policies are reused (0..10; 0: re-read on
	// every request).
	RBACCacheTTLSeconds int `envconfig:"RBAC_CACHE_TTL" default:"5" desc:"seconds a caller's policies are reused (0..10)"`
	// LogLevel is the level of the JSON log on stderr.
	LogLevel string `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
}

// LoadConfig reads Config from getenv and validates it.
func LoadConfig(getenv func(string) string) (Config, error) {
	var c Config
	if err := envconf.Load(getenv, &c); err != nil {
		return Config{}, fmt.Errorf("read api configuration: %w", err)
	}
	return c, c.Validate()
}

// Validate checks what envconfig cannot; each error names the variable.
func (c Config) Validate() error {
	if c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("API_PORT %d: not a port number", c.Port)
	}
	if _, err := c.proxyPrefixes(); err != nil {
		return err
	}
	if c.TokenCacheTTLSeconds < 0 {
		return fmt.Errorf("TOKEN_CACHE_TTL %d: negative", c.TokenCacheTTLSeconds)
	}
	if c.GroupCacheTTLSeconds < 0 {
		return fmt.Errorf("GROUP_CACHE_TTL %d: negative", c.GroupCacheTTLSeconds)
	}
	if c.RBACCacheTTLSeconds < 0 || time.Duration(c.RBACCacheTTLSeconds)*time.Second > policy.MaxCacheTTL {
		return fmt.Errorf("RBAC_CACHE_TTL %d: must be between 0 and %d seconds", c.RBACCacheTTLSeconds, int(policy.MaxCacheTTL/time.Second))
	}
	if c.TrustedProxySecret != "" && strings.TrimSpace(c.TrustedProxySecretHeader) == "" {
		return fmt.Errorf("TRUSTED_PROXY_SECRET_HEADER: required with TRUSTED_PROXY_SECRET")
	}
	return nil
}

// proxyPrefixes parses TrustedProxyCIDRs; a bare address is a single-address prefix.
func (c Config) proxyPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.TrustedProxyCIDRs {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("TRUSTED_PROXY_CIDRS %q: not a CIDR or address", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// rbacCacheTTL is the policy cache TTL; 0 means practically uncached.
func (c Config) rbacCacheTTL() time.Duration {
	if c.RBACCacheTTLSeconds == 0 {
		return time.Nanosecond
	}
	return time.Duration(c.RBACCacheTTLSeconds) * time.Second
}
