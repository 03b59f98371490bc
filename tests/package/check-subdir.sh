#!/usr/bin/env bash
# Build a consumer that embeds rgc with add_subdirectory and no build type, run it, and check how rgc's
# own sources were compiled: optimised (-O2), never with -Werror. Usage: check-subdir.sh <rgc-source>
# <scratch-dir> [C compiler]
set -euo pipefail
src="$1"; scratch="$2"; cc="${3:-cc}"
here="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$scratch"
cmake -S "$here/subdir" -B "$scratch" -DCMAKE_C_COMPILER="$cc" -DRGC_SOURCE_DIR="$src" \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
cmake --build "$scratch" >/dev/null
"$scratch/consumer"
cmds="$(grep '"command"' "$scratch/compile_commands.json" | grep 'src/rgc_alloc.c')"
if ! grep -q -- ' -O2' <<<"$cmds"; then echo "rgc's sources were not optimised: $cmds" >&2; exit 1; fi
if grep -q -- '-Werror' "$scratch/compile_commands.json"; then echo "-Werror forced on the embedding project" >&2; exit 1; fi
echo "add_subdirectory consumer: rgc built with -O2, no -Werror"
