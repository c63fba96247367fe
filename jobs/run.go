package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/clusterpulse/clusterpulse/engine/envconf"
	"io"
	"strings"
	"time"
)

// Exit statuses of a job.
const (
	// ExitCannotRun: the job could not do its work (hub API, Redis or configuration unusable).
	ExitCannotRun = 1
	// ExitUsage: the command line is wrong (unknown job, bad flag).
	ExitUsage = 2
)

// ExitError is an error that carries the exit status of the process: ExitUsage for a wrong
// command line, ExitCannotRun when the job could not run. main maps it to os.Exit.
type ExitError struct {
	Code int
	Err  error
}

// Error returns the message of Err.
func (e *ExitError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *ExitError) Unwrap() error { return e.Err }

// job describes one `clusterpulse job <name>`.
type job struct {
	name    string
	summary string
	// concurrency is the default of --concurrency.
	concurrency int
	// env lists the job's own configuration structs (zero values), for --help.
	env []any
	// setup registers the job's own flags on fs and returns its pass, which runs after the
	// flags are parsed. An error from the pass that is not an *ExitError counts as "could not
	// run" (exit status 1).
	setup func(fs *flag.FlagSet) func(ctx context.Context, r *runner) error
}

// table lists the jobs; each job adds its entry here.
func table() []job {
	return []job{
		registryJob(),
		pullJob(),
		policyJob(),
		metricSourceJob(),
	}
}

// Run runs `clusterpulse job <name> [flags]`: args[0] is the job name. It reads the
// environment only through getenv, prints progress lines and the JSON summary line on stdout
// and the JSON log on stderr. It returns nil when the job did its pass (even if some units
// failed; their statuses say why) and an *ExitError otherwise.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		listJobs(stderr)
		return &ExitError{Code: ExitUsage, Err: errors.New("job: no job name given")}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		listJobs(stdout)
		return nil
	}
	var j *job
	for _, c := range table() {
		if c.name == args[0] {
			j = &c
			break
		}
	}
	if j == nil {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("job: unknown job %q (known: %s; see `clusterpulse job --help`)", args[0], strings.Join(jobNames(), ", "))}
	}

	fs := flag.NewFlagSet("clusterpulse job "+j.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var opts options
	fs.StringVar(&opts.shard, "shard", "", "handle only shard `i/n` of the units (stable hash of the name); default from JOB_COMPLETION_INDEX and JOB_COMPLETIONS")
	fs.IntVar(&opts.concurrency, "concurrency", j.concurrency, "units worked on at the same time")
	fs.BoolVar(&opts.force, "force", false, "ignore the intervals: work on every unit of the shard now")
	fs.BoolVar(&opts.force, "once-all", false, "same as --force")
	pass := j.setup(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout, *j, fs)
			return nil
		}
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("job %s: %w (see `clusterpulse job %s --help`)", j.name, err, j.name)}
	}
	if fs.NArg() > 0 {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("job %s: unexpected arguments %q", j.name, fs.Args())}
	}
	if opts.concurrency < 1 {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("job %s: --concurrency must be at least 1", j.name)}
	}

	start := time.Now()
	r, err := newRunner(ctx, j.name, opts, getenv, stdout, stderr)
	if err != nil {
		// Still end with the summary line, so whatever collects it sees why.
		d := time.Since(start)
		if b, jerr := json.Marshal(Summary{Job: j.name, Duration: d.Round(time.Millisecond).String(), DurationMS: d.Milliseconds(), Error: err.Error()}); jerr == nil {
			fmt.Fprintln(stdout, string(b))
		}
		return err
	}
	defer r.close()
	r.log.Debug("job started", "shard", r.shard.String(), "concurrency", r.concurrency, "force", r.force)
	err = pass(ctx, r)
	if err != nil && !isExitError(err) {
		err = &ExitError{Code: ExitCannotRun, Err: err}
	}
	r.finish(start, err)
	return err
}

func jobNames() []string {
	var names []string
	for _, j := range table() {
		names = append(names, j.name)
	}
	return names
}

func listJobs(w io.Writer) {
	fmt.Fprintln(w, "Usage: clusterpulse job <name> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Runs one pass of a collection job over the units that are due, then exits.")
	fmt.Fprintln(w, "`clusterpulse job <name> --help` lists its flags and environment variables.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Jobs:")
	for _, j := range table() {
		fmt.Fprintf(w, "  %-13s %s\n", j.name, j.summary)
	}
}

func printHelp(w io.Writer, j job, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: clusterpulse job %s [flags]\n\n%s\n\n", j.name, j.summary)
	fmt.Fprintln(w, "Prints one progress line per unit and a JSON summary line on stdout, the log on stderr.")
	fmt.Fprintln(w, "Exit status: 0 when the pass ran (failed units are in their statuses), 1 when the job")
	fmt.Fprintln(w, "could not run (hub API, Redis or configuration unusable), 2 for a wrong command line.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Flags:")
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(w, "%-26s %s", line, usage)
		if f.DefValue != "" && f.DefValue != "false" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
	fmt.Fprintln(w)
	envconf.Usage(w, append(envSpecs(), j.env...)...)
}
