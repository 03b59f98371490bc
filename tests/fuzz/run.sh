#!/usr/bin/env bash
# Run the rgc fuzz targets for a bounded time (both variants in parallel, one core each).
#
#   tests/fuzz/run.sh [seconds] [build-dir]
#
# seconds    per target (default 300; CI uses ~110). Long runs: tests/fuzz/run.sh 36000
# build-dir  a clang build of this tree that has tests/fuzz/fuzz_rgc_{b32,b16} (default: configure and
#            build one in build/fuzz)
# Environment: VARIANTS="b32 b16" (which targets), FUZZ_ARGS (extra libFuzzer options, e.g. -jobs=4
# -workers=4 for more cores; then seconds is per job).
#
# The working corpus lives in <build-dir>/fuzz-work/<variant>/corpus (seeded from tests/fuzz/corpus and
# kept between runs: a long run continues where the last one stopped); crashes go to
# <build-dir>/fuzz-work/<variant>/ as crash-*/timeout-*/oom-*. A finding fails the script: replay it with
#   <build-dir>/tests/fuzz/fuzz_rgc_<variant> <file>          (FUZZ_RGC_VERBOSE=1 logs the program)
# minimise it with -minimize_crash=1 -runs=10000, and add it to tests/fuzz/regressions/.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
secs="${1:-300}"
build="${2:-}"
variants="${VARIANTS:-b32 b16}"

if [ -z "$build" ]; then
  build="$root/build/fuzz"
  cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRGC_QEMU_TESTS=OFF \
    >/dev/null || exit 1
  targets=()
  for v in $variants; do targets+=("fuzz_rgc_$v"); done
  cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target "${targets[@]}" >/dev/null || exit 1
fi

pids=()
for v in $variants; do
  bin="$build/tests/fuzz/fuzz_rgc_$v"
  if [ ! -x "$bin" ]; then
    echo "fuzz: $bin missing (needs clang and libclang-rt-dev)" >&2
    exit 1
  fi
  work="$build/fuzz-work/$v"
  mkdir -p "$work/corpus"
  cp -n "$root"/tests/fuzz/corpus/* "$work/corpus/" 2>/dev/null || true
  rm -f "$work"/crash-* "$work"/timeout-* "$work"/oom-* "$work"/leak-*
  # -timeout: one input; -rss_limit_mb: the process; -print_final_stats: the figures below.
  (cd "$work" && exec "$bin" -max_total_time="$secs" -timeout=30 -rss_limit_mb=2560 -print_final_stats=1 \
     -artifact_prefix="$work/" ${FUZZ_ARGS:-} corpus >"$work/log" 2>&1) &
  pids+=($!)
done

status=0
i=0
for v in $variants; do
  wait "${pids[$i]}"
  rc=$?
  i=$((i + 1))
  work="$build/fuzz-work/$v"
  last="$(grep -E '^#[0-9]+' "$work/log" | tail -n 1)"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)"
  eps="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -n 1)"
  cov="$(echo "$last" | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/cov \1, ft \2, corpus \3/p')"
  echo "fuzz_rgc_$v: ${secs}s, ${execs:-?} executions (${eps:-?}/s), $cov, exit $rc"
  if [ "$rc" -ne 0 ] || ls "$work"/crash-* "$work"/timeout-* "$work"/oom-* "$work"/leak-* >/dev/null 2>&1; then
    status=1
    echo "---- fuzz_rgc_$v FOUND A PROBLEM: last 60 lines of $work/log ----"
    grep -v -E '^#[0-9]+ +(NEW|REDUCE|pulse)' "$work/log" | tail -n 60
    ls "$work"/crash-* "$work"/timeout-* "$work"/oom-* "$work"/leak-* 2>/dev/null
  fi
done
exit $status
