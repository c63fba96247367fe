package history

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// request is what the fake VictoriaMetrics saw in one POST.
type request struct {
	Path, ContentEncoding, Authorization string
	Body                                 string
}

// importServer records every POST and answers with the next status of statuses (204 once they
// are used up).
type importServer struct {
	mu       sync.Mutex
	requests []request
	statuses []int
}

func (s *importServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		http.Error(w, "not gzip: "+err.Error(), http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		http.Error(w, "bad gzip: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, request{r.URL.Path, r.Header.Get("Content-Encoding"), r.Header.Get("Authorization"), string(body)})
	status := http.StatusNoContent
	if len(s.statuses) > 0 {
		status, s.statuses = s.statuses[0], s.statuses[1:]
	}
	s.mu.Unlock()
	if status/100 != 2 {
		http.Error(w, "status "+strconv.Itoa(status)+"\nsecond line", status)
		return
	}
	w.WriteHeader(status)
}

func (s *importServer) got() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.requests...)
}

func testConfig(endpoint string) Config {
	return Config{Endpoint: endpoint, Timeout: 5 * time.Second, WriteAttempts: 3}
}

// newTestWriter returns a Writer for c with a 1 ms backoff, so retry tests are fast.
func newTestWriter(t *testing.T, c Config) *Writer {
	t.Helper()
	w, err := NewWriter(c)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	w.backoff, w.maxBackoff = time.Millisecond, 2*time.Millisecond
	return w
}

