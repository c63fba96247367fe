package jobs

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoadEnv(t *testing.T) {
	type spec struct {
		S     string        `envconfig:"S" default:"def"`
		N     int           `envconfig:"N" default:"7"`
		B     bool          `envconfig:"B"`
		L     []string      `envconfig:"L"`
		D     time.Duration `envconfig:"D" default:"1s"`
		Plain string
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    spec
		wantErr string
	}{
		{name: "defaults", want: spec{S: "def", N: 7, D: time.Second}},
		{name: "values", env: map[string]string{"S": "x", "N": "-3", "B": "true", "L": "a:1, b:2,", "D": "2m", "Plain": "ignored"},
			want: spec{S: "x", N: -3, B: true, L: []string{"a:1", "b:2"}, D: 2 * time.Minute}},
		{name: "errors name the variables", env: map[string]string{"N": "seven", "B": "yes"}, wantErr: `N="seven": not an integer` + "\n" + `B="yes": not a boolean`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got spec
			err := loadEnv(func(k string) string { return tt.env[k] }, &got)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("loadEnv error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("loadEnv (-want +got):\n%s", d)
			}
		})
	}
}

// TestEnvVarsDescribed keeps envDescriptions complete: every variable --help lists has a
// description.
func TestEnvVarsDescribed(t *testing.T) {
	for _, j := range table() {
		for _, v := range envVars(append(envSpecs(), j.env...)...) {
			if strings.TrimSpace(v.desc) == "" {
				t.Errorf("job %s: environment variable %s has no description", j.name, v.name)
			}
		}
	}
}
