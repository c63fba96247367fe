package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Lock serialises tests of different packages (go test runs packages as separate processes,
// in parallel) that change a cluster-scoped singleton of the shared kube-apiserver, such as the
// OpenShift ClusterVersion named "version". It takes an exclusive file lock named name in the
// environment's run directory and releases it when the test ends.
func Lock(t testing.TB, name string) {
	t.Helper()
	unlock, err := lockFile(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)
}

// lockFile blocks until it holds the exclusive lock name and returns its release function.
func lockFile(name string) (func(), error) {
	dir := os.Getenv("TESTENV_RUN_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "locks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, name+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
