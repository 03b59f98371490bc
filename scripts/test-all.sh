#!/usr/bin/env bash
# Build rgc three ways and run every test in each:
#   gcc   -Wall -Wextra -Wpedantic -Werror      (unit tests + QEMU Cortex-M3/M0 tests + the benchmark's
#                                               variants and a quick smoke run of scripts/bench.sh)
#   clang -Wall -Wextra -Wpedantic -Werror      (unit tests + the systematic preemption sweep; then
#                                                the fuzz targets run ~2 minutes: tests/fuzz/run.sh)
#   gcc   AddressSanitizer + UBSan              (unit tests and torture with RGC_DEBUG=1: RGC_ASSERT's
#                                                internal checks, and the tri-colour verifier checking
#                                                every marking for a missed barrier)
#   gcc   RGC_ATOMICS_VIA_MASK=1                (unit tests on the masked table updates)
# Usage: scripts/test-all.sh [build-root]   (default: ./build)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/build}"
jobs="$(nproc 2>/dev/null || echo 2)"

run() { # name, then cmake arguments
  local name="$1"; shift
  local t0=$(date +%s)
  echo "=== $name ==="
  cmake -S "$root" -B "$out/$name" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRGC_WERROR=ON "$@" >/dev/null
  cmake --build "$out/$name" -j "$jobs"
  ctest --test-dir "$out/$name" --output-on-failure -j "$jobs"
  echo "=== $name: done in $(($(date +%s) - t0)) s ==="
}

# librgc.a for Cortex-M through the toolchain file: LDREX/STREX build (M3) and masked-atomics build
# (M0+), -Werror. (The QEMU tests in the gcc build run these on emulated hardware.)
if command -v arm-none-eabi-gcc >/dev/null 2>&1; then
  for cpu in cortex-m3 cortex-m0plus; do
    echo "=== arm-none-eabi $cpu (librgc.a, MinSizeRel) ==="
    cmake -S "$root" -B "$out/arm-$cpu" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/arm-none-eabi.cmake" \
      -DRGC_CPU=$cpu -DRGC_PORT=cortex-m -DCMAKE_BUILD_TYPE=MinSizeRel -DRGC_WERROR=ON >/dev/null
    cmake --build "$out/arm-$cpu" -j "$jobs" >/dev/null
    arm-none-eabi-size -t "$out/arm-$cpu/librgc.a" | tail -n 1 | awk -v c=$cpu '{print c ": librgc.a text " $1 " bytes, data " $2 ", bss " $3}'
  done
else
  echo "=== arm-none-eabi-gcc not installed: Cortex-M builds skipped ==="
fi

run gcc        -DCMAKE_C_COMPILER=gcc -DRGC_BUILD_BENCH=ON
run clang      -DCMAKE_C_COMPILER=clang -DRGC_QEMU_TESTS=OFF
# Coverage-guided fuzzing (tests/fuzz): the clang build's two libFuzzer targets, in parallel, for a
# bounded time (RGC_FUZZ_SECONDS, default 110 s each); any finding fails the run.
if [ -x "$out/clang/tests/fuzz/fuzz_rgc_b32" ]; then
  echo "=== fuzz: tests/fuzz/run.sh ${RGC_FUZZ_SECONDS:-110} ==="
  bash "$root/tests/fuzz/run.sh" "${RGC_FUZZ_SECONDS:-110}" "$out/clang"
else
  echo "=== fuzz targets not built (clang's libFuzzer runtime missing): fuzzing skipped ==="
fi
run gcc-asan   -DCMAKE_C_COMPILER=gcc -DRGC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS=-DRGC_DEBUG=1
# The masked-atomics build (what Cortex-M0 uses), with the POSIX signal mask as the port's mask.
run gcc-masked -DCMAKE_C_COMPILER=gcc -DCMAKE_C_FLAGS=-DRGC_ATOMICS_VIA_MASK=1 -DRGC_QEMU_TESTS=OFF
echo "=== all test builds passed ==="
