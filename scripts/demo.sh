#!/usr/bin/env bash
# Build and run the rgc demo (rgc-demo: timer interrupts on three priority levels allocating, storing,
# dropping and freeing while the foreground collects; see examples/demo.c).
# Usage: scripts/demo.sh [build-root] [rgc-demo options, e.g. --storm --map heap.png; --help lists them]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build_root="$root/build"
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then
  build_root="$1"
  shift
fi
out="$build_root/demo"
cmake -S "$root" -B "$out" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRGC_BUILD_TESTS=OFF -DRGC_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$out" -j "$(nproc 2>/dev/null || echo 2)" --target rgc-demo >/dev/null
exec "$out/examples/rgc-demo" "$@"
