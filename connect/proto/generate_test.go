// Package proto holds the .proto files of the collector protocol; its only Go code is this test,
// which keeps the generated code in connect/gen identical to what the .proto files produce. It
// must not import any ClusterPulse package besides testenv.
package proto

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/clusterpulse/clusterpulse/testenv"
)

// TestGeneratedCodeIsFresh runs testenv/scripts/generate-proto.sh into a temporary directory
// and fails when any file differs from connect/gen, or exists on one side only: run `make
// generate` after editing a .proto file.
func TestGeneratedCodeIsFresh(t *testing.T) {
	bin := testenv.BinDir(t)
	for _, b := range []string{"buf", "protoc-gen-go", "protoc-gen-connect-go"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			t.Fatalf("%s is missing in %s: run testenv/scripts/build-protoc.sh", b, bin)
		}
	}
	root := testenv.RepoRoot(t)
	// Read the inputs in this process too: go test caches a result by the files the test
	// itself opened, and buf opens them in a child process.
	readTree(t, filepath.Join(root, "connect/proto"))
	for _, s := range []string{"generate-proto.sh", "lib.sh"} {
		if _, err := os.ReadFile(filepath.Join(root, "testenv/scripts", s)); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	cmd := exec.Command(filepath.Join(root, "testenv/scripts/generate-proto.sh"), out)
	cmd.Env = append(os.Environ(), "BIN_DIR="+bin, "BUF_CACHE_DIR="+t.TempDir())
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generate-proto.sh: %v\n%s", err, b)
	}
	want := readTree(t, out)
	got := readTree(t, filepath.Join(root, "connect/gen"))
	if len(want) == 0 {
		t.Fatal("generate-proto.sh produced no files")
	}
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("connect/gen/%s is missing; run `make generate`", name)
		case !bytes.Equal(g, w):
			t.Errorf("connect/gen/%s is stale; run `make generate`", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("connect/gen/%s is not generated from any .proto file; delete it", name)
		}
	}
}

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	return files
}
