#!/usr/bin/env bash
# Line/branch coverage of src/ reached by replaying fuzz inputs (llvm-cov, clang source-based coverage).
#
#   tests/fuzz/coverage.sh [corpus-dir...]      (default: tests/fuzz/corpus and tests/fuzz/regressions)
#
# Builds fuzz_rgc.c with its own main (FUZZ_STANDALONE_MAIN: replays every file named or found in a
# directory) against a core compiled with -fprofile-instr-generate -fcoverage-mapping plus the
# preemption-point callbacks (so injections happen as in the fuzzer), for both variants (b32, b16),
# replays the inputs, merges the profiles and prints llvm-cov's report for src/. Replay a long run's
# corpus with: tests/fuzz/coverage.sh build/fuzz/fuzz-work/b32/corpus build/fuzz/fuzz-work/b16/corpus
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${COVERAGE_DIR:-$root/build/fuzz-coverage}"
cc="${CC:-clang}"
ver="$($cc --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n 1)"
profdata="$(command -v llvm-profdata-"$ver" || command -v llvm-profdata)"
cov="$(command -v llvm-cov-"$ver" || command -v llvm-cov)"
mkdir -p "$out"
if [ "$#" -eq 0 ]; then
  set -- "$root/tests/fuzz/corpus" "$root/tests/fuzz/regressions"
fi

# The same optimisation and sanitizers as the fuzz binaries, so that the preemption points (and so the
# injections) fall where they fell while fuzzing (FUZZ_RGC_STATS totals of both replays match).
san=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
common=(-std=c11 -g -I"$root/include" -I"$root/src" "${san[@]}")
declare -A defs=([b32]="" [b16]="-DRGC_BLOCK_BYTES=16 -DRGC_ATOMICS_VIA_MASK=1 -DRGC_MARK_STACK_DEPTH=4 -DRGC_INTERIOR_POINTERS=1")
bins=()
rm -f "$out"/*.profraw
for v in b32 b16; do
  # shellcheck disable=SC2086
  "$cc" "${common[@]}" ${defs[$v]} -O2 -ffreestanding -fprofile-instr-generate -fcoverage-mapping \
    -fsanitize-coverage=trace-pc-guard,trace-loads,trace-stores,no-prune -c "$root"/src/rgc_*.c
  mkdir -p "$out/$v" && mv rgc_*.o "$out/$v/"
  # shellcheck disable=SC2086
  "$cc" -std=c11 -I"$root/include" ${defs[$v]} -DFUZZ_WRAP_GUARD=0 -DFUZZ_SKIP_PROFILE_COUNTERS=1 -O2 -c "$root/tests/fuzz/fuzz_port.c" -o "$out/$v/port.o"
  # shellcheck disable=SC2086
  "$cc" "${common[@]}" ${defs[$v]} -O1 -DFUZZ_STANDALONE_MAIN -fprofile-instr-generate \
    "$root/tests/fuzz/fuzz_rgc.c" "$out/$v"/rgc_*.o "$out/$v/port.o" -o "$out/replay_$v"
  FUZZ_RGC_STATS=1 LLVM_PROFILE_FILE="$out/$v-%p.profraw" "$out/replay_$v" "$@" >/dev/null 2>"$out/$v.stderr" || {
    echo "replay_$v failed (a finding?): see $out/$v.stderr" >&2
    exit 1
  }
  grep totals "$out/$v.stderr" | sed "s/^/$v: /"
  bins+=("$out/replay_$v")
done
"$profdata" merge -sparse "$out"/*.profraw -o "$out/fuzz.profdata"
echo "coverage of src/ by $* (both variants merged):"
"$cov" report "${bins[0]}" -object "${bins[1]}" -instr-profile="$out/fuzz.profdata" "$root"/src/*.c
echo "per-line listing: $cov show ${bins[0]} -object ${bins[1]} -instr-profile=$out/fuzz.profdata $root/src/rgc_alloc.c"
