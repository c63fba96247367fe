package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
)

func TestNextPassWait(t *testing.T) {
	now := time.Date(2026, 2, 13, 10, 0, 0, 0, time.UTC)
	deadline := now.Add(55 * time.Second)
	tests := []struct {
		name     string
		dueIn    []time.Duration
		wantWait time.Duration
		wantOK   bool
	}{
		{name: "no units", dueIn: nil, wantOK: false},
		{name: "soonest unit", dueIn: []time.Duration{25 * time.Second, 12 * time.Second, 40 * time.Second}, wantWait: 12 * time.Second, wantOK: true},
		{name: "due now waits the minimum gap", dueIn: []time.Duration{0, 30 * time.Second}, wantWait: minPassGap, wantOK: true},
		{name: "next due after the deadline ends the run", dueIn: []time.Duration{56 * time.Second}, wantOK: false},
		{name: "next due exactly at the deadline ends the run", dueIn: []time.Duration{55 * time.Second}, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotWait, gotOK := nextPassWait(now, deadline, tt.dueIn)
			if gotWait != tt.wantWait || gotOK != tt.wantOK {
				t.Errorf("nextPassWait = %v, %v; want %v, %v", gotWait, gotOK, tt.wantWait, tt.wantOK)
			}
		})
	}
}

func TestBreakerDecide(t *testing.T) {
	b := &breaker{threshold: 3, cooldown: time.Minute}
	now := time.Date(2026, 2, 13, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		state     breakerState
		wantState string
		wantUntil time.Time
	}{
		{name: "no failures", wantState: breakerClosed},
		{name: "below the threshold", state: breakerState{Failures: 2}, wantState: breakerClosed},
		{name: "open during the cooldown", state: breakerState{Failures: 3, OpenedAt: now.Add(-10 * time.Second)}, wantState: breakerOpen, wantUntil: now.Add(50 * time.Second)},
		{name: "half-open after the cooldown", state: breakerState{Failures: 4, OpenedAt: now.Add(-time.Minute)}, wantState: breakerHalfOpen, wantUntil: now},
		{name: "threshold without an opening time is closed", state: breakerState{Failures: 3}, wantState: breakerClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, until := b.decide(tt.state, now)
			if got != tt.wantState || !until.Equal(tt.wantUntil) {
				t.Errorf("decide = %s until %v; want %s until %v", got, until, tt.wantState, tt.wantUntil)
			}
		})
	}
}

func TestClusterSpec(t *testing.T) {
	tests := []struct {
		name string
		cc   kube.ClusterConnection
		want engine.ClusterSpec
	}{
		{
			name: "defaults",
			cc: kube.ClusterConnection{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "hub"},
				Spec: kube.ClusterConnectionSpec{Endpoint: "https://api.x:6443", CredentialsRef: kube.CredentialsRef{Name: "s"}}},
			want: engine.ClusterSpec{Endpoint: "https://api.x:6443", CredentialsRef: engine.CredentialsRef{Name: "s", Namespace: "hub"},
				Monitoring: engine.ClusterMonitoring{Interval: 30, Timeout: 10}, CollectionMode: "pull"},
		},
		{
			name: "interval raised to the minimum, push kept, secret namespace kept",
			cc: kube.ClusterConnection{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "hub"},
				Spec: kube.ClusterConnectionSpec{DisplayName: "Prod", Endpoint: "https://api.x:6443", Labels: map[string]string{"env": "prod"},
					CredentialsRef: kube.CredentialsRef{Name: "s", Namespace: "creds"}, CollectionMode: "push",
					Monitoring: kube.MonitoringConfig{Interval: 10, Timeout: 7}}},
			want: engine.ClusterSpec{DisplayName: "Prod", Endpoint: "https://api.x:6443", Labels: map[string]string{"env": "prod"},
				CredentialsRef: engine.CredentialsRef{Name: "s", Namespace: "creds"},
				Monitoring:     engine.ClusterMonitoring{Interval: 30, Timeout: 7}, CollectionMode: "push"},
		},
		{
			name: "longer interval kept, unknown mode is pull",
			cc: kube.ClusterConnection{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "hub"},
				Spec: kube.ClusterConnectionSpec{Endpoint: "https://api.x:6443", CredentialsRef: kube.CredentialsRef{Name: "s"}, CollectionMode: "Push",
					Monitoring: kube.MonitoringConfig{Interval: 300}}},
			want: engine.ClusterSpec{Endpoint: "https://api.x:6443", CredentialsRef: engine.CredentialsRef{Name: "s", Namespace: "hub"},
				Monitoring: engine.ClusterMonitoring{Interval: 300, Timeout: 10}, CollectionMode: "pull"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, clusterSpec(&tt.cc)); d != "" {
				t.Errorf("clusterSpec (-want +got):\n%s", d)
			}
		})
	}
}

