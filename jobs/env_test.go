package jobs

import (
	"strings"
	"testing"

	"github.com/clusterpulse/clusterpulse/engine/envconf"
)

// TestEnvVarsDescribed keeps --help complete: every environment variable a job reads has a
// description (a desc tag on its configuration struct).
func TestEnvVarsDescribed(t *testing.T) {
	for _, j := range table() {
		for _, v := range envconf.Vars(append(envSpecs(), j.env...)...) {
			if strings.TrimSpace(v.Desc) == "" {
				t.Errorf("job %s: environment variable %s has no description", j.name, v.Name)
			}
		}
	}
}
