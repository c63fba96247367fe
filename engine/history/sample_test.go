package history

import (
	"math"
	"testing"
	"time"
)

func TestMetricName(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"valid unchanged", "clusterpulse_node_cpu_capacity", "clusterpulse_node_cpu_capacity"},
		{"colon kept", "job:rate5m", "job:rate5m"},
		{"dots and dashes", "p95.latency-ms", "p95_latency_ms"},
		{"leading digit", "95th", "_95th"},
		{"empty", "", "_"},
		{"space and slash", "a b/c", "a_b_c"},
		{"unicode letter is one underscore", "héllo", "h_llo"},
		{"cjk", "日本", "__"},
		{"quote and brace", `a"{b}`, "a__b_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MetricName(tt.in); got != tt.want {
				t.Errorf("MetricName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestLabelName(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"valid unchanged", "cluster", "cluster"},
		{"colon replaced", "a:b", "a_b"},
		{"leading digit", "9lives", "_9lives"},
		{"dash", "app.kubernetes.io/name", "app_kubernetes_io_name"},
		{"empty", "", "_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LabelName(tt.in); got != tt.want {
				t.Errorf("LabelName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	at := time.UnixMilli(1767225600123)
	tests := []struct {
		name    string
		samples []Sample
		want    string
	}{
		{
			name:    "labels and millisecond timestamp",
			samples: []Sample{{Name: "m", Labels: []Label{{"cluster", "c1"}, {"node", "n1"}}, Value: 2.5, Time: at}},
			want:    "m{cluster=\"c1\",node=\"n1\"} 2.5 1767225600123\n",
		},
		{
			name:    "no labels, zero time writes no timestamp",
			samples: []Sample{{Name: "m", Value: 3}},
			want:    "m 3\n",
		},
		{
			name:    "quote backslash newline escaped",
			samples: []Sample{{Name: "m", Labels: []Label{{"v", "a\"b\\c\nd"}}, Value: 1, Time: at}},
			want:    "m{v=\"a\\\"b\\\\c\\nd\"} 1 1767225600123\n",
		},
		{
			name:    "unicode kept, carriage return and tab kept raw",
			samples: []Sample{{Name: "m", Labels: []Label{{"v", "日本 é\r\t"}}, Value: 1}},
			want:    "m{v=\"日本 é\r\t\"} 1\n",
		},
		{
			name:    "invalid utf-8 replaced",
			samples: []Sample{{Name: "m", Labels: []Label{{"v", "a\xffb"}}, Value: 1}},
			want:    "m{v=\"a\uFFFDb\"} 1\n",
		},
		{
			name:    "names sanitised",
			samples: []Sample{{Name: "1my.metric", Labels: []Label{{"app.kubernetes.io/name", "x"}}, Value: 1}},
			want:    "_1my_metric{app_kubernetes_io_name=\"x\"} 1\n",
		},
		{
			name: "large, small, negative and integral values exact",
			samples: []Sample{
				{Name: "a", Value: 8589934592}, {Name: "b", Value: 0.1}, {Name: "c", Value: -1e-300}, {Name: "d", Value: 0},
			},
			want: "a 8.589934592e+09\nb 0.1\nc -1e-300\nd 0\n",
		},
		{
			name: "NaN, infinities and unnamed samples dropped",
			samples: []Sample{
				{Name: "nan", Value: math.NaN()}, {Name: "inf", Value: math.Inf(1)}, {Name: "ninf", Value: math.Inf(-1)},
				{Name: "", Value: 1}, {Name: "ok", Value: 1},
			},
			want: "ok 1\n",
		},
		{
			name:    "pre-1970 time is a negative timestamp",
			samples: []Sample{{Name: "m", Value: 1, Time: time.UnixMilli(-1000)}},
			want:    "m 1 -1000\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := encode(tt.samples); got != tt.want {
				t.Errorf("encode() =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestAppendSampleAllocations(t *testing.T) {
	s := Sample{Name: "clusterpulse_node_cpu_usage_percent", Labels: []Label{{"cluster", "c\"1"}, {"node", "n-1"}}, Value: 12.5, Time: time.Now()}
	buf := make([]byte, 0, 4096)
	got := testing.AllocsPerRun(100, func() {
		buf = appendSample(buf[:0], &s)
	})
	if got != 0 {
		t.Errorf("appendSample allocates %v times per sample, want 0", got)
	}
}
