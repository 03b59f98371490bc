#!/usr/bin/env bash
# Build rgc three ways and run every test in each:
#   gcc   -Wall -Wextra -Wpedantic -Werror      (unit tests)
#   clang -Wall -Wextra -Wpedantic -Werror      (unit tests + the systematic preemption sweep)
#   gcc   AddressSanitizer + UBSan              (unit tests)
# Usage: scripts/test-all.sh [build-root]   (default: ./build)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/build}"
jobs="$(nproc 2>/dev/null || echo 2)"

run() { # name, then cmake arguments
  local name="$1"; shift
  echo "=== $name ==="
  cmake -S "$root" -B "$out/$name" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$out/$name" -j "$jobs"
  ctest --test-dir "$out/$name" --output-on-failure -j "$jobs"
}

run gcc        -DCMAKE_C_COMPILER=gcc
run clang      -DCMAKE_C_COMPILER=clang
run gcc-asan   -DCMAKE_C_COMPILER=gcc -DRGC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
echo "=== all test builds passed ==="
