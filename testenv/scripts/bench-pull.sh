#!/usr/bin/env bash
# Benchmark of `clusterpulse job pull` (`make bench`): seeds one cluster of 1,000 nodes and 30,000
# pods on a real kube-apiserver with many concurrent creators (a few minutes), then runs the
# built binary three times against it and prints, side by side, the raw LIST time of nodes and
# pods (pages of 500, protobuf; concurrent and sequential), the job's wall time, their ratio, the
# job's peak RSS and the time from process start to its first API request, with the goals
# (≤1.3x the raw LISTs, ≤150 MiB, ≤100 ms).
#
# By default it starts a private test environment (like `make test`) and stops it afterwards,
# so the 30,000 pods never reach an environment other tests use. BENCH_ENV=running uses the
# environment of `make testenv-up` instead (the seeded objects are deleted at the end unless
# BENCH_KEEP=1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ "${BENCH_ENV:-private}" = running ]; then
  RUN_DIR=${RUN_DIR:-${TMPDIR:-/tmp}/clusterpulse-testenv}
  [ -f "$RUN_DIR/env" ] || { echo "bench-pull: no running environment at $RUN_DIR (make testenv-up)" >&2; exit 1; }
else
  export RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/clusterpulse-bench.XXXXXX")
  "$here/build-all.sh"
  trap 'FAST_STOP=1 "$here/down.sh"' EXIT
  "$here/up.sh"
  export BENCH_KEEP=1 # the whole environment goes away: no need to delete 30,000 pods first
fi
# shellcheck disable=SC1091
. "$RUN_DIR/env"
cd "$root"
CLUSTERPULSE_BENCH=1 go test -count=1 -timeout 30m -run '^TestBenchPull$' -v ./jobs/
