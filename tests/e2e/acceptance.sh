#!/usr/bin/env bash
# Acceptance test of the whole daemon, scripted like scripts/demo.sh: a private
# dbus-daemon, a simulated JK PB pack and a simulated JBD pack on pseudo-terminals,
# the real serialbatteryd claiming both and aggregating them. Checks detection,
# values, the reaction of CVL/CCL to a high cell, the comms-loss safety policy
# when one pack goes silent, recovery, and a clean SIGTERM with names released.
# usage: acceptance.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/lib.sh"
e2e_init acceptance "${1:-}"

PB=com.victronenergy.battery.jkpb__0x01
JBD=com.victronenergy.battery.jbd
AGG=com.victronenergy.battery.aggregate

sb_start_bus
sb_start_sim jkpb jkpb --state "$here/pack-jkpb.json"
e2e_clock_start # the simulators' clock starts now: the JK PB cell 5 runs high at t = 20 s
sb_start_sim jbd jbd --state "$here/pack-jbd.json"
sb_render_conf "$here/acceptance.conf.in" "$SB_DIR/acceptance.conf"
sb_start_daemon "$SB_DIR/acceptance.conf"

stage "detection and services"
expect "JK PB detected, service up" $PB /DeviceInstance valid x 10
expect "JBD detected, service up" $JBD /DeviceInstance valid x 10
expect "aggregate service up" $AGG /DeviceInstance valid x 10
fatal_unless_ok "services missing"
stage "values within two poll cycles"
expect "JK PB voltage" $PB /Dc/0/Voltage == 53.6 2.5
expect "JK PB current" $PB /Dc/0/Current == 10 2.5
expect "JK PB SOC" $PB /Soc == 80 2.5
expect "JK PB cells" $PB /System/NrOfCellsPerBattery == 16 2.5
expect "JK PB installed capacity" $PB /InstalledCapacity == 280 2.5
expect "JK PB protocol" $PB /Link/Protocol == jkpb 2.5
expect "JBD voltage" $JBD /Dc/0/Voltage == 53.6 2.5
expect "JBD current" $JBD /Dc/0/Current == 5 2.5
expect "JBD SOC" $JBD /Soc == 60 2.5
expect "JBD max cell" $JBD /System/MaxCellVoltage == 3.35 2.5
expect "JBD protocol" $JBD /Link/Protocol == jbd 2.5
expect "bank current = sum" $AGG /Dc/0/Current == 15 2.5
expect "bank capacity = sum" $AGG /InstalledCapacity == 380 2.5
expect "bank SOC capacity-weighted" $AGG /Soc approx 74.74 2.5
expect "packs are not BMSes in bank mode" $PB /Info/MaxChargeVoltage invalid x 2.5

stage "limits before the high cell"
expect "bank CVL = 16 x 3.45" $AGG /Info/MaxChargeVoltage == 55.2 "$(left 19)"
# JK PB takes 10 of the bank's 15 A: at 75 A it would take its own 50 A (share rule)
expect "bank CCL = 50 A / JK PB's 2/3 share" $AGG /Info/MaxChargeCurrent == 75 "$(left 19)"
expect "bank DCL = 2 x 60 A" $AGG /Info/MaxDischargeCurrent == 120 "$(left 19)"
fatal_unless_ok "the bank never reached its normal limits before the high cell"

stage "JK PB cell 5 runs high (3.52 V)"
expect "bank CVL by penalty sum = 15 x 3.35 + 3.45" $AGG /Info/MaxChargeVoltage == 53.7 "$(left 35)"
expect "bank CCL = 0: JK PB (CCL 0) is in parallel" $AGG /Info/MaxChargeCurrent == 0 5
expect "JK PB blocks charging" $PB /Io/AllowToCharge == 0 5
expect "bank names the cell" $AGG /System/MaxVoltageCellId == 1:C5 5

stage "JBD goes silent"
kill -USR1 "$(sb_sim_pid jbd)"
expect "JBD cable alarm" $JBD /Alarms/BmsCable == 2 8
expect "JBD may not charge" $JBD /Io/AllowToCharge == 0 2
expect "JBD discharge held (cells in the safe window)" $JBD /Io/AllowToDischarge == 1 2
expect "JBD offline" $JBD /System/NrOfModulesOffline == 1 2
expect "bank DCL = JK PB's 60 A" $AGG /Info/MaxDischargeCurrent == 60 3
expect "bank CCL = 0" $AGG /Info/MaxChargeCurrent == 0 3
expect "bank counts the offline pack" $AGG /System/NrOfModulesOffline == 1 3
expect "bank cable alarm" $AGG /Alarms/BmsCable '>=' 1 3
expect "JBD lost: disconnected" $JBD /Connected == 0 10
expect "bank stays a BMS (JK PB still talks)" $AGG /Info/MaxChargeVoltage == 53.7 2

stage "JBD answers again"
kill -USR1 "$(sb_sim_pid jbd)"
expect "JBD connected" $JBD /Connected == 1 8
expect "JBD cable alarm cleared" $JBD /Alarms/BmsCable == 0 3
expect "bank DCL back to 120 A" $AGG /Info/MaxDischargeCurrent == 120 10
expect "bank all online" $AGG /System/NrOfModulesOffline == 0 3

stage "SIGTERM"
ts=$(date +%s%N)
kill -TERM "$SB_DAEMON_PID"
rc=0
wait "$SB_DAEMON_PID" || rc=$?
te=$(date +%s%N)
ms=$(((te - ts) / 1000000))
if [ "$rc" -eq 0 ]; then ok "clean exit in $ms ms"; else fail "exit status $rc"; fi
left_names=$("$PY" "$here/busget.py" "$SB_BUS_ADDRESS" names)
if [ -z "$left_names" ]; then ok "every name released"; else fail "names left: $left_names"; fi

e2e_finish
