package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// durationBuckets are the upper bounds (seconds) of the request duration histogram.
var durationBuckets = [...]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// selfMetrics counts requests by method, route and status, and their durations by route, and
// writes them in the Prometheus text format. It is a few dozen lines, so it is written by
// hand rather than adding a metrics library; the label sets are bounded by the routes.
type selfMetrics struct {
	mu        sync.Mutex
	requests  map[[3]string]uint64
	durations map[string]*histogram
}

type histogram struct {
	counts [len(durationBuckets)]uint64
	count  uint64
	sum    float64
}

func newSelfMetrics() *selfMetrics {
	return &selfMetrics{requests: map[[3]string]uint64{}, durations: map[string]*histogram{}}
}

func (m *selfMetrics) observe(method, route string, status int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[3]string{method, route, strconv.Itoa(status)}]++
	h := m.durations[route]
	if h == nil {
		h = &histogram{}
		m.durations[route] = h
	}
	s := d.Seconds()
	for i, b := range durationBuckets {
		if s <= b {
			h.counts[i]++
		}
	}
	h.count++
	h.sum += s
}

// write writes the metrics in the Prometheus text exposition format, sorted.
func (m *selfMetrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP clusterpulse_api_requests_total HTTP requests served, by method, route and status code.")
	fmt.Fprintln(w, "# TYPE clusterpulse_api_requests_total counter")
	keys := make([][3]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [3]string) int {
		for i := range a {
			if a[i] != b[i] {
				if a[i] < b[i] {
					return -1
				}
				return 1
			}
		}
		return 0
	})
	for _, k := range keys {
		fmt.Fprintf(w, "clusterpulse_api_requests_total{method=%q,route=%q,code=%q} %d\n", k[0], k[1], k[2], m.requests[k])
	}
	fmt.Fprintln(w, "# HELP clusterpulse_api_request_duration_seconds Time to serve HTTP requests, by route.")
	fmt.Fprintln(w, "# TYPE clusterpulse_api_request_duration_seconds histogram")
	routes := make([]string, 0, len(m.durations))
	for r := range m.durations {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	for _, r := range routes {
		h := m.durations[r]
		for i, b := range durationBuckets {
			fmt.Fprintf(w, "clusterpulse_api_request_duration_seconds_bucket{route=%q,le=%q} %d\n", r, strconv.FormatFloat(b, 'g', -1, 64), h.counts[i])
		}
		fmt.Fprintf(w, "clusterpulse_api_request_duration_seconds_bucket{route=%q,le=\"+Inf\"} %d\n", r, h.count)
		fmt.Fprintf(w, "clusterpulse_api_request_duration_seconds_sum{route=%q} %s\n", r, strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(w, "clusterpulse_api_request_duration_seconds_count{route=%q} %d\n", r, h.count)
	}
}

// handleMetrics serves the self-metrics.
func handleMetrics(m *selfMetrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		m.write(w)
	})
}
