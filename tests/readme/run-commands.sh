#!/usr/bin/env bash
# Run every shell command of README.md (its fenced ```sh blocks and the `bash ...` commands in its text) the way tests/readme/commands.tsv says
# (a stage of .ci/run, after the other stages: MicroPython's source is fetched by then). Fails when a
# command fails or when the README has a command the table does not list.
# Usage: tests/readme/run-commands.sh [--list]   (--list: print the commands and their actions only)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
table="$root/tests/readme/commands.tsv"
list_only=0
[ "${1:-}" = "--list" ] && list_only=1

# The README's commands: fenced sh blocks (continuation lines joined, comments and blank lines
# dropped), then the `bash ...` commands quoted in its prose; each once, in order.
readme_commands() {
  {
    awk '/^```sh$/ {on = 1; next} on && /^```$/ {on = 0; next} on {print}' "$root/README.md" |
      awk '{ if (sub(/\\[ \t]*$/, "")) { buf = buf $0; next } print buf $0; buf = "" }' |
      sed -E 's/[[:space:]]+#.*$//; s/^#.*$//; s/[[:space:]]+/ /g; s/^ //; s/ $//' | grep -v '^$'
    awk '/^```/ {fence = !fence; next} !fence {print}' "$root/README.md" | grep -o '`bash [^`]*`' | tr -d '`'
  } | awk '!seen[$0]++'
}
action_of() { # the table's action for command $1, or nothing
  awk -F'\t' -v cmd="$1" '!/^#/ && $1 == cmd {print $2; exit}' "$table"
}

parent="$(mktemp -d)"
trap 'rm -rf "$parent"' EXIT
ln -s "$root" "$parent/rgc"
status=0
n=0
while IFS= read -r cmd; do
  n=$((n + 1))
  action="$(action_of "$cmd")"
  if [ -z "$action" ]; then
    echo "README command not in tests/readme/commands.tsv: $cmd" >&2
    status=1
    continue
  fi
  echo "### README command $n: $cmd"
  echo "    action: $action"
  [ "$list_only" = 1 ] && continue
  t0=$(date +%s)
  case "$action" in
    run) (cd "$root" && bash -euo pipefail -c "$cmd") ;;
    run-parent) (cd "$parent" && bash -euo pipefail -c "$cmd") ;;
    run-as\ *)
      alt="${action#run-as }"; alt="${alt%%	#*}"; alt="${alt%% #*}"
      (cd "$root" && bash -euo pipefail -c "$alt") ;;
    covered\ *) echo "    (run elsewhere in CI)"; continue ;;
    *) echo "unknown action '$action' for: $cmd" >&2; status=1; continue ;;
  esac
  echo "    done in $(($(date +%s) - t0)) s"
done < <(readme_commands)
[ "$n" -gt 0 ] || { echo "no commands found in README.md" >&2; exit 1; }
exit $status
