#!/usr/bin/env bash
# MicroPython's source for everything in rgc that builds it (scripts/micropython.sh: the unix port;
# scripts/micropython-qemu.sh: the qemu port; scripts/bench.sh: py/gc.c as a benchmark peer).
# Debian's source package (trixie: 1.25.0), fetched with a private apt configuration under
# <build-root>/mp-apt (the system's apt sources are not touched), unpacked with Debian's patches into
# <build-root>/micropython, then rgc's patch series (compat/micropython/patches) applied with a stamp
# per patch so re-runs do not re-apply. Nothing of MicroPython is committed.
#
# Usage: scripts/mp-fetch.sh [build-root]   (default: ./build); prints the source directory last.
# Environment: MP_DEBIAN_MIRROR (default: the Debian archive URI of the system's own apt sources),
# MP_DEBIAN_SUITE (trixie). Needs apt-get, dpkg-source (dpkg-dev) and patch.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/build}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
# The archive the system's apt sources use (deb822 .sources files or sources.list), never a host typed
# in here: the first URI of a suite that is not a security suite.
system_debian_uri() {
  { cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
      /^URIs:/ {u = $2} /^Suites:/ {s = $2}
      /^$/ {if (u != "" && s !~ /security/) {print u; exit} u = ""; s = ""}
      END {if (u != "" && s !~ /security/) print u}'
    grep -hE '^deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | grep -v security |
      awk '{for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' || true
  } | head -n 1
}
suite="${MP_DEBIAN_SUITE:-trixie}"
mp="$out/micropython"
aptdir="$out/mp-apt"
step() { echo "=== micropython: $* ==="; }
for tool in apt-get dpkg-source patch; do
  command -v "$tool" >/dev/null 2>&1 || { echo "mp-fetch.sh: $tool missing" >&2; exit 2; }
done
if [ ! -f "$mp/py/gc.c" ] || [ ! -f "$mp/tests/run-tests.py" ]; then
  mirror="${MP_DEBIAN_MIRROR:-$(system_debian_uri)}"
  if [ -z "$mirror" ]; then
    echo "mp-fetch.sh: no Debian archive in the system's apt sources; set MP_DEBIAN_MIRROR" >&2
    exit 2
  fi
  step "fetching Debian's micropython source package ($suite)"
  rm -rf "$aptdir" "$mp"
  mkdir -p "$aptdir/etc" "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/src"
  echo "deb-src $mirror $suite main" >"$aptdir/etc/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$aptdir/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir/cache")
  # as root apt would hand the download to the _apt user, who cannot write into this private tree
  [ "$(id -u)" = 0 ] && apt_opts+=(-o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" -qq update
  (cd "$aptdir/src" && apt-get "${apt_opts[@]}" -qq source --download-only micropython >/dev/null)
  dsc="$(ls "$aptdir"/src/micropython_*.dsc | head -n 1)"
  dpkg-source --no-check -x "$dsc" "$mp" >/dev/null
fi
mpver="$(sed -n '1s/^micropython (\([^)]*\)).*/\1/p' "$mp/debian/changelog")"
step "MicroPython source: Debian $mpver in $mp"
# rgc's patch series (compat/micropython/patches): the write barrier macros. They compile to the
# original plain stores unless MICROPY_GC_WRITE_BARRIER=1 (rgc.mk sets it), so the stock build is
# py/gc.c with the stores it always had.
for p in "$root"/compat/micropython/patches/*.patch; do
  stamp="$mp/.rgc-applied-$(basename "$p")"
  [ -f "$stamp" ] && cmp -s "$p" "$stamp" && continue
  if [ -f "$stamp" ]; then # an older version of this patch: take it back out first
    patch -d "$mp" -p1 -R -s <"$stamp"
  fi
  step "applying $(basename "$p")"
  patch -d "$mp" -p1 -s <"$p"
  cp "$p" "$stamp"
done

