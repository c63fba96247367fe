package openapi

import (
	"context"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestDocumentIsValid loads the embedded document with kin-openapi and validates it against
// the OpenAPI 3 rules (references resolve, schemas are well formed, every operation has
// responses).
func TestDocumentIsValid(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(YAML())
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI 3 document: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi version %q, want 3.x", doc.OpenAPI)
	}
	if doc.Paths.Len() == 0 {
		t.Error("the document has no paths")
	}
}

// TestYAMLReturnsACopy keeps callers from changing the embedded document.
func TestYAMLReturnsACopy(t *testing.T) {
	a := YAML()
	a[0] ^= 0xff
	if b := YAML(); b[0] == a[0] {
		t.Error("YAML returned the embedded slice itself")
	}
}
