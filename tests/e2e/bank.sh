#!/usr/bin/env bash
# End-to-end test of the bank rules (issue 12, item 4): a private dbus-daemon,
# two simulated JBD packs on pseudo-terminals sharing the bank current 60/40,
# the real serialbatteryd with the default bank of "all" packs, and a watcher
# recording every value change a Venus client sees from the first second.
# Checks: the bank is the only BMS from the start and complete within 2 s of
# both packs reporting; the bank CCL keeps the pack that takes 60 % within its
# own CCL; a pack's CCL 0 takes the bank's to 0; the pack holding the bank CVL
# down goes silent and the bank CVL does not rise; a pulled pack stays listed
# offline until `serialbattery forget` removes it.
# Float "only when both packs are done" needs minutes of simulated charging:
# it is covered by tests/charge/test_bank.c (float only when all float).
# usage: bank.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/lib.sh"
e2e_init bank "${1:-}"

# logcheck DESCRIPTION PYTHON: PYTHON sees ev (the watcher's events) and prints "ok ..." or the failure
logcheck() {
  local what=$1 code=$2 out
  out=$("$PY" -c "
import json, sys
ev = [json.loads(l) for l in open('$SB_DIR/watch.log') if l.strip()]
AGG = 'com.victronenergy.battery.aggregate'
def vals(name, path):
    return [(e['t'], e['items'][path]) for e in ev
            if e['ev'] == 'items' and e['name'] == name and path in e['items']]
$code
" 2>&1) || true
  case "$out" in
    ok*) ok "$what: ${out#ok}" ;;
    *) fail "$what: $out" ;;
  esac
}

A=com.victronenergy.battery.packa
B=com.victronenergy.battery.packb
AGG=com.victronenergy.battery.aggregate

sb_start_bus
"$PY" "$here/signalwatch.py" "$SB_BUS_ADDRESS" "$SB_DIR/watch.log" 2> "$SB_DIR/watch.err" &
SB_PIDS+=($!)
for _ in $(seq 100); do grep -q ready "$SB_DIR/watch.log" 2>/dev/null && break; sleep 0.05; done
sb_start_sim packa jbd --state "$here/bank-a.json"
e2e_clock_start # pack B's cell 5 runs high at t = 12 s of the simulators' clock
sb_start_sim packb jbd --state "$here/bank-b.json"
sb_render_conf "$here/bank.conf.in" "$SB_DIR/bank.conf"
sb_start_daemon "$SB_DIR/bank.conf"

stage "start-up"
expect "pack A service up" $A /DeviceInstance valid x 10
expect "pack B service up" $B /DeviceInstance valid x 10
expect "bank service up" $AGG /DeviceInstance valid x 10
expect "bank limits published" $AGG /Info/MaxChargeVoltage valid x 5
logcheck "the bank is on the bus before either pack" "
own = {e['name']: e['t'] for e in reversed(ev) if e['ev'] == 'owner' and e['owner']}
first_pack = min(own.get('com.victronenergy.battery.packa', 1e18), own.get('com.victronenergy.battery.packb', 1e18))
print('ok' if own.get(AGG, 1e18) <= first_pack else 'bank %.3f s after the first pack' % (own.get(AGG, 1e18) - first_pack))"
logcheck "complete within 2 s of both packs reporting" "
own = {e['name']: e['t'] for e in reversed(ev) if e['ev'] == 'owner' and e['owner']}
both = max(own['com.victronenergy.battery.packa'], own['com.victronenergy.battery.packb'])
cvl = [t for t, v in vals(AGG, '/Info/MaxChargeVoltage') if v is not None]
d = cvl[0] - both if cvl else 1e9
print('ok %.2f s' % d if d <= 2.0 else 'bank limits %.2f s after both packs' % d)"

stage "60/40 split, both packs 50 A"
expect "bank current = 50 A" $AGG /Dc/0/Current == 50 "$(left 11)"
expect "bank CCL = 50 / 0.6 (pack A at its own 50 A)" $AGG /Info/MaxChargeCurrent == 83.33 "$(left 11.5)"
expect "packs at their own 50 A" $A /Info/MaxChargeCurrent invalid x 1

