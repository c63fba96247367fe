package jobs

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clusterpulse/clusterpulse/engine"
)

func TestParseShard(t *testing.T) {
	tests := []struct {
		in      string
		want    Shard
		wantErr bool
	}{
		{in: "0/1", want: Shard{Index: 0, Count: 1}},
		{in: " 2/3 ", want: Shard{Index: 2, Count: 3}},
		{in: "3/3", wantErr: true},
		{in: "-1/3", wantErr: true},
		{in: "0/0", wantErr: true},
		{in: "1", wantErr: true},
		{in: "a/b", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseShard(tt.in)
			if tt.wantErr {
				if !errors.Is(err, engine.ErrInvalid) {
					t.Fatalf("ParseShard(%q) error = %v, want ErrInvalid", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseShard(%q): %v", tt.in, err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ParseShard(%q) (-want +got):\n%s", tt.in, d)
			}
		})
	}
}

// TestShardOwnsPartition checks that every name belongs to exactly one shard, that the split
// is stable, and that no shard is starved.
func TestShardOwnsPartition(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			counts := make([]int, n)
			for i := range 700 {
				name := fmt.Sprintf("cluster-%d", i)
				owners := 0
				for s := range n {
					sh := Shard{Index: s, Count: n}
					if sh.Owns(name) {
						owners++
						counts[s]++
					}
					if sh.Owns(name) != sh.Owns(name) {
						t.Fatalf("Owns(%q) is not stable", name)
					}
				}
				if owners != 1 {
					t.Fatalf("%q owned by %d of %d shards, want 1", name, owners, n)
				}
			}
			for s, c := range counts {
				if c < 700/n/2 {
					t.Errorf("shard %d/%d owns %d of 700 names: too few", s, n, c)
				}
			}
		})
	}
	if !(Shard{}).Owns("anything") {
		t.Error("zero Shard must own every name")
	}
}
