#!/usr/bin/env bash
# MicroPython on an emulated Cortex-M3 (QEMU mps2-an385) with rgc: the qemu port stock and on rgc,
# MicroPython's test suite on both, then hardware-timer interrupts at several NVIC priorities calling
# Python that allocates, and Ctrl-C typed at the UART while it runs (compat/micropython/qemu/).
#
#  1. MicroPython's source (scripts/mp-fetch.sh: Debian's 1.25.0 + rgc's patches) and, stamped like
#     mp-fetch.sh's, compat/micropython/qemu/*.patch (the AN385's external interrupt vectors).
#  2. librgc.a for Cortex-M3 (CMake, cmake/arm-none-eabi.cmake, RGC_PORT=cortex-m, 3 NVIC priority bits).
#  3. ports/qemu, BOARD=MPS2_AN385, into ports/qemu/build-MPS2_AN385-stock (py/gc.c) and
#     ports/qemu/build-MPS2_AN385-rgc (compat/micropython/gc.c via rgc.mk). Both have the rgcqemu module
#     (compat/micropython/qemu/usermod) and freeze compat/micropython/qemu/manifest.py (the port's test
#     modules + a small unittest: Debian's source has no micropython-lib).
#  4. tests/run-tests.py on both, as the port's `make test` runs it (QEMU on a pty). Exit status 1 when
#     the rgc build fails (or skips) a test the stock build passes.
#  5. compat/micropython/qemu/tests/irq_timers.py through run_irq_test.py (QEMU with -icount shift=0:
#     deterministic, 1 instruction = 1 ns): three timers (1 Hz, 10 Hz, 1 kHz at NVIC priorities 6, 4,
#     2) whose callbacks allocate, the stress variant (10 Hz, 1 kHz, 10 kHz) and the run with Ctrl-C
#     sent to UART0 at pseudo-random times (fixed seed). Each must PASS on rgc (exit status 1
#     otherwise). The first runs twice and must print the same both times (-icount). The stock build
#     runs it as the contrast (its hard IRQs lock the heap: every callback gets MemoryError); that run
#     must fail, by MemoryError. Then gc.collect() without interrupts on both builds (a measurement).
#  6. The MICROBIT board (Cortex-M0, nRF51) built on rgc (build only: rgc's masked-atomics path).
#
# Usage: scripts/micropython-qemu.sh [build-root]   (default: ./build)
# Environment: MPQ_LONG=1 - the long mode (timer runs of 30 s emulated, stress 10 s, Ctrl-C 30 s;
# default 3 s, 1 s, 3 s); MPQ_SEED (Ctrl-C schedule, default 1); MP_DEBIAN_MIRROR, MP_DEBIAN_SUITE as
# for mp-fetch.sh. Needs arm-none-eabi-gcc with newlib, qemu-system-arm, cmake, make, python3 with
# pyserial (python3-serial), patch, dpkg-dev: installed with apt-get when missing and running as root.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/build}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
jobs="$(nproc 2>/dev/null || echo 2)"
mp="$out/micropython"
q="$root/compat/micropython/qemu"
results="$out/mpq-results"
mkdir -p "$results"
step() { echo "=== micropython-qemu: $* ==="; }

# ---- 0. tools ---------------------------------------------------------------------------------------
need=()
for tool in arm-none-eabi-gcc qemu-system-arm cmake make python3 patch dpkg-source apt-get timeout; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
dpkg -s libnewlib-arm-none-eabi >/dev/null 2>&1 || need+=(libnewlib-arm-none-eabi)
# run-tests.py talks to QEMU's pty through pyserial: the first python3 that has it (a pyenv or venv
# python3 earlier in PATH may not see Debian's python3-serial)
py=""
for p in python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c "import serial" 2>/dev/null; then py="$p"; break; fi
done
[ -n "$py" ] || need+=(python3-serial)
need=("${need[@]/arm-none-eabi-gcc/gcc-arm-none-eabi}")
need=("${need[@]/dpkg-source/dpkg-dev}")
need=("${need[@]/timeout/coreutils}")
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    step "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "micropython-qemu.sh: missing ${need[*]} (install them with apt-get as root)" >&2
    exit 2
  fi
  [ -n "$py" ] || py=/usr/bin/python3
