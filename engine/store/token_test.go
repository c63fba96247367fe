package store

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clusterpulse/clusterpulse/engine"
)

func TestCollectorKeys(t *testing.T) {
	hash := CollectorTokenHash("abc")
	tests := []struct {
		name string
		got  string
		want string
	}{
		// The layout the ingester has always read: collector:token:{hex sha256}.
		{"token", Keys{Prefix: "t1:"}.CollectorToken(hash), "t1:collector:token:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"install", Keys{}.CollectorInstall("prod"), "collector:install:prod"},
		{"installed", Keys{}.CollectorsInstalled(), "collectors:installed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("key mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCollectorTokens(t *testing.T) {
	s, r := newTestStore(t)
	ctx := ctxT(t)
	tok := strings.Repeat("a1", 32)
	other := strings.Repeat("b2", 32)

	invalid := []struct {
		name, cluster, token string
	}{
		{"empty cluster", "", tok},
		{"short token", "prod", "short"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.RegisterCollectorToken(ctx, tt.cluster, tt.token); !errors.Is(err, engine.ErrInvalid) {
				t.Errorf("RegisterCollectorToken(%q, %q) = %v, want ErrInvalid", tt.cluster, tt.token, err)
			}
		})
	}

	if err := s.RegisterCollectorToken(ctx, "prod", tok); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterCollectorToken(ctx, "prod", other); err != nil {
		t.Fatal(err)
	}
	// Only the hash is stored: the token itself appears nowhere in Redis.
	keys, err := r.Client.Keys(ctx, r.Prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		v, _ := r.Client.Get(ctx, k).Result()
		if strings.Contains(k, tok) || strings.Contains(v, tok) {
			t.Errorf("key %q (value %q) contains the token", k, v)
		}
	}

	lookups := []struct {
		name, token, want string
	}{
		{"registered", tok, "prod"},
		{"second token of the same cluster", other, "prod"},
		{"unknown", strings.Repeat("c3", 32), ""},
	}
	for _, tt := range lookups {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.CollectorTokenCluster(ctx, tt.token)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CollectorTokenCluster mismatch (-want +got):\n%s", diff)
			}
		})
	}

	if err := s.RevokeCollectorToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeCollectorTokenHash(ctx, CollectorTokenHash(other)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeCollectorToken(ctx, tok); err != nil {
		t.Errorf("revoking an unknown token: %v", err)
	}
	for _, tk := range []string{tok, other} {
		if got, err := s.CollectorTokenCluster(ctx, tk); err != nil || got != "" {
			t.Errorf("after revocation CollectorTokenCluster = %q, %v; want \"\"", got, err)
		}
	}
}

func TestCollectorInstallRecord(t *testing.T) {
	s, _ := newTestStore(t)
	ctx := ctxT(t)
	if _, found, err := s.LoadCollectorInstall(ctx, "prod"); err != nil || found {
		t.Fatalf("LoadCollectorInstall before save = %v, %v; want not found", found, err)
	}
	want := CollectorInstall{
		Cluster: "prod", Namespace: "clusterpulse-system", Name: "clusterpulse-collector", NamespaceCreated: true,
		Version: "v1.2.3", Hash: "h1", TokenHash: CollectorTokenHash(strings.Repeat("x", 64)),
		Endpoint: "https://api.prod:6443", CredentialsRef: engine.CredentialsRef{Name: "creds", Namespace: "hub"},
		InstalledAt: engine.NewTime(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
	}
	for _, rec := range []CollectorInstall{want, {Cluster: "dev", Namespace: "n", Name: "c"}} {
		if err := s.SaveCollectorInstall(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveCollectorInstall(ctx, CollectorInstall{}); !errors.Is(err, engine.ErrInvalid) {
		t.Errorf("SaveCollectorInstall without a cluster = %v, want ErrInvalid", err)
	}
	got, found, err := s.LoadCollectorInstall(ctx, "prod")
	if err != nil || !found {
		t.Fatalf("LoadCollectorInstall = %v, %v", found, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("record mismatch (-want +got):\n%s", diff)
	}
	names, err := s.CollectorInstallClusters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"dev", "prod"}, names); diff != "" {
		t.Errorf("installed clusters mismatch (-want +got):\n%s", diff)
	}
	if err := s.DeleteCollectorInstall(ctx, "prod"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCollectorInstall(ctx, "prod"); err != nil {
		t.Errorf("deleting a missing record: %v", err)
	}
	if _, found, err := s.LoadCollectorInstall(ctx, "prod"); err != nil || found {
		t.Errorf("LoadCollectorInstall after delete = %v, %v; want not found", found, err)
	}
	names, err = s.CollectorInstallClusters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"dev"}, names); diff != "" {
		t.Errorf("installed clusters after delete mismatch (-want +got):\n%s", diff)
	}
}
