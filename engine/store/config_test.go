package store

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// redisEnv lists every variable LoadConfig reads, so each case starts from a clean slate even
// when the test environment exports some of them.
var redisEnv = []string{
	"REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_DB", "REDIS_USERNAME",
	"REDIS_TLS_ENABLED", "REDIS_TLS_CA_FILE", "REDIS_TLS_SERVER_NAME", "REDIS_TLS_INSECURE_SKIP_VERIFY",
	"REDIS_SENTINEL_ADDRS", "REDIS_SENTINEL_MASTER", "REDIS_SENTINEL_PASSWORD", "REDIS_KEY_PREFIX",
	"CACHE_TTL", "METRICS_RETENTION",
}

func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range redisEnv {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

func TestLoadConfig(t *testing.T) {
	defaults := Config{Host: "redis", Port: 6379, CacheTTLSeconds: 600, MetricsRetentionSeconds: 3600}
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{name: "defaults", want: defaults},
		{
			name: "original variables",
			env:  map[string]string{"REDIS_HOST": "cache.example", "REDIS_PORT": "6380", "REDIS_PASSWORD": "s3cret", "REDIS_DB": "2", "CACHE_TTL": "60", "METRICS_RETENTION": "300"},
			want: Config{Host: "cache.example", Port: 6380, Password: "s3cret", DB: 2, CacheTTLSeconds: 60, MetricsRetentionSeconds: 300},
		},
		{
			name: "sentinel and tls",
			env: map[string]string{
				"REDIS_SENTINEL_ADDRS": "s1:26379,s2:26379", "REDIS_SENTINEL_MASTER": "mymaster", "REDIS_SENTINEL_PASSWORD": "sp",
				"REDIS_TLS_ENABLED": "true", "REDIS_TLS_SERVER_NAME": "redis.svc", "REDIS_USERNAME": "cp", "REDIS_KEY_PREFIX": "hub1:",
			},
			want: Config{
				Host: "redis", Port: 6379, Username: "cp", TLSEnabled: true, TLSServerName: "redis.svc",
				SentinelAddrs: []string{"s1:26379", "s2:26379"}, SentinelMaster: "mymaster", SentinelPassword: "sp",
				KeyPrefix: "hub1:", CacheTTLSeconds: 600, MetricsRetentionSeconds: 3600,
			},
		},
		{name: "cache ttl below minimum", env: map[string]string{"CACHE_TTL": "30"}, wantErr: "CACHE_TTL=30 is below the minimum of 60 seconds"},
		{name: "retention below minimum", env: map[string]string{"METRICS_RETENTION": "299"}, wantErr: "METRICS_RETENTION=299 is below the minimum of 300 seconds"},
		{name: "port not a number", env: map[string]string{"REDIS_PORT": "http"}, wantErr: "REDIS_PORT"},
		{name: "port out of range", env: map[string]string{"REDIS_PORT": "70000"}, wantErr: "REDIS_PORT=70000 is not a TCP port"},
		{name: "negative db", env: map[string]string{"REDIS_DB": "-1"}, wantErr: "REDIS_DB=-1 is negative"},
		{name: "bad bool", env: map[string]string{"REDIS_TLS_ENABLED": "maybe"}, wantErr: "REDIS_TLS_ENABLED"},
		{name: "sentinel without master", env: map[string]string{"REDIS_SENTINEL_ADDRS": "s1:26379"}, wantErr: "REDIS_SENTINEL_MASTER is required"},
		{name: "master without sentinels", env: map[string]string{"REDIS_SENTINEL_MASTER": "m"}, wantErr: "REDIS_SENTINEL_ADDRS is empty"},
		{name: "sentinel address without port", env: map[string]string{"REDIS_SENTINEL_ADDRS": "s1", "REDIS_SENTINEL_MASTER": "m"}, wantErr: `entry "s1" is not host:port`},
		{name: "tls option without tls", env: map[string]string{"REDIS_TLS_CA_FILE": "/ca.pem"}, wantErr: "REDIS_TLS_ENABLED is not true"},
		{
			name:    "tls with sentinel needs a server name",
			env:     map[string]string{"REDIS_SENTINEL_ADDRS": "s1:1", "REDIS_SENTINEL_MASTER": "m", "REDIS_TLS_ENABLED": "true"},
			wantErr: "REDIS_TLS_SERVER_NAME is required",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, tt.env)
			got, err := LoadConfig()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadConfig() error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadConfig(): %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("LoadConfig() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigOptions(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, selfSignedPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(t.TempDir(), "bad.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := Config{Host: "redis", Port: 6379, CacheTTLSeconds: 600, MetricsRetentionSeconds: 3600}
	type view struct {
		Addrs            []string
		MasterName       string
		Username         string
		Password         string
		SentinelPassword string
		DB               int
		TLS              bool
		ServerName       string
		HasRoots         bool
		Insecure         bool
	}
	tests := []struct {
		name    string
		mod     func(*Config)
		want    view
		wantErr string
	}{
		{name: "single node", mod: func(c *Config) { c.Password, c.DB = "pw", 3 }, want: view{Addrs: []string{"redis:6379"}, Password: "pw", DB: 3}},
		{
			name: "tls defaults server name to host",
			mod:  func(c *Config) { c.TLSEnabled, c.TLSCAFile = true, caFile },
			want: view{Addrs: []string{"redis:6379"}, TLS: true, ServerName: "redis", HasRoots: true},
		},
		{
			name: "tls insecure",
			mod:  func(c *Config) { c.TLSEnabled, c.TLSInsecureSkipVerify, c.TLSServerName = true, true, "x" },
			want: view{Addrs: []string{"redis:6379"}, TLS: true, ServerName: "x", Insecure: true},
		},
		{
			name: "sentinel",
			mod: func(c *Config) {
				c.SentinelAddrs, c.SentinelMaster, c.SentinelPassword, c.Username, c.Password = []string{"a:1", "b:2"}, "m", "sp", "u", "p"
			},
			want: view{Addrs: []string{"a:1", "b:2"}, MasterName: "m", Username: "u", Password: "p", SentinelPassword: "sp"},
		},
		{name: "missing ca file", mod: func(c *Config) { c.TLSEnabled, c.TLSCAFile = true, "/nonexistent/ca.pem" }, wantErr: "read REDIS_TLS_CA_FILE"},
		{name: "ca file without certificates", mod: func(c *Config) { c.TLSEnabled, c.TLSCAFile = true, notPEM }, wantErr: "holds no PEM certificate"},
		{name: "invalid", mod: func(c *Config) { c.CacheTTLSeconds = 1 }, wantErr: "CACHE_TTL=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.mod(&c)
			o, err := c.Options()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Options() error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Options(): %v", err)
			}
			got := view{
				Addrs: o.Addrs, MasterName: o.MasterName, Username: o.Username, Password: o.Password,
				SentinelPassword: o.SentinelPassword, DB: o.DB, TLS: o.TLSConfig != nil,
			}
			if o.TLSConfig != nil {
				got.ServerName, got.HasRoots, got.Insecure = o.TLSConfig.ServerName, o.TLSConfig.RootCAs != nil, o.TLSConfig.InsecureSkipVerify
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Options() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOpenStoreOptions(t *testing.T) {
	c := Config{Host: "127.0.0.1", Port: 1, KeyPrefix: "p:", CacheTTLSeconds: 120, MetricsRetentionSeconds: 900}
	s, err := Open(c)
	if err != nil {
		t.Fatalf("Open(): %v", err)
	}
	defer s.Close()
	got := []any{s.Keys().ClustersAll(), s.CacheTTL(), s.MetricsRetention()}
	want := []any{"p:clusters:all", 120 * time.Second, 900 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Open() store mismatch (-want +got):\n%s", diff)
	}
}

// selfSignedPEM returns a fresh self-signed CA certificate in PEM, to check that a CA file is
// parsed.
func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test-redis-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
