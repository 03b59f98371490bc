#!/usr/bin/env bash
# Cortex-M3 instruction counts, rgc vs MicroPython's py/gc.c, side by side (issue #13, part 2), and the
# allocators' .text sizes on Cortex-M3 and Cortex-M0. Writes OUT/mcu.md (default bench/results).
#
# Two firmwares from bench/mcu/mcu_bench.c (the host benchmark's workloads on a 256 KiB heap, 16-byte
# blocks), one on rgc (src/*.c + port/cortex-m), one on py/gc.c (bench/mpgc), each at -O2 and -Os,
# linked with tests/qemu's startup, board and linker script (used from there, not copied), run on
# qemu-system-arm -M mps2-an385 -icount shift=0: one instruction = 1 ns of virtual time, read through
# the board's 25 MHz counter (40 instructions per tick), so every figure is exact and repeatable.
# Needs arm-none-eabi-gcc (gcc-arm-none-eabi, libnewlib-arm-none-eabi) and qemu-system-arm
# (qemu-system-arm); MicroPython's source comes from scripts/mp-fetch.sh.
#
# usage: bench/mcu/run.sh [--out DIR] [--mp-root DIR] [--build DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/bench/results"
mproot="$root/build"
build="$root/build/bench-mcu"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift ;;
    --mp-root) mproot="$2"; shift ;;
    --build) build="$2"; shift ;;
    -h|--help) sed -n '2,13p' "$0" | cut -c3-; exit 0 ;;
    *) echo "mcu/run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
start=$(date +%s)
need=()
command -v arm-none-eabi-gcc >/dev/null 2>&1 || need+=(gcc-arm-none-eabi libnewlib-arm-none-eabi)
command -v qemu-system-arm >/dev/null 2>&1 || need+=(qemu-system-arm)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "mcu/run.sh: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "mcu/run.sh: missing ${need[*]} (Debian: apt-get install ${need[*]})" >&2
    exit 2
  fi
fi
bash "$root/scripts/mp-fetch.sh" "$mproot" >&2
mp="$(cd "$mproot/micropython" && pwd)"
qemu_dir="$root/tests/qemu"
mkdir -p "$build" "$out"

warn=(-Wall -Wextra -Wpedantic -Werror)
# cc CPU OPT OUTDIR SRC [FLAGS...]: compile one source into OUTDIR
cc() {
  local cpu="$1" opt="$2" dir="$3" src="$4"; shift 4
  mkdir -p "$dir"
  arm-none-eabi-gcc -std=c11 -mcpu="$cpu" -mthumb "$opt" -g -ffunction-sections -fdata-sections -DNDEBUG \
    "${warn[@]}" "$@" -c "$src" -o "$dir/$(basename "$src" .c).o"
}
# -ffreestanding for both allocators: rgc's library build (CMake rgc_core, tests/qemu) uses it
rgc_flags=(-ffreestanding -I"$root/include" -I"$root/port/cortex-m")
mp_flags=(-ffreestanding -I"$root/bench/mpgc" -I"$mp" -DMICROPY_BYTES_PER_GC_BLOCK=16)

