#!/usr/bin/env bash
# The BMS's own configured current limits, end to end (issue 15, item 3): a
# simulated JBD set to 40 A charge / 45 A discharge over-current (EEPROM 0x28 /
# 0x29, read once after detection behind factory mode), the daemon configured
# for 50 / 60 A. The published CCL and DCL follow the BMS (40 / 45, reason
# "BMS Settings"), as the Python driver does; the protection counters of 0xAA
# reach /History and /Bms/ProtectionEvents.
# usage: bms_limits.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/lib.sh"
e2e_init bms_limits "${1:-}"

S=com.victronenergy.battery.jbd
sb_start_bus
cat > "$SB_DIR/pack.json" <<JSON
{"voltage_v": 53.6, "current_a": 5.0, "soc_pct": 60, "capacity_remaining_ah": 60.0,
 "capacity_full_ah": 100, "cycles": 30,
 "cell_voltages_v": [3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35],
 "temperatures_c": [19.0], "mosfet_temp_c": 22.0, "charge_fet": true, "discharge_fet": true,
 "model": "JBD-ACC", "sw_version": "2.3",
 "max_charge_current_a": 40, "max_discharge_current_a": 45,
 "protection_events": {"cell_overvoltage": 122, "cell_undervoltage": 2, "pack_overvoltage": 1}}
JSON
sb_start_sim jbd jbd --state "$SB_DIR/pack.json"
cat > "$SB_DIR/sb.conf" <<CONF
daemon = { state_dir = "$SB_DIR/state"; };
udev = { claim_usb = false; };
serial = { ports = ( { path = "$SB_DIR/jbd"; bms = "jbd"; poll_interval = 1.0; } ); };
charge = { max_charge_current = 50.0; max_discharge_current = 60.0; };
CONF

stage "the BMS's own limits"
sb_start_daemon "$SB_DIR/sb.conf"
expect "service up" $S /DeviceInstance valid x 10
fatal_unless_ok "the pack never came up"
expect "CCL is the BMS's 40 A, not the configured 50 A" $S /Info/MaxChargeCurrent == 40 10
expect "DCL is the BMS's 45 A, not the configured 60 A" $S /Info/MaxDischargeCurrent == 45 5
check "the charge limitation names the BMS" \
  [ "$(get $S /Info/ChargeLimitation | grep -c 'BMS Settings' || true)" = 1 ]
check "setup read once: logged" [ "$(grep -c 'setup read' "$SB_DIR/daemon.log" || true)" = 1 ]

stage "protection counters"
expect "high voltage alarms = cell + pack over-voltage" $S /History/HighVoltageAlarms == 123 10
expect "low voltage alarms" $S /History/LowVoltageAlarms == 2 3
expect "short circuits" $S /Bms/ProtectionEvents/ShortCircuit == 0 3
e2e_finish
