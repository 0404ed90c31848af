#!/usr/bin/env bash
# gui-v2's "Switch mode" end to end (issue 16): /Mode takes 3 (on) and 252
# (standby) where the BMS has FET control over its protocol. A simulated JBD
# (register 0xE1) goes to standby, both FETs off in its next 0x03, /Mode 252
# and /State 14, then back on; 4 (off, read-only in gui-v2) is refused; a JBD
# UP16S (no FET write in its protocol notes) refuses with the reason in the
# log; the bank refuses when one of its packs cannot follow, and nothing is
# switched.
# usage: mode.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/lib.sh"
e2e_init mode "${1:-}"

J=com.victronenergy.battery.jbd
A=com.victronenergy.battery.aggregate
sb_start_bus
sb_start_sim jbd jbd
sb_start_sim up16s jbd_up16s
cat > "$SB_DIR/sb.conf" <<CONF
daemon = { state_dir = "$SB_DIR/state"; };
udev = { claim_usb = false; };
serial = { ports = ( { path = "$SB_DIR/jbd"; bms = "jbd"; poll_interval = 1.0; },
                     { path = "$SB_DIR/up16s"; bms = "jbd_up16s"; poll_interval = 1.0; } ); };
# "on" comes back through the usual recovery after a 0 (hold, ramp): short here
charge = { ccl_recovery_hold = 1.0; dcl_recovery_hold = 1.0; ccl_recovery_rate = 0.0;
           dcl_recovery_rate = 0.0; };
CONF
set_mode() { "$PY" "$here/busget.py" "$SB_BUS_ADDRESS" set "$@"; }

stage "both packs and the bank up"
sb_start_daemon "$SB_DIR/sb.conf"
expect "the JBD pack is running" $J /Mode == 3 15
fatal_unless_ok "the JBD pack never came up"
D=
for _ in $(seq 150); do
  D=$("$PY" "$here/busget.py" "$SB_BUS_ADDRESS" names | grep '\.up16s' | head -n1 || true)
  [ -n "$D" ] && break
  sleep 0.1
done
check "the UP16S pack has a service" [ -n "$D" ]
expect "the UP16S pack is running" "$D" /Mode == 3 15
expect "the bank is running" $A /Mode == 3 15
fatal_unless_ok "the setup is not complete"

stage "refusals"
check "4 (off) is refused" [ "$(set_mode $J /Mode 4)" != 0 ]
check "the UP16S pack refuses standby" [ "$(set_mode "$D" /Mode 252)" != 0 ]
check "the bank refuses standby (the UP16S pack cannot follow)" [ "$(set_mode $A /Mode 252)" != 0 ]
sleep 2.5
expect "the JBD pack still runs" $J /Mode == 3 1
expect "its FETs still allow charging" $J /Io/AllowToCharge == 1 1
check "the reason is logged" grep -q "/Mode 252 refused: this BMS's protocol has no FET switch" "$SB_DIR/daemon.log"
check "the bank names the pack that cannot" grep -q "bank /Mode 252 refused: pack .*no FET switch" "$SB_DIR/daemon.log"

stage "standby and back on"
check "standby is taken" [ "$(set_mode $J /Mode 252)" = 0 ]
expect "/Mode shows standby" $J /Mode == 252 10
expect "charging is off (the BMS reports its charge FET off)" $J /Io/AllowToCharge == 0 3
expect "discharging is off" $J /Io/AllowToDischarge == 0 3
expect "/State is standby" $J /State == 14 3
check "the worker logged the write" grep -q "standby 1: ok" "$SB_DIR/daemon.log"
check "on is taken" [ "$(set_mode $J /Mode 3)" = 0 ]
expect "/Mode shows on" $J /Mode == 3 10
expect "charging is allowed again" $J /Io/AllowToCharge == 1 3
expect "discharging is allowed again" $J /Io/AllowToDischarge == 1 3
expect "/State is running" $J /State == 9 3
e2e_finish
