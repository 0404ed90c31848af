#!/usr/bin/env bash
# The installed D-Bus policy against a real system bus (issue 13 item 3).
# `cmake --install` into a scratch root; a dbus-daemon runs Debian's own
# /usr/share/dbus-1/system.conf, changed only to run here: a private socket,
# no fork, pidfile, servicehelper or user switch, and its include directories
# pointed at the installed policy (ours) and a fixture policy letting root own
# com.victronenergy.settings, as Victron's localsettings does on Venus OS (the
# host's /etc/dbus-1 files are left out so they cannot mask a missing rule).
# Its default-deny rules stay as they are. Then, with the installed binaries:
#  - serialbatteryd as the serialbattery user (setpriv) on a simulated JBD pack
#    owns its name, gets its instance from the settings service and publishes;
#  - a third user reads its values but cannot SetValue, and cannot own
#    com.victronenergy.battery.x (the serialbattery user can);
#  - root can SetValue (the Victron services run as root).
# Creates the serialbattery user and a third user when missing (removed again).
# Needs root; exits 77 (skipped) otherwise.
# usage: dbus_policy.sh BUILD_DIR FULL_BINDIR FAKE_SETTINGS
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:?usage: $0 BUILD_DIR FULL_BINDIR FAKE_SETTINGS}
bindir=${2:?}
fake_settings=${3:?}
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: needs root (useradd, setpriv)"
  exit 77
fi
for tool in dbus-daemon dbus-send setpriv useradd userdel; do
  command -v "$tool" >/dev/null || { echo "missing $tool"; exit 1; }
done
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

T=$(mktemp -d /tmp/sb-dbus-policy.XXXXXX)
chmod 0755 "$T"
pids=()
created_users=()
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
  for i in "${pids[@]}"; do wait "$i" 2>/dev/null || true; done
  for u in "${created_users[@]}"; do userdel "$u" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
failures=0 checks=0
check() {
  local what=$1; shift
  checks=$((checks + 1))
  if "$@"; then echo "ok    $what"; else echo "FAIL  $what"; failures=$((failures + 1)); fi
}
ensure_user() {
  id -u "$1" >/dev/null 2>&1 && return 0
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$1"
  created_users+=("$1")
}
ensure_user serialbattery
ensure_user sb-policy-other
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --init-groups -- "$@"; }

