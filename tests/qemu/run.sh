#!/usr/bin/env bash
# Build a QEMU test image and run it. Usage: run.sh m3|m3basepri|m0 OUTDIR MODE...   (MODE: seed | sweep FIRST N | window | steps [nodes=BYTES] [BUDGET...])
# Exit status: the guest's (semihosting SYS_EXIT_EXTENDED), 124 if QEMU had to be killed.
set -euo pipefail
variant="$1"; out="$2"; shift 2
here="$(cd "$(dirname "$0")" && pwd)"
"$here/build.sh" "$variant" "$out"
case "$variant" in
  m3|m3basepri) machine=mps2-an385 ;;
  m0) machine=microbit ;;
esac
# -icount makes runs exactly repeatable and lets interrupts land on every instruction.
exec timeout 300 qemu-system-arm -M "$machine" -nographic -monitor none -serial none \
  -icount shift=5,align=off,sleep=off \
  -semihosting-config enable=on,target=native,arg="$*" \
  -kernel "$out/$variant/qemu_test.elf"
