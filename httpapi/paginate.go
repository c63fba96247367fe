package httpapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/clusterpulse/clusterpulse/engine"
)

// Page size bounds of every list.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// window is the part of a list one request asks for: items [offset, offset+limit); limit 0
// means to the end.
type window struct {
	offset, limit int
}

// parseWindow reads limit and continue. Lists keep their original shape (a JSON array), so
// the next page is announced in the X-Continue header and a Link rel="next" header. Every list
// has a stable order, so a token (an opaque position in it) is valid on any replica.
func parseWindow(r *http.Request, defaultLimit int) (window, error) {
	q := r.URL.Query()
	w := window{limit: defaultLimit}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return w, fmt.Errorf("parameter \"limit\": must be a positive integer: %w", engine.ErrInvalid)
		}
		w.limit = min(n, maxPageSize)
	}
	if s := q.Get("continue"); s != "" {
		off, err := decodeContinue(s)
		if err != nil {
			return w, err
		}
		w.offset = off
	}
	return w, nil
}

func encodeContinue(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(offset)))
}

func decodeContinue(s string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		if v, ok := strings.CutPrefix(string(b), "o:"); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				return n, nil
			}
		}
	}
	return 0, fmt.Errorf("parameter \"continue\": not a continue token of this API: %w", engine.ErrInvalid)
}

// cut returns the window sc.win of items (never nil) and announces the next page in sc.hdr.
func cut[T any](r *http.Request, sc *scope, items []T) []T {
	win := sc.win
	if win.offset >= len(items) {
		return []T{}
	}
	end := len(items)
	if win.limit > 0 && win.offset+win.limit < end {
		end = win.offset + win.limit
	}
	announce(r, sc, len(items))
	out := items[win.offset:end]
	if out == nil {
		out = []T{}
	}
	return out
}

// announce sets the X-Continue and Link headers in sc.hdr when a list of length total (or at
// least total, as far as it was read) goes on after the window sc.win.
func announce(r *http.Request, sc *scope, total int) {
	win := sc.win
	if win.limit <= 0 || win.offset >= total || win.offset+win.limit >= total {
		return
	}
	token := encodeContinue(win.offset + win.limit)
	q := r.URL.Query()
	q.Set("continue", token)
	sc.hdr.Set("X-Continue", token)
	sc.hdr.Set("Link", fmt.Sprintf("<%s?%s>; rel=\"next\"", r.URL.Path, q.Encode()))
}
