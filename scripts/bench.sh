#!/usr/bin/env bash
# Regenerate the benchmark results (issues #5, #13): fetch MicroPython's source (scripts/mp-fetch.sh) for
# the py/gc.c column, build every variant in Release (-O2) under build/bench, run every workload, write
# bench/results/results.md (also printed), raw.tsv, the plots' data and PNGs.
# A benchmark, not a test: nothing here passes or fails on timing.
#
# usage: scripts/bench.sh [--quick] [--out DIR] [--build-dir DIR] [--bin-dir DIR] [--mp-root DIR]
#        scripts/bench.sh --mcu [--out DIR] [--mp-root DIR]
#   --quick        a smoke run (< 30 s): tiny iteration counts, figures not meaningful
#   --out DIR      where results go (default: bench/results)
#   --build-dir D  CMake build directory (default: build/bench)
#   --bin-dir DIR  use already built executables from DIR (no configure/build/fetch; the ctest smoke):
#                  a variant not built there (py/gc.c without MicroPython's source) is skipped
#   --mp-root DIR  where scripts/mp-fetch.sh puts MicroPython (DIR/micropython; default: build)
#   --mcu          instead: Cortex-M3 instruction counts and .text sizes under QEMU (bench/mcu/run.sh)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
quick=0
mcu=0
out="$root/bench/results"
build="$root/build/bench"
bindir=""
mproot="$root/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --mcu) mcu=1 ;;
    --out) out="$2"; shift ;;
    --build-dir) build="$2"; shift ;;
    --bin-dir) bindir="$2"; shift ;;
    --mp-root) mproot="$2"; shift ;;
    -h|--help) sed -n '2,15p' "$0" | cut -c3-; exit 0 ;;
    *) echo "bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$mcu" = 1 ]; then
  exec bash "$root/bench/mcu/run.sh" --out "$out" --mp-root "$mproot"
fi
start=$(date +%s)
load_start="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"

# ---- dependencies: cmake + gcc to build, gnuplot for the PNGs, libjemalloc-dev for the jemalloc peer,
# apt-get's source download + dpkg-source + patch for MicroPython's source (scripts/mp-fetch.sh)
if [ -z "$bindir" ]; then
  need=()
  for tool in cmake gcc make patch; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
  command -v dpkg-source >/dev/null 2>&1 || need+=(dpkg-dev)
  command -v gnuplot >/dev/null 2>&1 || need+=(gnuplot-nox)
  [ -f /usr/include/jemalloc/jemalloc.h ] || need+=(libjemalloc-dev)
  if [ "${#need[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "bench.sh: installing ${need[*]}" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null
      apt-get install -y -qq "${need[@]}" >/dev/null
    else
      echo "bench.sh: missing ${need[*]} (Debian: apt-get install ${need[*]}); continuing without what is optional" >&2
    fi
  fi
  # py/gc.c's column is built from MicroPython's source, fetched here (idempotent): a failed fetch fails the run
  echo "=== MicroPython source for the py/gc.c column (scripts/mp-fetch.sh $mproot) ===" >&2
  bash "$root/scripts/mp-fetch.sh" "$mproot" >&2
  echo "=== building the benchmark variants (Release, -O2) in $build ===" >&2
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG" \
    -DRGC_BUILD_BENCH=ON -DRGC_BUILD_TESTS=OFF -DRGC_BUILD_EXAMPLES=OFF -DRGC_WERROR=OFF \
    "-DRGC_MP_SOURCE=$(cd "$mproot" && pwd)/micropython" >/dev/null
  cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
  bindir="$build/bench"
  [ -x "$bindir/rgc-bench-mpgc" ] || { echo "bench.sh: rgc-bench-mpgc was not built" >&2; exit 1; }
fi

mkdir -p "$out"
raw="$out/raw.tsv"
: > "$raw"
args=()
[ "$quick" = 1 ] && args+=(--quick)

# variant: workloads (run one after the other, never in parallel: the figures are timings)
run() {
  local variant="$1"; shift
  local exe="$bindir/rgc-bench-$variant"
  if [ ! -x "$exe" ]; then
    echo "=== $variant: not built (skipped) ===" >&2
    return 0
  fi
  echo "=== $variant: $* ===" >&2
  "$exe" "${args[@]}" --out "$raw" "$@"
}
# Throughput figures (and the rgc / single-context ratio) in rounds, alternating the variants: the
# report takes the median over the rounds, so a burst of other load on the host moves one round only.
rounds=5
[ "$quick" = 1 ] && rounds=1
for ((r = 1; r <= rounds; r++)); do
  echo "=== round $r of $rounds ===" >&2
  run rgc         a1 a2 b
  run mpgc        a1 a2 b
  run rgc-single  a1 a2 b
  run rgc-b16     a1 a2 b
  run mpgc-b16    a1 a2 b
  run glibc       a1 a2
  run jemalloc    a1 a2
done
run rgc           timer a3 c scaling irq incr
run mpgc          a3 c
run rgc-stats     a2 c scaling-a2
run mpgc-stats    a2 c
run rgc-b16       a3 c
run mpgc-b16      a3 c
run rgc-b16-stats a2 c
run mpgc-b16-stats a2 c
run rgc-masked    a2 b c irq
run glibc         timer a3 c
run jemalloc      timer a3 c

# ---- report
header="$out/.header.md"
{
  commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  dirty=""
  [ -n "$(git -C "$root" status --porcelain -- src include port 2>/dev/null)" ] && dirty=" (with uncommitted changes in src/include/port)"
  cpu="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
  echo "Run $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit$dirty, $( [ "$quick" = 1 ] && echo '**quick smoke run: figures not meaningful**' || echo 'full run' )."
  echo "Host: ${cpu:-unknown CPU}, $(nproc 2>/dev/null || echo '?') cores, $(uname -sr); $(gcc --version 2>/dev/null | head -n1), -O2."
  echo "Host load average (1/5/15 min) $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?') at the end: other work on the host moves every figure."
  if [ -x "$bindir/rgc-bench-mpgc" ] && [ -f "$mproot/micropython/debian/changelog" ]; then
    mpver="$(sed -n '1s/^micropython (\([^)]*\)).*/\1/p' "$mproot/micropython/debian/changelog")"
    echo "py/gc.c: MicroPython $mpver (Debian's source package, scripts/mp-fetch.sh), compiled in this run with the same flags."
  fi
  echo "Regenerate with \`bash scripts/bench.sh\` (took $(( $(date +%s) - start )) s this time); raw records in raw.tsv."
} > "$header"
"$bindir/rgc-bench-report" "$raw" "$out" "$header"
rm -f "$header"

if command -v gnuplot >/dev/null 2>&1; then
  gnuplot -e "dir='$out'" "$root/bench/plots.gp" && echo "plots: $(cd "$out" && ls ./*.png | tr '\n' ' ')" >&2
else
  echo "bench.sh: gnuplot not installed (Debian: gnuplot-nox): no PNG plots" >&2
fi
[ -s "$out/results.md" ] || { echo "bench.sh: $out/results.md was not written" >&2; exit 1; }
echo "bench.sh: wrote $out/results.md in $(( $(date +%s) - start )) s" >&2
