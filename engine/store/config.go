package store

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/redis/go-redis/v9"
)

// Config is the Redis configuration, read from the original environment variables (reference
// §8.1) plus TLS, ACL user, Sentinel and a key prefix, which the original lacked.
//
// CACHE_TTL and METRICS_RETENTION below their minimum are an error naming the variable. The
// original silently raised them to the minimum, so an operator who set CACHE_TTL=30 believed
// keys lived 30 s; failing at start-up shows the mistake where it is made. Booleans are parsed
// by strconv.ParseBool, so the original's "yes" is an error rather than silently false.
type Config struct {
	// Host and Port address a single Redis node (ignored with Sentinel).
	Host string `envconfig:"REDIS_HOST" default:"redis" desc:"Redis host"`
	Port int    `envconfig:"REDIS_PORT" default:"6379" desc:"Redis port"`
	// Password authenticates to Redis (AUTH), with Username when set.
	Password string `envconfig:"REDIS_PASSWORD" desc:"Redis password"`
	// DB is the database number; every ClusterPulse process must use the same one.
	DB int `envconfig:"REDIS_DB" default:"0" desc:"Redis database number"`
	// Username is the Redis 6+ ACL user; empty means the default user.
	Username string `envconfig:"REDIS_USERNAME" desc:"Redis ACL user"`

	// TLSEnabled connects with TLS; the other TLS fields are valid only with it.
	TLSEnabled bool `envconfig:"REDIS_TLS_ENABLED" desc:"connect to Redis with TLS"`
	// TLSCAFile is a PEM bundle trusted instead of the system roots.
	TLSCAFile string `envconfig:"REDIS_TLS_CA_FILE" desc:"PEM bundle trusted for Redis TLS"`
	// TLSServerName is the name expected in the server certificate; default Host (required
	// with Sentinel).
	TLSServerName string `envconfig:"REDIS_TLS_SERVER_NAME" desc:"name expected in the Redis certificate"`
	// TLSInsecureSkipVerify turns certificate verification off (explicit opt-in only).
	TLSInsecureSkipVerify bool `envconfig:"REDIS_TLS_INSECURE_SKIP_VERIFY" desc:"do not verify the Redis certificate"`

	// SentinelAddrs (host:port, comma separated) switches to Sentinel: the master named
	// SentinelMaster is found through them, and REDIS_HOST/REDIS_PORT are ignored.
	SentinelAddrs []string `envconfig:"REDIS_SENTINEL_ADDRS" desc:"comma-separated Sentinel host:port list (switches to Sentinel)"`
	// SentinelMaster is the master name monitored by the Sentinels.
	SentinelMaster string `envconfig:"REDIS_SENTINEL_MASTER" desc:"master name monitored by the Sentinels"`
	// SentinelPassword authenticates to the Sentinels (Password is for the master).
	SentinelPassword string `envconfig:"REDIS_SENTINEL_PASSWORD" desc:"Sentinel password"`

	// KeyPrefix is prepended to every key, so several hubs can share one Redis database.
	KeyPrefix string `envconfig:"REDIS_KEY_PREFIX" desc:"prefix of every Redis key"`

	// CacheTTLSeconds is the TTL of the state keys (CACHE_TTL, seconds, minimum 60).
	CacheTTLSeconds int `envconfig:"CACHE_TTL" default:"600" desc:"TTL of state keys, seconds (minimum 60)"`
	// MetricsRetentionSeconds is the node sample window (METRICS_RETENTION, seconds, minimum 300).
	MetricsRetentionSeconds int `envconfig:"METRICS_RETENTION" default:"3600" desc:"node sample window, seconds (minimum 300)"`
}