stage "pack B cell 5 runs high (3.52 V): its CCL 0, the bank's 0"
expect "bank CVL held down by pack B" $AGG /Info/MaxChargeVoltage == 53.7 "$(left 20)"
expect "bank CCL = 0 with pack B's data, not on the 5 s timer" $AGG /Info/MaxChargeCurrent == 0 2
expect "bank may not charge" $AGG /Io/AllowToCharge == 0 2
logcheck "the bank's CCL 0 came with pack B's own (same cycle, not the timer)" "
tb = [t for t, v in vals('com.victronenergy.battery.packb', '/Io/AllowToCharge') if v == 0]
ta = [t for t, v in vals(AGG, '/Info/MaxChargeCurrent') if v == 0]
d = ta[0] - tb[0] if ta and tb else 1e9
print('ok %.3f s apart' % d if abs(d) < 0.5 else 'bank %.3f s after pack B' % d)"
t_high=$("$PY" -c "import time; print(time.monotonic())")

stage "pack B goes silent"
kill -USR1 "$(sb_sim_pid packb)"
expect "pack B counted offline" $AGG /System/NrOfModulesOffline == 1 12
expect "bank cable alarm" $AGG /Alarms/BmsCable '>=' 1 2
expect "pack B lost" $B /Connected == 0 15
sleep 1

stage "pack B pulled"
kill -TERM "$(sb_sim_pid packb)"
gone=no
for _ in $(seq 200); do
  if ! "$PY" "$here/busget.py" "$SB_BUS_ADDRESS" names | grep -qx "$B"; then gone=yes; break; fi
  sleep 0.1
done
[ "$gone" = yes ] && ok "pack B's service removed" || fail "pack B's service still on the bus"
sleep 2
expect "bank still lists 2 packs" $AGG /System/NrOfBatteries == 2 2
expect "pack B offline" $AGG /System/NrOfModulesOffline == 1 2
expect "bank cable alarm stays" $AGG /Alarms/BmsCable '>=' 1 2
offline=$(get $AGG /Bank/Offline)
case "$offline" in *"(packb) offline"*) ok "bank names the pack ($offline)" ;; *) fail "/Bank/Offline: $offline" ;; esac
expect "bank CVL still held by pack B's last" $AGG /Info/MaxChargeVoltage == 53.7 1
logcheck "the bank CVL never rose after pack B held it down" "
t_high = $t_high
after = [v for t, v in vals(AGG, '/Info/MaxChargeVoltage') if t >= t_high]
bad = [v for v in after if v is None or v > 53.7 + 1e-6]
print('ok %d values' % len(after) if not bad else 'rose to %s' % bad[:5])"

stage "the owner forgets pack B"
if "$SB_BIN/tools/serialbattery" forget --bus-address "$SB_BUS_ADDRESS" packb > "$SB_DIR/forget.out" 2>&1; then
  ok "serialbattery forget packb"
else
  fail "serialbattery forget packb: $(cat "$SB_DIR/forget.out")"
fi
expect "bank of 1 pack" $AGG /System/NrOfBatteries == 1 2
expect "nothing offline" $AGG /System/NrOfModulesOffline == 0 2
expect "cable alarm cleared" $AGG /Alarms/BmsCable == 0 2
expect "bank CVL = pack A's own" $AGG /Info/MaxChargeVoltage == 55.2 2
if "$SB_BIN/tools/serialbattery" forget --bus-address "$SB_BUS_ADDRESS" packa > "$SB_DIR/forget.out" 2>&1; then
  fail "an online pack was forgotten"
else
  ok "an online pack cannot be forgotten"
fi

stage "over the whole run"
logcheck "no pack ever showed a valid /Info (the bank is the only BMS)" "
bad = [(e['name'], p) for e in ev if e['ev'] == 'items' and e['name'] != AGG
       for p in ('/Info/MaxChargeVoltage', '/Info/MaxChargeCurrent') if e['items'].get(p) is not None]
print('ok' if not bad else 'valid /Info on %s' % bad[:3])"
logcheck "the bank CCL never above 50 / 0.6" "
c = [v for t, v in vals(AGG, '/Info/MaxChargeCurrent') if v is not None]
print('ok max %.2f A' % max(c) if c and max(c) <= 83.33 + 1e-6 else 'values %s' % c[-5:])"

e2e_finish
