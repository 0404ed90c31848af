#!/usr/bin/env bash
# The Venus OS installer against fake root directories: install twice (idempotent),
# every file, the rc.local hook, the /service link, the udev rules, config kept on
# reinstall, boot.sh after a simulated reboot, uninstall twice, and the fake root
# back to its first state (file listing with modes, link targets and checksums).
#   tests/packaging/test_install.sh SERIALBATTERYD SERIALBATTERY
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
daemon=${1:?usage: $0 SERIALBATTERYD SERIALBATTERY}
cli=${2:?usage: $0 SERIALBATTERYD SERIALBATTERY}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sb-test-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
checks=0
ok() { checks=$((checks + 1)); }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); checks=$((checks + 1)); }
check() { # description, command...
  local what=$1; shift
  if "$@"; then ok; else fail "$what"; fi
}
# listing ROOT: one line per path: type, mode, link target or checksum.
listing() {
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | while IFS= read -r p; do
    if [ -L "$p" ]; then echo "$p l -> $(readlink "$p")"
    elif [ -d "$p" ]; then echo "$p d $(stat -c %a "$p")"
    else echo "$p f $(stat -c %a "$p") $(sha256sum <"$p" | cut -c1-16)"; fi
  done)
}
same_listing() { # a b
  if diff -u "$1" "$2" >"$tmp/diff"; then ok; else fail "listing differs: $(cat "$tmp/diff")"; fi
}

pkg=$tmp/serialbattery-test
"$repo/scripts/package-venus.sh" --out "$pkg" --arch test --version 0.0.0 --daemon "$daemon" --cli "$cli" >/dev/null

run() { # ROOT, script, args...: quiet unless it fails
  local root=$1 script=$2; shift 2
  if ! ROOT=$root "$script" "$@" >"$tmp/out" 2>&1; then
    cat "$tmp/out" >&2
    return 1
  fi
}

app=data/serialbattery
etc=data/etc/serialbattery
begin='# >>> serialbattery (added by /data/serialbattery/install.sh; uninstall.sh removes it)'

check_installed() { # ROOT
  local r=$1 f
  for f in bin/serialbatteryd bin/serialbattery service/run service/log/run boot.sh uninstall.sh; do
    check "$app/$f is an executable file" test -f "$r/$app/$f" -a -x "$r/$app/$f"
  done
  for f in udev/90-serialbattery.rules share/serialbattery.conf.example share/local.rules.example VERSION; do
    check "$app/$f exists" test -f "$r/$app/$f"
  done
  check "binary installed unchanged" cmp -s "$daemon" "$r/$app/bin/serialbatteryd"
  check "config created" test -f "$r/$etc/serialbattery.conf"
  check "local.rules created" test -f "$r/$etc/local.rules"
  check "state dir created" test -d "$r/data/var/lib/serialbattery"
  check "rc.local executable" test -x "$r/data/rc.local"
  check "rc.local hook present exactly once" test "$(grep -cxF "$begin" "$r/data/rc.local")" = 1
  check "rc.local hook runs boot.sh" grep -q '/data/serialbattery/boot.sh' "$r/data/rc.local"
  check "/service/serialbattery links to the service dir" \
    test "$(readlink "$r/service/serialbattery")" = /data/serialbattery/service
  check "udev rule in /run/udev/rules.d" cmp -s "$r/$app/udev/90-serialbattery.rules" "$r/run/udev/rules.d/90-serialbattery.rules"
  check "local rules in /run/udev/rules.d" cmp -s "$r/$etc/local.rules" "$r/run/udev/rules.d/89-serialbattery-local.rules"
  check "run script starts the installed daemon with the /data config" \
    grep -q '^exec /data/serialbattery/bin/serialbatteryd -c /data/etc/serialbattery/serialbattery.conf$' "$r/$app/service/run"
  check "log/run uses multilog in /var/log/serialbattery" grep -q 'multilog t .*/var/log/serialbattery$' "$r/$app/service/log/run"
  check "service scripts are valid sh" sh -n "$r/$app/service/run"
  check "log script is valid sh" sh -n "$r/$app/service/log/run"
}

# ---- scenario 1: a bare /data ---------------------------------------------------------
r1=$tmp/root1
mkdir -p "$r1"/{data,service,run/udev,var/log}
listing "$r1" >"$tmp/r1.before"

check "install #1" run "$r1" "$pkg/install.sh"
check_installed "$r1"
check "state_dir points to /data" grep -q 'state_dir = "/data/var/lib/serialbattery";' "$r1/$etc/serialbattery.conf"
if [ -x "$daemon" ] && "$daemon" --help 2>&1 | grep -q -- --check-config; then
  check "installed config passes --check-config" "$daemon" --check-config "$r1/$etc/serialbattery.conf"