// LoadConfig reads Config from the environment and validates it.
func LoadConfig() (Config, error) {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		return Config{}, fmt.Errorf("read redis configuration: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks the values envconfig cannot: ranges, minimums and combinations. Each error
// names the environment variable.
func (c Config) Validate() error {
	var errs []error
	if len(c.SentinelAddrs) == 0 {
		if c.Host == "" {
			errs = append(errs, errors.New("REDIS_HOST is empty"))
		}
		if c.Port < 1 || c.Port > 65535 {
			errs = append(errs, fmt.Errorf("REDIS_PORT=%d is not a TCP port", c.Port))
		}
	} else {
		if c.SentinelMaster == "" {
			errs = append(errs, errors.New("REDIS_SENTINEL_MASTER is required when REDIS_SENTINEL_ADDRS is set"))
		}
		for _, a := range c.SentinelAddrs {
			if _, _, err := net.SplitHostPort(a); err != nil {
				errs = append(errs, fmt.Errorf("REDIS_SENTINEL_ADDRS entry %q is not host:port", a))
			}
		}
	}
	if c.SentinelMaster != "" && len(c.SentinelAddrs) == 0 {
		errs = append(errs, errors.New("REDIS_SENTINEL_MASTER is set but REDIS_SENTINEL_ADDRS is empty"))
	}
	if c.TLSEnabled && len(c.SentinelAddrs) > 0 && c.TLSServerName == "" && !c.TLSInsecureSkipVerify {
		errs = append(errs, errors.New("REDIS_TLS_SERVER_NAME is required with REDIS_TLS_ENABLED and Sentinel (the master's address changes on failover, so it cannot name the certificate)"))
	}
	if c.DB < 0 {
		errs = append(errs, fmt.Errorf("REDIS_DB=%d is negative", c.DB))
	}
	if !c.TLSEnabled && (c.TLSCAFile != "" || c.TLSServerName != "" || c.TLSInsecureSkipVerify) {
		errs = append(errs, errors.New("REDIS_TLS_CA_FILE, REDIS_TLS_SERVER_NAME or REDIS_TLS_INSECURE_SKIP_VERIFY is set but REDIS_TLS_ENABLED is not true"))
	}
	if min := int(MinCacheTTL / time.Second); c.CacheTTLSeconds < min {
		errs = append(errs, fmt.Errorf("CACHE_TTL=%d is below the minimum of %d seconds", c.CacheTTLSeconds, min))
	}
	if min := int(MinMetricsRetention / time.Second); c.MetricsRetentionSeconds < min {
		errs = append(errs, fmt.Errorf("METRICS_RETENTION=%d is below the minimum of %d seconds", c.MetricsRetentionSeconds, min))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid redis configuration: %w", err)
	}
	return nil
}

// StoreOptions returns the Store options this configuration implies.
func (c Config) StoreOptions() Options {
	return Options{
		Prefix:           c.KeyPrefix,
		CacheTTL:         time.Duration(c.CacheTTLSeconds) * time.Second,
		MetricsRetention: time.Duration(c.MetricsRetentionSeconds) * time.Second,
	}
}

// Options returns the go-redis options: a single node, or a Sentinel failover client when
// SentinelAddrs is set. It never returns a Redis Cluster configuration (see the package doc).
func (c Config) Options() (*redis.UniversalOptions, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	o := &redis.UniversalOptions{
		Username:    c.Username,
		Password:    c.Password,
		DB:          c.DB,
		DialTimeout: 5 * time.Second,
		ClientName:  "clusterpulse",
	}
	if len(c.SentinelAddrs) > 0 {
		o.Addrs = c.SentinelAddrs
		o.MasterName = c.SentinelMaster
		o.SentinelPassword = c.SentinelPassword
	} else {
		o.Addrs = []string{net.JoinHostPort(c.Host, strconv.Itoa(c.Port))}
	}
	if c.TLSEnabled {
		t := &tls.Config{
			MinVersion:         tls.VersionTLS12,
			ServerName:         c.TLSServerName,
			InsecureSkipVerify: c.TLSInsecureSkipVerify, // #nosec G402 -- explicit operator opt-in
		}
		if t.ServerName == "" && len(c.SentinelAddrs) == 0 {
			t.ServerName = c.Host
		}
		if c.TLSCAFile != "" {
			pem, err := os.ReadFile(c.TLSCAFile)
			if err != nil {
				return nil, fmt.Errorf("read REDIS_TLS_CA_FILE: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("REDIS_TLS_CA_FILE %s holds no PEM certificate", c.TLSCAFile)
			}
			t.RootCAs = pool
		}
		o.TLSConfig = t
	}
	return o, nil
}

// Open connects to Redis as configured and returns a Store that owns the client. It does not
// contact Redis; call Ping to check the connection.
func Open(c Config) (*Store, error) {
	o, err := c.Options()
	if err != nil {
		return nil, err
	}
	var client redis.UniversalClient
	if o.MasterName != "" {
		client = redis.NewFailoverClient(o.Failover())
	} else {
		client = redis.NewClient(o.Simple())
	}
	return New(client, c.StoreOptions()), nil
}
