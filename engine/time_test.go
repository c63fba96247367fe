package engine

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTimeMarshal(t *testing.T) {
	tests := []struct {
		name string
		in   Time
		want string
	}{
		{"zero is null", Time{}, `null`},
		{"utc whole seconds", NewTime(time.Date(2026, 2, 13, 10, 4, 5, 0, time.UTC)), `"2026-02-13T10:04:05Z"`},
		{"offset converted to utc", NewTime(time.Date(2026, 2, 13, 11, 4, 5, 0, time.FixedZone("CET", 3600))), `"2026-02-13T10:04:05Z"`},
		{"not built with NewTime still utc", Time{time.Date(2026, 2, 13, 5, 4, 5, 0, time.FixedZone("EST", -5*3600))}, `"2026-02-13T10:04:05Z"`},
		{"fraction without trailing zeros", NewTime(time.Date(2026, 2, 13, 10, 4, 5, 120_000_000, time.UTC)), `"2026-02-13T10:04:05.12Z"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); got != tt.want {
				t.Errorf("json.Marshal = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestTimeMarshalOutOfRange(t *testing.T) {
	_, err := json.Marshal(NewTime(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)))
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("json.Marshal(year 10000) error = %v, want ErrInvalid", err)
	}
}

func TestTimeUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{in: `"2026-02-13T10:04:05Z"`, want: time.Date(2026, 2, 13, 10, 4, 5, 0, time.UTC)},
		{in: `"2026-02-13T11:04:05+01:00"`, want: time.Date(2026, 2, 13, 10, 4, 5, 0, time.UTC)},
		{in: `"2026-02-13T10:04:05.123456789Z"`, want: time.Date(2026, 2, 13, 10, 4, 5, 123456789, time.UTC)},
		{in: `null`},
		{in: `""`},
		{in: `"2026-02-13 10:04:05"`, wantErr: true},
		{in: `"yesterday"`, wantErr: true},
		{in: `1760000000`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got Time
			err := json.Unmarshal([]byte(tt.in), &got)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("Unmarshal(%s) error = %v, want ErrInvalid", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Time.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("Unmarshal(%s) = %v, want %v in UTC", tt.in, got.Time, tt.want)
			}
		})
	}
}

func TestTimeOmittedWhenZero(t *testing.T) {
	b, err := json.Marshal(ClusterStatus{Health: HealthHealthy, LastCheck: NewTime(time.Date(2026, 2, 13, 10, 4, 5, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"health":"healthy","message":"","last_check":"2026-02-13T10:04:05Z"}`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("json.Marshal (-want +got):\n%s", diff)
	}
}

func TestNewTimeDropsMonotonic(t *testing.T) {
	now := time.Now()
	got := NewTime(now)
	if got.Location() != time.UTC {
		t.Errorf("NewTime location = %v, want UTC", got.Location())
	}
	var back Time
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != got {
		t.Errorf("round trip = %#v, want == %#v", back, got)
	}
}
