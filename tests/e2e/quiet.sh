#!/usr/bin/env bash
# No traffic while nothing changes (issue 16): a simulated JBD at rest whose
# values never change, polled every second by the real daemon. After the start-up
# fill, the pack's service sends no ItemsChanged for the rest of the minute
# while `serialbattery status` shows /Link/PollCycles rising; then the poll
# counters go out in one signal of their own (at most once a minute).
# usage: quiet.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/lib.sh"
e2e_init quiet "${1:-}"

J=com.victronenergy.battery.jbd
sb_start_bus
"$PY" "$here/signalwatch.py" "$SB_BUS_ADDRESS" "$SB_DIR/watch.log" all 2> "$SB_DIR/watch.err" &
SB_PIDS+=($!)
for _ in $(seq 100); do grep -q ready "$SB_DIR/watch.log" 2>/dev/null && break; sleep 0.05; done
# at rest: a current would move /History/ChargedEnergy, a real change
cat > "$SB_DIR/pack.json" <<JSON
{"voltage_v": 53.6, "current_a": 0.0, "soc_pct": 60, "capacity_remaining_ah": 60.0,
 "capacity_full_ah": 100, "cycles": 30,
 "cell_voltages_v": [3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35, 3.35],
 "temperatures_c": [19.0], "mosfet_temp_c": 22.0, "charge_fet": true, "discharge_fet": true,
 "model": "JBD-ACC", "sw_version": "2.3"}
JSON
sb_start_sim jbd jbd --state "$SB_DIR/pack.json"
cat > "$SB_DIR/sb.conf" <<CONF
daemon = { state_dir = "$SB_DIR/state"; };
udev = { claim_usb = false; };
serial = { ports = ( { path = "$SB_DIR/jbd"; bms = "jbd"; poll_interval = 1.0; } ); };
CONF
polls() {
  "$SB_BIN/tools/serialbattery" status --bus-address "$SB_BUS_ADDRESS" --json |
    "$PY" -c 'import json,sys; s=[b for b in json.load(sys.stdin) if b["service"]=="'$J'"]; print(s[0]["poll_cycles"] if s and s[0]["poll_cycles"] is not None else -1)'
}
now() { "$PY" -c 'import time; print(time.monotonic())'; }

stage "start-up"
sb_start_daemon "$SB_DIR/sb.conf"
expect "the pack is up" $J /Info/MaxChargeVoltage valid x 15
fatal_unless_ok "the pack never came up"
# the start-up fill (registration, the first polls, the slow static reads) settles
sleep 5
t0=$(now)
p0=$(polls)

stage "an unchanged pack for the rest of the minute"
sleep 45
t1=$(now)
p1=$(polls)
check "status shows the poll counter rising ($p0 -> $p1)" [ "$p1" -ge $((p0 + 40)) ]
n=$("$PY" - "$SB_DIR/watch.log" "$t0" "$t1" <<'PY'
import json, sys
log, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
ev = [json.loads(l) for l in open(log)]
hits = [e for e in ev if e['ev'] == 'items' and e['name'] == 'com.victronenergy.battery.jbd'
        and t0 <= e['t'] <= t1]
for e in hits:
    print('  signal at +%.1f s: %s' % (e['t'] - t0, sorted(e['items'])), file=sys.stderr)
print(len(hits))
PY
)
check "no ItemsChanged in those 45 s" [ "$n" = 0 ]

stage "the counters go out once a minute"
n=0
for _ in $(seq 40); do
  n=$("$PY" - "$SB_DIR/watch.log" "$t1" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
print(sum(1 for e in ev if e['ev'] == 'items' and e['name'] == 'com.victronenergy.battery.jbd'
          and e['t'] >= float(sys.argv[2]) and '/Link/PollCycles' in e['items']))
PY
)
  [ "$n" -ge 1 ] && break
  sleep 0.5
done
check "one signal with /Link/PollCycles within the next 20 s" [ "$n" = 1 ]
e2e_finish
