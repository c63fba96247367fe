package history

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Label is one label of a sample.
type Label struct {
	Name  string
	Value string
}

// Sample is one value of one series at one time. Labels are written in the given order; the
// series builders sort them by name. A zero Time is written without a timestamp, so
// VictoriaMetrics stamps the sample when it receives it.
type Sample struct {
	Name   string
	Labels []Label
	Value  float64
	Time   time.Time
}

// MetricName returns s as a valid metric name, [a-zA-Z_:][a-zA-Z0-9_:]*: every other
// character becomes "_" (one per character, not per byte), and a leading digit gets a "_"
// prefix. An empty s gives "_".
func MetricName(s string) string {
	if validName(s, true) {
		return s
	}
	return string(appendName(make([]byte, 0, len(s)+1), s, true))
}

// LabelName returns s as a valid label name, [a-zA-Z_][a-zA-Z0-9_]*, sanitised like
// MetricName (a colon also becomes "_").
func LabelName(s string) string {
	if validName(s, false) {
		return s
	}
	return string(appendName(make([]byte, 0, len(s)+1), s, false))
}

func validName(s string, colon bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i], i == 0, colon) {
			return false
		}
	}
	return true
}

func nameByte(c byte, first, colon bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		return true
	case c == ':':
		return colon
	case c >= '0' && c <= '9':
		return !first
	}
	return false
}

// appendName appends the sanitised form of s to b without allocating.
func appendName(b []byte, s string, colon bool) []byte {
	if s == "" {
		return append(b, '_')
	}
	if s[0] >= '0' && s[0] <= '9' {
		b = append(b, '_')
	}
	return appendNameChars(b, s, colon)
}

// appendNameChars appends s with every character that is not allowed inside a name replaced
// by "_"; it is for the part of a name that follows a valid start.
func appendNameChars(b []byte, s string, colon bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if nameByte(c, false, colon) {
				b = append(b, c)
			} else {
				b = append(b, '_')
			}
			i++
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		b = append(b, '_')
		i += size
	}
	return b
}

// appendLabelValue appends v quoted and escaped as the text exposition format wants (\\, \"
// and \n); invalid UTF-8 becomes U+FFFD.
func appendLabelValue(b []byte, v string) []byte {
	b = append(b, '"')
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			switch c {
			case '\\':
				b = append(b, '\\', '\\')
			case '"':
				b = append(b, '\\', '"')
			case '\n':
				b = append(b, '\\', 'n')
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && size == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, v[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// writable reports whether s can be written: a name and a finite value.
func writable(s *Sample) bool {
	return s.Name != "" && !math.IsNaN(s.Value) && !math.IsInf(s.Value, 0)
}

// appendSample appends s as one line of the text exposition format:
// name{label="value",...} value [timestamp_ms]. The caller checks writable first.
func appendSample(b []byte, s *Sample) []byte {
	b = appendName(b, s.Name, true)
	if len(s.Labels) > 0 {
		b = append(b, '{')
		for i := range s.Labels {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendName(b, s.Labels[i].Name, false)
			b = append(b, '=')
			b = appendLabelValue(b, s.Labels[i].Value)
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = strconv.AppendFloat(b, s.Value, 'g', -1, 64)
	if !s.Time.IsZero() {
		b = append(b, ' ')
		b = strconv.AppendInt(b, s.Time.UnixMilli(), 10)
	}
	return append(b, '\n')
}

// encode returns samples in the text exposition format, skipping those that are not writable.
// It exists for tests and debugging; Write encodes into pooled buffers.
func encode(samples []Sample) string {
	var b []byte
	for i := range samples {
		if writable(&samples[i]) {
			b = appendSample(b, &samples[i])
		}
	}
	return string(b)
}
