#!/usr/bin/env bash
# Detection across families on real pseudo-terminals (issue 18): each
# family's simulator, at its own line speed, is found by `serialbattery probe`
# with no hints as exactly that family; at a speed no driver uses it is found
# as nothing (no other family takes the silence or the noise for itself). All
# families run at once, one pty each. The frame-level half (every simulator
# against every driver's probe) is test_registry's detection_matrix.
# usage: detect_matrix.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/lib.sh"
e2e_init detect_matrix "${1:-}"

CLI="$SB_BIN/tools/serialbattery"
families=$(sed -n 's/^\tX(\([a-z0-9_]*\)).*/\1/p' "$here/../../bms/sim/registry.c")
check "the simulator registry lists families" [ -n "$families" ]
# An opt-in family (BMS_F_OPT_IN in its driver) is never probed unasked: no
# other family may take it for itself, and it is found when named. An 8E1
# family cannot be named here: a pty ignores the parity bit and tcsetattr
# refuses a setting that did not take (test_registry's matrix covers it).
opt_in() { grep -q '\.flags = .*BMS_F_OPT_IN' "$here/../../bms/$1.c"; }
named_on_pty() { ! grep -q 'BMS_8E1}' "$here/../../bms/$1.c"; }
WRONG=38400 # no driver of the registry polls at it

stage "each family at its own speed and at a wrong one"
for f in $families; do
  sb_start_sim "$f" "$f"
  sb_start_sim "$f-wrong" "$f" --baud "$WRONG"
done
pids=()
for f in $families; do
  ("$CLI" probe "$SB_DIR/$f" --json > "$SB_DIR/probe-$f.json" 2>/dev/null || true) &
  pids+=($!)
  ("$CLI" probe "$SB_DIR/$f-wrong" --json > "$SB_DIR/probe-$f-wrong.json" 2>/dev/null || true) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
pids=()
for f in $families; do
  if opt_in "$f" && named_on_pty "$f"; then
    ("$CLI" probe "$SB_DIR/$f" --bms "$f" --json > "$SB_DIR/probe-$f-named.json" 2>/dev/null || true) &
    pids+=($!)
  fi
done
for p in "${pids[@]}"; do wait "$p"; done
for f in $families; do
  got=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("protocol","") if d.get("found") else "")' "$SB_DIR/probe-$f.json" 2>/dev/null || echo "?")
  if opt_in "$f"; then
    check "opt-in $f is taken by no other family unasked (got '${got}')" [ -z "$got" ]
    if named_on_pty "$f"; then
      got=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("protocol","") if d.get("found") else "")' "$SB_DIR/probe-$f-named.json" 2>/dev/null || echo "?")
      check "opt-in $f is found when named (got '${got}')" [ "$got" = "$f" ]
    fi
  else
    check "$f at its own speed is found as $f (got '${got}')" [ "$got" = "$f" ]
  fi
  got=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("protocol","") if d.get("found") else "")' "$SB_DIR/probe-$f-wrong.json" 2>/dev/null || echo "?")
  check "$f at $WRONG baud is found as nothing (got '${got}')" [ -z "$got" ]
done
e2e_finish
