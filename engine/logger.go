package engine

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// ParseLogLevel reads a LOG_LEVEL value: debug (or trace), info (or empty), warn (or warning),
// error, in any case. Anything else is an error naming the accepted values.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug", "trace":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return slog.LevelInfo, fmt.Errorf("unknown log level %q (debug, info, warn or error)", s)
}

// NewLogger returns the JSON logger every process writes to w (stderr), at level; an unknown
// level logs at info. Callers that must refuse a bad LOG_LEVEL check ParseLogLevel first.
func NewLogger(w io.Writer, level string) *slog.Logger {
	l, _ := ParseLogLevel(level)
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}
