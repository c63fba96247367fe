package metricsource

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNamespaceFilterAllows(t *testing.T) {
	tests := []struct {
		name             string
		include, exclude []string
		allowed, denied  []string
	}{
		{"empty allows all", nil, nil, []string{"default", "kube-system", "a"}, nil},
		{"exact include", []string{"prod", "staging"}, nil, []string{"prod", "staging"}, []string{"prod-1", "xprod", "dev"}},
		{"star", []string{"team-*"}, nil, []string{"team-", "team-a", "team-a-b"}, []string{"team", "ateam-a", "other"}},
		{"question mark", []string{"app-?"}, nil, []string{"app-1", "app-x"}, []string{"app-", "app-12"}},
		{"star in the middle", []string{"a*z"}, nil, []string{"az", "abcz"}, []string{"abc", "zaz1"}},
		{"exclude wins", []string{"team-*"}, []string{"team-tmp", "*-old"}, []string{"team-a"}, []string{"team-tmp", "team-x-old"}},
		{"exclude alone", nil, []string{"kube-*"}, []string{"default", "prod"}, []string{"kube-system", "kube-public"}},
		{"dash is literal", []string{"a-b"}, nil, []string{"a-b"}, []string{"a.b", "ab"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, problems := newNamespaceFilter(tt.include, tt.exclude)
			if len(problems) > 0 {
				t.Fatalf("newNamespaceFilter: %v", problems)
			}
			for _, ns := range tt.allowed {
				if !f.Allows(ns) {
					t.Errorf("Allows(%q) = false, want true", ns)
				}
			}
			for _, ns := range tt.denied {
				if f.Allows(ns) {
					t.Errorf("Allows(%q) = true, want false", ns)
				}
			}
		})
	}
}

func TestNamespaceFilterExactNamespaces(t *testing.T) {
	tests := []struct {
		name             string
		include, exclude []string
		want             []string
		wantOK           bool
	}{
		{"no include", nil, []string{"kube-system"}, nil, false},
		{"pattern in include", []string{"prod", "team-*"}, nil, nil, false},
		{"exact names", []string{"prod", "staging", "prod"}, nil, []string{"prod", "staging"}, true},
		{"exact minus excluded", []string{"prod", "staging", "kube-x"}, []string{"kube-*", "staging"}, []string{"prod"}, true},
		{"all excluded", []string{"prod"}, []string{"prod"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, problems := newNamespaceFilter(tt.include, tt.exclude)
			if len(problems) > 0 {
				t.Fatalf("newNamespaceFilter: %v", problems)
			}
			got, ok := f.ExactNamespaces()
			if ok != tt.wantOK {
				t.Errorf("ok = %v, want %v", ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNamespacePatternErrors(t *testing.T) {
	tests := []struct {
		pattern string
		want    string
	}{
		{"", "empty namespace pattern"},
		{"Prod", `namespace pattern "Prod": character 'P' at position 0 is not allowed`},
		{"team_a", `character '_' at position 4`},
		{"a.b", `character '.'`},
		{"kube-[a-z]", `character '['`},
		{"a/b", `character '/'`},
		{"x" + string(make([]byte, 63)), "longer than 63 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			_, problems := newNamespaceFilter([]string{"ok-*", tt.pattern}, nil)
			if len(problems) != 1 {
				t.Fatalf("problems = %v, want exactly one", problems)
			}
			if problems[0].Field != "include[1]" {
				t.Errorf("field = %q, want include[1]", problems[0].Field)
			}
			if !strings.Contains(problems[0].Msg, tt.want) {
				t.Errorf("msg = %q, want it to contain %q", problems[0].Msg, tt.want)
			}
		})
	}
}
