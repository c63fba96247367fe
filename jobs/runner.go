package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/history"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/store"
)

// Scheduling constants; docs/jobs.md explains them.
const (
	// DueSlack is taken off a unit's interval when its due mark is set, so that a CronJob
	// that starts every interval does not skip a run because this run started a few seconds
	// later than the previous one. The slack is at most a tenth of the interval.
	DueSlack = 5 * time.Second
	// LeaseMargin is added to a unit's own deadline to get its lease TTL.
	LeaseMargin = 30 * time.Second
)

// options are the flags every job accepts.
type options struct {
	shard       string
	concurrency int
	force       bool
}

// runner is what a job's pass gets: the hub, the store, the logger, and the helpers that run
// units (shard filter, due check, lease, bounded concurrency, progress lines, summary).
type runner struct {
	job         string
	log         *slog.Logger
	hub         *kube.Hub
	store       *store.Store
	getenv      func(string) string
	owner       string
	shard       Shard
	concurrency int
	force       bool
	now         func() time.Time

	mu  sync.Mutex
	out io.Writer
	sum Summary
}

// Summary is the last line a job prints on stdout, as JSON.
type Summary struct {
	// Job is the job name.
	Job string `json:"job"`
	// Shard is "i/n" when the job ran as one shard of several.
	Shard string `json:"shard,omitempty"`
	// Attempted counts the units worked on (Succeeded + Failed).
	Attempted int `json:"attempted"`
	// Succeeded and Failed split Attempted; a failed unit has its failure in its status.
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	// Skipped counts the units of this shard left alone: not due, or leased by another run.
	Skipped int `json:"skipped"`
	// Deleted counts the units whose stored state was removed because their resource is gone.
	Deleted int `json:"deleted"`
	// Duration is the wall time of the run ("1.234s"); DurationMS the same in milliseconds.
	Duration   string `json:"duration"`
	DurationMS int64  `json:"duration_ms"`
	// Error is why the job could not run, when it could not (the exit status is then 1).
	Error string `json:"error,omitempty"`
}

// unit is one piece of work of a job: a cluster, a registry, a source.
type unit struct {
	// name identifies the unit in leases, shards and progress lines.
	name string
	// interval is the time between two runs of the unit (the due check); zero means always.
	interval time.Duration
	// deadline bounds the work of the unit; its lease lives deadline + LeaseMargin.
	deadline time.Duration
}

// result is the outcome of the work on one unit.
type result struct {
	// detail is a short human description for the progress line.
	detail string
	// failed marks a unit whose work did not succeed (its status says why).
	failed bool
}

