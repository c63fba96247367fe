package collect

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/clusterpulse/clusterpulse/engine"
)

// readJSON decodes testdata/name into v.
func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode testdata/%s: %v", name, err)
	}
}

// readObject decodes testdata/name as one unstructured object.
func readObject(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	readJSON(t, name, &u.Object)
	return u
}

// readItems decodes testdata/name, a kubectl List, into its unstructured items.
func readItems(t *testing.T, name string) []unstructured.Unstructured {
	t.Helper()
	var l struct {
		Items []map[string]any `json:"items"`
	}
	readJSON(t, name, &l)
	out := make([]unstructured.Unstructured, 0, len(l.Items))
	for _, it := range l.Items {
		out = append(out, unstructured.Unstructured{Object: it})
	}
	return out
}

// ts parses an RFC 3339 time for expected values.
func ts(t *testing.T, s string) engine.Time {
	t.Helper()
	p, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return engine.NewTime(p)
}

func ptr[T any](v T) *T { return &v }
