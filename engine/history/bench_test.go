package history

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/clusterpulse/clusterpulse/engine"
)

// benchNodes returns 100 realistic nodes (17 series each, no real-usage series).
func benchNodes() []engine.Node {
	nodes := make([]engine.Node, 100)
	for i := range nodes {
		nodes[i] = engine.Node{
			Name: fmt.Sprintf("ip-10-0-%d-%d.eu-west-1.compute.internal", i/256, i%256), CPUUsagePercent: 37.5 + float64(i)/7,
			MemoryUsagePercent: 61.25, PodsTotal: 42, PodsRunning: 40, CPUCapacity: 16, MemoryCapacity: 64 << 30,
			StorageCapacity: 200 << 30, PodsCapacity: 110, CPUAllocatable: 15.89, MemoryAllocatable: 62 << 30,
			StorageAllocatable: 180 << 30, PodsAllocatable: 110, CPURequested: 7.35, MemoryRequested: 30 << 30,
			PodsPending: 1, PodsFailed: 1,
		}
	}
	return nodes
}

func reportSamples(b *testing.B, perOp int) {
	b.ReportMetric(float64(b.N)*float64(perOp)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkEncodeNodes encodes 100 nodes × 17 series into a reused buffer: the per-sample hot
// path of Write (names sanitised, values escaped, floats and timestamps formatted).
func BenchmarkEncodeNodes(b *testing.B) {
	samples := NodeSeries("prod-eu-1", benchNodes(), time.Now())
	buf := make([]byte, 0, 256<<10)
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for i := range samples {
			if writable(&samples[i]) {
				buf = appendSample(buf, &samples[i])
			}
		}
	}
	b.SetBytes(int64(len(buf)))
	reportSamples(b, len(samples))
}

// BenchmarkNodeSeries builds the 1700 samples of 100 nodes.
func BenchmarkNodeSeries(b *testing.B) {
	nodes := benchNodes()
	at := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		_ = NodeSeries("prod-eu-1", nodes, at)
	}
	reportSamples(b, 17*len(nodes))
}

// BenchmarkWriteNodes is a whole Write of 100 nodes × 17 series: encode, gzip and one POST to
// a local server that reads the body.
func BenchmarkWriteNodes(b *testing.B) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer ts.Close()
	w, err := NewWriter(Config{Endpoint: ts.URL, Timeout: 10 * time.Second, WriteAttempts: 1})
	if err != nil {
		b.Fatal(err)
	}
	samples := NodeSeries("prod-eu-1", benchNodes(), time.Now())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(ctx, samples); err != nil {
			b.Fatal(err)
		}
	}
	reportSamples(b, len(samples))
}
