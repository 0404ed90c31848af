#!/usr/bin/env bash
# Writes from D-Bus to the BMS (issue 17): the Python driver's /Settings paths
# on a simulated Daly (FETs and SOC) and JBD (FETs only) through the real
# daemon. ForceChargingOff 1 -> the next poll shows the charge FET off,
# /Io/AllowToCharge 0, the path 1; back to 0 -> on. 0 with no force of ours
# sends nothing. ResetSocTo/ResetSocToApply set the BMS's SOC. A silent pack:
# reported (text, counter), path unchanged. The CLI does one write and reports
# a refusal. A forced switch survives a restart only with keep_forced_switches.
# usage: writes.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/lib.sh"
e2e_init writes "${1:-}"

J=com.victronenergy.battery.jbd
sb_start_bus
sb_start_sim jbd jbd
sb_start_sim daly daly
write_conf() {
  cat > "$SB_DIR/sb.conf" <<CONF
daemon = { state_dir = "$SB_DIR/state"; };
udev = { claim_usb = false; };
serial = { ports = ( { path = "$SB_DIR/jbd"; bms = "jbd"; poll_interval = 1.0; },
                     { path = "$SB_DIR/daly"; bms = "daly"; poll_interval = 1.0; } ); };
publish = { keep_forced_switches = $1; };
# "on" comes back through the usual recovery after a 0 (hold, ramp): short here
charge = { ccl_recovery_hold = 1.0; dcl_recovery_hold = 1.0; ccl_recovery_rate = 0.0;
           dcl_recovery_rate = 0.0; };
CONF
}
mkdir -p "$SB_DIR/state"
write_conf false
bset() { "$PY" "$here/busget.py" "$SB_BUS_ADDRESS" set "$@"; }
cli() { "$SB_BIN/tools/serialbattery" set --bus-address "$SB_BUS_ADDRESS" "$@"; }
# the worker's log lines for one write: "daly addr 0x01: charge FET 0: ok"
sent() { grep -c "$1" "$SB_DIR/daemon.log" || true; }

stage "both packs up, each with the write paths its protocol has"
sb_start_daemon "$SB_DIR/sb.conf"
expect "the JBD pack is running" $J /Mode == 3 15
fatal_unless_ok "the JBD pack never came up"
D=
for _ in $(seq 150); do
  D=$("$PY" "$here/busget.py" "$SB_BUS_ADDRESS" names | grep '\.daly' | head -n1 || true)
  [ -n "$D" ] && break
  sleep 0.1
done
check "the Daly pack has a service" [ -n "$D" ]
expect "the Daly pack is running" "$D" /Mode == 3 15
fatal_unless_ok "the setup is not complete"
expect "Daly: /Settings/ForceChargingOff 0" "$D" /Settings/ForceChargingOff == 0 1
expect "Daly: /Settings/ForceDischargingOff 0" "$D" /Settings/ForceDischargingOff == 0 1
expect "Daly: /Settings/ResetSocTo 100" "$D" /Settings/ResetSocTo == 100 1
expect "Daly: /Settings/ResetSocToApply 0" "$D" /Settings/ResetSocToApply == 0 1
expect "Daly: /Settings/HasSettings 1" "$D" /Settings/HasSettings == 1 1
expect "JBD: /Settings/ForceChargingOff 0" $J /Settings/ForceChargingOff == 0 1
check "JBD: no /Settings/ResetSocTo (no SOC write in its protocol notes)" \
  bash -c "! '$PY' '$here/busget.py' '$SB_BUS_ADDRESS' value $J /Settings/ResetSocTo 2>/dev/null"
check "no /Settings/TurnBalancingOff (no balancer write)" \
  bash -c "! '$PY' '$here/busget.py' '$SB_BUS_ADDRESS' value '$D' /Settings/TurnBalancingOff 2>/dev/null"
check "a value out of range is refused" [ "$(bset "$D" /Settings/ForceChargingOff 2)" != 0 ]

stage "ForceChargingOff 1: the BMS's charge FET goes off, then 0: on again"
check "ForceChargingOff 1 is taken" [ "$(bset "$D" /Settings/ForceChargingOff 1)" = 0 ]
expect "the path reads 1 once the BMS reports the FET off" "$D" /Settings/ForceChargingOff == 1 10
expect "charging is off" "$D" /Io/AllowToCharge == 0 3
expect "discharging still allowed" "$D" /Io/AllowToDischarge == 1 1
expect "no write error" "$D" /Settings/LastWriteError == "" 1
expect "one write done" "$D" /Link/Writes == 1 1
check "the worker sent the charge FET off" grep -q "daly addr 0x01: charge FET 0: ok" "$SB_DIR/daemon.log"
check "the force is in the state dir" grep -q "charge_off=1" "$SB_DIR"/state/writes_*daly*.state
check "ForceChargingOff 0 is taken" [ "$(bset "$D" /Settings/ForceChargingOff 0)" = 0 ]
expect "the path reads 0" "$D" /Settings/ForceChargingOff == 0 10
expect "charging is allowed again" "$D" /Io/AllowToCharge == 1 5
check "the worker sent the charge FET on" grep -q "daly addr 0x01: charge FET 1: ok" "$SB_DIR/daemon.log"
on0=$(sent "daly addr 0x01: charge FET 1: ok")
check "0 again (no force of ours) is taken" [ "$(bset "$D" /Settings/ForceChargingOff 0)" = 0 ]
expect "counted as done" "$D" /Link/Writes == 3 5
sleep 1.5
check "... and sends nothing (never a FET on we did not switch off)" \
  [ "$(sent "daly addr 0x01: charge FET 1: ok")" = "$on0" ]

