package history

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoadConfigDefaults(t *testing.T) {
	for _, k := range []string{"VM_ENABLED", "VM_ENDPOINT", "VM_QUERY_ENDPOINT", "VM_TIMEOUT", "VM_WRITE_ATTEMPTS", "VM_USERNAME", "VM_PASSWORD", "VM_BEARER_TOKEN"} {
		t.Setenv(k, "") // restored when the test ends
		os.Unsetenv(k)
	}
	got, err := LoadConfig()
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	want := Config{Endpoint: "http://victoriametrics:8428", Timeout: 10 * time.Second, WriteAttempts: 3}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestLoadConfigFromEnvironment(t *testing.T) {
	t.Setenv("VM_ENABLED", "true")
	t.Setenv("VM_ENDPOINT", "https://vminsert:8480/insert/0/prometheus")
	t.Setenv("VM_QUERY_ENDPOINT", "https://vmselect:8481/select/0/prometheus/")
	t.Setenv("VM_TIMEOUT", "3s")
	t.Setenv("VM_WRITE_ATTEMPTS", "5")
	t.Setenv("VM_BEARER_TOKEN", "secret")
	got, err := LoadConfig()
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	want := Config{Enabled: true, Endpoint: "https://vminsert:8480/insert/0/prometheus",
		QueryEndpoint: "https://vmselect:8481/select/0/prometheus/", Timeout: 3 * time.Second, WriteAttempts: 5, BearerToken: "secret"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if got, want := got.queryBase(), "https://vmselect:8481/select/0/prometheus"; got != want {
		t.Errorf("queryBase = %q, want %q", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Endpoint: "http://vm:8428", Timeout: time.Second, WriteAttempts: 1}
	tests := []struct {
		name    string
		change  func(c *Config)
		wantErr string // empty: valid
	}{
		{"valid", func(*Config) {}, ""},
		{"https with path", func(c *Config) { c.Endpoint = "https://vm/insert/0/prometheus" }, ""},
		{"no scheme", func(c *Config) { c.Endpoint = "vm:8428" }, "VM_ENDPOINT"},
		{"ftp", func(c *Config) { c.Endpoint = "ftp://vm" }, "VM_ENDPOINT"},
		{"query string", func(c *Config) { c.Endpoint = "http://vm?x=1" }, "VM_ENDPOINT"},
		{"bad query endpoint", func(c *Config) { c.QueryEndpoint = "nope" }, "VM_QUERY_ENDPOINT"},
		{"zero timeout", func(c *Config) { c.Timeout = 0 }, "VM_TIMEOUT"},
		{"zero attempts", func(c *Config) { c.WriteAttempts = 0 }, "VM_WRITE_ATTEMPTS"},
		{"token and basic", func(c *Config) { c.BearerToken, c.Username = "t", "u" }, "VM_BEARER_TOKEN"},
		{"password without user", func(c *Config) { c.Password = "p" }, "VM_USERNAME"},
		{"credentials in URL are not echoed", func(c *Config) { c.Endpoint = "ftp://user:hunter2@vm" }, "VM_ENDPOINT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.change(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate error = %v, want one naming %s", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}
