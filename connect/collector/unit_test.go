package collector

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	collectorv1 "github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1"
)

func TestBackoffFullJitter(t *testing.T) {
	tests := []struct {
		name  string
		rand  float64
		steps int
		want  []time.Duration
	}{
		{"ceilings double from 1s and cap at 5m", 0.999999999, 12, []time.Duration{
			time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second,
			64 * time.Second, 128 * time.Second, 256 * time.Second, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute,
		}},
		{"half jitter is half the ceiling", 0.5, 4, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}},
		{"zero jitter waits nothing", 0, 3, []time.Duration{0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Backoff{Min: time.Second, Max: 5 * time.Minute, Rand: func() float64 { return tt.rand }}
			var got []time.Duration
			for range tt.steps {
				got = append(got, b.Next().Round(time.Millisecond))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("reset starts over", func(t *testing.T) {
		b := Backoff{Min: time.Second, Max: 5 * time.Minute, Rand: func() float64 { return 0.5 }}
		b.Next()
		b.Next()
		b.Reset()
		if got, want := b.Next(), 500*time.Millisecond; got != want {
			t.Errorf("after reset: %s, want %s", got, want)
		}
	})
	t.Run("real jitter stays within the ceiling and varies", func(t *testing.T) {
		b := Backoff{Min: time.Second, Max: 5 * time.Minute}
		seen := map[time.Duration]bool{}
		for range 50 {
			b.Reset()
			d := b.Next()
			if d < 0 || d >= time.Second {
				t.Fatalf("first wait %s outside [0, 1s)", d)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("only %d distinct waits in 50 draws: no jitter", len(seen))
		}
	})
}

func TestBufferDropsOldestFirst(t *testing.T) {
	data := func(n int) []byte { return make([]byte, n) }
	tests := []struct {
		name        string
		maxBatches  int
		maxBytes    int64
		adds        []int // sizes, ids are b0, b1, …
		wantIDs     []string
		wantDropped int64
		wantBytes   int64
	}{
		{"fits", 10, 100, []int{10, 20, 30}, []string{"b0", "b1", "b2"}, 0, 60},
		{"byte bound drops the oldest", 10, 100, []int{40, 40, 40}, []string{"b1", "b2"}, 1, 80},
		{"one big batch drops several", 10, 100, []int{30, 30, 30, 90}, []string{"b3"}, 3, 90},
		{"count bound", 2, 1000, []int{1, 1, 1, 1}, []string{"b2", "b3"}, 2, 2},
		{"a batch above the bound is dropped itself", 10, 100, []int{10, 101}, []string{"b0"}, 1, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuffer(tt.maxBatches, tt.maxBytes)
			for i, n := range tt.adds {
				b.Add(fmt.Sprintf("b%d", i), data(n))
			}
			_, bytes := b.Len()
			got := []any{b.IDs(), b.Dropped(), bytes}
			want := []any{tt.wantIDs, tt.wantDropped, tt.wantBytes}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ids, dropped, bytes (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("remove of a dropped batch is a no-op; front is the oldest", func(t *testing.T) {
		b := NewBuffer(2, 1000)
		b.Add("a", data(1))
		front, _ := b.front()
		b.Add("b", data(1))
		b.Add("c", data(1)) // drops a while it is "in flight"
		b.remove(front.seq)
		next, ok := b.front()
		if got := []any{b.IDs(), next.id, ok}; !cmp.Equal(got, []any{[]string{"b", "c"}, "b", true}) {
			t.Errorf("got %v", got)
		}
		b.remove(next.seq)
		if diff := cmp.Diff([]string{"c"}, b.IDs()); diff != "" {
			t.Errorf("after remove (-want +got):\n%s", diff)
		}
	})
}

func TestConfigParse(t *testing.T) {
	base := func() Config {
		return Config{ClusterName: "c1", IngesterAddress: "ingester:9443", CollectInterval: "60", CollectTimeout: "60",
			OperatorScan: "300", Heartbeat: "30", FlushTimeout: "10", BufferSize: 10, BufferMaxBytes: 64 << 20,
			Mode: ModeUnary, Compress: "true", TLSEnabled: "false", LogLevel: "info"}
	}
	tests := []struct {
		name    string
		mutate  func(*Config)
		want    settings
		wantErr string
	}{
		{"defaults", nil, settings{collectInterval: time.Minute, collectTimeout: time.Minute, operatorScan: 5 * time.Minute,
			heartbeat: 30 * time.Second, flushTimeout: 10 * time.Second, compress: true, baseURL: "http://ingester:9443"}, ""},
		{"durations and yes", func(c *Config) { c.CollectInterval, c.TLSEnabled = "1m30s", "yes" }, settings{
			collectInterval: 90 * time.Second, collectTimeout: time.Minute, operatorScan: 5 * time.Minute,
			heartbeat: 30 * time.Second, flushTimeout: 10 * time.Second, compress: true, tls: true, baseURL: "https://ingester:9443"}, ""},
		{"explicit URL", func(c *Config) { c.IngesterAddress = "https://in.example.com/" }, settings{collectInterval: time.Minute,
			collectTimeout: time.Minute, operatorScan: 5 * time.Minute, heartbeat: 30 * time.Second, flushTimeout: 10 * time.Second,
			compress: true, baseURL: "https://in.example.com"}, ""},
		{"missing cluster", func(c *Config) { c.ClusterName = "" }, settings{}, "CLUSTER_NAME is required"},
		{"bad interval", func(c *Config) { c.CollectInterval = "soon" }, settings{}, `COLLECT_INTERVAL="soon"`},
		{"interval too short", func(c *Config) { c.CollectInterval = "100ms" }, settings{}, "below 1s"},
		{"bad mode", func(c *Config) { c.Mode = "carrier-pigeon" }, settings{}, "COLLECTOR_MODE"},
		{"bad bool", func(c *Config) { c.TLSEnabled = "maybe" }, settings{}, "INGESTER_TLS_ENABLED"},
		{"tiny buffer", func(c *Config) { c.BufferMaxBytes = 10 }, settings{}, "BUFFER_MAX_BYTES=10"},
		{"bad scheme", func(c *Config) { c.IngesterAddress = "ftp://x" }, settings{}, "scheme"},
		{"cert without key", func(c *Config) { c.TLSCert = "/c.pem" }, settings{}, "INGESTER_TLS_CERT and INGESTER_TLS_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			if tt.mutate != nil {
				tt.mutate(&c)
			}
			got, err := c.parse()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(settings{})); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPermanentAndRetryHint(t *testing.T) {
	limited := connect.NewError(connect.CodeResourceExhausted, errors.New("rate"))
	d, err := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(3 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	limited.AddDetail(d)
	tests := []struct {
		name      string
		err       error
		permanent bool
		hint      time.Duration
	}{
		{"invalid", connect.NewError(connect.CodeInvalidArgument, errors.New("x")), true, 0},
		{"too large", connect.NewError(connect.CodeResourceExhausted, errors.New("big")), true, 0},
		{"rate limited", limited, false, 3 * time.Second},
		{"unavailable", connect.NewError(connect.CodeUnavailable, errors.New("redis")), false, 0},
		{"denied (token may be registered later)", connect.NewError(connect.CodePermissionDenied, errors.New("x")), false, 0},
		{"network", errors.New("connection refused"), false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []any{permanent(tt.err), retryHint(tt.err)}
			if diff := cmp.Diff([]any{tt.permanent, tt.hint}, got); diff != "" {
				t.Errorf("permanent, hint (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("the retry hint lengthens the backoff but not past its cap", func(t *testing.T) {
		b := Backoff{Min: time.Second, Max: 2 * time.Second, Rand: func() float64 { return 0 }}
		if got := retryDelay(&b, limited); got != 2*time.Second {
			t.Errorf("delay %s, want the 2s cap", got)
		}
	})
}

func TestAckError(t *testing.T) {
	tests := []struct {
		msg  string
		want connect.Code
	}{
		{"invalid_argument: collected_at: required", connect.CodeInvalidArgument},
		{"unavailable: write state: redis down", connect.CodeUnavailable},
		{"something odd", connect.CodeUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			if got := connect.CodeOf(ackError(&collectorv1.Ack{BatchId: "b", Error: tt.msg})); got != tt.want {
				t.Errorf("code %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAggregationValue(t *testing.T) {
	num := func(f float64) *collectorv1.AggregationValue {
		return &collectorv1.AggregationValue{Kind: &collectorv1.AggregationValue_Number{Number: f}}
	}
	null := &collectorv1.AggregationValue{Kind: &collectorv1.AggregationValue_Null{Null: true}}
	tests := []struct {
		name string
		in   any
		want *collectorv1.AggregationValue
	}{
		{"number", 2.5, num(2.5)},
		{"null", nil, null},
		{"text", "le", &collectorv1.AggregationValue{Kind: &collectorv1.AggregationValue_Text{Text: "le"}}},
		{"groups", map[string]any{"a": 1.0, "b": nil}, &collectorv1.AggregationValue{Kind: &collectorv1.AggregationValue_Groups{
			Groups: &collectorv1.AggregationGroups{Values: map[string]*collectorv1.AggregationValue{"a": num(1), "b": null}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := aggregationValue(tt.in, 0)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := aggregationValue([]int{1}, 0); err == nil {
		t.Error("a list converted without error")
	}
}
