#!/usr/bin/env bash
# `cmake --install` with DESTDIR (what a Debian / Raspberry Pi OS install or package
# does) puts the binaries, the systemd unit, the sysusers entry, the D-Bus policy, the
# udev rule and the example config in their standard places, and the unit starts the
# installed binary as the user the policy and sysusers entry name.
#   tests/packaging/test_cmake_install.sh BUILD_DIR FULL_BINDIR FULL_SYSCONFDIR PREFIX
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR FULL_BINDIR FULL_SYSCONFDIR PREFIX}
bindir=${2:?}
sysconfdir=${3:?}
prefix=${4:?}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sb-test-cmake-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0 checks=0
xml_ok() { /usr/bin/python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "$1"; }
check() {
  local what=$1; shift
  checks=$((checks + 1))
  if ! "$@"; then echo "FAIL: $what" >&2; failures=$((failures + 1)); fi
}

DESTDIR=$tmp/dest cmake --install "$build" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
d=$tmp/dest
check "serialbatteryd in $bindir" test -x "$d$bindir/serialbatteryd"
check "serialbattery in $bindir" test -x "$d$bindir/serialbattery"
check "example config in $sysconfdir/serialbattery" test -f "$d$sysconfdir/serialbattery/serialbattery.conf"

# systemd files are optional (SB_INSTALL_SYSTEMD); when the cache enables them, check them.
if grep -q '^SB_INSTALL_SYSTEMD:BOOL=ON' "$build/CMakeCache.txt"; then
  unitdir=$(sed -n 's/^SB_SYSTEMD_UNITDIR:[A-Z]*=//p' "$build/CMakeCache.txt")
  rulesdir=$(sed -n 's/^SB_UDEVRULESDIR:[A-Z]*=//p' "$build/CMakeCache.txt")
  sysusersdir=$(sed -n 's/^SB_SYSUSERSDIR:[A-Z]*=//p' "$build/CMakeCache.txt")
  dbusdir=$(sed -n 's/^SB_DBUS_SYSTEMDIR:[A-Z]*=//p' "$build/CMakeCache.txt")
  abs() { case $1 in /*) echo "$1" ;; *) echo "$prefix/$1" ;; esac; }
  unit=$d$(abs "$unitdir")/serialbattery.service
  check "systemd unit in $(abs "$unitdir")" test -f "$unit"
  check "udev rule in $(abs "$rulesdir")" test -f "$d$(abs "$rulesdir")/60-serialbattery.rules"
  check "sysusers entry in $(abs "$sysusersdir")" test -f "$d$(abs "$sysusersdir")/serialbattery.conf"
  policy=$d$(abs "$dbusdir")/serialbattery.conf
  check "D-Bus policy in $(abs "$dbusdir")" test -f "$policy"
  check "D-Bus policy is well-formed XML" xml_ok "$policy"
  check "D-Bus policy lets the serialbattery user own the battery names" \
    grep -q '<policy user="serialbattery">' "$policy"
  check "sysusers entry creates the serialbattery user" \
    grep -q '^u serialbattery ' "$d$(abs "$sysusersdir")/serialbattery.conf"
  if [ -f "$unit" ]; then
    check "unit starts $bindir/serialbatteryd" grep -q "^ExecStart=$bindir/serialbatteryd " "$unit"
    check "unit reads $sysconfdir/serialbattery/serialbattery.conf" \
      grep -q "^ExecStart=.* $sysconfdir/serialbattery/serialbattery.conf" "$unit"
    check "unit has no unsubstituted @VAR@" sh -c "! grep -q '@[A-Z_]*@' '$unit'"
    check "unit runs as the serialbattery user" grep -q '^User=serialbattery$' "$unit"
    check "unit provides the state directory" grep -q '^StateDirectory=serialbattery$' "$unit"
  fi
fi
# Nothing lands outside the prefix and sysconfdir, except the D-Bus policy
# (the system bus reads no directory under /usr/local).
stray=$(cd "$d" && find . -type f | sed 's:^\.::' |
  grep -v -e "^$prefix/" -e "^$sysconfdir/" -e "^/usr/share/dbus-1/system.d/serialbattery.conf$" || true)
check "no file outside $prefix and $sysconfdir: $stray" test -z "$stray"

echo "test_cmake_install: $checks checks"
echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
