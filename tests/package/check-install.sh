#!/usr/bin/env bash
# Install rgc from a build tree into a scratch prefix, then build and run a consumer project that
# finds it with find_package(rgc). Usage: check-install.sh <rgc-build-dir> <scratch-dir> [C compiler]
set -euo pipefail
build="$1"; scratch="$2"; cc="${3:-cc}"
here="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$scratch"
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
cmake -S "$here" -B "$scratch/consumer" -DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$scratch/prefix" >/dev/null
cmake --build "$scratch/consumer" >/dev/null
"$scratch/consumer/consumer"
