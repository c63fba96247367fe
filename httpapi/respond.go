package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/policy"
)

// scope is what a handler works on besides the request: the headers of its answer (cut and
// announce set the next page there) and what its wrapper read before it ran.
type scope struct {
	hdr http.Header
	win window          // the list window (callerAPI and clusterAPI with a page size)
	c   *caller         // the caller (callerAPI, clusterAPI)
	h   clusterHead     // the cluster {name} (clusterAPI)
	d   policy.Decision // the caller's decision on h (clusterAPI)
}

// apiFunc is a handler that returns its answer instead of writing it: a value written as JSON
// with status 200, or an error written with the status of its kind.
type apiFunc func(r *http.Request, sc *scope) (any, error)

// notList is the page size of routes that are not lists: their wrapper reads no window.
const notList = -1

// api is the one wrapper that turns a handler into an http.Handler and writes its answer.
func (s *server) api(f apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := f(r, &scope{hdr: w.Header()})
		if err != nil {
			writeErr(w, r, s.Logger, err)
			return
		}
		writeJSON(w, r, http.StatusOK, v)
	})
}

// callerAPI wraps a handler that needs the caller and, unless pageSize is notList, the list
// window (parseWindow with pageSize as the default limit).
func (s *server) callerAPI(pageSize int, f apiFunc) http.Handler {
	return s.api(func(r *http.Request, sc *scope) (any, error) {
		if err := s.begin(r, sc, pageSize, false); err != nil {
			return nil, err
		}
		return f(r, sc)
	})
}

// clusterAPI wraps a handler of a cluster's route: as callerAPI, then the cluster {name}
// authorized for the caller (s.cluster).
func (s *server) clusterAPI(pageSize int, f apiFunc) http.Handler {
	return s.api(func(r *http.Request, sc *scope) (any, error) {
		if err := s.begin(r, sc, pageSize, true); err != nil {
			return nil, err
		}
		return f(r, sc)
	})
}

// begin reads into sc, in this order, the list window (unless pageSize is notList), the
// caller and, with inCluster, the cluster {name}; the first error stops it.
func (s *server) begin(r *http.Request, sc *scope, pageSize int, inCluster bool) error {
	var err error
	if pageSize != notList {
		if sc.win, err = parseWindow(r, pageSize); err != nil {
			return err
		}
	}
	if sc.c, err = s.caller(r); err != nil {
		return err
	}
	if inCluster {
		sc.h, sc.d, err = s.cluster(r, sc.c, chi.URLParam(r, "name"))
	}
	return err
}

// writeJSON is the one place that encodes an answer. GET answers with status 200 carry a
// weak ETag of the body, and a matching If-None-Match gets 304 without a body.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Every value written here is built by this package; failing to encode it is a bug,
		// reported as 500 rather than a half-written body.
		writeError(w, r, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if status == http.StatusOK && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		sum := sha256.Sum256(body)
		etag := `W/"` + hex.EncodeToString(sum[:12]) + `"`
		h.Set("ETag", etag)
		if etagMatches(r.Header.Get("If-None-Match"), etag) {
			h.Del("Content-Type")
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// etagMatches implements the weak comparison of If-None-Match.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// errorBody is the body of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

// writeError is the one place that writes an error answer: {"error": msg} as JSON.
func writeError(w http.ResponseWriter, _ *http.Request, status int, msg string) {
	body, _ := json.Marshal(errorBody{Error: msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Del("ETag")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// statusOf maps an error kind of package engine to its HTTP status, once, at the edge.
func statusOf(err error) int {
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, engine.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, engine.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, engine.ErrUnavailable):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// writeErr writes err with the status of its kind. Internal errors are logged and answered
// with a generic message, so that no detail of the backend leaks to callers.
func writeErr(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status := statusOf(err)
	msg := err.Error()
	switch status {
	case http.StatusInternalServerError:
		log.Error("request failed", "err", err, "path", r.URL.Path, "request_id", requestID(r.Context()))
		msg = "internal error"
	case http.StatusServiceUnavailable:
		log.Warn("backend unavailable", "err", err, "path", r.URL.Path, "request_id", requestID(r.Context()))
		msg = "service unavailable"
	}
	writeError(w, r, status, msg)
}
