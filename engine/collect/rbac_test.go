package collect

import (
	"slices"
	"testing"
)

// TestPolicyRulesReadOnly keeps the collector's rules read-only and away from Secrets and
// ConfigMaps; TestCollectLeastPrivilege proves on a real API server that they suffice.
func TestPolicyRulesReadOnly(t *testing.T) {
	for _, r := range PolicyRules() {
		for _, v := range r.Verbs {
			if v != "get" && v != "list" {
				t.Errorf("rule %+v grants verb %q", r, v)
			}
		}
		for _, res := range r.Resources {
			if res == "*" || res == "secrets" || res == "configmaps" {
				t.Errorf("rule %+v grants %q", r, res)
			}
		}
		if slices.Contains(r.APIGroups, "*") {
			t.Errorf("rule %+v grants every API group", r)
		}
	}
}
