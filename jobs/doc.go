// Package jobs holds the one-shot collection jobs (`clusterpulse job <name>`: registry, and
// later pull, metricsource and policy) and what they share: flag and environment parsing, the
// logger, hub and Redis construction, per-unit leases, the due check that honours each unit's
// interval across runs, sharding, bounded concurrency, progress lines, the JSON summary line and
// the exit status.
//
// A job does one pass over the units (clusters, registries, sources) that are due and exits; it
// keeps no state in memory between runs (everything is in Redis with TTLs), so it may run as a
// Kubernetes CronJob, overlap with another run, or crash at any line. docs/jobs.md describes
// the behaviour for operators.
//
// jobs imports engine and its adapters; it must not import connect or httpapi.
package jobs
