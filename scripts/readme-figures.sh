#!/usr/bin/env bash
# The figures README.md quotes, measured from this tree: librgc.a's .text for Cortex-M3 and Cortex-M0+
# (MinSizeRel, every entry point). They live between the markers <!-- figures:begin --> and
# <!-- figures:end --> of README.md; nothing there is typed by hand.
#   scripts/readme-figures.sh           print the block as this tree measures it
#   scripts/readme-figures.sh --write   rewrite README.md's block
#   scripts/readme-figures.sh --check   exit 1 when README.md's block differs (CI: tests/readme)
# Needs cmake and arm-none-eabi-gcc; build directories under ${RGC_FIGURES_BUILD:-build/figures}.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mode="${1:-}"
out="${RGC_FIGURES_BUILD:-$root/build/figures}"
gccv="$(arm-none-eabi-gcc -dumpversion)"
text() { # cpu -> .text bytes of librgc.a
  cmake -S "$root" -B "$out/$1" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/arm-none-eabi.cmake" -DRGC_CPU="$1" \
    -DRGC_PORT=cortex-m -DCMAKE_BUILD_TYPE=MinSizeRel >/dev/null
  cmake --build "$out/$1" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
  arm-none-eabi-size -t "$out/$1/librgc.a" | tail -n 1 | awk '{print $1}'
}
m3="$(text cortex-m3)"
m0="$(text cortex-m0plus)"
block="$(printf '%s\n' "<!-- figures:begin (scripts/readme-figures.sh --write) -->" \
  "Core + port \`.text\` at \`-Os\` (\`librgc.a\`, every entry point; arm-none-eabi-gcc $gccv): $m3 B on Cortex-M3," \
  "$m0 B on Cortex-M0+. What a firmware links of it, side by side with py/gc.c: \`bench/results/mcu.md\`" \
  "(\`bash scripts/bench.sh --mcu\`)." \
  "<!-- figures:end -->")"
current="$(awk '/^<!-- figures:begin/{on=1} on{print} /^<!-- figures:end -->/{on=0}' "$root/README.md")"
case "$mode" in
  --write)
    python3 - "$root/README.md" "$block" <<'PY'
import re, sys
path, block = sys.argv[1], sys.argv[2]
s = open(path).read()
new, n = re.subn(r"<!-- figures:begin.*?<!-- figures:end -->", lambda m: block, s, flags=re.S)
if n != 1:
    sys.exit("README.md: no figures block")
open(path, "w").write(new)
PY
    echo "README.md: figures block rewritten" ;;
  --check)
    if [ "$current" != "$block" ]; then
      echo "README.md's figures are stale; run scripts/readme-figures.sh --write. Measured:" >&2
      echo "$block" >&2
      exit 1
    fi
    echo "README.md's figures match this tree ($m3 / $m0 B)" ;;
  *) echo "$block" ;;
esac
