package engine

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestParseLogLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{"", slog.LevelInfo, false},
		{"info", slog.LevelInfo, false},
		{"DEBUG", slog.LevelDebug, false},
		{"trace", slog.LevelDebug, false},
		{"warning", slog.LevelWarn, false},
		{" Warn ", slog.LevelWarn, false},
		{"error", slog.LevelError, false},
		{"loud", slog.LevelInfo, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLogLevel(tt.in)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("ParseLogLevel(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestNewLoggerWritesJSONAtLevel(t *testing.T) {
	var b bytes.Buffer
	log := NewLogger(&b, "warn")
	log.Info("hidden")
	log.Warn("shown", "k", 1)
	if out := b.String(); strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown","k":1`) {
		t.Errorf("log output %q", out)
	}
	b.Reset()
	NewLogger(&b, "bogus").Info("info by default")
	if !strings.Contains(b.String(), "info by default") {
		t.Errorf("an unknown level should log at info: %q", b.String())
	}
}