func TestWriteSendsOneGzipPost(t *testing.T) {
	at := time.UnixMilli(1767225600000)
	samples := []Sample{
		{Name: "a", Labels: []Label{{"cluster", `c"1`}}, Value: 1, Time: at},
		{Name: "nan", Value: math.NaN(), Time: at},
		{Name: "b", Value: 2, Time: at},
		{Name: "inf", Value: math.Inf(-1), Time: at},
	}
	tests := []struct {
		name     string
		cfg      func(c *Config)
		wantAuth string
	}{
		{"no auth", func(*Config) {}, ""},
		{"basic auth", func(c *Config) { c.Username, c.Password = "u", "p" }, "Basic dTpw"},
		{"bearer token", func(c *Config) { c.BearerToken = "tok" }, "Bearer tok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &importServer{}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			c := testConfig(ts.URL + "/")
			tt.cfg(&c)
			w := newTestWriter(t, c)
			if err := w.Write(context.Background(), samples); err != nil {
				t.Fatalf("Write: %v", err)
			}
			want := []request{{
				Path: importPath, ContentEncoding: "gzip", Authorization: tt.wantAuth,
				Body: "a{cluster=\"c\\\"1\"} 1 1767225600000\nb 2 1767225600000\n",
			}}
			if diff := cmp.Diff(want, srv.got()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(WriterStats{Written: 2, Dropped: 2, Requests: 1}, w.Stats()); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteNothingSendsNothing(t *testing.T) {
	tests := []struct {
		name    string
		samples []Sample
	}{
		{"nil", nil},
		{"only non-finite", []Sample{{Name: "x", Value: math.NaN()}, {Name: "y", Value: math.Inf(1)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &importServer{}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			w := newTestWriter(t, testConfig(ts.URL))
			if err := w.Write(context.Background(), tt.samples); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if got := len(srv.got()); got != 0 {
				t.Errorf("%d requests, want 0", got)
			}
			if got, want := w.Stats().Dropped, uint64(len(tt.samples)); got != want {
				t.Errorf("dropped %d, want %d", got, want)
			}
		})
	}
}

func TestWriteSplitsLargeBodies(t *testing.T) {
	var samples []Sample
	for i := range 50 {
		samples = append(samples, Sample{Name: "clusterpulse_test_series", Labels: []Label{{"i", strconv.Itoa(i)}}, Value: float64(i), Time: time.UnixMilli(int64(i))})
	}
	samples = append(samples, Sample{Name: "long", Labels: []Label{{"v", strings.Repeat("x", 500)}}, Value: 1})
	tests := []struct {
		name     string
		maxBody  int
		wantPost int
	}{
		{"fits in one", DefaultMaxBodyBytes, 1},
		{"split at 200 bytes", 200, 0}, // several; counted below
		{"one line per post", 1, len(samples)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &importServer{}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			w := newTestWriter(t, testConfig(ts.URL))
			w.maxBody = tt.maxBody
			if err := w.Write(context.Background(), samples); err != nil {
				t.Fatalf("Write: %v", err)
			}
			reqs := srv.got()
			if tt.wantPost > 0 && len(reqs) != tt.wantPost {
				t.Errorf("%d POSTs, want %d", len(reqs), tt.wantPost)
			}
			if tt.wantPost == 0 && len(reqs) < 2 {
				t.Errorf("%d POSTs, want several", len(reqs))
			}
			var all strings.Builder
			for i, r := range reqs {
				lines := strings.Count(r.Body, "\n")
				if len(r.Body) > tt.maxBody && lines > 1 {
					t.Errorf("POST %d has %d bytes in %d lines, above the bound %d", i, len(r.Body), lines, tt.maxBody)
				}
				if !strings.HasSuffix(r.Body, "\n") {
					t.Errorf("POST %d does not end with a whole line: %q", i, r.Body)
				}
				all.WriteString(r.Body)
			}
			if diff := cmp.Diff(encode(samples), all.String()); diff != "" {
				t.Errorf("concatenated bodies (-want +got):\n%s", diff)
			}
			if got, want := w.Stats().Written, uint64(len(samples)); got != want {
				t.Errorf("written %d, want %d", got, want)
			}
		})
	}
}

func TestWriteRetries(t *testing.T) {
	samples := []Sample{{Name: "m", Value: 1, Time: time.UnixMilli(1000)}}
	tests := []struct {
		name         string
		statuses     []int
		wantErr      error
		wantRequests int
		wantRetries  uint64
	}{
		{"fails twice then succeeds", []int{503, 500}, nil, 3, 2},
		{"429 is retried", []int{429}, nil, 2, 1},
		{"always 503 gives up after attempts", []int{503, 503, 503, 503}, engine.ErrUnavailable, 3, 2},
		{"400 is not retried", []int{400}, engine.ErrInvalid, 1, 0},
		{"413 is not retried", []int{413}, engine.ErrInvalid, 1, 0},
		{"401 is not retried and unavailable", []int{401}, engine.ErrUnavailable, 1, 0},
		{"404 is not retried and unavailable", []int{404}, engine.ErrUnavailable, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &importServer{statuses: tt.statuses}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			w := newTestWriter(t, testConfig(ts.URL))
			err := w.Write(context.Background(), samples)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Write error = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "status "+strconv.Itoa(tt.statuses[0])) {
				t.Errorf("error %q does not name the status", err)
			}
			reqs := srv.got()
			if len(reqs) != tt.wantRequests {
				t.Errorf("%d requests, want %d", len(reqs), tt.wantRequests)
			}
			for i, r := range reqs {
				if r.Body != reqs[0].Body {
					t.Errorf("retry %d body %q differs from the first %q", i, r.Body, reqs[0].Body)
				}
			}
			wantFailures := uint64(0)
			if tt.wantErr != nil {
				wantFailures = 1
			}
			st := w.Stats()
			if st.Retries != tt.wantRetries || st.Failures != wantFailures || st.Requests != uint64(tt.wantRequests) {
				t.Errorf("stats %+v, want retries %d, failures %d, requests %d", st, tt.wantRetries, wantFailures, tt.wantRequests)
			}
		})
	}
}

func TestWriteUnreachable(t *testing.T) {
	samples := []Sample{{Name: "m", Value: 1}}
	t.Run("closed port", func(t *testing.T) {
		w := newTestWriter(t, testConfig(fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))))
		err := w.Write(context.Background(), samples)
		if !errors.Is(err, engine.ErrUnavailable) {
			t.Fatalf("Write error = %v, want one wrapping engine.ErrUnavailable", err)
		}
		if got := w.Stats().Requests; got != 3 {
			t.Errorf("%d attempts, want 3", got)
		}
	})
	t.Run("context canceled during backoff", func(t *testing.T) {
		srv := &importServer{statuses: []int{503, 503, 503}}
		ts := httptest.NewServer(srv)
		defer ts.Close()
		w := newTestWriter(t, testConfig(ts.URL))
		w.backoff, w.maxBackoff = time.Hour, time.Hour
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Write(ctx, samples) }()
		testenv.Eventually(t, 5*time.Second, func() error {
			if len(srv.got()) == 0 {
				return errors.New("no request yet")
			}
			return nil
		})
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, engine.ErrUnavailable) || !errors.Is(err, context.Canceled) {
				t.Errorf("Write error = %v, want ErrUnavailable and context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Write did not return after its context was canceled")
		}
	})
	t.Run("timeout per attempt", func(t *testing.T) {
		block := make(chan struct{})
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-block:
			case <-r.Context().Done():
			}
		}))
		defer ts.Close()
		defer close(block)
		c := testConfig(ts.URL)
		c.Timeout, c.WriteAttempts = 50*time.Millisecond, 2
		w := newTestWriter(t, c)
		err := w.Write(context.Background(), samples)
		if !errors.Is(err, engine.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Write error = %v, want ErrUnavailable and DeadlineExceeded", err)
		}
		if got := w.Stats().Requests; got != 2 {
			t.Errorf("%d attempts, want 2", got)
		}
	})
}

func TestWriteConcurrent(t *testing.T) {
	srv := &importServer{}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	w := newTestWriter(t, testConfig(ts.URL))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			s := []Sample{{Name: "m", Labels: []Label{{"i", strconv.Itoa(i)}}, Value: float64(i)}}
			if err := w.Write(context.Background(), s); err != nil {
				t.Errorf("Write %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	var bodies []string
	for _, r := range srv.got() {
		bodies = append(bodies, r.Body)
	}
	for i := range 8 {
		want := fmt.Sprintf("m{i=\"%d\"} %d\n", i, i)
		found := false
		for _, b := range bodies {
			found = found || b == want
		}
		if !found {
			t.Errorf("no POST with body %q among %q", want, bodies)
		}
	}
}
