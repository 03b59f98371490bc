#!/usr/bin/env bash
# Build and run the rgc demo.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/build}/demo"
cmake -S "$root" -B "$out" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRGC_BUILD_TESTS=OFF -DRGC_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$out" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
exec "$out/examples/rgc-example"