// newRunner builds what every job needs from the environment: the logger, the hub (no
// request yet), the store (one PING). Errors are *ExitError with code 1 naming the part that
// is unusable.
func newRunner(ctx context.Context, job string, opts options, getenv func(string) string, stdout, stderr io.Writer) (*runner, error) {
	var env commonEnv
	if err := loadEnv(getenv, &env); err != nil {
		return nil, cannotRun("configuration unusable: %w", err)
	}
	level, err := engine.ParseLogLevel(env.LogLevel)
	if err != nil {
		return nil, cannotRun("configuration unusable: LOG_LEVEL=%q: %w", env.LogLevel, err)
	}
	shard, err := resolveShard(opts.shard, env)
	if err != nil {
		return nil, err
	}
	owner, err := ownerToken(env.Hostname)
	if err != nil {
		return nil, cannotRun("lease owner token: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})).With("job", job, "owner", owner)

	var hc kube.HubConfig
	if err := loadEnv(getenv, &hc); err != nil {
		return nil, cannotRun("configuration unusable: %w", err)
	}
	hub, err := hc.Hub()
	if err != nil {
		return nil, cannotRun("hub API unusable: %w", err)
	}

	var sc store.Config
	if err := loadEnv(getenv, &sc); err != nil {
		return nil, cannotRun("configuration unusable: %w", err)
	}
	if err := sc.Validate(); err != nil {
		return nil, cannotRun("configuration unusable: %w", err)
	}
	st, err := store.Open(sc)
	if err != nil {
		return nil, cannotRun("redis unusable: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := st.Ping(pctx); err != nil {
		st.Close()
		return nil, cannotRun("redis unusable: %w", err)
	}
	conc := opts.concurrency
	if conc < 1 {
		conc = 1
	}
	return &runner{
		job: job, log: log, hub: hub, store: st, getenv: getenv, owner: owner,
		shard: shard, concurrency: conc, force: opts.force, now: time.Now,
		out: stdout, sum: Summary{Job: job, Shard: shard.String()},
	}, nil
}

func (r *runner) close() { r.store.Close() }

// resolveShard takes --shard when given, else JOB_COMPLETION_INDEX with JOB_COMPLETIONS.
func resolveShard(flagValue string, env commonEnv) (Shard, error) {
	if flagValue != "" {
		s, err := ParseShard(flagValue)
		if err != nil {
			return Shard{}, &ExitError{Code: ExitUsage, Err: fmt.Errorf("--shard: %w", err)}
		}
		return s, nil
	}
	switch {
	case env.CompletionIndex == "" && env.Completions == "":
		return Shard{}, nil
	case env.CompletionIndex == "":
		return Shard{}, nil // a non-indexed Job with a completion count: one shard
	case env.Completions == "":
		return Shard{}, cannotRun("configuration unusable: JOB_COMPLETION_INDEX=%s is set but JOB_COMPLETIONS is not (set it to the Job's spec.completions)", env.CompletionIndex)
	}
	s, err := NewShard(env.CompletionIndex, env.Completions)
	if err != nil {
		return Shard{}, cannotRun("configuration unusable: JOB_COMPLETION_INDEX/JOB_COMPLETIONS: %w", err)
	}
	return s, nil
}

// ownerToken is the lease owner of this run: the pod name plus a random suffix, so two runs in
// one pod never share it.
func ownerToken(hostname string) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	if hostname == "" {
		hostname = "clusterpulse-job"
	}
	return hostname + "-" + hex.EncodeToString(b[:]), nil
}

// runUnits works on the units this shard owns, at most r.concurrency at a time. For each unit
// it checks that it is due (unless --force), takes its lease (another run holding it means
// skip), runs work under a context bounded by the unit's deadline and cancelled if the lease
// is lost, then prints a progress line and counts the outcome. It returns when every unit is
// done or ctx is cancelled.
func (r *runner) runUnits(ctx context.Context, units []unit, work func(ctx context.Context, u unit) result) {
	sem := make(chan struct{}, r.concurrency)
	var wg sync.WaitGroup
	for _, u := range units {
		if !r.shard.Owns(u.name) {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r.runUnit(ctx, u, work)
		}()
	}
	wg.Wait()
}

func (r *runner) runUnit(ctx context.Context, u unit, work func(ctx context.Context, u unit) result) {
	start := r.now()
	due, err := r.claimDue(ctx, u)
	if err != nil {
		r.record(u.name, outcomeFailed, start, "due check: "+err.Error())
		return
	}
	if !due {
		r.record(u.name, outcomeSkipped, start, "not due")
		return
	}
	wctx, release, err := r.hold(ctx, u)
	if err != nil {
		r.record(u.name, outcomeFailed, start, "lease: "+err.Error())
		return
	}
	if wctx == nil {
		holder, _ := r.store.LeaseOwner(ctx, r.leaseName(u.name))
		r.record(u.name, outcomeSkipped, start, "leased by another run "+holder)
		return
	}
	res := work(wctx, u)
	release()
	o := outcomeSucceeded
	if res.failed {
		o = outcomeFailed
	}
	r.record(u.name, o, start, res.detail)
}

func (r *runner) leaseName(unit string) string { return r.job + ":" + unit }
func (r *runner) dueName(unit string) string   { return "due:" + r.job + ":" + unit }

// claimDue reports whether the unit is due and, if so, marks it run for this interval: the
// mark is a lease that lives interval minus the slack (see DueSlack), so a unit is due when
// its last claim has expired. Claiming and checking are one SET NX, so two overlapping runs
// never both find the unit due. With --force the unit is always due (the mark is still set
// when free, so the next scheduled run honours the interval).
func (r *runner) claimDue(ctx context.Context, u unit) (bool, error) {
	if u.interval <= 0 {
		return true, nil
	}
	ttl := u.interval - min(DueSlack, u.interval/10)
	ok, err := r.store.AcquireLease(ctx, r.dueName(u.name), r.owner, ttl)
	if err != nil {
		return false, err
	}
	return ok || r.force, nil
}

// hold takes the lease of unit u for deadline + LeaseMargin and renews it every third of that
// until release is called. The returned context ends at the unit's deadline, or as soon as a
// renewal finds the lease lost, so the work stops rather than run twice. The context is nil
// when another run holds the lease.
func (r *runner) hold(ctx context.Context, u unit) (context.Context, func(), error) {
	deadline := u.deadline
	if deadline <= 0 {
		deadline = time.Minute
	}
	ttl := deadline + LeaseMargin
	name := r.leaseName(u.name)
	ok, err := r.store.AcquireLease(ctx, name, r.owner, ttl)
	if err != nil || !ok {
		return nil, nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, deadline)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				ok, err := r.store.RenewLease(ctx, name, r.owner, ttl)
				if err != nil || !ok {
					r.log.Warn("lease lost, stopping the unit", "unit", u.name, "err", err)
					cancel()
					return
				}
			}
		}
	}()
	release := func() {
		close(done)
		<-stopped
		cancel()
		// Released with a fresh context: the unit's may have ended.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer rcancel()
		if _, err := r.store.ReleaseLease(rctx, name, r.owner); err != nil {
			r.log.Warn("release lease", "unit", u.name, "err", err)
		}
	}
	return wctx, release, nil
}

