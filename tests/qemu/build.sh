#!/usr/bin/env bash
# Build a QEMU test image. Usage: build.sh m3|m0 OUTDIR
set -euo pipefail
variant="$1"; out="$2"
here="$(cd "$(dirname "$0")" && pwd)"; root="$here/../.."
case "$variant" in
  # STEPS_POOL_BYTES: the static pool of the steps mode (the 4 MiB SSRAM at 0x20000000 holds it).
  m3) cpu=cortex-m3; board=board_mps2.c; ld=mps2_an385.ld
      defs=(-DRGC_CORTEXM_PRIO_BITS=3 -DHEAP_BYTES=16384 -DSTEPS_POOL_BYTES=2097152) ;;
  # M3 with masked table updates through BASEPRI (the port's variant for systems whose most urgent
  # priorities must never be held off): exercises the mask path on ARMv7-M.
  m3basepri) cpu=cortex-m3; board=board_mps2.c; ld=mps2_an385.ld
             defs=(-DRGC_CORTEXM_PRIO_BITS=3 -DHEAP_BYTES=16384 -DRGC_ATOMICS_VIA_MASK=1 -DRGC_CORTEXM_BASEPRI=0x40) ;;
  m0) cpu=cortex-m0; board=board_nrf51.c; ld=nrf51.ld; defs=(-DRGC_CORTEXM_PRIO_BITS=2 -DHEAP_BYTES=8192) ;;
  *) echo "usage: $0 m3|m3basepri|m0 OUTDIR" >&2; exit 2 ;;
esac
mkdir -p "$out/$variant"
cflags=(-std=c11 -mcpu=$cpu -mthumb -Os -g -ffreestanding -ffunction-sections -Wall -Wextra -Wpedantic -Werror
        -I"$root/include" -I"$root/port/cortex-m" -I"$here" "${defs[@]}")
objs=()
for src in "$root"/src/*.c "$root/port/cortex-m/rgc_port_cortexm.c" "$here/startup.c" "$here/$board" "$here/qemu_test.c"; do
  obj="$out/$variant/$(basename "$src" .c).o"
  arm-none-eabi-gcc "${cflags[@]}" -c "$src" -o "$obj"
  objs+=("$obj")
done
arm-none-eabi-gcc -mcpu=$cpu -mthumb -nostartfiles -T "$here/$ld" -Wl,--gc-sections "${objs[@]}" \
  -o "$out/$variant/qemu_test.elf" --specs=nano.specs -lc -lgcc
arm-none-eabi-size "$out/$variant"/rgc_*.o | awk -v v=$variant 'NR>1 {t+=$1} END {print v ": rgc core + port .text " t " bytes (-Os)"}'
