package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/clusterpulse/clusterpulse"

// TestDependencyDirection keeps ARCHITECTURE.md §4: engine imports nothing of jobs, connect or
// httpapi; those three never import each other; only main wires them.
func TestDependencyDirection(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps=false", "-json", "./...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type pkg struct {
		ImportPath string
		Deps       []string
	}
	var pkgs []pkg
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list returned no packages")
	}
	top := func(path string) string {
		rest, ok := strings.CutPrefix(path, module+"/")
		if !ok {
			return ""
		}
		first, _, _ := strings.Cut(rest, "/")
		return first
	}
	forbidden := map[string][]string{
		"engine":  {"jobs", "connect", "httpapi"},
		"jobs":    {"connect", "httpapi"},
		"connect": {"jobs", "httpapi"},
		"httpapi": {"jobs", "connect"},
		"testenv": {"engine", "jobs", "connect", "httpapi"},
	}
	for _, p := range pkgs {
		bad := forbidden[top(p.ImportPath)]
		for _, d := range p.Deps {
			for _, b := range bad {
				if top(d) == b {
					t.Errorf("%s depends on %s (forbidden by ARCHITECTURE.md §4)", p.ImportPath, d)
				}
			}
		}
	}
}
