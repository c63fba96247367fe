package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantOut  string
		wantErr  string
		wantCode int
	}{
		{name: "version", args: []string{"version"}, wantOut: "clusterpulse dev (commit "},
		{name: "--version", args: []string{"--version"}, wantOut: "clusterpulse dev"},
		{name: "help lists every subcommand", args: []string{"help"}, wantOut: "  version    print the version"},
		{name: "--help", args: []string{"--help"}, wantOut: "Subcommands:"},
		{name: "no args", args: nil, wantErr: "no subcommand given", wantCode: 2},
		{name: "unknown", args: []string{"pull"}, wantErr: `unknown subcommand "pull"`, wantCode: 2},
		{name: "unknown job keeps the job's usage exit code", args: []string{"job", "bogus"}, wantErr: `unknown job "bogus"`, wantCode: 2},
		{name: "job help", args: []string{"job", "--help"}, wantOut: "registry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.args, func(string) string { return "" }, &out, &errOut)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if got := exitCode(err); got != tt.wantCode {
					t.Errorf("exit code = %d, want %d", got, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("output %q does not contain %q", out.String(), tt.wantOut)
			}
		})
	}
}

func TestHelpListsOnlyRealCommands(t *testing.T) {
	var out bytes.Buffer
	if err := runHelp(context.Background(), nil, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, c := range commands() {
		if !strings.Contains(out.String(), "  "+c.name+" ") {
			t.Errorf("help does not list %q", c.name)
		}
	}
	if got, want := strings.Count(out.String(), "\n  "), len(commands()); got != want {
		t.Errorf("help lists %d subcommands, want %d", got, want)
	}
	if exitCode(errors.New("x")) != 1 {
		t.Error("a runtime error must exit 1")
	}
}