# The installed tree: binaries, and the policy where the system bus reads it.
DESTDIR=$T/root cmake --install "$build" >"$T/install.log" 2>&1 || { cat "$T/install.log"; exit 1; }
dbusdir=$(sed -n 's/^SB_DBUS_SYSTEMDIR:[A-Z]*=//p' "$build/CMakeCache.txt")
case $dbusdir in /*) ;; *) dbusdir=$(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$build/CMakeCache.txt")/$dbusdir ;; esac
policy_dir=$T/root$dbusdir
check "policy installed by cmake --install" test -f "$policy_dir/serialbattery.conf"
cp "$here/../e2e/busget.py" "$T/busget.py"

# Debian's system bus configuration, adapted only to run here.
sock=$T/system_bus_socket
mkdir "$T/fixture.d"
cat > "$T/fixture.d/settings.conf" <<'XML'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="root">
    <allow own="com.victronenergy.settings"/>
    <allow send_destination="com.victronenergy.settings"/>
  </policy>
</busconfig>
XML
sed -e '/<user>/d' -e '/<fork\/>/d' -e '/<pidfile>/d' -e '/<servicehelper>/d' -e '/<syslog\/>/d' \
    -e "s|<listen>.*</listen>|<listen>unix:path=$sock</listen>|" \
    -e "s|<includedir>system.d</includedir>|<includedir>$policy_dir</includedir><includedir>$T/fixture.d</includedir>|" \
    -e '/<includedir>\/etc\/dbus-1\/system.d<\/includedir>/d' \
    -e '/<include ignore_missing="yes">\/etc\/dbus-1\//d' \
    /usr/share/dbus-1/system.conf > "$T/system.conf"
grep -q '<deny own="\*"/>' "$T/system.conf" && grep -q '<deny send_type="method_call"/>' "$T/system.conf" ||
  { echo "Debian's system.conf lost its default-deny rules"; exit 1; }
dbus-daemon --config-file="$T/system.conf" --nofork --print-address=1 > "$T/bus.addr" 2> "$T/bus.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { cat "$T/bus.log"; echo "dbus-daemon did not start"; exit 1; }
bus=unix:path=$sock

# The settings service (root), the simulated pack and the daemon (serialbattery).
"$fake_settings" "$bus" 2> "$T/settings.log" &
pids+=($!)
has_owner() { dbus-send --bus="$bus" --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
  org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null | grep -q 'boolean true'; }
for _ in $(seq 100); do has_owner com.victronenergy.settings && break; sleep 0.05; done
check "settings fixture owns its name" has_owner com.victronenergy.settings

mkdir -m 0755 "$T/sim" "$T/state"
chown serialbattery:serialbattery "$T/sim" "$T/state"
# The simulator runs as serialbattery too, so that its pty is the daemon's to open.
# (setpriv itself in the background, not the function: $! must be the process)
setpriv --reuid=serialbattery --regid=serialbattery --init-groups -- "$T/root$bindir/serialbattery" simulate --bms jbd --link "$T/sim/jbd" \
  > "$T/sim.out" 2> "$T/sim.log" &
pids+=($!)
for _ in $(seq 100); do grep -q ready "$T/sim.out" 2>/dev/null && break; sleep 0.05; done
grep -q ready "$T/sim.out" || { cat "$T/sim.log"; echo "simulator did not start"; exit 1; }
setpriv --reuid=serialbattery --regid=serialbattery --init-groups -- "$T/root$bindir/serialbatteryd" -c /dev/null --no-udev --port "$T/sim/jbd:jbd" \
  --bus-address "$bus" --state-dir "$T/state" > "$T/daemon.log" 2>&1 &
pids+=($!)

JBD=com.victronenergy.battery.jbd
other_get() { as sb-policy-other "$PY" "$T/busget.py" "$bus" "$@"; }
check "another user reads the published voltage" other_get wait $JBD /Dc/0/Voltage valid x 20
uid_of() { dbus-send --bus="$bus" --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
  org.freedesktop.DBus.GetConnectionUnixUser "string:$1" | sed -n 's/.*uint32 //p'; }
check "the name is owned by the serialbattery user" test "$(uid_of $JBD)" = "$(id -u serialbattery)"
check "no name refused in the daemon log" sh -c "! grep -qi 'AccessDenied\|not allowed' '$T/daemon.log'"
sid=$(printf '%s' "$T/sim/jbd" | tr -c 'A-Za-z0-9' '_')
inst=$("$PY" "$T/busget.py" "$bus" value com.victronenergy.settings \
  "/Settings/Devices/serialbattery_$sid/ClassAndVrmInstance" 2>&1 || true)
check "the daemon registered with the settings service ($inst)" test "${inst%%:*}" = battery
check "and took the instance it was given" \
  other_get wait $JBD /DeviceInstance == "${inst##*:}" 5

request_name() { # USER NAME: prints the RequestName reply or the error
  as "$1" dbus-send --bus="$bus" --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.RequestName "string:$2" uint32:4 2>&1 || true
}
out=$(request_name sb-policy-other com.victronenergy.battery.x)
check "a third user cannot own com.victronenergy.battery.x ($out)" \
  grep -q 'AccessDenied' <<<"$out"
out=$(request_name serialbattery com.victronenergy.battery.x)
check "the serialbattery user can ($out)" grep -q 'uint32 1' <<<"$out"
out=$(request_name sb-policy-other com.victronenergy.settings)
check "a third user cannot own com.victronenergy.settings" grep -q 'AccessDenied' <<<"$out"

set_name() { # USER: SetValue /CustomName, prints the reply or the error
  as "$1" dbus-send --bus="$bus" --print-reply --dest=$JBD /CustomName \
    com.victronenergy.BusItem.SetValue variant:string:"set by $1" 2>&1 || true
}
out=$(set_name sb-policy-other)
check "a third user cannot SetValue ($out)" grep -q 'AccessDenied' <<<"$out"
no_error() { ! grep -q 'Error' <<<"$1"; }
out=$(set_name root)
check "root can SetValue ($out)" no_error "$out"
# Without an interface field: the deny rule names the member alone, so it still holds.
out=$(as sb-policy-other "$PY" -c '
import sys, dbus
b = dbus.bus.BusConnection(sys.argv[1])
try:
    b.call_blocking(sys.argv[2], "/CustomName", None, "SetValue", "v", ["x"])
    print("accepted")
except dbus.exceptions.DBusException as e:
    print(e.get_dbus_name())' "$bus" $JBD 2>&1)
check "a third user cannot SetValue without an interface field either ($out)" \
  grep -q 'AccessDenied' <<<"$out"

echo "dbus_policy: $checks checks"
echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ] || { tail -20 "$T/daemon.log"; tail -5 "$T/bus.log"; exit 1; }
