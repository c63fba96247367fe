package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/clusterpulse/clusterpulse/engine"
)

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