fi
listing "$r1" >"$tmp/r1.once"
check "install #2" run "$r1" "$pkg/install.sh"
listing "$r1" >"$tmp/r1.twice"
same_listing "$tmp/r1.once" "$tmp/r1.twice"

# The user's config and local rules survive an upgrade.
echo '# my change' >>"$r1/$etc/serialbattery.conf"
echo '# my rule' >>"$r1/$etc/local.rules"
cp "$r1/$etc/serialbattery.conf" "$tmp/conf.mine"
check "upgrade install" run "$r1" "$pkg/install.sh"
check "config kept on upgrade" cmp -s "$tmp/conf.mine" "$r1/$etc/serialbattery.conf"
check "local rules kept and applied" grep -q '# my rule' "$r1/run/udev/rules.d/89-serialbattery-local.rules"

# Reboot: /service and /run are tmpfs. The rc.local hook runs boot.sh, which restores them.
rm -f "$r1/service/serialbattery" "$r1"/run/udev/rules.d/*
hook=$(grep -F '/data/serialbattery/boot.sh' "$r1/data/rc.local" | grep -v '^#')
check "hook line calls boot.sh" test -n "$hook"
check "boot.sh after reboot" run "$r1" "$r1/$app/boot.sh"
check_installed "$r1"

# Plain uninstall keeps the user's files; a second run is a no-op.
check "uninstall #1" run "$r1" "$r1/$app/uninstall.sh"
check "program dir removed" test ! -e "$r1/$app"
check "service link removed" test ! -e "$r1/service/serialbattery" -a ! -L "$r1/service/serialbattery"
check "rc.local removed (install created it)" test ! -e "$r1/data/rc.local"
check "udev rules removed" test ! -e "$r1/run/udev/rules.d"
check "config kept by plain uninstall" cmp -s "$tmp/conf.mine" "$r1/$etc/serialbattery.conf"
check "uninstall #2 (nothing left to do)" run "$r1" "$pkg/uninstall.sh"
mkdir -p "$r1/var/log/serialbattery" && echo log >"$r1/var/log/serialbattery/current"
check "uninstall --purge #1" run "$r1" "$pkg/uninstall.sh" --purge
check "uninstall --purge #2" run "$r1" "$pkg/uninstall.sh" --purge
listing "$r1" >"$tmp/r1.after"
same_listing "$tmp/r1.before" "$tmp/r1.after"

# ---- scenario 2: a Venus OS /data with other drivers and an rc.local ending in exit 0 --
r2=$tmp/root2
mkdir -p "$r2"/{service/gui,run/udev/rules.d,var/log} "$r2"/data/etc/other "$r2"/data/var/lib/serial-starter
echo 'x=1' >"$r2/data/etc/other/x.conf"
echo vedirect >"$r2/data/var/lib/serial-starter/ttyUSB0"
echo 'SUBSYSTEM=="tty"' >"$r2/run/udev/rules.d/10-other.rules"
printf '#!/bin/bash\n/data/other/start.sh &\n\nexit 0\n\n' >"$r2/data/rc.local"
chmod 0750 "$r2/data/rc.local"
listing "$r2" >"$tmp/r2.before"
cp "$r2/data/rc.local" "$tmp/rc.orig"

check "install into a used /data" run "$r2" "$pkg/install.sh"
check "install again" run "$r2" "$pkg/install.sh"
check_installed "$r2"
check "hook placed before the final exit" \
  test "$(grep -nxF "$begin" "$r2/data/rc.local" | cut -d: -f1)" -lt "$(grep -nx 'exit 0' "$r2/data/rc.local" | cut -d: -f1)"
check "other rc.local lines kept" grep -qxF '/data/other/start.sh &' "$r2/data/rc.local"
check "uninstall --purge" run "$r2" "$r2/$app/uninstall.sh" --purge
check "uninstall --purge again" run "$r2" "$pkg/uninstall.sh" --purge
check "rc.local restored byte for byte" cmp -s "$tmp/rc.orig" "$r2/data/rc.local"
listing "$r2" >"$tmp/r2.after"
same_listing "$tmp/r2.before" "$tmp/r2.after"

# ---- refusals -------------------------------------------------------------------------
r3=$tmp/root3
mkdir -p "$r3"
if run "$r3" "$pkg/install.sh" 2>/dev/null; then fail "install without /data should fail"; else ok; fi
cp -a "$pkg" "$tmp/broken" && rm "$tmp/broken/bin/serialbatteryd"
mkdir -p "$r3/data"
if run "$r3" "$tmp/broken/install.sh" 2>/dev/null; then fail "install from an incomplete package should fail"; else ok; fi
check "a refused install leaves nothing behind" test -z "$(ls -A "$r3/data")"

echo "test_install: $checks checks, $failures failed"
echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
