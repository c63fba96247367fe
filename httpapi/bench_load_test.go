package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestBenchAPILoad is the load part of BENCHMARKS.md (testenv/scripts/bench-api.sh): two
// concurrent clients call the API over HTTP for BENCH_DURATION (default 10s) per scenario,
// then two concurrent goroutines run the floor of the same scenario for as long; it prints
// p50, p99 and throughput of both. It runs only with CLUSTERPULSE_BENCH=1.
func TestBenchAPILoad(t *testing.T) {
	if os.Getenv("CLUSTERPULSE_BENCH") != "1" {
		t.Skip("load benchmark: set CLUSTERPULSE_BENCH=1 (testenv/scripts/bench-api.sh)")
	}
	dur := 10 * time.Second
	if s := os.Getenv("BENCH_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("BENCH_DURATION: %v", err)
		}
		dur = d
	}
	e := newBenchEnv(t)
	e.writeFleet(t)
	e.writeBig(t)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	names := fleetNames()
	visible, restricted := fleetSets()
	fleetNodes := []string{"node-00001", "node-00002", "node-00003"}
	var page []string
	for i := range benchPage {
		page = append(page, fmt.Sprintf("node-%05d", i))
	}
	scenarios := []struct {
		name  string
		path  string
		floor func() error
	}{
		{"GET /api/v1/clusters (1,000 clusters, 3 policies)", "/api/v1/clusters", func() error {
			_, err := e.floorClusters(ctx, names, visible, restricted, fleetNodes)
			return err
		}},
		{"GET /api/v1/clusters/big/nodes?limit=500 (5,000 nodes)", "/api/v1/clusters/big/nodes?limit=500", func() error {
			_, err := e.floorNodes(ctx, "big", page)
			return err
		}},
	}
	fmt.Printf("%-58s %-6s %10s %10s %10s %8s\n", "scenario (2 concurrent clients, "+dur.String()+")", "", "p50", "p99", "max", "req/s")
	for _, sc := range scenarios {
		api := load(t, dur, func(c *http.Client) error {
			req, err := http.NewRequest(http.MethodGet, srv.URL+sc.path, nil)
			if err != nil {
				return err
			}
			req.Header.Set("X-Forwarded-User", benchCaller.user)
			req.Header.Set("X-Forwarded-Groups", "g-deny,g-team,g-all")
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		})
		floor := load(t, dur, func(*http.Client) error { return sc.floor() })
		fmt.Printf("%-58s %-6s %s\n", sc.name, "api", api)
		fmt.Printf("%-58s %-6s %s\n", "", "floor", floor)
		fmt.Printf("%-58s %-6s %10.2fx %10.2fx\n", "", "ratio", api.p50.Seconds()/floor.p50.Seconds(), api.p99.Seconds()/floor.p99.Seconds())
	}
}

// loadResult summarises the latencies of a load run.
type loadResult struct {
	p50, p99, max time.Duration
	rate          float64
}

func (r loadResult) String() string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
	return fmt.Sprintf("%10s %10s %10s %8.1f", ms(r.p50), ms(r.p99), ms(r.max), r.rate)
}

// load runs call from two concurrent clients (each with its own connection) for dur and
// returns the latency percentiles and the throughput.
func load(t *testing.T, dur time.Duration, call func(*http.Client) error) loadResult {
	t.Helper()
	const clients = 2
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(dur)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: time.Minute}
			defer c.CloseIdleConnections()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := call(c); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	if len(lat) == 0 {
		t.Fatal("no request completed")
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	return loadResult{p50: pct(0.50), p99: pct(0.99), max: lat[len(lat)-1], rate: float64(len(lat)) / elapsed.Seconds()}
}
