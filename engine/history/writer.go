package history

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/clusterpulse/clusterpulse/engine"
)

// DefaultMaxBodyBytes is the largest uncompressed body of one POST; a larger Write is split
// into several POSTs. VictoriaMetrics accepts much more, but a bounded body bounds the memory
// of the writer and of any proxy on the way.
const DefaultMaxBodyBytes = 4 << 20

// importPath is the VictoriaMetrics endpoint for the Prometheus text exposition format.
const importPath = "/api/v1/import/prometheus"

// Writer writes samples to VictoriaMetrics. It is safe for concurrent use.
type Writer struct {
	url     string
	auth    auth
	client  *http.Client
	timeout time.Duration
	// attempts is how many times one POST is tried; backoff is the wait before the second
	// attempt, doubled for each further one up to maxBackoff.
	attempts   int
	backoff    time.Duration
	maxBackoff time.Duration
	maxBody    int

	bufs  sync.Pool // *[]byte: uncompressed bodies
	gzips sync.Pool // *gzipBuffer

	written, dropped, requests, retries, failures atomic.Uint64
}

// WriterStats counts what a Writer did since it was created.
type WriterStats struct {
	// Written is the number of samples VictoriaMetrics accepted.
	Written uint64
	// Dropped is the number of samples never sent: NaN or infinite values, or no name.
	Dropped uint64
	// Requests is the number of POSTs sent (retries included); Retries how many of them were
	// retries; Failures how many Write calls returned an error.
	Requests, Retries, Failures uint64
}

type gzipBuffer struct {
	buf bytes.Buffer
	zw  *gzip.Writer
}

// auth sets the Authorization header of a request.
type auth struct {
	username, password, bearer string
}

func (a auth) apply(r *http.Request) {
	switch {
	case a.bearer != "":
		r.Header.Set("Authorization", "Bearer "+a.bearer)
	case a.username != "":
		r.SetBasicAuth(a.username, a.password)
	}
}

func newAuth(c Config) auth {
	return auth{username: c.Username, password: c.Password, bearer: c.BearerToken}
}

// newHTTPClient returns a client whose connection pool suits many concurrent writers to one
// host. Timeouts are per request, through the request context.
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	return &http.Client{Transport: t}
}

// NewWriter returns a Writer for c. It does not contact VictoriaMetrics. It does not look at
// c.Enabled: a caller that finds history disabled simply does not create one.
func NewWriter(c Config) (*Writer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Writer{
		url:        strings.TrimRight(c.Endpoint, "/") + importPath,
		auth:       newAuth(c),
		client:     newHTTPClient(),
		timeout:    c.Timeout,
		attempts:   c.WriteAttempts,
		backoff:    250 * time.Millisecond,
		maxBackoff: 4 * time.Second,
		maxBody:    DefaultMaxBodyBytes,
	}, nil
}

// Stats returns the counters of w.
func (w *Writer) Stats() WriterStats {
	return WriterStats{
		Written:  w.written.Load(),
		Dropped:  w.dropped.Load(),
		Requests: w.requests.Load(),
		Retries:  w.retries.Load(),
		Failures: w.failures.Load(),
	}
}

