package collector

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clusterpulse/clusterpulse/testenv"
)

func TestRunHelpAndBadEnvironment(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"--help"}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"CLUSTER_NAME", "INGESTER_ADDRESS", "COLLECTOR_TOKEN", "COLLECT_INTERVAL", "BUFFER_SIZE",
		"BUFFER_MAX_BYTES", "INGESTER_TLS_ENABLED", "INGESTER_TLS_CA", "INGESTER_TLS_SERVER_NAME", "COLLECTOR_MODE"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("--help does not list %s", v)
		}
	}
	env := map[string]string{"COLLECT_INTERVAL": "often"}
	err := Run(context.Background(), nil, func(k string) string { return env[k] }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "CLUSTER_NAME is required") || !strings.Contains(err.Error(), "COLLECT_INTERVAL") {
		t.Errorf("err = %v, want CLUSTER_NAME and COLLECT_INTERVAL named", err)
	}
}

// TestRun runs `clusterpulse collector` from its environment against a real ingester, with a
// kubeconfig for the cluster (a local run), and checks /healthz, a stored batch and shutdown.
func TestRun(t *testing.T) {
	h := newHub(t, hubOptions{})
	kubeconfig := os.Getenv(testenv.EnvKubeconfig)
	if kubeconfig == "" {
		t.Skip("KUBECONFIG not set by the test environment")
	}
	port := testenv.FreePort(t)
	env := map[string]string{
		"CLUSTER_NAME": h.cluster, "INGESTER_ADDRESS": strings.TrimPrefix(h.url, "http://"), "COLLECTOR_TOKEN": h.token,
		"COLLECT_INTERVAL": "1", "KUBECONFIG": kubeconfig, "COLLECTOR_HTTP_PORT": strconv.Itoa(port), "LOG_LEVEL": "debug",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- Run(ctx, nil, func(k string) string { return env[k] }, &logs, &lockedWriter{w: &logs}) }()
	testenv.Eventually(t, 30*time.Second, func() error {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/healthz: %s", resp.Status)
		}
		if ids, _ := storedBatches(t, h.store, h.cluster); len(ids) == 0 {
			return fmt.Errorf("no batch stored")
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
