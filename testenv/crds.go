package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

// crdGVR is the resource of CustomResourceDefinitions; the dynamic client avoids a
// dependency on k8s.io/apiextensions-apiserver.
var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// crdFieldManager owns the fields of the CRDs that tests install.
const crdFieldManager = "clusterpulse-tests"

// InstallCRDs applies every CustomResourceDefinition in the *.yaml files of dir to the test
// kube-apiserver (server-side apply, forced, so it creates or updates) and waits until each
// is Established and its resources are served. It is idempotent and safe to call from
// several test packages at once; the CRDs are cluster-scoped and stay installed.
func InstallCRDs(t testing.TB, dir string) {
	t.Helper()
	cfg := KubeConfig(t)
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("dynamic client: %v", err)
	}
	crds, err := readCRDs(dir)
	if err != nil {
		t.Fatalf("read CRDs: %v", err)
	}
	if len(crds) == 0 {
		t.Fatalf("no CustomResourceDefinition in %s/*.yaml", dir)
	}
	for _, crd := range crds {
		applyCRD(t, dc, crd)
	}
	for _, crd := range crds {
		waitCRD(t, dc, crd)
	}
}

// readCRDs decodes every CustomResourceDefinition document of the *.yaml files in dir,
// in file name order.
func readCRDs(dir string) ([]*unstructured.Unstructured, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	sort.Strings(files)
	var crds []*unstructured.Unstructured
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("decode %s: %w", f, err)
			}
			if len(obj) == 0 {
				continue
			}
			u := &unstructured.Unstructured{Object: obj}
			if u.GetKind() != "CustomResourceDefinition" {
				return nil, fmt.Errorf("%s: kind %q is not CustomResourceDefinition", f, u.GetKind())
			}
			crds = append(crds, u)
		}
	}
	return crds, nil
}

// applyCRD server-side applies crd, retrying the conflicts that concurrent installers cause.
func applyCRD(t testing.TB, dc dynamic.Interface, crd *unstructured.Unstructured) {
	t.Helper()
	Eventually(t, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := dc.Resource(crdGVR).Apply(ctx, crd.GetName(), crd, metav1.ApplyOptions{FieldManager: crdFieldManager, Force: true})
		if err == nil {
			return nil
		}
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("apply CRD %s: %w", crd.GetName(), err)
		}
		t.Fatalf("apply CRD %s: %v", crd.GetName(), err)
		return nil
	})
}

// waitCRD waits until the CRD is Established with its current generation and every served
// version answers a LIST.
func waitCRD(t testing.TB, dc dynamic.Interface, crd *unstructured.Unstructured) {
	t.Helper()
	name := crd.GetName()
	Eventually(t, 60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		got, err := dc.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get CRD %s: %w", name, err)
		}
		return established(got)
	})
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		vm, ok := v.(map[string]any)
		if !ok {
			continue
		}
		if served, _ := vm["served"].(bool); !served {
			continue
		}
		version, _ := vm["name"].(string)
		gvr := schema.GroupVersionResource{Group: group, Version: version, Resource: plural}
		Eventually(t, 60*time.Second, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := dc.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
				return fmt.Errorf("list %s: %w", gvr, err)
			}
			return nil
		})
	}
}

// established returns nil when the CRD's Established condition is True and, where the
// apiserver reports it, the condition observed the CRD's current generation (so a just
// updated schema is in force).
func established(crd *unstructured.Unstructured) error {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		cm, ok := c.(map[string]any)
		if !ok || cm["type"] != "Established" {
			continue
		}
		if cm["status"] != "True" {
			return fmt.Errorf("CRD %s is not established: %v", crd.GetName(), cm["message"])
		}
		if og, ok, _ := unstructured.NestedInt64(cm, "observedGeneration"); ok && og != crd.GetGeneration() {
			return fmt.Errorf("CRD %s: established at generation %d, current %d", crd.GetName(), og, crd.GetGeneration())
		}
		return nil
	}
	return fmt.Errorf("CRD %s has no Established condition yet", crd.GetName())
}

// RepoRoot returns the root of the repository: the nearest directory above the working
// directory (the test's package directory) that holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the working directory")
		}
		dir = parent
	}
}