func TestClusterStatusPatch(t *testing.T) {
	now := time.Date(2026, 2, 13, 10, 4, 5, 0, time.UTC)
	ns := engine.NewNamespaces([]string{"a", "b", "c"}, now)
	tests := []struct {
		name   string
		status engine.ClusterStatus
		state  engine.ClusterState
		mode   string
		want   map[string]any
	}{
		{
			name:   "success",
			status: engine.ClusterStatus{Health: engine.HealthHealthy, Message: "ok", LastCheck: engine.NewTime(now)},
			state:  engine.ClusterState{Nodes: make([]engine.Node, 4), Namespaces: &ns},
			mode:   "pull",
			want: map[string]any{"phase": "Connected", "health": "healthy", "message": "ok", "lastSyncTime": "2026-02-13T10:04:05Z",
				"nodes": 4, "namespaces": 3},
		},
		{
			name:   "failure keeps lastSyncTime and counts",
			status: engine.ClusterStatus{Health: engine.HealthUnhealthy, Message: "connection refused", LastCheck: engine.NewTime(now)},
			mode:   "pull",
			want:   map[string]any{"phase": "Error", "health": "unhealthy", "message": "connection refused"},
		},
		{
			name:   "push fallback says the collector is not connected",
			status: engine.ClusterStatus{Health: engine.HealthUnhealthy, Message: "x", LastCheck: engine.NewTime(now)},
			mode:   "push",
			want: map[string]any{"phase": "Error", "health": "unhealthy", "message": "x",
				"collectorStatus": map[string]any{"connected": false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, clusterStatusPatch(tt.status, tt.state, tt.mode)); d != "" {
				t.Errorf("clusterStatusPatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestDescribeContactError(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{err: fmt.Errorf("list: %w", context.DeadlineExceeded), want: "timed out"},
		{err: errors.New(`Get "https://x/api": dial tcp 127.0.0.1:1: connect: connection refused`), want: "connection refused"},
		{err: errors.New("Unauthorized"), want: "unauthorized: the token was rejected"},
		{err: fmt.Errorf("namespaces is forbidden: %w", engine.ErrForbidden), want: "forbidden: the token lacks rights"},
		{err: errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority"), want: "TLS verification failed"},
		{err: errors.New("dial tcp: lookup api.nowhere: no such host"), want: "unknown host"},
		{err: errors.New("EOF"), want: "unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := describeContactError(tt.err); got != tt.want {
				t.Errorf("describeContactError(%q) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestPullCommandLine(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{name: "help", args: []string{"pull", "--help"}, wantOut: []string{
			"Usage: clusterpulse job pull", "--for duration", "--cluster-timeout", "(default 1m0s)", "--breaker-failures", "(default 5)",
			"--breaker-cooldown", "--concurrency", "(default 10)", "VM_ENABLED", "VM_ENDPOINT", "NAMESPACE", "REDIS_KEY_PREFIX",
		}},
		{name: "bad duration", args: []string{"pull", "--for", "soon"}, wantCode: ExitUsage, wantErr: "invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := Run(context.Background(), tt.args, envFunc(map[string]string{"KUBECONFIG": "/nonexistent"}), &out, &errOut)
			if got := exitCode(err); got != tt.wantCode {
				t.Fatalf("exit code %d (err %v), want %d", got, err, tt.wantCode)
			}
			if tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			for _, s := range tt.wantOut {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, out.String())
				}
			}
		})
	}
}