// Write sends samples to VictoriaMetrics with their own timestamps: gzip-compressed text
// exposition, one POST per call unless the body exceeds the size bound (then several, in
// order). Samples with a NaN or infinite value or without a name are dropped and counted in
// Stats, never written. Names are sanitised and label values escaped, so no input can produce a
// line VictoriaMetrics would reject (it skips bad lines silently).
//
// A POST that fails with a network error, a 5xx or a 429 is retried with backoff, within ctx.
// The error then wraps engine.ErrUnavailable; a 400, 413 or 422 (the body itself is refused)
// wraps engine.ErrInvalid and is not retried; any other status wraps engine.ErrUnavailable
// (authentication or routing: a retry later, after a fix, may succeed). When one POST of a
// split Write fails, the earlier ones stay written; writing the whole batch again is harmless
// because the samples carry their timestamps.
func (w *Writer) Write(ctx context.Context, samples []Sample) error {
	bp := w.getBuf()
	defer w.bufs.Put(bp)
	body := (*bp)[:0]
	defer func() { *bp = body[:0] }()

	var dropped uint64
	count := 0 // samples in body
	for i := range samples {
		s := &samples[i]
		if !writable(s) {
			dropped++
			continue
		}
		start := len(body)
		body = appendSample(body, s)
		if len(body) > w.maxBody && start > 0 {
			if err := w.post(ctx, body[:start], count); err != nil {
				w.dropped.Add(dropped)
				w.failures.Add(1)
				return err
			}
			body = body[:copy(body, body[start:])]
			count = 0
		}
		count++
	}
	w.dropped.Add(dropped)
	if count == 0 {
		return nil
	}
	if err := w.post(ctx, body, count); err != nil {
		w.failures.Add(1)
		return err
	}
	return nil
}

func (w *Writer) getBuf() *[]byte {
	if bp, ok := w.bufs.Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

// post compresses body (count samples) and sends it, retrying as Write documents.
func (w *Writer) post(ctx context.Context, body []byte, count int) error {
	gz, ok := w.gzips.Get().(*gzipBuffer)
	if !ok {
		zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed) // a valid level never fails
		gz = &gzipBuffer{zw: zw}
	}
	defer w.gzips.Put(gz)
	gz.buf.Reset()
	gz.zw.Reset(&gz.buf)
	if _, err := gz.zw.Write(body); err != nil {
		return fmt.Errorf("compress %d samples: %w", count, err)
	}
	if err := gz.zw.Close(); err != nil {
		return fmt.Errorf("compress %d samples: %w", count, err)
	}
	compressed := gz.buf.Bytes()

	wait := w.backoff
	var last error
	for attempt := 1; ; attempt++ {
		retry, err := w.send(ctx, compressed)
		if err == nil {
			w.written.Add(uint64(count))
			return nil
		}
		last = err
		if !retry || attempt >= w.attempts || ctx.Err() != nil {
			break
		}
		w.retries.Add(1)
		// Jitter keeps writers that failed together from retrying together.
		d := wait/2 + rand.N(wait/2+1)
		wait = min(2*wait, w.maxBackoff)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("write %d samples to victoriametrics: %w (then %w)", count, last, ctx.Err())
		case <-t.C:
		}
	}
	return fmt.Errorf("write %d samples to victoriametrics: %w", count, last)
}

// send makes one POST. retry says whether another attempt may succeed.
func (w *Writer) send(ctx context.Context, compressed []byte) (retry bool, err error) {
	w.requests.Add(1)
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(compressed))
	if err != nil {
		return false, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "text/plain; version=0.0.4")
	req.Header.Set("Content-Encoding", "gzip")
	w.auth.apply(req)
	resp, err := w.client.Do(req)
	if err != nil {
		// Network errors, timeouts and a canceled ctx: VictoriaMetrics could not be reached.
		return true, fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // keep the connection
		return false, nil
	}
	return statusError(resp)
}

// statusError maps a non-2xx answer to an error kind and says whether to retry.
func statusError(resp *http.Response) (retry bool, err error) {
	msg := responseMessage(resp.Body)
	switch code := resp.StatusCode; {
	case code == http.StatusBadRequest, code == http.StatusRequestEntityTooLarge, code == http.StatusUnprocessableEntity:
		return false, fmt.Errorf("%w: status %d: %s", engine.ErrInvalid, code, msg)
	case code >= 500, code == http.StatusTooManyRequests:
		return true, fmt.Errorf("%w: status %d: %s", engine.ErrUnavailable, code, msg)
	default:
		return false, fmt.Errorf("%w: status %d: %s", engine.ErrUnavailable, code, msg)
	}
}

// responseMessage reads the start of an error body as one printable line.
func responseMessage(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10))
	s := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, string(b))
	s = strings.TrimSpace(s)
	if s == "" {
		return "(empty body)"
	}
	return s
}
