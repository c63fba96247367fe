package httpapi

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clusterpulse/clusterpulse/testenv"
)

func TestConfigValidate(t *testing.T) {
	base := Config{Port: 8080, TrustedProxySecretHeader: "X-Proxy-Secret", RBACCacheTTLSeconds: 5, TokenCacheTTLSeconds: 30}
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"bad port", func(c *Config) { c.Port = 0 }, "API_PORT"},
		{"bad cidr", func(c *Config) { c.TrustedProxyCIDRs = []string{"10.0.0.0/33"} }, "TRUSTED_PROXY_CIDRS"},
		{"rbac ttl above 10 s", func(c *Config) { c.RBACCacheTTLSeconds = 11 }, "RBAC_CACHE_TTL"},
		{"negative token ttl", func(c *Config) { c.TokenCacheTTLSeconds = -1 }, "TOKEN_CACHE_TTL"},
		{"negative group ttl", func(c *Config) { c.GroupCacheTTLSeconds = -1 }, "GROUP_CACHE_TTL"},
		{"secret without header", func(c *Config) { c.TrustedProxySecret, c.TrustedProxySecretHeader = "x", "" }, "TRUSTED_PROXY_SECRET_HEADER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.change(&c)
			err := c.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate() = %v, want error naming %q", err, tt.wantErr)
			}
		})
	}
	c := Config{TrustedProxyCIDRs: []string{"10.0.0.0/8", " 192.0.2.7 ", "", "fd00::/8"}}
	got, err := c.proxyPrefixes()
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("fd00::/8")}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("prefixes (-want +got):\n%s", diff)
	}
}

// TestRun starts `clusterpulse api` on a free port against the test Redis, waits for it to be
// ready and stops it by cancelling its context.
func TestRun(t *testing.T) {
	r := testenv.NewRedis(t)
	host, port, err := net.SplitHostPort(r.Addr)
	if err != nil {
		t.Fatal(err)
	}
	apiPort := testenv.FreePort(t)
	env := map[string]string{"REDIS_HOST": host, "REDIS_PORT": port, "REDIS_KEY_PREFIX": r.Prefix,
		"API_HOST": "127.0.0.1", "API_PORT": strconv.Itoa(apiPort), "TOKEN_REVIEW": "false"}
	for k, v := range env {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out strings.Builder
	go func() {
		done <- Run(ctx, nil, func(k string) string { return env[k] }, &out, &syncWriter{})
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", apiPort)
	testenv.Eventually(t, 10*time.Second, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz = %d", resp.StatusCode)
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not stop")
	}
}

// syncWriter discards the logs of Run (written from several goroutines).
type syncWriter struct{}

func (syncWriter) Write(p []byte) (int, error) { return len(p), nil }
