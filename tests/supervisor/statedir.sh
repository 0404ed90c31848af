#!/usr/bin/env bash
# The state directory against the real daemon (issue 13 item 5), with a
# simulated JBD pack on a pty and a private bus:
#  - refused at start (exit 2, one error line, nothing written) when it is
#    writable by others, owned by another user, or a file;
#  - created 0755 when missing, also with the protocol pinned, whatever the umask;
#  - full, then read-only (a small tmpfs): one warning when saving starts
#    failing and one line when it works again, over 20+ poll cycles; no temp
#    file left;
#  - symlinks planted at the charge state file and at its temp path: their
#    targets untouched, the file replaced by a regular one;
#  - a reload with the directory made writable by others: one warning per reload.
# Needs root (chown to another user, mount); exits 77 (skipped) otherwise.
# usage: statedir.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
SB_BIN=$(cd "${1:?build dir}" && pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: needs root (chown, mount)"
  exit 77
fi
SB_DIR=$(mktemp -d /tmp/sb-statedir.XXXXXX)
# shellcheck source=../../scripts/demo/lib.sh
source "$src/scripts/demo/lib.sh"
cleanup() {
  sb_demo_stop
  mountpoint -q "$SB_DIR/full" && umount "$SB_DIR/full"
  rm -rf "$SB_DIR"
}
trap cleanup EXIT
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
JBD=com.victronenergy.battery.jbd
# the charge state file of the pack on $SB_DIR/jbd (its key, the port path, sanitised)
CS=charge_$(printf '%s' "$SB_DIR/jbd" | tr -c 'A-Za-z0-9' '_').state
failures=0 checks=0
check() {
  local what=$1; shift
  checks=$((checks + 1))
  if "$@"; then echo "ok    $what"; else echo "FAIL  $what"; failures=$((failures + 1)); fi
}
count() { grep -c -- "$1" "$SB_DIR/daemon.log" || true; }
wait_value() { "$PY" "$src/tests/e2e/busget.py" "$SB_BUS_ADDRESS" wait $JBD "$@" >/dev/null; }
cycles() { "$PY" "$src/tests/e2e/busget.py" "$SB_BUS_ADDRESS" value $JBD /Link/PollCycles; }
# wait_log PATTERN N SECONDS: until the log has N lines matching PATTERN
wait_log() {
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    [ "$(count "$1")" -ge "$2" ] && return 0
    sleep 0.05
  done
  return 1
}
# run_daemon STATE_DIR: the daemon on the simulated pack, protocol pinned
run_daemon() { sb_start_daemon /dev/null --port "$SB_DIR/jbd:jbd" --state-dir "$1"; }
stop_daemon() {
  kill -TERM "$SB_DAEMON_PID"
  wait "$SB_DAEMON_PID" || true
}
no_tmp() { [ -z "$(find "$1" -name '*.tmp' 2>/dev/null)" ]; }

sb_start_bus
sb_start_sim jbd jbd

echo "== refused at start"
refused() { # DESCRIPTION DIR
  local rc=0
  timeout 20 "$SB_BIN/supervisor/serialbatteryd" -c /dev/null --no-udev --port "$SB_DIR/jbd:jbd" \
    --bus-address "$SB_BUS_ADDRESS" --state-dir "$2" > "$SB_DIR/daemon.log" 2>&1 || rc=$?
  check "$1: exit status 2 (got $rc)" test "$rc" -eq 2
  check "$1: one clear error" test "$(count "state directory $2 refused")" -eq 1
  check "$1: nothing written into it" test -z "$(find "$2" -mindepth 1 2>/dev/null)"
}
mkdir "$SB_DIR/open" && chmod 0777 "$SB_DIR/open"
refused "writable by others" "$SB_DIR/open"
mkdir -m 0755 "$SB_DIR/foreign" && chown 65534:65534 "$SB_DIR/foreign"
refused "owned by another user" "$SB_DIR/foreign"
touch "$SB_DIR/afile"
refused "a file of the directory's name" "$SB_DIR/afile"

echo "== missing: created 0755 at start, protocol pinned"
umask 077
run_daemon "$SB_DIR/new"
umask 022
wait_value /Dc/0/Voltage valid x 15
check "created" test -d "$SB_DIR/new"
check "mode 0755 despite umask 077" test "$(stat -c %a "$SB_DIR/new")" = 755
check "charge state saved" test -f "$SB_DIR/new/$CS"
stop_daemon

echo "== full, then read-only (tmpfs)"
full=$SB_DIR/full
mkdir "$full"
mount -t tmpfs -o size=64k,mode=0755 sb-statedir "$full"
dd if=/dev/zero of="$full/fill" bs=4k 2>/dev/null || true
run_daemon "$full"
wait_value /Dc/0/Voltage valid x 15
c0=$(cycles)
wait_value /Link/PollCycles '>=' $((c0 + 20)) 60
check "full: one line about it over 20 poll cycles ($(count "$full") lines)" \
  test "$(count "$full")" -eq 1
check "full: and that is the warning" test "$(count 'cannot save charge state')" -eq 1
check "full: no temp file left" no_tmp "$full"
rm -f "$full/fill"
check "full: one line when saving works again" wait_log 'saving charge state in .* works again' 1 15
check "full: charge state saved after recovery" test -s "$full/$CS"
check "full: at most 2 lines about the state directory" test "$(count "$full")" -le 2
# read-only from the start: the first save fails, then every cycle retries
stop_daemon
mv "$SB_DIR/daemon.log" "$SB_DIR/daemon-full.log"
umount "$full"
mount -t tmpfs -o size=64k,mode=0755,ro sb-statedir "$full"
run_daemon "$full"
wait_value /Dc/0/Voltage valid x 15
c0=$(cycles)
wait_value /Link/PollCycles '>=' $((c0 + 20)) 60
check "read-only: one line about it over 20 poll cycles ($(count "$full") lines)" \
  test "$(count "$full")" -eq 1
check "read-only: and that is the warning" test "$(count 'cannot save charge state')" -eq 1
mount -o remount,rw "$full"
check "read-only: one line when saving works again" wait_log 'saving charge state in .* works again' 1 15
check "read-only: no temp file left" no_tmp "$full"
check "read-only: at most 2 lines about the state directory" test "$(count "$full")" -le 2
stop_daemon
umount "$full"

echo "== symlinks planted at the state file and its temp path"
st=$SB_DIR/links
mkdir -m 0755 "$st"
echo precious > "$SB_DIR/target"
echo precious2 > "$SB_DIR/target2"
ln -s "$SB_DIR/target" "$st/$CS"
ln -s "$SB_DIR/target2" "$st/$CS.tmp"
run_daemon "$st"
wait_value /Dc/0/Voltage valid x 15
c0=$(cycles)
wait_value /Link/PollCycles '>=' $((c0 + 3)) 15
check "symlink at the state file not read" test "$(count 'ignoring charge state')" -eq 1
check "target of the state file link untouched" test "$(cat "$SB_DIR/target")" = precious
check "target of the temp link untouched" test "$(cat "$SB_DIR/target2")" = precious2
check "state file is now a regular file" test -f "$st/$CS" -a ! -L "$st/$CS"
check "no temp file or link left" test ! -e "$st/$CS.tmp" -a ! -L "$st/$CS.tmp"
check "no save failure logged" test "$(count 'cannot save')" -eq 0

echo "== reload with the directory made writable by others"
chmod 0777 "$st"
kill -HUP "$SB_DAEMON_PID"
check "first reload: one warning" wait_log "SIGHUP: state directory $st refused" 1 10
kill -HUP "$SB_DAEMON_PID"
check "second reload: one more" wait_log "SIGHUP: state directory $st refused" 2 10
check "still running" kill -0 "$SB_DAEMON_PID"
check "still publishing" wait_value /Dc/0/Voltage valid x 5
chmod 0755 "$st"
stop_daemon

echo "statedir: $checks checks"
echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ] || { tail -20 "$SB_DIR/daemon.log"; exit 1; }
