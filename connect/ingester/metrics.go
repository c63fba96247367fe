package ingester

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
)

// metrics are the ingester's self-metrics, served on /metrics in the Prometheus text format.
type metrics struct {
	batchesStored     atomic.Uint64
	batchesDuplicate  atomic.Uint64
	samplesWritten    atomic.Uint64
	sourcesSkipped    atomic.Uint64
	batchSecondsSum   atomic.Int64 // nanoseconds
	batchSecondsCount atomic.Uint64

	mu       sync.Mutex
	requests map[[2]string]uint64 // {procedure, code} → count
}

func newMetrics() *metrics { return &metrics{requests: map[[2]string]uint64{}} }

func (m *metrics) request(procedure string, err error) {
	code := "ok"
	if err != nil {
		code = connect.CodeOf(err).String()
	}
	m.mu.Lock()
	m.requests[[2]string{procedure, code}]++
	m.mu.Unlock()
}

func (m *metrics) batch(d time.Duration, samples int) {
	m.batchesStored.Add(1)
	m.samplesWritten.Add(uint64(samples))
	m.batchSecondsSum.Add(int64(d))
	m.batchSecondsCount.Add(1)
}

// ServeHTTP writes the metrics.
func (m *metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m.write(w)
}

func (m *metrics) write(w io.Writer) {
	counter := func(name, help string, v uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	counter("clusterpulse_ingester_batches_stored_total", "Batches written to every sink.", m.batchesStored.Load())
	counter("clusterpulse_ingester_batches_duplicate_total", "Batches acknowledged without writing because they were stored before.", m.batchesDuplicate.Load())
	counter("clusterpulse_ingester_samples_written_total", "History samples sent to VictoriaMetrics.", m.samplesWritten.Load())
	counter("clusterpulse_ingester_sources_skipped_total", "MetricSource batches skipped because the source is not enabled.", m.sourcesSkipped.Load())
	fmt.Fprintf(w, "# HELP clusterpulse_ingester_batch_duration_seconds Time to store one batch.\n# TYPE clusterpulse_ingester_batch_duration_seconds summary\n")
	fmt.Fprintf(w, "clusterpulse_ingester_batch_duration_seconds_sum %g\n", time.Duration(m.batchSecondsSum.Load()).Seconds())
	fmt.Fprintf(w, "clusterpulse_ingester_batch_duration_seconds_count %d\n", m.batchSecondsCount.Load())

	m.mu.Lock()
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	vals := make(map[[2]string]uint64, len(keys))
	for _, k := range keys {
		vals[k] = m.requests[k]
	}
	m.mu.Unlock()
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	fmt.Fprintf(w, "# HELP clusterpulse_ingester_requests_total RPCs served, by procedure and code.\n# TYPE clusterpulse_ingester_requests_total counter\n")
	for _, k := range keys {
		fmt.Fprintf(w, "clusterpulse_ingester_requests_total{procedure=%q,code=%q} %d\n", k[0], k[1], vals[k])
	}
}

// metricsInterceptor counts every RPC by procedure and outcome. It runs outermost, so refused
// calls (authentication, limits) are counted too.
type metricsInterceptor struct{ m *metrics }

func (i metricsInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		res, err := next(ctx, req)
		i.m.request(req.Spec().Procedure, err)
		return res, err
	}
}

func (i metricsInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i metricsInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		err := next(ctx, conn)
		i.m.request(conn.Spec().Procedure, err)
		return err
	}
}
