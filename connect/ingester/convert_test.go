package ingester

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	collectorv1 "github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1"
	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
)

func TestConvertBatchRefuses(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		change func(b *collectorv1.MetricsBatch)
		want   error
	}{
		{"valid", func(*collectorv1.MetricsBatch) {}, nil},
		{"other cluster", func(b *collectorv1.MetricsBatch) { b.ClusterName = "other" }, engine.ErrForbidden},
		{"batch id with a colon", func(b *collectorv1.MetricsBatch) { b.BatchId = "a:b" }, engine.ErrInvalid},
		{"batch id too long", func(b *collectorv1.MetricsBatch) { b.BatchId = strings.Repeat("a", 129) }, engine.ErrInvalid},
		{"invalid timestamp", func(b *collectorv1.MetricsBatch) { b.CollectedAt.Nanos = -1 }, engine.ErrInvalid},
		{"values_json not an object", func(b *collectorv1.MetricsBatch) {
			b.CustomResources[0].Resources[0].ValuesJson = []byte(`[1,2]`)
		}, engine.ErrInvalid},
		{"values_json trailing data", func(b *collectorv1.MetricsBatch) {
			b.CustomResources[0].Resources[0].ValuesJson = []byte(`{} {}`)
		}, engine.ErrInvalid},
		{"values_json null", func(b *collectorv1.MetricsBatch) {
			b.CustomResources[0].Resources[0].ValuesJson = []byte(`null`)
		}, engine.ErrInvalid},
		{"legacy NaN aggregation", func(b *collectorv1.MetricsBatch) {
			b.CustomResources[0].Aggregations = nil
			b.CustomResources[0].AggregationValues = map[string]float64{"avg": math.NaN()}
		}, engine.ErrInvalid},
		{"bad source id", func(b *collectorv1.MetricsBatch) { b.CustomResources[0].SourceId = "no-slash" }, engine.ErrInvalid},
		{"duplicate node", func(b *collectorv1.MetricsBatch) { b.NodeMetrics[1].Name = "node-1" }, engine.ErrInvalid},
		{"empty node name", func(b *collectorv1.MetricsBatch) { b.NodeMetrics[1].Name = "" }, engine.ErrInvalid},
		{"infinite cluster cpu", func(b *collectorv1.MetricsBatch) { b.ClusterMetrics.CpuCapacity = math.Inf(1) }, engine.ErrInvalid},
		{"negative memory", func(b *collectorv1.MetricsBatch) { b.NodeMetrics[0].MemoryCapacity = -1 }, engine.ErrInvalid},
		{"too many namespaces", func(b *collectorv1.MetricsBatch) {
			b.ClusterMetrics.NamespaceList = make([]string, maxNamespaces+1)
		}, engine.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := testBatch("c1", "id-1", now.Add(-time.Minute))
			c.change(b)
			_, err := convertBatch(b, "c1", now, true, nil)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestConvertBatchTimesAndParts(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := now.Add(-3 * time.Hour)
	cases := []struct {
		name        string
		change      func(b *collectorv1.MetricsBatch)
		requireTime bool
		enabled     map[string]bool
		// want: time of the status, nodes written?, operators written?, custom parts, skipped
		wantAt                  time.Time
		wantNodes, wantOps      bool
		wantCustom, wantSkipped int
	}{
		{"full batch", func(*collectorv1.MetricsBatch) {}, true, nil, at, true, true, 1, 0},
		{"no cluster metrics: nodes not collected", func(b *collectorv1.MetricsBatch) { b.ClusterMetrics = nil }, true, nil, at, false, true, 1, 0},
		{"no operators and not scanned", func(b *collectorv1.MetricsBatch) { b.Operators, b.ClusterOperators = nil, nil }, true, nil, at, true, false, 1, 0},
		{"scanned, none installed", func(b *collectorv1.MetricsBatch) {
			b.Operators, b.ClusterOperators, b.OperatorsScanned = nil, nil, true
		}, true, nil, at, true, true, 1, 0},
		{"legacy batch without time", func(b *collectorv1.MetricsBatch) { b.CollectedAt = nil }, false, nil, now, true, true, 1, 0},
		{"source not enabled", func(*collectorv1.MetricsBatch) {}, true, map[string]bool{"other/source": true}, at, true, true, 0, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := testBatch("c1", "id-1", at)
			c.change(b)
			got, err := convertBatch(b, "c1", now, c.requireTime, c.enabled)
			if err != nil {
				t.Fatal(err)
			}
			gotParts := []any{got.state.Status.LastSuccess.Time, got.state.Nodes != nil, got.state.Operators != nil, len(got.custom), len(got.skippedSources)}
			wantParts := []any{c.wantAt, c.wantNodes, c.wantOps, c.wantCustom, c.wantSkipped}
			if diff := cmp.Diff(wantParts, gotParts); diff != "" {
				t.Errorf("parts (-want +got):\n%s", diff)
			}
			for _, s := range got.samples {
				if !s.Time.Equal(c.wantAt) {
					t.Fatalf("sample %s at %v, want %v", s.Name, s.Time, c.wantAt)
				}
			}
		})
	}
}

func TestAggregationValue(t *testing.T) {
	num := func(v float64) *collectorv1.AggregationValue {
		return &collectorv1.AggregationValue{Kind: &collectorv1.AggregationValue_Number{Number: v}}
	}
	groups := func(m map[string]*collectorv1.AggregationValue) *collectorv1.AggregationValue {
		return &collectorv1.AggregationValue{Kind: &collectorv1.AggregationValue_Groups{Groups: &collectorv1.AggregationGroups{Values: m}}}
	}
	deep := num(1)
	for range maxAggregationDepth + 1 {
		deep = groups(map[string]*collectorv1.AggregationValue{"g": deep})
	}
	cases := []struct {
		name    string
		in      *collectorv1.AggregationValue
		want    any
		wantErr bool
	}{
		{"number", num(2.5), 2.5, false},
		{"text", &collectorv1.AggregationValue{Kind: &collectorv1.AggregationValue_Text{Text: "v1"}}, "v1", false},
		{"null", &collectorv1.AggregationValue{Kind: &collectorv1.AggregationValue_Null{Null: true}}, nil, false},
		{"unset is null", &collectorv1.AggregationValue{}, nil, false},
		{"groups", groups(map[string]*collectorv1.AggregationValue{"a": num(1), "b": {}}), map[string]any{"a": 1.0, "b": nil}, false},
		{"NaN", num(math.NaN()), nil, true},
		{"NaN in a group", groups(map[string]*collectorv1.AggregationValue{"a": num(math.Inf(-1))}), nil, true},
		{"too deep", deep, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := aggregationValue(c.in, "x", 0)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if diff := cmp.Diff(c.want, got); diff != "" && !c.wantErr {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	cases := []struct{ header, want string }{
		{"Bearer abc", "abc"},
		{"bearer  abc ", "abc"},
		{"Basic abc", ""},
		{"Bearer", ""},
		{"", ""},
	}
	for _, c := range cases {
		t.Run(c.header, func(t *testing.T) {
			h := http.Header{}
			if c.header != "" {
				h.Set("Authorization", c.header)
			}
			if got := bearerToken(h); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// countingLister is a ClusterLister over a fixed list that counts the LISTs (pure cache logic;
// the real hub is exercised by the integration tests).
type countingLister struct {
	ccs   []kube.ClusterConnection
	calls int
}

func (l *countingLister) ClusterConnections(context.Context) ([]kube.ClusterConnection, []*kube.DecodeError, error) {
	l.calls++
	return l.ccs, nil, nil
}

func TestPushClustersCache(t *testing.T) {
	cc := func(name, mode string) kube.ClusterConnection {
		var c kube.ClusterConnection
		c.Name, c.Spec.CollectionMode = name, mode
		return c
	}
	l := &countingLister{ccs: []kube.ClusterConnection{cc("a", "push"), cc("b", "pull")}}
	now := time.Unix(1000, 0)
	p := &pushClusters{list: l, ttl: 10 * time.Second, now: func() time.Time { return now }}
	steps := []struct {
		name      string
		advance   time.Duration
		cluster   string
		want      bool
		wantCalls int
	}{
		{"first question lists", 0, "a", true, 1},
		{"known push cluster is cached", 500 * time.Millisecond, "a", true, 1},
		{"pull cluster refreshes at most once a second", 0, "b", false, 1},
		{"unknown cluster after a second re-lists", 2 * time.Second, "c", false, 2},
		{"ttl expiry re-lists", 11 * time.Second, "a", true, 3},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		got, err := p.isPush(context.Background(), s.cluster)
		if err != nil {
			t.Fatal(err)
		}
		if got != s.want || l.calls != s.wantCalls {
			t.Errorf("%s: isPush(%q) = %v after %d lists, want %v after %d", s.name, s.cluster, got, l.calls, s.want, s.wantCalls)
		}
	}
}

func TestRunHelpAndBadEnvironment(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"--help"}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"INGESTER_PORT", "INGESTER_TLS_CLIENT_CA", "INGESTER_RATE_LIMIT", "REDIS_HOST", "VM_ENDPOINT", "NAMESPACE"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("--help does not mention %s", v)
		}
	}
	env := map[string]string{"INGESTER_PORT": "70000", "INGESTER_TLS_CLIENT_CA": "/ca.pem"}
	err := Run(context.Background(), nil, func(k string) string { return env[k] }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "INGESTER_PORT") || !strings.Contains(err.Error(), "INGESTER_TLS_CLIENT_CA") {
		t.Errorf("err = %v, want both variables named", err)
	}
}