stage "ResetSocTo 42 + ResetSocToApply: the BMS's SOC"
check "ResetSocTo 42 is taken" [ "$(bset "$D" /Settings/ResetSocTo 42)" = 0 ]
check "ResetSocToApply 1 is taken" [ "$(bset "$D" /Settings/ResetSocToApply 1)" = 0 ]
expect "/Soc follows the BMS: 42 %" "$D" /Soc == 42 10
expect "the apply path reads 0 again" "$D" /Settings/ResetSocToApply == 0 1
expect "ResetSocTo keeps 42" "$D" /Settings/ResetSocTo == 42 1
check "the worker sent the SOC" grep -q "daly addr 0x01: SOC 4200: ok" "$SB_DIR/daemon.log"

stage "the CLI: one write, waited for"
out=$(cli daly force_discharging_off 1 2>&1) && rc=0 || rc=$?
echo "$out"
check "serialbattery set exits 0" [ "$rc" = 0 ]
check "... and says what the BMS reports" grep -q "ForceDischargingOff = 1" <<< "$out"
expect "discharging is off" "$D" /Io/AllowToDischarge == 0 3
out=$(cli "$D" force_discharging_off 0 2>&1) && rc=0 || rc=$?
check "back on by service name" [ "$rc" = 0 ]
expect "discharging is allowed again" "$D" /Io/AllowToDischarge == 1 5
out=$(cli jbd reset_soc 50 2>&1) && rc=0 || rc=$?
echo "$out"
check "reset_soc on a JBD: refused, exit non-zero" [ "$rc" != 0 ]
check "... with the reason" grep -qi "no such write\|not registered\|does not support" <<< "$out"

stage "a silent pack: the write is reported, the path unchanged"
errs=$(get "$D" /Link/WriteErrors)
kill -USR1 "$(sb_sim_pid daly)"
sleep 0.3
check "ForceChargingOff 1 is taken (the pack is still online)" [ "$(bset "$D" /Settings/ForceChargingOff 1)" = 0 ]
expect "the reason" "$D" /Settings/LastWriteError == "ForceChargingOff 1: not confirmed: the BMS did not answer in time" 10
expect "counted" "$D" /Link/WriteErrors == $((errs + 1)) 1
expect "the path is unchanged" "$D" /Settings/ForceChargingOff == 0 1
kill -USR1 "$(sb_sim_pid jbd)"
sleep 0.3
out=$(cli jbd force_charging_off 1 2>&1) && rc=0 || rc=$?
echo "$out"
check "the CLI on a silent pack: exit non-zero" [ "$rc" != 0 ]
check "... with the reason" grep -q "did not answer in time" <<< "$out"
expect "JBD: the path is unchanged" $J /Settings/ForceChargingOff == 0 1
kill -USR1 "$(sb_sim_pid daly)"
kill -USR1 "$(sb_sim_pid jbd)"
expect "the Daly pack answers again" "$D" /Connected == 1 15
expect "the JBD pack answers again" $J /Io/AllowToCharge == 1 20

stage "a restart undoes our force (keep_forced_switches = false)"
check "JBD ForceDischargingOff 1" [ "$(bset $J /Settings/ForceDischargingOff 1)" = 0 ]
expect "JBD: the path reads 1" $J /Settings/ForceDischargingOff == 1 10
expect "JBD: discharging is off" $J /Io/AllowToDischarge == 0 3
kill -TERM "$SB_DAEMON_PID"; wait "$SB_DAEMON_PID" || true
sb_start_daemon "$SB_DIR/sb.conf"
expect "after the restart the JBD pack is back" $J /Connected == 1 15
expect "our force is undone: discharging allowed" $J /Io/AllowToDischarge == 1 10
expect "the path reads 0" $J /Settings/ForceDischargingOff == 0 1
check "the daemon said so" grep -q "undoing /Settings/ForceDischargingOff" "$SB_DIR/daemon.log"

stage "... and keeps it with keep_forced_switches = true"
check "JBD ForceDischargingOff 1" [ "$(bset $J /Settings/ForceDischargingOff 1)" = 0 ]
expect "JBD: the path reads 1" $J /Settings/ForceDischargingOff == 1 10
kill -TERM "$SB_DAEMON_PID"; wait "$SB_DAEMON_PID" || true
write_conf true
sb_start_daemon "$SB_DIR/sb.conf"
expect "after the restart the JBD pack is back" $J /Connected == 1 15
expect "the force holds again: the path reads 1" $J /Settings/ForceDischargingOff == 1 10
expect "discharging stays off" $J /Io/AllowToDischarge == 0 3
check "the daemon said so" grep -q "forcing again /Settings/ForceDischargingOff" "$SB_DIR/daemon.log"
check "JBD ForceDischargingOff 0" [ "$(bset $J /Settings/ForceDischargingOff 0)" = 0 ]
expect "JBD: discharging allowed" $J /Io/AllowToDischarge == 1 10
e2e_finish
