package collect

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clusterpulse/clusterpulse/engine"
)

func TestNodeUsageFromUnstructured(t *testing.T) {
	items := readItems(t, "nodemetrics.json")
	tests := []struct {
		name    string
		want    NodeUsage
		wantErr error
	}{
		// 1234567890n is 1.234567890 cores: kept at millicore resolution, rounded up.
		{name: "ip-10-0-12-34.ec2.internal", want: NodeUsage{Name: "ip-10-0-12-34.ec2.internal", CPU: 1.235, Memory: 12582912 * 1024}},
		{name: "cp-0", want: NodeUsage{Name: "cp-0", CPU: 0.35, Memory: 6 << 30}},
		{name: "broken", wantErr: engine.ErrInvalid},
	}
	if len(items) != len(tests) {
		t.Fatalf("testdata has %d items, the table %d", len(items), len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NodeUsageFromUnstructured(&items[i])
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NodeUsageFromUnstructured mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeUsageApplyTo(t *testing.T) {
	n := engine.Node{Name: "a", CPUUsagePercent: 40}
	NodeUsage{Name: "a", CPU: 1.5, Memory: 1 << 30}.ApplyTo(&n)
	want := engine.Node{Name: "a", CPUUsagePercent: 40, CPUUsed: ptr(1.5), MemoryUsed: ptr[int64](1 << 30)}
	if diff := cmp.Diff(want, n); diff != "" {
		t.Errorf("ApplyTo mismatch (-want +got):\n%s", diff)
	}
}
