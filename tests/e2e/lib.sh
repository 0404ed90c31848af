#!/usr/bin/env bash
# Shared by the end-to-end scripts in this folder: the set-up every one of them
# needs (scripts/demo/lib.sh for the bus, simulators and daemon; Debian's python3
# with python3-dbus) and one way to count and print checks.
# usage, first thing in a script:  source "$(dirname "$0")/lib.sh"; e2e_init NAME "$1"
# Then ok/fail/check/expect, stage, and `e2e_finish` as the script's last line.

# e2e_init NAME BUILD_DIR: sets here, src, SB_BIN, SB_DIR (removed at exit), PY.
e2e_init() {
  here=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
  src=$(cd "$here/../.." && pwd)
  SB_BIN=$(cd "${2:?build dir}" && pwd)
  SB_DIR=$(mktemp -d "/tmp/sb-$1.XXXXXX")
  # shellcheck source=../../scripts/demo/lib.sh
  source "$src/scripts/demo/lib.sh"
  E2E_CLEANUP=()
  trap e2e_cleanup EXIT
  # Debian's python3, where python3-dbus is installed (a pyenv python may come first in PATH)
  PY=/usr/bin/python3
  [ -x "$PY" ] || PY=python3
  failures=0
  checks=0
  stage_failures=0
}

# e2e_on_exit COMMAND: run COMMAND at exit, before the bus, simulators and daemon stop.
e2e_on_exit() { E2E_CLEANUP+=("$1"); }
e2e_cleanup() {
  local c
  for c in "${E2E_CLEANUP[@]}"; do eval "$c" || true; done
  sb_demo_stop
  if [ -n "${SB_E2E_KEEP:-}" ]; then echo "kept $SB_DIR"; else rm -rf "$SB_DIR"; fi
}

ok() { checks=$((checks + 1)); echo "ok    $*"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL  $*"; }
# check DESCRIPTION COMMAND...: passes when COMMAND succeeds
check() {
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
# get SERVICE PATH: one value, 'invalid' for an empty ai
get() { "$PY" "$here/busget.py" "$SB_BUS_ADDRESS" value "$@"; }
# expect DESCRIPTION SERVICE PATH OP VALUE SECONDS: until the value holds, like a Venus client reads it
expect() {
  local what=$1; shift
  local out
  if out=$("$PY" "$here/busget.py" "$SB_BUS_ADDRESS" wait "$@"); then
    ok "$what ($2 = $out)"
  else
    fail "$what: $out"
  fi
}
stage() { echo "== $*"; stage_failures=$failures; }
# fatal_unless_ok WHY: stop here when this stage failed (what follows would only fail too)
fatal_unless_ok() {
  [ "$failures" -eq "$stage_failures" ] && return 0
  echo "cannot go on: $*"
  tail -30 "$SB_DIR/daemon.log"
  exit 1
}
# The closing line CTest's log readers know, and the exit status.
e2e_finish() {
  if [ "$failures" -ne 0 ]; then
    echo "--- daemon log (tail)"
    tail -40 "$SB_DIR/daemon.log" 2>/dev/null || true
  fi
  echo "$((checks - failures)) passed, $failures failed"
  [ "$failures" -eq 0 ]
}

# Time relative to the simulators' clock: e2e_clock_start when they start, then
# `left T` prints the seconds until T on that clock (at least 0.5), for expect's deadline.
e2e_clock_start() { t0=$(date +%s.%N); }
left() { "$PY" -c "import time; print(max(0.5, $1 - (time.time() - $t0)))"; }
