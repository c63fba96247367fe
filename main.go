// Command clusterpulse is the one binary of ClusterPulse. It picks the subcommand and calls the
// Run function of the package that owns it; nothing else lives here.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/clusterpulse/clusterpulse/connect/collector"
	"github.com/clusterpulse/clusterpulse/connect/ingester"
	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/httpapi"
	"github.com/clusterpulse/clusterpulse/jobs"
)

// command is one subcommand: its name, a one-line summary for `help`, and its entry point.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"job", "run one pass of a collection job (see `clusterpulse job --help`)", jobs.Run},
		{"api", "serve the REST API (current state from Redis, filtered by access policies)", httpapi.Run},
		{"collector", "run the push agent on a managed cluster (collect locally, push to the ingester)", collector.Run},
		{"ingester", "serve the push ingester (Connect, gRPC and gRPC-Web on one port)", ingester.Run},
		{"version", "print the version, commit and Go version", runVersion},
		{"help", "list the subcommands", runHelp},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "clusterpulse:", err)
		os.Exit(exitCode(err))
	}
}

// usageError marks a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var usage usageError
	if errors.As(err, &usage) {
		return 2
	}
	var exit *jobs.ExitError
	if errors.As(err, &exit) && exit.Code != 0 {
		return exit.Code
	}
	return 1
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		_ = runHelp(ctx, nil, getenv, stderr, stderr)
		return usageError{"no subcommand given"}
	}
	name := args[0]
	switch name {
	case "-h", "--help", "-help":
		name = "help"
	case "--version", "-version":
		name = "version"
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, args[1:], getenv, stdout, stderr)
		}
	}
	return usageError{fmt.Sprintf("unknown subcommand %q (see `clusterpulse help`)", name)}
}

func runVersion(_ context.Context, _ []string, _ func(string) string, stdout, _ io.Writer) error {
	commit := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				commit = s.Value
			}
		}
	}
	_, err := fmt.Fprintf(stdout, "clusterpulse %s (commit %s, %s %s/%s)\n",
		engine.Version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}

func runHelp(_ context.Context, _ []string, _ func(string) string, stdout, _ io.Writer) error {
	fmt.Fprintln(stdout, "ClusterPulse: multi-cluster Kubernetes/OpenShift monitoring hub.")
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "Usage: clusterpulse <subcommand> [flags]")
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "Subcommands:")
	for _, c := range commands() {
		fmt.Fprintf(stdout, "  %-10s %s\n", c.name, c.summary)
	}
	return nil
}
