package metricsource

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clusterpulse/clusterpulse/engine"
)

// samplePod is a realistic unstructured Pod as the dynamic client returns it.
func samplePod() map[string]any {
	return map[string]any{
		"apiVersion": "v1",
		"kind":       "Pod",
		"metadata": map[string]any{
			"name":      "web-0",
			"namespace": "shop",
			"labels": map[string]any{
				"app.kubernetes.io/name": "web",
				"tier":                   "frontend",
				"it's":                   "quoted",
			},
			"annotations": map[string]any{
				"example.com/owner": "team-a",
			},
			"creationTimestamp": "2024-05-01T12:00:00Z",
		},
		"spec": map[string]any{
			"nodeName": nil,
			"containers": []any{
				map[string]any{
					"name":  "app",
					"image": "nginx:1.27",
					"resources": map[string]any{
						"requests": map[string]any{"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"},
					},
				},
				map[string]any{"name": "sidecar", "image": "envoy:1.30"},
			},
		},
		"status": map[string]any{
			"phase":        "Running",
			"restartCount": int64(3),
		},
	}
}

func TestParsePathLookup(t *testing.T) {
	tests := []struct {
		name      string
		path      string
		want      any
		wantFound bool
		canonical string
	}{
		{"simple", ".status.phase", "Running", true, ".status.phase"},
		{"no leading dot", "status.phase", "Running", true, ".status.phase"},
		{"index", ".spec.containers[0].image", "nginx:1.27", true, ".spec.containers[0].image"},
		{"second index", ".spec.containers[1].name", "sidecar", true, ".spec.containers[1].name"},
		{"index out of range", ".spec.containers[2].name", nil, false, ".spec.containers[2].name"},
		{"bracketed key with dots and slash", ".metadata.labels['app.kubernetes.io/name']", "web", true, ".metadata.labels['app.kubernetes.io/name']"},
		{"double-quoted key", `.metadata.annotations["example.com/owner"]`, "team-a", true, ".metadata.annotations['example.com/owner']"},
		{"escaped quote in key", `.metadata.labels['it\'s']`, "quoted", true, `.metadata.labels['it\'s']`},
		{"bracketed plain key printed bare", ".metadata['name']", "web-0", true, ".metadata.name"},
		{"leading bracket", "['status'].phase", "Running", true, ".status.phase"},
		{"leading dot then bracket", ".['status'].phase", "Running", true, ".status.phase"},
		{"key after index", ".spec.containers[0].resources.requests['nvidia.com/gpu']", "1", true, ".spec.containers[0].resources.requests['nvidia.com/gpu']"},
		{"missing key", ".status.podIP", nil, false, ".status.podIP"},
		{"explicit null is found", ".spec.nodeName", nil, true, ".spec.nodeName"},
		{"key on a list", ".spec.containers.name", nil, false, ".spec.containers.name"},
		{"index on a map", ".metadata[0]", nil, false, ".metadata[0]"},
		{"step into a scalar", ".status.phase.x", nil, false, ".status.phase.x"},
		{"object value", ".spec.containers[0].resources.requests", map[string]any{"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"}, true, ".spec.containers[0].resources.requests"},
		{"dash and unicode names", ".metadata.ünïcode-key", nil, false, ".metadata.ünïcode-key"},
		{"slash in a bare name", ".metadata.labels.a/b", nil, false, ".metadata.labels.a/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePath(tt.path)
			if err != nil {
				t.Fatalf("ParsePath(%q): %v", tt.path, err)
			}
			got, found := p.Lookup(samplePod())
			if found != tt.wantFound {
				t.Errorf("found = %v, want %v", found, tt.wantFound)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Lookup (-want +got):\n%s", diff)
			}
			if got := p.String(); got != tt.canonical {
				t.Errorf("String() = %q, want %q", got, tt.canonical)
			}
			again, err := ParsePath(p.String())
			if err != nil {
				t.Fatalf("reparse %q: %v", p.String(), err)
			}
			if diff := cmp.Diff(p.segs, again.segs, cmp.AllowUnexported(segment{})); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePathErrors(t *testing.T) {
	tests := []struct {
		path string
		want string // substring of the error
	}{
		{"", "position 0: empty path"},
		{".", "position 1: empty path"},
		{".status.", "position 8: expected a name after '.', found the end"},
		{".status..phase", "position 8: expected a name after '.', found '.'"},
		{".spec.containers[", "position 17: unterminated '['"},
		{".spec.containers[0", "position 18: expected ']' after the index"},
		{".spec.containers[x]", "position 17: unexpected 'x' after '['"},
		{".spec.containers[*]", "position 17: wildcards are not supported"},
		{".spec.containers[-1]", "position 17: negative indices are not supported"},
		{".spec.containers[?(@.name=='a')]", "position 17: filters are not supported"},
		{".spec.containers[99999999999999999999]", "position 17: index 99999999999999999999 is too large"},
		{".metadata.labels['app", "position 17: unterminated quoted key"},
		{".metadata.labels['app'", "position 22: expected ']' after the quoted key"},
		{".metadata.labels[\"app']", "position 17: unterminated quoted key"},
		{"{.status.phase}", "position 0: unexpected '{' in a name (JSONPath braces"},
		{".spec.*", "position 6: unexpected '*' in a name (wildcards"},
		{".status phase", "position 7: unexpected ' ' in a name"},
		{".status]", "position 7: unexpected ']' in a name (no matching '[')"},
		{".ünï code", "position 4: unexpected ' '"}, // positions count code points, not bytes
		{".spec.containers[0]x", "position 19: unexpected 'x': expected '.' or '['"},
		{".a\xffb", "position 2: invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			_, err := ParsePath(tt.path)
			if err == nil {
				t.Fatalf("ParsePath(%q) succeeded, want error containing %q", tt.path, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !errors.Is(err, engine.ErrInvalid) {
				t.Errorf("error %q does not wrap engine.ErrInvalid", err)
			}
		})
	}
}

func TestPathLookupNilAndZero(t *testing.T) {
	var zero Path
	if v, ok := zero.Lookup(samplePod()); ok || v != nil {
		t.Errorf("zero Path Lookup = %v, %v; want nil, false", v, ok)
	}
	p, err := ParsePath(".a")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := p.Lookup(nil); ok || v != nil {
		t.Errorf("Lookup(nil) = %v, %v; want nil, false", v, ok)
	}
}

func TestPathLookupDoesNotAllocate(t *testing.T) {
	p, err := ParsePath(".spec.containers[0].resources.requests['nvidia.com/gpu']")
	if err != nil {
		t.Fatal(err)
	}
	obj := samplePod()
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := p.Lookup(obj); !ok {
			t.Fatal("not found")
		}
	})
	if allocs != 0 {
		t.Errorf("Lookup allocates %v times per call, want 0", allocs)
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		".status.phase", ".spec.containers[0].image", ".metadata.labels['app.kubernetes.io/name']",
		`.a["b\"c"]`, `['x\\y']`, ".a[12][3]", "", ".", "[", "a..b", ".ü['ß']",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		printed := p.String()
		again, err := ParsePath(printed)
		if err != nil {
			t.Fatalf("ParsePath(%q) ok but its String %q does not parse: %v", s, printed, err)
		}
		if diff := cmp.Diff(p.segs, again.segs, cmp.AllowUnexported(segment{})); diff != "" {
			t.Fatalf("round trip of %q via %q (-want +got):\n%s", s, printed, diff)
		}
		if again.String() != printed {
			t.Fatalf("String not stable: %q then %q", printed, again.String())
		}
	})
}
