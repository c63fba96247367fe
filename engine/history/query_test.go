package history

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/testenv"
)

// queryServer answers every request with status and body and records the request's path and
// form.
type queryServer struct {
	status int
	body   string
	path   string
	form   url.Values
	auth   string
}

func (s *queryServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.path, s.form, s.auth = r.URL.Path, r.PostForm, r.Header.Get("Authorization")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(s.status)
	fmt.Fprint(w, s.body)
}

func TestQueryDecodes(t *testing.T) {
	t0 := time.Unix(1767225600, 0).UTC()
	tests := []struct {
		name string
		body string
		want Result
	}{
		{
			name: "vector",
			body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"m","cluster":"a\"b"},"value":[1767225600.5,"2.5"]}]}}`,
			want: Result{Type: ResultVector, Series: []Series{{
				Metric: map[string]string{"__name__": "m", "cluster": `a"b`},
				Points: []Point{{t0.Add(500 * time.Millisecond), 2.5}},
			}}},
		},
		{
			name: "matrix with special values",
			body: `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1767225600,"1"],[1767225630,"NaN"],[1767225660,"+Inf"]]}]}}`,
			want: Result{Type: ResultMatrix, Series: []Series{{
				Metric: map[string]string{},
				Points: []Point{{t0, 1}, {t0.Add(30 * time.Second), math.NaN()}, {t0.Add(time.Minute), math.Inf(1)}},
			}}},
		},
		{
			name: "scalar",
			body: `{"status":"success","data":{"resultType":"scalar","result":[1767225600,"42"]}}`,
			want: Result{Type: ResultScalar, Series: []Series{{Metric: map[string]string{}, Points: []Point{{t0, 42}}}}},
		},
		{
			name: "empty vector",
			body: `{"status":"success","data":{"resultType":"vector","result":[]}}`,
			want: Result{Type: ResultVector, Series: []Series{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &queryServer{status: 200, body: tt.body}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			c := testConfig("http://unused.invalid")
			c.QueryEndpoint = ts.URL
			c.Username, c.Password = "u", "p"
			q, err := NewQuerier(c)
			if err != nil {
				t.Fatalf("NewQuerier: %v", err)
			}
			got, err := q.Query(context.Background(), `m{cluster="x"}`, t0)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateNaNs()); diff != "" {
				t.Errorf("Query (-want +got):\n%s", diff)
			}
			wantForm := url.Values{"query": {`m{cluster="x"}`}, "time": {"1767225600"}}
			if srv.path != "/api/v1/query" || !cmp.Equal(wantForm, srv.form) || srv.auth != "Basic dTpw" {
				t.Errorf("request path %q form %v auth %q, want /api/v1/query %v with basic auth", srv.path, srv.form, srv.auth, wantForm)
			}
		})
	}
}

func TestQueryRangeRequest(t *testing.T) {
	srv := &queryServer{status: 200, body: `{"status":"success","data":{"resultType":"matrix","result":[]}}`}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	q, err := NewQuerier(testConfig(ts.URL))
	if err != nil {
		t.Fatalf("NewQuerier: %v", err)
	}
	start := time.UnixMilli(1767225600250)
	if _, err := q.QueryRange(context.Background(), "up", start, start.Add(time.Hour), 90*time.Second); err != nil {
		t.Fatalf("QueryRange: %v", err)
	}
	want := url.Values{"query": {"up"}, "start": {"1767225600.25"}, "end": {"1767229200.25"}, "step": {"90s"}}
	if diff := cmp.Diff(want, srv.form); diff != "" || srv.path != "/api/v1/query_range" {
		t.Errorf("path %q, form (-want +got):\n%s", srv.path, diff)
	}
}

func TestQueryErrors(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		run     func(q *Querier) error
		wantErr error
	}{
		{"bad query is invalid", 400, `{"status":"error","errorType":"400","error":"unparsed data"}`, nil, engine.ErrInvalid},
		{"server error is unavailable", 503, `overloaded`, nil, engine.ErrUnavailable},
		{"garbage answer is unavailable", 200, `{"status":`, nil, engine.ErrUnavailable},
		{"unknown result type", 200, `{"status":"success","data":{"resultType":"string","result":[1,"x"]}}`, nil, engine.ErrUnavailable},
		{"bad point", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,2]}]}}`, nil, engine.ErrUnavailable},
		{"zero step", 200, ``, func(q *Querier) error {
			_, err := q.QueryRange(context.Background(), "up", time.Now(), time.Now(), 0)
			return err
		}, engine.ErrInvalid},
		{"end before start", 200, ``, func(q *Querier) error {
			_, err := q.QueryRange(context.Background(), "up", time.Now(), time.Now().Add(-time.Hour), time.Second)
			return err
		}, engine.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(&queryServer{status: tt.status, body: tt.body})
			defer ts.Close()
			q, err := NewQuerier(testConfig(ts.URL))
			if err != nil {
				t.Fatalf("NewQuerier: %v", err)
			}
			run := tt.run
			if run == nil {
				run = func(q *Querier) error { _, err := q.Query(context.Background(), "up", time.Now()); return err }
			}
			if err := run(q); !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want one wrapping %v", err, tt.wantErr)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		q, err := NewQuerier(testConfig(fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))))
		if err != nil {
			t.Fatalf("NewQuerier: %v", err)
		}
		if _, err := q.Query(context.Background(), "up", time.Now()); !errors.Is(err, engine.ErrUnavailable) {
			t.Errorf("error = %v, want one wrapping engine.ErrUnavailable", err)
		}
	})
}
