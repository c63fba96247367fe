package envconf

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type spec struct {
	S     string        `envconfig:"S" default:"def" desc:"a string"`
	N     int           `envconfig:"N" default:"7" desc:"a number"`
	B     bool          `envconfig:"B" desc:"a flag"`
	L     []string      `envconfig:"L"`
	D     time.Duration `envconfig:"D" default:"1s"`
	Plain string
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    spec
		wantErr string
	}{
		{name: "defaults", want: spec{S: "def", N: 7, D: time.Second}},
		{name: "empty means unset", env: map[string]string{"S": "", "N": ""}, want: spec{S: "def", N: 7, D: time.Second}},
		{name: "values", env: map[string]string{"S": "x", "N": "-3", "B": "true", "L": "a:1, b:2,", "D": "2m", "Plain": "ignored"},
			want: spec{S: "x", N: -3, B: true, L: []string{"a:1", "b:2"}, D: 2 * time.Minute}},
		{name: "errors name the variables", env: map[string]string{"N": "seven", "B": "yes", "D": "5"},
			wantErr: `N="seven": not an integer` + "\n" + `B="yes": not a boolean` + "\n" + `D="5": not a duration (e.g. 30s)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got spec
			err := Load(func(k string) string { return tt.env[k] }, &got)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Load error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Load (-want +got):\n%s", d)
			}
		})
	}
	if err := Load(func(string) string { return "" }, spec{}); err == nil {
		t.Error("Load of a non-pointer succeeded")
	}
}

func TestVarsAndUsage(t *testing.T) {
	type other struct {
		S string `envconfig:"S" desc:"duplicate, dropped"`
		X string `envconfig:"X" default:"x" desc:"another"`
	}
	got := Vars(spec{}, &other{})
	want := []Var{{"S", "def", "a string"}, {"N", "7", "a number"}, {"B", "", "a flag"}, {"L", "", ""}, {"D", "1s", ""}, {"X", "x", "another"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Vars (-want +got):\n%s", d)
	}
	var b bytes.Buffer
	Usage(&b, spec{})
	if !strings.Contains(b.String(), "  N                                a number (default 7)\n") {
		t.Errorf("Usage output:\n%s", b.String())
	}
}
