package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// pushImage uploads a minimal image (a config blob and a schema 2 manifest without layers) as
// name:latest through the v2 API, so that the catalog lists name.
func pushImage(t *testing.T, base, name, user, pass string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	do := func(method, u string, body []byte, contentType string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, u, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, u, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	sum := sha256.Sum256(config)
	digest := "sha256:" + hex.EncodeToString(sum[:])

	resp := do(http.MethodPost, base+"/v2/"+name+"/blobs/uploads/", nil, "")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start upload: %s", resp.Status)
	}
	loc, err := url.Parse(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	loc, err = loc.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("upload location: %v", err)
	}
	q := loc.Query()
	q.Set("digest", digest)
	loc.RawQuery = q.Encode()
	if resp := do(http.MethodPut, loc.String(), config, "application/octet-stream"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("put blob: %s", resp.Status)
	}
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",`+
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%d,"digest":"%s"},"layers":[]}`, len(config), digest)
	if resp := do(http.MethodPut, base+"/v2/"+name+"/manifests/latest", []byte(manifest), "application/vnd.docker.distribution.manifest.v2+json"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("put manifest: %s", resp.Status)
	}
}

func TestCheckRealRegistry(t *testing.T) {
	t.Parallel()
	open := testenv.StartRegistry(t, testenv.RegistryOptions{})
	pushImage(t, open.URL, "team-a/app", "", "")
	pushImage(t, open.URL, "team-b/db", "", "")
	auth := testenv.StartRegistry(t, testenv.RegistryOptions{Users: map[string]string{"alice": "s3cret"}})
	pushImage(t, auth.URL, "private/app", "alice", "s3cret")
	tlsReg := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true})
	down := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))

	features := func(over map[string]bool) map[string]bool {
		m := map[string]bool{
			FeatureDockerV2API: true, FeatureHarbor: false, FeatureArtifactory: false, FeatureNexus: false,
			FeatureContentDigest: false, FeaturePagination: false, FeatureCatalogAccessible: true, FeatureRequiresAuth: false,
		}
		for k, v := range over {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name      string
		target    Target
		want      engine.RegistryStatus
		wantInMsg string
		wantInErr string
	}{
		{
			name:   "open registry with catalog",
			target: Target{Endpoint: open.URL + "/", CheckCatalog: true},
			want: engine.RegistryStatus{Available: true, Health: engine.HealthHealthy, Version: "registry/2.0",
				RepositoryCount: 2, Repositories: []string{"team-a/app", "team-b/db"}, Features: features(nil)},
		},
		{
			name:   "open registry, catalog paginated by maxCatalogEntries",
			target: Target{Endpoint: open.URL, CheckCatalog: true, MaxCatalogEntries: 1},
			want: engine.RegistryStatus{Available: true, Health: engine.HealthHealthy, Version: "registry/2.0",
				RepositoryCount: 1, Repositories: []string{"team-a/app"}, Features: features(map[string]bool{FeaturePagination: true})},
			wantInMsg: "maxCatalogEntries (1)",
		},
		{
			name:   "htpasswd, right password",
			target: Target{Endpoint: auth.URL, Username: "alice", Password: "s3cret", CheckCatalog: true},
			want: engine.RegistryStatus{Available: true, Health: engine.HealthHealthy, RequiresAuth: true, Version: "registry/2.0",
				RepositoryCount: 1, Repositories: []string{"private/app"}, Features: features(map[string]bool{FeatureRequiresAuth: true})},
		},
		{
			name:   "htpasswd, wrong password",
			target: Target{Endpoint: auth.URL, Username: "alice", Password: "wrong", CheckCatalog: true},
			want: engine.RegistryStatus{Available: true, Health: engine.HealthDegraded, RequiresAuth: true, Version: "registry/2.0",
				Repositories: []string{}, Features: features(map[string]bool{FeatureRequiresAuth: true, FeatureCatalogAccessible: false})},
			wantInMsg: "credentials rejected",
		},
		{
			name:   "htpasswd, no credentials",
			target: Target{Endpoint: auth.URL, CheckCatalog: true},
			want: engine.RegistryStatus{Available: true, Health: engine.HealthHealthy, RequiresAuth: true, Version: "registry/2.0",
				Repositories: []string{}, Features: features(map[string]bool{FeatureRequiresAuth: true, FeatureCatalogAccessible: false})},
			wantInMsg: "no credentials are configured; catalog not accessible: GET " + auth.URL + "/v2/_catalog?n=100 answered 401 Unauthorized",
		},
		{
			name:   "self-signed TLS with skipTLSVerify",
			target: Target{Endpoint: strings.TrimPrefix(tlsReg.URL, "https://"), SkipTLSVerify: true, CheckCatalog: true},
			want: engine.RegistryStatus{Available: true, Health: engine.HealthHealthy, Version: "registry/2.0",
				Repositories: []string{}, Features: features(nil)},
		},
		{
			name:   "self-signed TLS trusted through RootCAs",
			target: Target{Endpoint: tlsReg.URL, RootCAs: tlsReg.RootCAs},
			want: engine.RegistryStatus{Available: true, Health: engine.HealthHealthy, Version: "registry/2.0",
				Repositories: []string{}, Features: features(map[string]bool{FeatureCatalogAccessible: false})},
		},
		{
			name:      "self-signed TLS verified",
			target:    Target{Endpoint: tlsReg.URL},
			want:      engine.RegistryStatus{Health: engine.HealthUnhealthy, Repositories: []string{}, Features: map[string]bool{}},
			wantInErr: "certificate",
		},
		{
			name:      "down",
			target:    Target{Endpoint: down, Timeout: 5 * time.Second},
			want:      engine.RegistryStatus{Health: engine.HealthUnhealthy, Repositories: []string{}, Features: map[string]bool{}},
			wantInErr: "connection refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Check(context.Background(), tt.target)
			if !strings.Contains(got.Message, tt.wantInMsg) {
				t.Errorf("message %q does not contain %q", got.Message, tt.wantInMsg)
			}
			if !strings.Contains(got.Error, tt.wantInErr) || (tt.wantInErr == "") != (got.Error == "") {
				t.Errorf("error %q, want one containing %q", got.Error, tt.wantInErr)
			}
			if got.LastCheck.IsZero() {
				t.Errorf("LastCheck not set")
			}
			if d := cmp.Diff(tt.want, got, cmp.FilterPath(func(p cmp.Path) bool {
				s := p.Last().String()
				return s == ".LastCheck" || s == ".ResponseTime" || s == ".Message" || s == ".Error"
			}, cmp.Ignore())); d != "" {
				t.Errorf("Check (-want +got):\n%s", d)
			}
		})
	}
}

// TestCheckRegistryGoesDown stops a registry between two checks: the same client reports it
// healthy, then unavailable, then healthy again once it is back.
func TestCheckRegistryGoesDown(t *testing.T) {
	t.Parallel()
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{Users: map[string]string{"bob": "pw"}})
	c, err := NewClient(Target{Endpoint: reg.URL, Username: "bob", Password: "pw", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := []string{engine.HealthHealthy, engine.HealthUnhealthy, engine.HealthHealthy}
	var got []string
	for i := range want {
		switch i {
		case 1:
			reg.Stop()
		case 2:
			reg.Start()
		}
		st := c.Check(context.Background())
		got = append(got, st.Health)
		if st.Health == engine.HealthUnhealthy {
			if !strings.Contains(st.Error, "connection refused") {
				t.Errorf("down registry: error %q, want connection refused", st.Error)
			}
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("health over stop/start (-want +got):\n%s", d)
	}
}
