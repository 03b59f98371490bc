#!/usr/bin/env bash
# The README's "Using it" section as CI runs it: its C program must be examples/hello.c verbatim, and
# its shell lines must work from a copy of the source tree. Usage: check.sh <rgc-source> <scratch-dir>
set -euo pipefail
src="$1"; scratch="$2"
section() { # the fenced block of language $1 in the "## Using it" section
  awk -v lang="$1" '/^## /{insec = ($0 == "## Using it")} insec && $0 == "```" lang {on = 1; next}
    on && /^```$/ {exit} on {print}' "$src/README.md"
}
if ! diff <(section c) "$src/examples/hello.c" >/dev/null; then
  echo "README's Using-it program differs from examples/hello.c:" >&2
  diff <(section c) "$src/examples/hello.c" >&2 || true
  exit 1
fi
rm -rf "$scratch"
mkdir -p "$scratch"
# a copy of the tree without build directories (as a fresh clone would be)
(cd "$src" && tar --exclude='./build*' --exclude=./.git -cf - .) | (cd "$scratch" && tar -xf -)
cd "$scratch"
section sh >readme-using-it.sh
echo "--- running the README's commands:"
cat readme-using-it.sh
bash -euo pipefail -x readme-using-it.sh
test -f build-hello/prefix/include/rgc.h
echo "README Using-it: the program matches examples/hello.c and the commands ran"