# ---- firmwares: {rgc, mpgc} x {O2, Os} (the allocator and the harness at that level, board code at -Os)
build_fw() {
  local impl="$1" opt="$2" d="$build/fw-$1$2"
  rm -rf "$d"
  local objs=()
  cc cortex-m3 -Os "$d/board" "$qemu_dir/startup.c" -I"$qemu_dir"
  cc cortex-m3 -Os "$d/board" "$qemu_dir/board_mps2.c" -I"$qemu_dir"
  if [ "$impl" = rgc ]; then
    for src in "$root"/src/*.c "$root/port/cortex-m/rgc_port_cortexm.c"; do
      cc cortex-m3 "-$opt" "$d/alloc" "$src" "${rgc_flags[@]}" -DRGC_CORTEXM_PRIO_BITS=3
    done
    cc cortex-m3 "-$opt" "$d" "$here/mcu_bench.c" "${rgc_flags[@]}" -I"$qemu_dir" -DRGC_CORTEXM_PRIO_BITS=3
  else
    cc cortex-m3 "-$opt" "$d/alloc" "$mp/py/gc.c" "${mp_flags[@]}"
    cc cortex-m3 "-$opt" "$d/alloc" "$root/bench/mpgc/mpgc_port.c" "${mp_flags[@]}"
    cc cortex-m3 "-$opt" "$d" "$here/mcu_bench.c" "${mp_flags[@]}" -I"$qemu_dir" -DMCU_MPGC=1
  fi
  arm-none-eabi-gcc -mcpu=cortex-m3 -mthumb -nostartfiles -T "$qemu_dir/mps2_an385.ld" -Wl,--gc-sections \
    "$d"/board/*.o "$d"/alloc/*.o "$d/mcu_bench.o" -o "$d/fw.elf" --specs=nano.specs -lc -lgcc
}
run_fw() {
  local d="$build/fw-$1$2"
  timeout 300 qemu-system-arm -M mps2-an385 -nographic -monitor none -serial none \
    -icount shift=0,align=off,sleep=off -semihosting-config enable=on,target=native \
    -kernel "$d/fw.elf" >"$d/out.txt" 2>&1
  grep -q '^done$' "$d/out.txt" || { echo "mcu/run.sh: $1 -$2 did not finish:" >&2; cat "$d/out.txt" >&2; exit 1; }
}
echo "=== building the firmwares (rgc, py/gc.c; -O2, -Os) in $build ===" >&2
for impl in rgc mpgc; do
  for opt in O2 Os; do build_fw "$impl" "$opt" & done
done
wait_all() { local rc=0; for j in $(jobs -p); do wait "$j" || rc=1; done; return "$rc"; }
wait_all
echo "=== running them on qemu-system-arm -M mps2-an385 -icount shift=0 (2 at a time) ===" >&2
for opt in O2 Os; do
  run_fw rgc "$opt" & run_fw mpgc "$opt" &
  wait_all
done

# ---- .text of the allocator objects at -Os: Cortex-M3 and Cortex-M0
text_of() { arm-none-eabi-size "$@" | awk 'NR > 1 {t += $1} END {print t}'; }
declare -A size
for cpu in cortex-m3 cortex-m0; do
  d="$build/size-$cpu"
  rm -rf "$d"
  prio=3; [ "$cpu" = cortex-m0 ] && prio=2
  for src in "$root"/src/*.c; do cc "$cpu" -Os "$d/rgc" "$src" "${rgc_flags[@]}" -DRGC_CORTEXM_PRIO_BITS=$prio; done
  cc "$cpu" -Os "$d/port" "$root/port/cortex-m/rgc_port_cortexm.c" "${rgc_flags[@]}" -DRGC_CORTEXM_PRIO_BITS=$prio
  cc "$cpu" -Os "$d/mp" "$mp/py/gc.c" "${mp_flags[@]}"
  cc "$cpu" -Os "$d/mpport" "$root/bench/mpgc/mpgc_port.c" "${mp_flags[@]}"
  size[$cpu.rgc]=$(text_of "$d"/rgc/*.o)
  size[$cpu.port]=$(text_of "$d"/port/*.o)
  size[$cpu.mp]=$(text_of "$d"/mp/*.o)
  size[$cpu.mpport]=$(text_of "$d"/mpport/*.o)
done

# ---- what a firmware links for MicroPython's core GC API (bench/mcu/link_api.c), -Os, --gc-sections:
# the allocator's input sections kept in the link, summed from the link map (text+rodata, data, bss)
hexsum_awk='function hex(s,   i, c, v) { v = 0; s = tolower(substr(s, 3)); for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)) - 1; v = v * 16 + c } return v }'
linked_of() { # MAP DIR -> "text data bss" of the input sections that DIR's objects put in the link
  awk -v dir="$2/" "$hexsum_awk"'
    /^Linker script and memory map/ {on = 1; next}
    !on {next}
    /^ [.][^ ]+$/ {sec = $1; next}
    /^ [.][^ ]+ +0x/ {sec = $1; addr = $2; size = $3; file = $4}
    /^ +0x[0-9a-f]+ +0x[0-9a-f]+ +[^ ]/ {if (sec != "") {size = $2; file = $3}}
    sec != "" && file != "" {
      if (index(file, dir) == 1) {
        n = hex(size)
        if (sec ~ /^[.](text|rodata)/) t += n; else if (sec ~ /^[.]data/) d += n; else if (sec ~ /^[.]bss|COMMON/) b += n
      }
      sec = ""; file = ""
    }
    END {printf "%d %d %d\n", t, d, b}' "$1"
}
declare -A linked
profiles=(default small limits)
declare -A profile_flags=([default]="" [small]="-DRGC_SMALL=1"
  [limits]="-DRGC_SMALL=1 -DRGC_MAX_AREAS=1 -DRGC_MAX_LEVELS=4 -DRGC_MAX_NEST=4 -DRGC_MAX_ROOTS=4 -DRGC_MARK_STACK_DEPTH=32")
declare -A profile_what=([default]="rgc, default options" [small]="rgc, RGC_SMALL=1"
  [limits]="rgc, RGC_SMALL=1, 1 area, 4 levels x 4 nested calls, 4 root ranges, mark stack 32")
link_api() { # CPU NAME DIR: link DIR/alloc/*.o with DIR/link_api.o into DIR/api.elf, record the allocator's share
  local cpu="$1" name="$2" d="$3"
  arm-none-eabi-gcc -mcpu="$cpu" -mthumb -nostartfiles -Wl,--gc-sections -Wl,-e,link_entry -Wl,-Map,"$d/api.map" \
    "$d"/alloc/*.o "$d/link_api.o" -o "$d/api.elf" --specs=nano.specs -lc -lgcc
  linked[$cpu.$name]="$(linked_of "$d/api.map" "$d/alloc")"
}
for cpu in cortex-m3 cortex-m0; do
  prio=3; [ "$cpu" = cortex-m0 ] && prio=2
  for p in "${profiles[@]}"; do
    d="$build/api-$cpu-$p"
    rm -rf "$d"
    # shellcheck disable=SC2206
    pf=(${profile_flags[$p]})
    for src in "$root"/src/*.c "$root/port/cortex-m/rgc_port_cortexm.c"; do
      cc "$cpu" -Os "$d/alloc" "$src" "${rgc_flags[@]}" -DRGC_CORTEXM_PRIO_BITS=$prio "${pf[@]}"
    done
    cc "$cpu" -Os "$d" "$here/link_api.c" "${rgc_flags[@]}" "${pf[@]}"
    link_api "$cpu" "$p" "$d"
  done
  d="$build/api-$cpu-mpgc"
  rm -rf "$d"
  cc "$cpu" -Os "$d/alloc" "$mp/py/gc.c" "${mp_flags[@]}"
  cc "$cpu" -Os "$d/alloc" "$root/bench/mpgc/mpgc_port.c" "${mp_flags[@]}"
  cc "$cpu" -Os "$d" "$here/link_api.c" "${mp_flags[@]}" -DLINK_MPGC=1
  link_api "$cpu" mpgc "$d"
done

# ---- mcu.md
figure() { # figure IMPL OPT CASE -> instructions per operation (harness subtracted)
  awk -v c="$3" -v hz="$(awk '$1 == "tick_hz" {print $2}' "$build/fw-$1$2/out.txt")" '
    $1 == "R" && $2 == c {printf "%.1f", ($3 - $4) * (1e9 / hz) / $5; found = 1}
    END {if (!found) printf "nan"}' "$build/fw-$1$2/out.txt"
}
calib() { figure "$1" "$2" calibration; }
for impl in rgc mpgc; do for opt in O2 Os; do
  c="$(calib $impl $opt)"
  awk -v c="$c" 'BEGIN {exit !(c > 0.99 && c < 1.01)}' ||
    { echo "mcu/run.sh: calibration loop gave $c instructions per instruction ($impl -$opt): -icount is not counting instructions" >&2; exit 1; }
done; done
pool() { awk '$1 == "pool_blocks" {print $2}' "$build/fw-$1$2/out.txt"; }
cases=(A1 A1m A2 C-frag-2block C-frag-1block B1 B1top B2 B3)
declare -A what=([A1]="A1 alloc(16)+free, per pair" [A1m]="A1m alloc(U[16,512])+free, per pair"
  [A2]="A2 S=512 free + alloc(U[16,512]), per op" [C-frag-2block]="C fragmented, 2-block alloc"
  [C-frag-1block]="C fragmented, 1-block alloc" [B1]="B1 collection (64 lists, 50% full)"
  [B1top]="B1top collection (+ one object near the top)" [B2]="B2 collection (every other list dropped)"
  [B3]="B3 collection (8 pointer arrays + 4096-node chain)")
md="$out/mcu.md"
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty=""
[ -n "$(git -C "$root" status --porcelain -- src include port 2>/dev/null)" ] && dirty=" (with uncommitted changes in src/include/port)"
mpver="$(sed -n '1s/^micropython (\([^)]*\)).*/\1/p' "$mp/debian/changelog")"
{
  echo "# rgc vs MicroPython py/gc.c on Cortex-M3: instructions per operation"
  echo
  echo "Run $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit$dirty; $(arm-none-eabi-gcc --version | head -n1);"
  echo "$(qemu-system-arm --version | head -n1); py/gc.c from MicroPython $mpver (scripts/mp-fetch.sh), compiled in this run."
  echo "Regenerate with \`bash scripts/bench.sh --mcu\` (took @SECONDS@ s this time)."
  echo
  echo "Firmwares: bench/mcu/mcu_bench.c on rgc (src/*.c + port/cortex-m) and on py/gc.c (bench/mpgc:"
  echo "MICROPY_ENABLE_FINALISER=1, no split heap), QEMU mps2-an385 (Cortex-M3), heap 256 KiB, 16-byte blocks"
  echo "(pool: rgc $(pool rgc O2) blocks, py/gc.c $(pool mpgc O2)); both built with -ffreestanding -DNDEBUG, allocator and harness at the level named."
  echo "Counted with \`-icount shift=0\`: one instruction = 1 ns of virtual time, read from the board's 25 MHz"
  echo "counter (40 instructions per tick; a 2-instruction loop checks it: $(calib rgc O2) instructions per instruction)."
  echo "Instructions, not cycles (QEMU models no pipeline, wait states or caches); deterministic: a re-run of"
  echo "the same build gives the same figures. Allocator cases: batches (A1 4000 pairs, A2 2000 ops after"
  echo "a warm-up, C 200 allocations) minus the same loop with empty allocator functions (the loop, the"
  echo "generator, the calls); collections: one call after two warm-up collections (B2: its one"
  echo "collection), rgc_collect / gc_collect (gc_collect_start, the stack and the root ranges through"
  echo "gc_collect_root, gc_collect_end). Workloads as on the host (bench/rgc_bench.c), scaled to the heap:"
  echo "A2 S = 512 (2048 x 256 KiB / 1 MiB), C with 200 allocations of each size."
  colls="$(for impl in rgc mpgc; do for opt in O2 Os; do
    awk -v i="$impl" -v o="$opt" '$1 == "N" {printf "%s -%s %s: %s; ", i == "mpgc" ? "py/gc.c" : i, o, $2, $3}' \
      "$build/fw-$impl$opt/out.txt"; done; done)"
  echo "Collections an allocator ran by itself inside a measured loop (a failed search): ${colls:-none}."
  echo
  for opt in O2 Os; do
    echo "## -$opt"
    echo
    echo "| case | py/gc.c instr/op | rgc instr/op | rgc speed / py/gc.c |"
    echo "|---|---|---|---|"
    for c in "${cases[@]}"; do
      m="$(figure mpgc $opt "$c")"; r="$(figure rgc $opt "$c")"
      awk -v n="${what[$c]}" -v m="$m" -v r="$r" '
        function f(x) { return x == "nan" ? "—" : sprintf(x + 0 >= 1000 ? "%.0f" : "%.1f", x) }
        BEGIN { printf "| %s | %s | %s | %s |\n", n, f(m), f(r), (m == "nan" || r == "nan" || r + 0 <= 0) ? "—" : sprintf("%.2f×", m / r) }'
    done
    echo
  done
  echo "## .text of the allocator (-Os, arm-none-eabi-size of the objects)"
  echo
  echo "rgc: every src/*.c object (the whole library: realloc, incremental collection, rgc_check, rgc_dump ...)"
  echo "plus port/cortex-m. py/gc.c: its one object (gc_realloc, gc_info, gc_dump_alloc_table included) at the"
  echo "same configuration, and the benchmark's port side for it (bench/mpgc/mpgc_port.c: gc_collect, roots,"
  echo "stubs), which a MicroPython port has in its own form. Cortex-M0: rgc masks interrupts for table updates"
  echo "(no LDREX/STREX) and its port supplies the atomics helpers."
  echo
  echo "| | py/gc.c | py/gc.c + bench port side | rgc core | rgc core + cortex-m port | rgc / py/gc.c |"
  echo "|---|---|---|---|---|---|"
  for cpu in cortex-m3 cortex-m0; do
    mpt=${size[$cpu.mp]}; mpp=$(( mpt + ${size[$cpu.mpport]} )); rc=${size[$cpu.rgc]}; rp=$(( rc + ${size[$cpu.port]} ))
    awk -v cpu="$cpu" -v a="$mpt" -v b="$mpp" -v c="$rc" -v d="$rp" \
      'BEGIN {printf "| %s | %d B | %d B | %d B | %d B | %.2f× |\n", cpu, a, b, c, d, d / a}'
  done
  echo
  echo "## What a firmware links for MicroPython's core GC API (-Os, --gc-sections)"
  echo
  echo "bench/mcu/link_api.c calls init, alloc, realloc, size, free, lock/unlock, collect start/roots/finish"
  echo "and sweep-all (py/gc.c: gc_init, gc_alloc, gc_realloc, gc_nbytes, gc_free, gc_lock/unlock,"
  echo "gc_collect_start/root/end, gc_sweep_all); linked with --gc-sections, the allocator's input sections"
  echo "kept in the link are summed from the link map (rgc: core + cortex-m port; py/gc.c: gc.c + the"
  echo "benchmark's port side). bss: rgc's heap handle lives in the caller (link_api.c: not counted here) -"
  echo "its size is the last column; py/gc.c's state is its bss (MP_STATE_MEM, part of mp_state_ctx)."
  echo
  echo "| core | build | text+rodata | data | bss | heap handle (rgc_heap) | text / py/gc.c |"
  echo "|---|---|---|---|---|---|---|"
  for cpu in cortex-m3 cortex-m0; do
    read -r mt md_ mb <<<"${linked[$cpu.mpgc]}"
    echo "| $cpu | py/gc.c | $mt B | $md_ B | $mb B | — | 1.00× |"
    for p in "${profiles[@]}"; do
      read -r t dd b <<<"${linked[$cpu.$p]}"
      hh="$(arm-none-eabi-nm -S -t d "$build/api-$cpu-$p/api.elf" | awk '$4 == "heap" {print $2 + 0}')"
      awk -v c="$cpu" -v w="${profile_what[$p]}" -v t="$t" -v d="$dd" -v b="$b" -v hh="$hh" -v m="$mt" \
        'BEGIN {printf "| %s | %s | %d B | %d B | %d B | %d B | %.2f× |\n", c, w, t, d, b, hh, t / m}'
    done
  done
  echo
} > "$md.tmp"
sed "s/@SECONDS@/$(( $(date +%s) - start ))/" "$md.tmp" > "$md"
rm -f "$md.tmp"
cat "$md"
echo "mcu/run.sh: wrote $md in $(( $(date +%s) - start )) s" >&2
