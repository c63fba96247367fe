#!/usr/bin/env bash
# Benchmark of push mode (`make bench`, issue "Push mode" item 5): simulated collector agents of 64
# clusters with 100 nodes each push batches over loopback to a real `clusterpulse ingester`
# (in-process) that writes a private Redis and a private VictoriaMetrics. Prints, from one run:
# samples accepted per second at the maximum rate, VictoriaMetrics' own import rate for the same
# samples (same writer and concurrency) with the ratio, and the p50/p99 push latency of a 100-node
# batch at half the maximum rate. Goals: ≥ 200,000 samples/s and ≥ ¼ of the raw import rate.
#
# Only the ClusterConnections (64 small objects in a namespace of their own) go to the shared
# kube-apiserver; Redis and VictoriaMetrics are private, so the load never reaches services other
# tests use. It uses the running test environment (make testenv-up) when there is one, else
# starts a private one and stops it afterwards. BENCH_DURATION sets the length of each phase
# (default 20s).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
RUN_DIR=${RUN_DIR:-${TMPDIR:-/tmp}/clusterpulse-testenv}
if [ ! -f "$RUN_DIR/env" ]; then
  export RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/clusterpulse-bench.XXXXXX")
  "$here/build-all.sh"
  trap 'FAST_STOP=1 "$here/down.sh"' EXIT
  "$here/up.sh"
fi
# shellcheck disable=SC1091
. "$RUN_DIR/env"
cd "$root"
CLUSTERPULSE_BENCH=1 go test -count=1 -timeout 20m -run '^TestBenchPush$' -v ./connect/collector/
