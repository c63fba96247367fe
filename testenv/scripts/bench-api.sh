#!/usr/bin/env bash
# Benchmark of the REST API (issue "REST API", item 7; `make bench` calls it). Needs Redis only.
#  1. Go benchmarks (httpapi): GET /api/v1/clusters over 1,000 clusters for a caller with three
#     policies, and one page of 500 nodes of a 5,000-node cluster (first page and a middle
#     page), each next to its floor measured in the same run — one pipeline fetching the same
#     Redis data, decoded and encoded. Prints the medians of BENCH_COUNT runs (default 5) and
#     their ratio against the goal (<= 2x).
#  2. Load: two concurrent HTTP clients for BENCH_DURATION (default 10s) per scenario, then the
#     floor from two goroutines for as long; p50, p99, max and req/s.
# Uses the Redis of REDIS_ADDR, else of the running environment ($RUN_DIR/env, `make
# testenv-up`), else starts a private environment and stops it afterwards. Raw benchmark
# output goes to $BENCH_OUT (default /tmp/clusterpulse-bench-api.txt).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ -z "${REDIS_ADDR:-}" ]; then
  RUN_DIR=${RUN_DIR:-${TMPDIR:-/tmp}/clusterpulse-testenv}
  if [ ! -f "$RUN_DIR/env" ]; then
    export RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/clusterpulse-bench.XXXXXX")
    "$here/build-all.sh"
    trap 'FAST_STOP=1 "$here/down.sh"' EXIT
    "$here/up.sh"
  fi
  # shellcheck disable=SC1091
  . "$RUN_DIR/env"
fi
cd "$root"
count=${BENCH_COUNT:-5}
out=${BENCH_OUT:-/tmp/clusterpulse-bench-api.txt}
echo "== go test ./httpapi/ -run '^\$' -bench 'BenchmarkClusters1000|BenchmarkNodesPage' -benchmem -count $count" | tee "$out"
go test ./httpapi/ -run '^$' -bench 'BenchmarkClusters1000|BenchmarkNodesPage' -benchmem -count "$count" >>"$out"

medians=$(awk '/^Benchmark/ { name=$1; sub(/-[0-9]+$/, "", name); print name, $3 }' "$out" | sort -k1,1 -k2,2g |
  awk '{ if ($1 != n) { if (n != "") out(); n=$1; c=0 } v[++c]=$2 }
       function out() { m=(c%2)?v[(c+1)/2]:(v[c/2]+v[c/2+1])/2; printf "%s %.0f\n", n, m }
       END { if (n != "") out() }')
med() { echo "$medians" | awk -v n="$1" '$1==n {print $2}'; }
human() { awk -v ns="$1" 'BEGIN { if (ns>=1e9) printf "%.2f s", ns/1e9; else if (ns>=1e6) printf "%.2f ms", ns/1e6; else printf "%.2f µs", ns/1e3 }'; }
pair() { # pair LABEL OURS BASELINE
  local a b; a=$(med "$2"); b=$(med "$3")
  if [ -z "$a" ] || [ -z "$b" ]; then printf "%-48s missing result\n" "$1"; return; fi
  printf "%-48s %12s %12s %8s   %s\n" "$1" "$(human "$a")" "$(human "$b")" "$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2fx", a/b}')" "<= 2x"
}
echo
printf "%-48s %12s %12s %8s   %s\n" "benchmark (median of $count)" "api" "floor" "ratio" "goal"
pair "GET /clusters, 1,000 clusters, 3 policies"   BenchmarkClusters1000/api     BenchmarkClusters1000/floor
pair "GET /nodes?limit=500 of 5,000, first page"   BenchmarkNodesPage/first/api  BenchmarkNodesPage/first/floor
pair "GET /nodes?limit=500 of 5,000, middle page"  BenchmarkNodesPage/middle/api BenchmarkNodesPage/middle/floor
echo "raw output: $out"
echo
CLUSTERPULSE_BENCH=1 go test ./httpapi/ -count=1 -timeout 20m -run '^TestBenchAPILoad$' -v | grep -v -E '^(=== RUN|--- PASS|PASS|ok )'