type outcome string

const (
	outcomeSucceeded outcome = "succeeded"
	outcomeFailed    outcome = "failed"
	outcomeSkipped   outcome = "skipped"
	outcomeDeleted   outcome = "deleted"
)

// record counts the outcome of a unit and prints its progress line:
// "<job> <unit>: <outcome> in <duration>: <detail>".
func (r *runner) record(unit string, o outcome, start time.Time, detail string) {
	d := r.now().Sub(start).Round(time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch o {
	case outcomeSucceeded:
		r.sum.Attempted++
		r.sum.Succeeded++
	case outcomeFailed:
		r.sum.Attempted++
		r.sum.Failed++
	case outcomeSkipped:
		r.sum.Skipped++
	case outcomeDeleted:
		r.sum.Deleted++
	}
	line := fmt.Sprintf("%s %s: %s in %v", r.job, unit, o, d)
	if detail != "" {
		line += ": " + strings.ReplaceAll(detail, "\n", " ")
	}
	fmt.Fprintln(r.out, line)
}

// finish prints the summary line; runErr is the error that stopped the job, if any.
func (r *runner) finish(start time.Time, runErr error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.now().Sub(start)
	r.sum.Duration = d.Round(time.Millisecond).String()
	r.sum.DurationMS = d.Milliseconds()
	if runErr != nil {
		r.sum.Error = runErr.Error()
	}
	b, err := json.Marshal(r.sum)
	if err != nil {
		r.log.Error("encode summary", "err", err)
		return
	}
	fmt.Fprintln(r.out, string(b))
}

// cannotRun is an *ExitError with code ExitCannotRun.
// historyWriter reads the VictoriaMetrics configuration (history.Config) and returns its
// writer, or nil when VM_ENABLED is off. A configuration that cannot be used stops the job.
func (r *runner) historyWriter() (*history.Writer, error) {
	var hc history.Config
	if err := loadEnv(r.getenv, &hc); err != nil {
		return nil, cannotRun("configuration unusable: %w", err)
	}
	if !hc.Enabled {
		return nil, nil
	}
	if err := hc.Validate(); err != nil {
		return nil, cannotRun("configuration unusable: %w", err)
	}
	w, err := history.NewWriter(hc)
	if err != nil {
		return nil, cannotRun("configuration unusable: %w", err)
	}
	return w, nil
}

func cannotRun(format string, args ...any) error {
	return &ExitError{Code: ExitCannotRun, Err: fmt.Errorf(format, args...)}
}

// isExitError reports whether err already carries an exit status.
func isExitError(err error) bool {
	var e *ExitError
	return errors.As(err, &e)
}
