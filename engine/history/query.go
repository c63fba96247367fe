package history

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/clusterpulse/clusterpulse/engine"
)

// Result types of a query, as VictoriaMetrics (and Prometheus) name them.
const (
	ResultMatrix = "matrix"
	ResultVector = "vector"
	ResultScalar = "scalar"
)

// maxQueryResponse bounds the size of a query answer read into memory.
const maxQueryResponse = 64 << 20

// Querier runs PromQL/MetricsQL queries against VictoriaMetrics. It runs the query it is given:
// scoping it to what a caller may see is the caller's job. It is safe for concurrent use.
type Querier struct {
	base    string
	auth    auth
	client  *http.Client
	timeout time.Duration
}

// Result is a decoded query answer. Type is ResultMatrix (a range query: several points per
// series), ResultVector (an instant query: one point per series) or ResultScalar (one series
// without labels and one point).
type Result struct {
	Type   string
	Series []Series
}

// Series is one series of a Result: its labels (__name__ included when the query keeps it) and
// its points in time order.
type Series struct {
	Metric map[string]string
	Points []Point
}

// Point is one value at one time; Value may be NaN or infinite (the query produced it).
type Point struct {
	Time  time.Time
	Value float64
}

// NewQuerier returns a Querier for c (queries go to c.QueryEndpoint, or c.Endpoint). It does
// not contact VictoriaMetrics.
func NewQuerier(c Config) (*Querier, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Querier{base: c.queryBase(), auth: newAuth(c), client: newHTTPClient(), timeout: c.Timeout}, nil
}

// Query evaluates q at time at (/api/v1/query). A query VictoriaMetrics refuses (syntax,
// limits) wraps engine.ErrInvalid with its message; an unreachable or failing VictoriaMetrics
// wraps engine.ErrUnavailable.
func (q *Querier) Query(ctx context.Context, query string, at time.Time) (Result, error) {
	v := url.Values{"query": {query}, "time": {formatTime(at)}}
	return q.do(ctx, "/api/v1/query", v)
}

// QueryRange evaluates q from start to end every step (/api/v1/query_range); errors as Query.
func (q *Querier) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (Result, error) {
	if step <= 0 {
		return Result{}, fmt.Errorf("query range: step %s is not positive: %w", step, engine.ErrInvalid)
	}
	if end.Before(start) {
		return Result{}, fmt.Errorf("query range: end is before start: %w", engine.ErrInvalid)
	}
	v := url.Values{
		"query": {query},
		"start": {formatTime(start)},
		"end":   {formatTime(end)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', -1, 64) + "s"},
	}
	return q.do(ctx, "/api/v1/query_range", v)
}

// formatTime writes t as Unix seconds with millisecond precision.
func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}

// apiResponse is the JSON envelope of the Prometheus query API.
type apiResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

type apiSeries struct {
	Metric map[string]string `json:"metric"`
	Value  apiPoint          `json:"value"`
	Values []apiPoint        `json:"values"`
}

// apiPoint is [unix_seconds, "value"].
type apiPoint [2]any

func (p apiPoint) point() (Point, error) {
	ts, ok := p[0].(float64)
	if !ok {
		return Point{}, fmt.Errorf("timestamp %v is not a number", p[0])
	}
	s, ok := p[1].(string)
	if !ok {
		return Point{}, fmt.Errorf("value %v is not a string", p[1])
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return Point{}, fmt.Errorf("value %q is not a number", s)
	}
	return Point{Time: time.UnixMilli(int64(math.Round(ts * 1000))).UTC(), Value: v}, nil
}

func (q *Querier) do(ctx context.Context, path string, v url.Values) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	// POST with a form body keeps long scoped queries out of URLs and access logs.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, q.base+path, strings.NewReader(v.Encode()))
	if err != nil {
		return Result{}, fmt.Errorf("query victoriametrics: build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	q.auth.apply(req)
	resp, err := q.client.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("query victoriametrics: %w: %w", engine.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxQueryResponse+1))
	if err != nil {
		return Result{}, fmt.Errorf("query victoriametrics: read answer: %w: %w", engine.ErrUnavailable, err)
	}
	if len(body) > maxQueryResponse {
		return Result{}, fmt.Errorf("query victoriametrics: answer exceeds %d bytes; narrow the query: %w", maxQueryResponse, engine.ErrInvalid)
	}
	var r apiResponse
	jsonErr := json.Unmarshal(body, &r)
	if resp.StatusCode/100 != 2 || r.Status != "success" {
		msg := r.Error
		if jsonErr != nil || msg == "" {
			msg = responseMessage(bytes.NewReader(body))
		}
		kind := engine.ErrUnavailable
		if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnprocessableEntity {
			kind = engine.ErrInvalid
		}
		return Result{}, fmt.Errorf("query victoriametrics: status %d: %s: %w", resp.StatusCode, msg, kind)
	}
	if jsonErr != nil {
		return Result{}, fmt.Errorf("query victoriametrics: decode answer: %w: %w", engine.ErrUnavailable, jsonErr)
	}
	res, err := decodeResult(r.Data.ResultType, r.Data.Result)
	if err != nil {
		return Result{}, fmt.Errorf("query victoriametrics: decode %s: %w: %w", r.Data.ResultType, engine.ErrUnavailable, err)
	}
	return res, nil
}

func decodeResult(typ string, raw json.RawMessage) (Result, error) {
	res := Result{Type: typ, Series: []Series{}}
	switch typ {
	case ResultScalar:
		var p apiPoint
		if err := json.Unmarshal(raw, &p); err != nil {
			return Result{}, err
		}
		pt, err := p.point()
		if err != nil {
			return Result{}, err
		}
		res.Series = append(res.Series, Series{Metric: map[string]string{}, Points: []Point{pt}})
	case ResultVector, ResultMatrix:
		var ss []apiSeries
		if err := json.Unmarshal(raw, &ss); err != nil {
			return Result{}, err
		}
		for _, s := range ss {
			out := Series{Metric: s.Metric, Points: []Point{}}
			if out.Metric == nil {
				out.Metric = map[string]string{}
			}
			pts := s.Values
			if typ == ResultVector {
				pts = []apiPoint{s.Value}
			}
			for _, p := range pts {
				pt, err := p.point()
				if err != nil {
					return Result{}, err
				}
				out.Points = append(out.Points, pt)
			}
			res.Series = append(res.Series, out)
		}
	default:
		return Result{}, fmt.Errorf("unknown result type %q", typ)
	}
	return res, nil
}
