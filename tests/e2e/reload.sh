#!/usr/bin/env bash
# SIGHUP end to end (issue 13, reload): a bad 1 MB file reloaded 50 times must
# not grow the daemon (the file is parsed in a short-lived child), and a reload
# that changes only a port setting restarts that worker and nothing else: the
# publisher keeps its thread, its bus connections and its counters.
# usage: reload.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/lib.sh"
e2e_init reload "${1:-}"
bus() { "$PY" "$here/busget.py" "$SB_BUS_ADDRESS" "$@"; }
bus_wait() { bus wait "$@" >/dev/null; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$SB_DAEMON_PID/status"; }
publisher_tid() {
  local t
  for t in /proc/"$SB_DAEMON_PID"/task/*; do
    [ "$(cat "$t/comm" 2>/dev/null)" = sb-publish ] && { basename "$t"; return 0; }
  done
  echo none
}
JBD=com.victronenergy.battery.jbd

sb_start_bus
sb_start_sim jbd jbd --state "$here/reload-pack.json"
write_conf() { # POLL_INTERVAL
  cat > "$SB_DIR/sb.conf" <<CONF
daemon = { state_dir = "$SB_DIR/state"; };
udev = { claim_usb = false; };
serial = { ports = ( { path = "$SB_DIR/jbd"; bms = "jbd"; poll_interval = $1; } ); };
CONF
}
mkdir -p "$SB_DIR/state" # the daemon does not create it yet (issue 13, state directory)
write_conf 1.0
sb_start_daemon "$SB_DIR/sb.conf"
if ! bus_wait $JBD /Dc/0/Voltage == 53.6 10; then
  echo "FAIL  the pack never came up"; tail -20 "$SB_DIR/daemon.log"; exit 1
fi

echo "== 50 reloads with a bad 1 MB file"
cp "$SB_DIR/sb.conf" "$SB_DIR/good.conf"
# a file that parses for a megabyte and fails at its last line: the worst case for the parser
"$PY" - "$SB_DIR/bad.conf" <<'PYEOF'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(11000):
        f.write('k%d = "%s";\n' % (i, "y" * 80))
    f.write("broken = ;\n")
PYEOF
cp "$SB_DIR/bad.conf" "$SB_DIR/sb.conf"
bad_reloads() { grep -c "config error, keeping the running config: $SB_DIR/sb.conf:11001" "$SB_DIR/daemon.log" || true; }
# one SIGHUP at a time: signals sent while a reload runs would merge into one
hup_and_wait() { # N: wait until N bad reloads are logged
  kill -HUP "$SB_DAEMON_PID"
  local i
  for i in $(seq 200); do
    [ "$(bad_reloads)" -ge "$1" ] && return 0
    sleep 0.05
  done
  return 1
}
# a sanitized parser takes ~1.5 s per megabyte, and RSS means nothing there (below)
nbad=51
[ -z "${SB_SANITIZE:-}" ] || nbad=6
rss0=$(rss_kb)
for n in $(seq 1 $nbad); do hup_and_wait "$n" || break; done
rss1=$(rss_kb)
echo "      RSS before ${rss0} kB, after $nbad bad reloads ${rss1} kB"
# the parser's heap must never be ours: not even the first reload's high-water mark
if [ -z "${SB_SANITIZE:-}" ]; then
  check "RSS grows less than 256 kB over 51 bad reloads" test $((rss1 - rss0)) -lt 256
else
  echo "note  RSS bound not checked in a $SB_SANITIZE build (freed memory stays in quarantine)"
fi
check "each of the $nbad bad reloads names file and line and keeps the running config" \
  test "$(bad_reloads)" -eq $nbad
check "still publishing" bus_wait $JBD /Dc/0/Voltage == 53.6 3

echo "== a reload that changes only the port's poll interval"
tid0=$(publisher_tid)
owner0=$(bus owner $JBD)
e0=$(bus value $JBD /History/ChargedEnergy)
write_conf 0.5
kill -HUP "$SB_DAEMON_PID"
check "the worker restarted" bus_wait $JBD /Dc/0/Voltage == 53.6 5
sleep 2
grep -q "settings changed, restarting its worker" "$SB_DIR/daemon.log" && wr=yes || wr=no
check "the log says the worker restarted" test $wr = yes
check "the publisher was not restarted (log)" \
  bash -c "! grep -q 'restarting the publisher' '$SB_DIR/daemon.log'"
check "the publisher thread is the same ($tid0)" test "$(publisher_tid)" = "$tid0"
check "the service keeps its bus connection ($owner0)" test "$(bus owner $JBD)" = "$owner0"
e1=$(bus value $JBD /History/ChargedEnergy)
check "the publisher's energy counter kept counting ($e0 -> $e1 kWh)" \
  "$PY" -c "import sys; sys.exit(0 if float('$e1') >= float('$e0') > 0 else 1)"

echo "== a reload that changes charge settings restarts the publisher (and, for a current maximum, the worker)"
cat >> "$SB_DIR/sb.conf" <<CONF
charge = { min_cell_voltage = 3.0; max_discharge_current = 80.0; };
CONF
kill -HUP "$SB_DAEMON_PID"
check "the new low-voltage limit is published" bus_wait $JBD /Info/BatteryLowVoltage == 48 5
check "the log says the publisher restarted" grep -q 'restarting the publisher' "$SB_DIR/daemon.log"
# the workers bound the current they accept by the configured maxima
check "a changed current maximum restarts the worker" \
  grep -q 'current maxima changed, restarting every worker' "$SB_DIR/daemon.log"
check "the pack is back" bus_wait $JBD /Dc/0/Voltage == 53.6 10

e2e_finish
