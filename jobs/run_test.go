package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clusterpulse/clusterpulse/testenv"
)

func envFunc(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func exitCode(err error) int {
	var e *ExitError
	if errors.As(err, &e) {
		return e.Code
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestRunCommandLine(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    []string // substrings of stdout
		wantErrMsg string
	}{
		{name: "no job", args: nil, wantCode: ExitUsage, wantErrMsg: "no job name"},
		{name: "list jobs", args: []string{"--help"}, wantOut: []string{"Jobs:", "registry "}},
		{name: "unknown job", args: []string{"nope"}, wantCode: ExitUsage, wantErrMsg: `unknown job "nope" (known: registry`},
		{name: "bad flag", args: []string{"registry", "--bogus"}, wantCode: ExitUsage, wantErrMsg: "flag provided but not defined: -bogus"},
		{name: "bad shard", args: []string{"registry", "--shard", "3/2"}, wantCode: ExitUsage, wantErrMsg: "--shard: shard 3/2"},
		{name: "bad concurrency", args: []string{"registry", "--concurrency", "0"}, wantCode: ExitUsage, wantErrMsg: "--concurrency must be at least 1"},
		{name: "stray argument", args: []string{"registry", "extra"}, wantCode: ExitUsage, wantErrMsg: "unexpected arguments"},
		{name: "job help", args: []string{"registry", "--help"}, wantOut: []string{
			"Usage: clusterpulse job registry", "--shard i/n", "--concurrency", "(default 5)", "--force", "--once-all",
			"Environment variables:", "NAMESPACE", "KUBECONFIG", "REDIS_HOST", "REDIS_KEY_PREFIX", "JOB_COMPLETION_INDEX", "LOG_LEVEL",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			// The environment points at nothing: a run that went past parsing would fail
			// with code 1, not the code under test.
			err := Run(context.Background(), tt.args, envFunc(map[string]string{"KUBECONFIG": "/nonexistent"}), &out, &errOut)
			if got := exitCode(err); got != tt.wantCode {
				t.Fatalf("Run(%q) exit code %d (err %v), want %d", tt.args, got, err, tt.wantCode)
			}
			if tt.wantErrMsg != "" && !strings.Contains(err.Error(), tt.wantErrMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantErrMsg)
			}
			for _, s := range tt.wantOut {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout does not contain %q:\n%s", s, out.String())
				}
			}
		})
	}
}

// TestRunCannotRun covers the exit status 1 cases; each message names what is unusable.
func TestRunCannotRun(t *testing.T) {
	r := testenv.NewRedis(t)
	host, port, _ := strings.Cut(r.Addr, ":")
	closedPort := strconv.Itoa(testenv.FreePort(t))

	// A kubeconfig that is valid but points at a port where nothing listens.
	deadHub := filepath.Join(t.TempDir(), "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:%s", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, closedPort)
	if err := os.WriteFile(deadHub, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"REDIS_HOST": host, "REDIS_PORT": port, "REDIS_KEY_PREFIX": r.Prefix, "NAMESPACE": "x", "KUBECONFIG": deadHub}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantMsg string
	}{
		{name: "no kubeconfig file", env: with("KUBECONFIG", "/nonexistent/kubeconfig"), wantMsg: "hub API unusable: load hub kubeconfig /nonexistent/kubeconfig"},
		{name: "hub API down", env: with(), wantMsg: "hub API unusable: list registryconnections"},
		{name: "redis down", env: with("REDIS_PORT", closedPort), wantMsg: "redis unusable"},
		{name: "bad redis configuration", env: with("CACHE_TTL", "5"), wantMsg: "configuration unusable: invalid redis configuration: CACHE_TTL=5"},
		{name: "malformed variable", env: with("REDIS_DB", "one"), wantMsg: `configuration unusable: REDIS_DB="one": not an integer`},
		{name: "bad log level", env: with("LOG_LEVEL", "loud"), wantMsg: `configuration unusable: LOG_LEVEL="loud"`},
		{name: "index without count", env: with("JOB_COMPLETION_INDEX", "1"), wantMsg: "JOB_COMPLETION_INDEX=1 is set but JOB_COMPLETIONS is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := Run(context.Background(), []string{"registry"}, envFunc(tt.env), &out, &errOut)
			if got := exitCode(err); got != ExitCannotRun {
				t.Fatalf("exit code %d (err %v), want %d", got, err, ExitCannotRun)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			s := lastSummary(t, out.String())
			if !strings.Contains(s.Error, tt.wantMsg) || s.Attempted != 0 {
				t.Errorf("summary %+v: want error %q and nothing attempted", s, tt.wantMsg)
			}
		})
	}
}

// TestRunReachesHubQuickly measures the cold start: from Run to the first request the hub
// receives (configuration, logger, clients and a Redis PING before it) must take well under a
// second.
func TestRunReachesHubQuickly(t *testing.T) {
	r := testenv.NewRedis(t)
	host, port, _ := strings.Cut(r.Addr, ":")
	first := make(chan time.Time, 1)
	hub := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case first <- time.Now():
		default:
		}
		http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"test hub says no","code":500}`, http.StatusInternalServerError)
	}))
	defer hub.Close()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, hub.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"KUBECONFIG": kc, "NAMESPACE": "x", "REDIS_HOST": host, "REDIS_PORT": port, "REDIS_KEY_PREFIX": r.Prefix}
	var out, errOut bytes.Buffer
	start := time.Now()
	err := Run(context.Background(), []string{"registry"}, envFunc(env), &out, &errOut)
	if exitCode(err) != ExitCannotRun || !strings.Contains(err.Error(), "hub API unusable") {
		t.Fatalf("Run against a failing hub: %v", err)
	}
	select {
	case at := <-first:
		if d := at.Sub(start); d > 500*time.Millisecond {
			t.Errorf("first hub request %v after start, want well under a second", d)
		} else {
			t.Logf("first hub request %v after start", d)
		}
	default:
		t.Fatal("the hub received no request")
	}
}
