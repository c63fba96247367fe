#!/usr/bin/env bash
# `make bench`: run the comparative Go benchmarks and print, for each pair, the median time of
# ours next to the baseline measured in the same run, and their ratio. Raw output goes to
# $BENCH_OUT (default /tmp/clusterpulse-bench.txt). BENCH_COUNT sets -count (default 5).
# Benchmarks that need the real services (job pull at scale) have their own scripts, listed in
# BENCHMARKS.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
count=${BENCH_COUNT:-5}
out=${BENCH_OUT:-/tmp/clusterpulse-bench.txt}
: >"$out"
bench() { # bench PKG REGEX [extra go test flags]
  local pkg=$1 re=$2; shift 2
  echo "== go test $pkg -run '^\$' -bench '$re' -benchmem -count $count $*" | tee -a "$out"
  go test "$pkg" -run '^$' -bench "$re" -benchmem -count "$count" "$@" >>"$out"
}
bench ./engine/metricsource/expr/ 'BenchmarkEval'
bench ./engine/metricsource/ 'BenchmarkPercentile100k'
bench ./engine/metricsource/ 'BenchmarkCollect100k' -benchtime 2x
bench ./engine/history/ '.'
bench ./engine/policy/ 'BenchmarkDecide'

# median ns/op per benchmark name (the -N GOMAXPROCS suffix dropped)
medians=$(awk '/^Benchmark/ { name=$1; sub(/-[0-9]+$/, "", name); print name, $3 }' "$out" | sort -k1,1 -k2,2g |
  awk '{ if ($1 != n) { if (n != "") out(); n=$1; c=0 } v[++c]=$2 }
       function out() { m=(c%2)?v[(c+1)/2]:(v[c/2]+v[c/2+1])/2; printf "%s %.0f\n", n, m }
       END { if (n != "") out() }')
med() { echo "$medians" | awk -v n="$1" '$1==n {print $2}'; }
human() { awk -v ns="$1" 'BEGIN { if (ns>=1e9) printf "%.2f s", ns/1e9; else if (ns>=1e6) printf "%.2f ms", ns/1e6; else if (ns>=1e3) printf "%.2f µs", ns/1e3; else printf "%.1f ns", ns }'; }
pair() { # pair LABEL OURS BASELINE GOAL
  local a b; a=$(med "$2"); b=$(med "$3")
  if [ -z "$a" ] || [ -z "$b" ]; then printf "%-44s missing result\n" "$1"; return; fi
  printf "%-44s %12s %12s %8s   %s\n" "$1" "$(human "$a")" "$(human "$b")" "$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2fx", a/b}')" "$4"
}
echo
printf "%-44s %12s %12s %8s   %s\n" "benchmark (median of $count)" "ours" "baseline" "ratio" "goal"
pair "expr vs cel-go: used / capacity * 100"       BenchmarkEval/ratio/expr    BenchmarkEval/ratio/cel    "<= 1.0x"
pair "expr vs cel-go: round(used/capacity*100, 2)" BenchmarkEval/round/expr    BenchmarkEval/round/cel    "<= 1.0x"
pair "expr vs cel-go: coalesce(a,0)+coalesce(b,0)" BenchmarkEval/coalesce/expr BenchmarkEval/coalesce/cel "<= 1.0x"
pair "expr vs cel-go: concat(namespace,'/',name)"  BenchmarkEval/concat/expr   BenchmarkEval/concat/cel   "<= 1.0x"
pair "percentile of 100k: selection vs sort"       BenchmarkPercentile100k/selection BenchmarkPercentile100k/sort "< 1x"
pair "100k objects: engine vs JSON decode"         BenchmarkCollect100k/engine BenchmarkCollect100k/decode "<= 0.5x"
a=$(med BenchmarkCollect100k/decode+engine); b=$(med BenchmarkCollect100k/decode)
[ -n "$a" ] && [ -n "$b" ] && printf "%-44s %12s %12s %8s   %s\n" "100k objects: engine share, page by page" "$(human $((a-b)))" "$(human "$b")" "$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2fx", (a-b)/b}')" "<= 0.5x"
echo
echo "single results: history encode $(human "$(med BenchmarkEncodeNodes)") per 1,700 samples; policy decide $(human "$(med BenchmarkDecide)") per 1,000 clusters"
echo "raw output: $out"
