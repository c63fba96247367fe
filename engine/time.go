package engine

import (
	"encoding/json"
	"fmt"
	"time"
)

// Time is a point in time in the wire format: RFC 3339 in UTC, with as many fractional-second
// digits as the value needs (layout time.RFC3339Nano), e.g. "2026-02-13T10:04:05Z" or
// "2026-02-13T10:04:05.25Z".
//
// Zero handling is the same everywhere: a zero Time marshals as JSON null, and every Time field
// in this package is tagged `omitzero`, so inside objects a zero time is left out rather than
// written as "0001-01-01T00:00:00Z". Unmarshalling accepts any RFC 3339 offset (the value is
// converted to UTC), and null or "" (both give the zero Time).
//
// Time embeds time.Time for convenience; build one with NewTime so the location is UTC and the
// monotonic clock reading is dropped (values then compare equal after a JSON round trip).
type Time struct {
	time.Time
}

// NewTime returns t as a Time in UTC without its monotonic clock reading.
func NewTime(t time.Time) Time {
	if t.IsZero() {
		return Time{}
	}
	return Time{Time: t.Round(0).UTC()}
}

// Equal reports whether t and u are the same instant; go-cmp uses it to compare Times.
func (t Time) Equal(u Time) bool {
	return t.Time.Equal(u.Time)
}

// MarshalJSON writes t as an RFC 3339 string in UTC, or null when t is zero.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	u := t.UTC()
	if y := u.Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("marshal time: year %d outside [0,9999]: %w", y, ErrInvalid)
	}
	b := make([]byte, 0, len(time.RFC3339Nano)+2)
	b = append(b, '"')
	b = u.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// UnmarshalJSON reads an RFC 3339 string (any offset), null or "".
func (t *Time) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*t = Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("parse time %s: not a string: %w", data, ErrInvalid)
	}
	if s == "" {
		*t = Time{}
		return nil
	}
	p, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("parse time %q: %w: %w", s, ErrInvalid, err)
	}
	*t = NewTime(p)
	return nil
}
