package engine

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

func TestParseCPU(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{in: "500m", want: 0.5},
		{in: "2", want: 2},
		{in: "1.5", want: 1.5},
		{in: "250m", want: 0.25},
		{in: "100m", want: 0.1},
		{in: "2000m", want: 2},
		{in: "0", want: 0},
		{in: "1e3", want: 1000},
		{in: "1k", want: 1000},
		{in: "", wantErr: true},
		{in: "abc", wantErr: true},
		{in: "500 m", wantErr: true},
		{in: "1.2.3", wantErr: true},
		{in: "-1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCPU(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("ParseCPU(%q) = %v, %v; want an ErrInvalid error", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseCPU(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "1Gi", want: 1073741824},
		{in: "1.5Gi", want: 1610612736},
		{in: "100M", want: 100000000},
		{in: "128974848", want: 128974848},
		{in: "129e6", want: 129000000},
		{in: "123Mi", want: 128974848},
		{in: "1Ki", want: 1024},
		{in: "1k", want: 1000},
		{in: "1Ti", want: 1 << 40},
		{in: "1Ei", want: 1 << 60},
		{in: "0.5", want: 1},
		{in: "0", want: 0},
		{in: "", wantErr: true},
		{in: "1GB", wantErr: true},
		{in: "1gi", wantErr: true},
		{in: "lots", wantErr: true},
		{in: "-1Gi", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseBytes(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("ParseBytes(%q) = %v, %v; want an ErrInvalid error", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseBytes(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestQuantityConversions(t *testing.T) {
	tests := []struct {
		name      string
		q         resource.Quantity
		wantCores float64
		wantBytes int64
	}{
		{"millicores", resource.MustParse("1500m"), 1.5, 2},
		{"binary", resource.MustParse("2Gi"), 2147483648, 2147483648},
		{"zero value", resource.Quantity{}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CPUCores(tt.q); got != tt.wantCores {
				t.Errorf("CPUCores(%s) = %v, want %v", tt.q.String(), got, tt.wantCores)
			}
			if got := Bytes(tt.q); got != tt.wantBytes {
				t.Errorf("Bytes(%s) = %v, want %v", tt.q.String(), got, tt.wantBytes)
			}
		})
	}
}