fi
"$py" -c "import serial" || { echo "micropython-qemu.sh: $py has no pyserial" >&2; exit 2; }

# ---- 1. MicroPython's source, and the qemu port's vector table ------------------------------------------
bash "$root/scripts/mp-fetch.sh" "$out"
for p in "$q"/*.patch; do
  stamp="$mp/.rgc-applied-qemu-$(basename "$p")"
  [ -f "$stamp" ] && cmp -s "$p" "$stamp" && continue
  if [ -f "$stamp" ]; then # an older version of this patch: take it back out first
    patch -d "$mp" -p1 -R -s <"$stamp"
  fi
  step "applying $(basename "$p")"
  patch -d "$mp" -p1 -s <"$p"
  cp "$p" "$stamp"
done

# ---- 2. librgc.a for the Cortex-M3 --------------------------------------------------------------------
# CMAKE_C_FLAGS replaces the toolchain file's initial flags: the CPU flags are repeated here.
step "librgc.a (cortex-m port, Cortex-M3, 3 NVIC priority bits, -Os)"
cmake -S "$root" -B "$out/mpq-rgc-m3" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/arm-none-eabi.cmake" \
  -DRGC_CPU=cortex-m3 -DRGC_PORT=cortex-m -DCMAKE_BUILD_TYPE=MinSizeRel -DRGC_WERROR=ON \
  -DCMAKE_C_FLAGS="-mcpu=cortex-m3 -mthumb -ffunction-sections -fdata-sections -DRGC_CORTEXM_PRIO_BITS=3" >/dev/null
cmake --build "$out/mpq-rgc-m3" -j "$jobs" >"$out/mpq-rgc-m3.log" 2>&1 || { tail -n 30 "$out/mpq-rgc-m3.log"; exit 1; }

# ---- 3. the qemu port, stock and on rgc --------------------------------------------------------------
step "mpy-cross"
make -s -C "$mp/mpy-cross" -j "$jobs" >"$out/mp-mpy-cross.log" 2>&1 || { tail -n 30 "$out/mp-mpy-cross.log"; exit 1; }
common=(FROZEN_MANIFEST="$q/manifest.py" USER_C_MODULES="$q/usermod")
rgcmk=(-f Makefile -f "$root/compat/micropython/rgc.mk" RGC_ROOT="$root")
build_qemu() { # board, name, make arguments...
  local board="$1" name="$2"; shift 2
  local dir="build-$board-$name"
  step "ports/qemu BOARD=$board, $name build (ports/qemu/$dir)"
  # make does not rebuild when only the arguments change: a directory made with others is rebuilt
  local want="$*"
  if [ -d "$mp/ports/qemu/$dir" ] && [ "$(cat "$mp/ports/qemu/$dir/.rgc-args" 2>/dev/null)" != "$want" ]; then
    rm -rf "$mp/ports/qemu/$dir"
  fi
  if ! make -C "$mp/ports/qemu" -j "$jobs" BOARD="$board" BUILD="$dir" "$@" >"$out/mpq-build-$board-$name.log" 2>&1; then
    tail -n 40 "$out/mpq-build-$board-$name.log"
    exit 1
  fi
  echo "$want" >"$mp/ports/qemu/$dir/.rgc-args"
  # the port compiles with -Werror; the linker and the rest of the log must be clean too
  if grep -iE "warning:" "$out/mpq-build-$board-$name.log"; then
    echo "micropython-qemu.sh: warnings in the $board $name build" >&2
    exit 1
  fi
  arm-none-eabi-size "$mp/ports/qemu/$dir/firmware.elf" | awk 'NR == 2 {print "  firmware.elf: text " $1 ", data " $2 ", bss " $3}'
}
build_qemu MPS2_AN385 stock "${common[@]}"
build_qemu MPS2_AN385 rgc "${rgcmk[@]}" RGC_LIB_DIR="$out/mpq-rgc-m3" "${common[@]}"
elf() { echo "$mp/ports/qemu/build-MPS2_AN385-$1/firmware.elf"; }
# (nm into a file: grep -q would end the pipe early, and pipefail take nm's SIGPIPE for a failure)
for b in stock rgc; do arm-none-eabi-nm "$(elf $b)" >"$results/nm-$b.txt"; done
grep -q " rgc_collect_start$" "$results/nm-rgc.txt" || { echo "rgc build does not contain rgc" >&2; exit 1; }
if grep -q " rgc_collect_start$" "$results/nm-stock.txt"; then echo "stock build contains rgc" >&2; exit 1; fi

# ---- 4. MicroPython's test suite on both ---------------------------------------------------------------
# As the port's `make test`: run-tests.py with QEMU on a pty (the port's QEMU_ARGS). The two builds run
# side by side (each run is one QEMU and one python3 process).
count() { { grep -hE "^[0-9]+ tests $1" "$2" || true; } | awk '{s += $1} END {print s + 0}'; }
names() { { grep -hE "^[0-9]+ tests $1:" "$2" || true; } | cut -d: -f2- | tr ' ' '\n' | sed '/^$/d' | sort -u; }
declare -A passed failed skipped total pids
cd "$mp/tests"
for b in stock rgc; do
  step "run-tests.py on the $b build (QEMU mps2-an385)"
  rm -rf "$results/$b"
  timeout 1200 "$py" run-tests.py -r "$results/$b" \
    -t execpty:"qemu-system-arm -machine mps2-an385 -nographic -monitor null -semihosting -serial pty -kernel $(elf $b)" \
    >"$results/suite-$b.log" 2>&1 &
  pids[$b]=$!
done
for b in stock rgc; do
  rc=0
  wait "${pids[$b]}" || rc=$?
  # run-tests.py exits 1 when a test fails (counted below); anything else is an error of the run itself
  if [ $rc != 0 ] && [ $rc != 1 ]; then
    tail -n 20 "$results/suite-$b.log"
    echo "micropython-qemu.sh: run-tests.py on the $b build ended with status $rc" >&2
    exit 1
  fi
  log="$results/suite-$b.log"
  total[$b]=$(count performed "$log"); passed[$b]=$(count passed "$log")
  skipped[$b]=$(count skipped "$log"); failed[$b]=$(count failed "$log")
  names failed "$log" >"$results/$b.failed"
  names skipped "$log" >"$results/$b.skipped"
  if [ "${total[$b]}" -eq 0 ]; then echo "run-tests.py ran no test on the $b build" >&2; exit 1; fi
done
cd "$root"
printf '%-10s %6s %6s %6s %6s\n' build tests pass fail skip
for b in stock rgc; do printf '%-10s %6s %6s %6s %6s\n' $b "${total[$b]}" "${passed[$b]}" "${failed[$b]}" "${skipped[$b]}"; done
regress="$(comm -23 "$results/rgc.failed" "$results/stock.failed"; comm -23 "$results/rgc.skipped" "$results/stock.skipped")"
for t in $regress; do echo "  $t: fails or skips on rgc only"; done
for t in $(comm -13 "$results/rgc.failed" "$results/stock.failed"; comm -13 "$results/rgc.skipped" "$results/stock.skipped"); do
  echo "  $t: fails or skips on stock only"
done
[ -n "$regress" ] || echo "tests that differ (rgc vs stock): none"

# ---- 5. hardware timers calling Python that allocates, and Ctrl-C ---------------------------------------
if [ "${MPQ_LONG:-0}" = 1 ]; then secs=30 stress_secs=10 kbd_secs=30; else secs=3 stress_secs=1 kbd_secs=3; fi
seed="${MPQ_SEED:-1}"
irq_ok=1
run_irq() { # label, log name, build, driver arguments...
  local label="$1" name="$2" b="$3"; shift 3
  step "$label"
  local rc=0
  # the driver's own limit first (it reports the guest's last output), timeout's as the last resort
  timeout 900 "$py" "$q/run_irq_test.py" --kernel "$(elf $b)" --test "$q/tests/irq_timers.py" --timeout 600 "$@" \
    >"$results/irq-$name.log" 2>&1 || rc=$?
  grep -v "^KBD " "$results/irq-$name.log" | sed 's/^/  /'
  return $rc
}
run_irq "rgc: timers at 1 Hz / 10 Hz / 1 kHz (NVIC priorities 6 / 4 / 2), ${secs} s emulated" timers rgc \
  --param seconds=$secs || irq_ok=0
# deterministic: the same run again must print exactly the same (-icount; no host input in this one)
run_irq "rgc: the same run again (-icount: must print exactly the same)" timers-again rgc \
  --param seconds=$secs >/dev/null || irq_ok=0
if cmp -s "$results/irq-timers.log" "$results/irq-timers-again.log"; then
  echo "  identical"
else
  echo "  the two runs differ:"; diff "$results/irq-timers.log" "$results/irq-timers-again.log" | head -n 20; irq_ok=0
fi
run_irq "rgc: stress, 10 Hz / 1 kHz / 10 kHz, ${stress_secs} s emulated" stress rgc \
  --param seconds=$stress_secs --param stress=1 || irq_ok=0
run_irq "rgc: the same timers and Ctrl-C on UART0 (seed $seed), ${kbd_secs} s emulated" ctrl-c rgc \
  --param seconds=$kbd_secs --ctrl-c --seed "$seed" || irq_ok=0
# the contrast: py/gc.c's hard IRQs run with the heap locked. Expected to fail (MemoryError in every
# callback); a PASS here would mean the test cannot tell, which is an error too.
stock_rc=0
run_irq "stock py/gc.c (contrast, expected to fail): the same timers, ${secs} s emulated" timers-stock stock \
  --param seconds=$secs || stock_rc=$?
if [ $stock_rc = 0 ]; then
  echo "  the stock build passed irq_timers.py: the test cannot tell an allocation-free hard IRQ"; irq_ok=0
elif [ $stock_rc != 1 ] || ! grep -q "MemoryError" "$results/irq-timers-stock.log"; then
  echo "  the stock build did not fail by MemoryError (status $stock_rc)"; irq_ok=0
fi

# The cost of gc.collect() by itself, same main loop and live set, no interrupts: stock vs rgc (the
# timer runs' figures include callbacks' allocations in the live set and, on stock, none)
step "gc.collect() without interrupts, 1 s emulated: longest, us (the main loop of irq_timers.py, timers=0)"
for b in stock rgc; do
  timeout 300 "$py" "$q/run_irq_test.py" --kernel "$(elf $b)" --test "$q/tests/irq_timers.py" --timeout 240 \
    --param seconds=1 --param timers=0 >"$results/irq-quiet-$b.log" 2>&1 || { cat "$results/irq-quiet-$b.log"; irq_ok=0; }
  echo "  $b: $(grep "gc.collect() in the main loop" "$results/irq-quiet-$b.log" | cut -d, -f2); $(grep "^longest gc.collect" "$results/irq-quiet-$b.log")"
done

# ---- 6. MICROBIT (Cortex-M0): rgc builds there too ----------------------------------------------------
# ARMv6-M has no exclusive loads/stores: rgc_config.h selects masked table updates. The board's default
# manifest requires micropython-lib's unittest: frozen here are its own test module and rgc's unittest.
step "librgc.a for the Cortex-M0 (2 NVIC priority bits)"
cmake -S "$root" -B "$out/mpq-rgc-m0" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/arm-none-eabi.cmake" \
  -DRGC_CPU=cortex-m0 -DRGC_PORT=cortex-m -DCMAKE_BUILD_TYPE=MinSizeRel -DRGC_WERROR=ON \
  -DCMAKE_C_FLAGS="-mcpu=cortex-m0 -mthumb -ffunction-sections -fdata-sections -DRGC_CORTEXM_PRIO_BITS=2" >/dev/null
cmake --build "$out/mpq-rgc-m0" -j "$jobs" >"$out/mpq-rgc-m0.log" 2>&1 || { tail -n 30 "$out/mpq-rgc-m0.log"; exit 1; }
build_qemu MICROBIT rgc "${rgcmk[@]}" RGC_LIB_DIR="$out/mpq-rgc-m0" FROZEN_MANIFEST="$q/manifest_microbit.py"

echo
if [ $irq_ok = 0 ]; then echo "micropython-qemu.sh: a hard-IRQ run failed (irq_timers.py)"; fi
if [ -n "$regress" ]; then
  echo "micropython-qemu.sh: the rgc build fails or skips $(echo $regress | wc -w) test(s) the stock build passes"
fi
echo "micropython-qemu-on-rgc: ${passed[rgc]} passed, ${failed[rgc]} failed, ${skipped[rgc]} skipped (stock: ${passed[stock]} passed, ${failed[stock]} failed, ${skipped[stock]} skipped)"
if [ -n "$regress" ] || [ $irq_ok = 0 ]; then exit 1; fi
