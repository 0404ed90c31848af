#!/usr/bin/env bash
# Start-up and comms loss of one pack, end to end (issue 12, items 2 and 3): the
# real daemon on a private bus, a simulated JBD pack whose cells sit inside the
# discharge-hold window, the default charge timings (stale_after 10 s), and a
# watcher recording every value a Venus client sees.
# - the first limits on the bus are the rules' (non-zero CCL and DCL, /State 9)
#   within two poll cycles of the service appearing; nothing is ever 0 at start;
# - the same after a daemon restart;
# - a 15 s silence: CCL 0 and AllowToCharge 0 from stale_after on, the DCL never
#   0 (held at half its last value) and AllowToDischarge 1 throughout;
# - data again: the DCL is back at once.
# usage: startup.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/lib.sh"
e2e_init startup "${1:-}"

S=com.victronenergy.battery.jbd
mono() { "$PY" -c 'import time; print(time.monotonic())'; }
# watched PYTHON: PYTHON sees ev (the watcher's events, t on the monotonic clock)
# and prints "ok ..." or why not
watched() {
  local what=$1 code=$2 out
  out=$("$PY" -c "
import json
ev = [json.loads(l) for l in open('$SB_DIR/watch.log') if l.strip()]
def vals(path, t0=0.0, t1=1e18):
    return [(e['t'], e['items'][path]) for e in ev
            if e['ev'] == 'items' and e['name'] == '$S' and path in e['items'] and t0 <= e['t'] < t1]
def owned_at(n):
    ts = [e['t'] for e in ev if e['ev'] == 'owner' and e['name'] == '$S' and e['owner']]
    return ts[n] if len(ts) > n else None
$code
" 2>&1) || true
  case "$out" in
    ok*) ok "$what: ${out#ok }" ;;
    *) fail "$what: $out" ;;
  esac
}
# first_limits N: the first CCL/DCL/State values after the N-th appearance of the service
first_limits() {
  watched "start $1: first DCL > 0 within 2 poll cycles" "
t = owned_at($1)
d = [(u, v) for u, v in vals('/Info/MaxDischargeCurrent', t) if v is not None]
print('ok %.0f A after %.2f s' % (d[0][1], d[0][0] - t) if d and d[0][1] > 0 and d[0][0] - t <= 2.0 else 'got %s' % d[:3])"
  watched "start $1: first CCL > 0 (no recovery hold at start)" "
t = owned_at($1)
c = [v for u, v in vals('/Info/MaxChargeCurrent', t) if v is not None]
print('ok %.0f A' % c[0] if c and c[0] > 0 else 'got %s' % c[:3])"
  watched "start $1: /State 9 (running) from the first value" "
t = owned_at($1)
s = [v for u, v in vals('/State', t) if v is not None]
print('ok' if s and s[0] == 9 else 'got %s' % s[:3])"
}

sb_start_bus
"$PY" "$here/signalwatch.py" "$SB_BUS_ADDRESS" "$SB_DIR/watch.log" 2> "$SB_DIR/watch.err" &
SB_PIDS+=($!)
for _ in $(seq 100); do grep -q ready "$SB_DIR/watch.log" 2>/dev/null && break; sleep 0.05; done
sb_start_sim jbd jbd --state "$here/pack-jbd.json"
cat > "$SB_DIR/sb.conf" <<CONF
daemon = { state_dir = "$SB_DIR/state"; };
udev = { claim_usb = false; };
serial = { ports = ( { path = "$SB_DIR/jbd"; bms = "jbd"; poll_interval = 1.0; } ); };
CONF

stage "first start"
sb_start_daemon "$SB_DIR/sb.conf"
expect "service up" $S /DeviceInstance valid x 10
fatal_unless_ok "the pack never came up"
expect "full DCL" $S /Info/MaxDischargeCurrent == 60 3
first_limits 0

stage "restart"
kill -TERM "$SB_DAEMON_PID"
wait "$SB_DAEMON_PID" || true
sb_start_daemon "$SB_DIR/sb.conf"
expect "service up again" $S /DeviceInstance valid x 10
expect "full DCL again" $S /Info/MaxDischargeCurrent == 60 3
first_limits 1

stage "15 s without data"
t_quiet=$(mono)
kill -USR1 "$(sb_sim_pid jbd)"
sleep 15
t_back=$(mono)
kill -USR1 "$(sb_sim_pid jbd)"
watched "CCL 0 and AllowToCharge 0 from stale_after (10 s)" "
c = [(u - $t_quiet, v) for u, v in vals('/Info/MaxChargeCurrent', $t_quiet, $t_back)]
a = [(u - $t_quiet, v) for u, v in vals('/Io/AllowToCharge', $t_quiet, $t_back)]
cz = [u for u, v in c if v == 0]
az = [u for u, v in a if v == 0]
print('ok CCL 0 after %.1f s, AllowToCharge 0 after %.1f s' % (cz[0], az[0])
      if cz and az and 9.0 <= cz[0] <= 12.5 and 9.0 <= az[0] <= 12.5 else 'CCL %s allow %s' % (c, a))"
watched "DCL never 0 in the silence, held at half (30 A)" "
d = [(round(u - $t_quiet, 1), v) for u, v in vals('/Info/MaxDischargeCurrent', $t_quiet, $t_back)]
bad = [x for x in d if x[1] is None or x[1] <= 0]
print('ok %s' % d if d and not bad and d[-1][1] == 30 else 'got %s' % d)"
watched "AllowToDischarge never 0 in the silence" "
a = [v for u, v in vals('/Io/AllowToDischarge', $t_quiet, $t_back)]
print('ok' if 0 not in a else 'got %s' % a)"

stage "data again"
expect "DCL back at once" $S /Info/MaxDischargeCurrent == 60 3
watched "DCL back within 2 poll cycles of the data" "
d = [(u - $t_back, v) for u, v in vals('/Info/MaxDischargeCurrent', $t_back)]
up = [u for u, v in d if v == 60]
print('ok after %.1f s' % up[0] if up and up[0] <= 2.5 else 'got %s' % d)"
expect "CCL comes back through its hold and ramp" $S /Info/MaxChargeCurrent '>' 0 60

stage "over the whole run"
watched "no 0 published for CCL or DCL except in the silence" "
z = [(round(u, 1), p) for p in ('/Info/MaxChargeCurrent', '/Info/MaxDischargeCurrent')
     for u, v in vals(p) if v == 0 and not ($t_quiet <= u < $t_back + 60)]
print('ok' if not z else 'zeros at %s' % z)"
e2e_finish
