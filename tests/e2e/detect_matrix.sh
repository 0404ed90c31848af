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
# opt-in drivers (BMS_F_OPT_IN) are never probed unhinted: their simulator must be found as
# nothing (no other family takes it); they are found only when named, which test_registry's
# matrix covers (an 8E1 family cannot be named here: a pty ignores the parity bit, and
# tcsetattr refuses a setting that did not take)
optin=$(grep -l 'BMS_F_OPT_IN,\|BMS_F_OPT_IN;\|| BMS_F_OPT_IN' "$here"/../../bms/*.c 2>/dev/null |
  sed 's|.*/||; s|\.c$||' | tr '\n' ' ')
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
for f in $families; do
  got=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("protocol","") if d.get("found") else "")' "$SB_DIR/probe-$f.json" 2>/dev/null || echo "?")
  want=$f
  case " $optin " in *" $f "*) want= ;; esac
  check "$f at its own speed is found as ${want:-nothing (opt-in)} (got '${got}')" [ "$got" = "$want" ]
  got=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("protocol","") if d.get("found") else "")' "$SB_DIR/probe-$f-wrong.json" 2>/dev/null || echo "?")
  check "$f at $WRONG baud is found as nothing (got '${got}')" [ -z "$got" ]
done
e2e_finish
