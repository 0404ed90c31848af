#!/bin/bash
# Installs (or upgrades) serialbattery on Venus OS from this unpacked tarball.
#
#   ./install.sh            install or upgrade, start the service
#   ROOT=/tmp/r ./install.sh  the same into a fake root (tests; no svc/udevadm)
#
# What it does (uninstall.sh reverses each step):
#   /data/serialbattery/{bin,service,udev,share}, boot.sh, uninstall.sh, VERSION
#   /data/etc/serialbattery/serialbattery.conf   created once, kept on upgrade
#   /data/etc/serialbattery/local.rules          created once, kept on upgrade
#   /data/var/lib/serialbattery                  state (remembered protocols)
#   /data/rc.local                               one marked block runs boot.sh at boot
#   /service/serialbattery -> /data/serialbattery/service   (by boot.sh)
#   /run/udev/rules.d/{89-serialbattery-local,90-serialbattery}.rules  (by boot.sh)
# Idempotent: running it twice leaves the same files.
# Uses only what BusyBox offers too (no GNU-only options): Venus OS may have either.
set -euo pipefail

ROOT=${ROOT:-}
ROOT=${ROOT%/}
src=$(cd "$(dirname "$0")" && pwd)
app=/data/serialbattery
etc=/data/etc/serialbattery
state=/data/var/lib/serialbattery
rc=/data/rc.local
begin='# >>> serialbattery (added by /data/serialbattery/install.sh; uninstall.sh removes it)'
end='# <<< serialbattery'
created='# (file created by serialbattery install.sh)'

die() { echo "install.sh: $*" >&2; exit 1; }
log() { echo "install.sh: $*"; }
live() { [ -z "$ROOT" ] && command -v "$1" >/dev/null 2>&1; }

for f in bin/serialbatteryd bin/serialbattery service/run service/log/run udev/90-serialbattery.rules \
         udev/local.rules share/serialbattery.conf.example boot.sh uninstall.sh VERSION; do
  [ -e "$src/$f" ] || die "$src/$f missing: run install.sh from the unpacked serialbattery tarball"
done
[ -d "$ROOT/data" ] || die "$ROOT/data does not exist (is this Venus OS?)"

# The tarball is for one architecture; refuse the wrong one on a real device.
pkg_arch=$(sed -n 's/^arch=//p' "$src/VERSION")
if [ -z "$ROOT" ] && [ -z "${SB_SKIP_ARCH_CHECK:-}" ]; then
  case $(uname -m) in
    armv7*|armv8l) host_arch=armhf ;;
    aarch64|arm64) host_arch=arm64 ;;
    *) host_arch=$(uname -m) ;;
  esac
  [ "$host_arch" = "$pkg_arch" ] || die "this tarball is for $pkg_arch, this machine is $host_arch"
fi

# Stop a running instance before replacing its binary (svscan restarts it via boot.sh).
if live svc && [ -d "$app/service/supervise" ]; then
  svc -d "$app/service" || true
fi

# copy SRC DST MODE: replace DST atomically (a running binary keeps its old inode).
copy() {
  mkdir -p "$(dirname "$2")"
  install -m "$3" "$1" "$2.new"
  mv -f "$2.new" "$2"
}

copy "$src/bin/serialbatteryd" "$ROOT$app/bin/serialbatteryd" 0755
copy "$src/bin/serialbattery" "$ROOT$app/bin/serialbattery" 0755
copy "$src/service/run" "$ROOT$app/service/run" 0755
copy "$src/service/log/run" "$ROOT$app/service/log/run" 0755
copy "$src/udev/90-serialbattery.rules" "$ROOT$app/udev/90-serialbattery.rules" 0644
copy "$src/udev/local.rules" "$ROOT$app/share/local.rules.example" 0644
copy "$src/share/serialbattery.conf.example" "$ROOT$app/share/serialbattery.conf.example" 0644
copy "$src/boot.sh" "$ROOT$app/boot.sh" 0755
copy "$src/uninstall.sh" "$ROOT$app/uninstall.sh" 0755
copy "$src/VERSION" "$ROOT$app/VERSION" 0644
if [ -d "$src/docs" ]; then
  mkdir -p "$ROOT$app/docs"
  for d in "$src"/docs/*; do copy "$d" "$ROOT$app/docs/$(basename "$d")" 0644; done
fi

# Config and local rules: the user's, created once. On Venus OS state lives on /data.
mkdir -p "$ROOT$etc" "$ROOT$state"
if [ ! -e "$ROOT$etc/serialbattery.conf" ]; then
  sed "s|^\([[:space:]]*state_dir[[:space:]]*=[[:space:]]*\)\"[^\"]*\";|\1\"$state\";|" \
    "$src/share/serialbattery.conf.example" >"$ROOT$etc/serialbattery.conf.new"
  chmod 0644 "$ROOT$etc/serialbattery.conf.new"
  mv -f "$ROOT$etc/serialbattery.conf.new" "$ROOT$etc/serialbattery.conf"
  log "created $etc/serialbattery.conf"
else
  log "kept $etc/serialbattery.conf"
fi
if [ ! -e "$ROOT$etc/local.rules" ]; then
  install -m 0644 "$src/udev/local.rules" "$ROOT$etc/local.rules"
fi
if live "$ROOT$app/bin/serialbatteryd"; then
  "$app/bin/serialbatteryd" --check-config "$etc/serialbattery.conf" \
    || log "WARNING: $etc/serialbattery.conf has errors: the service will not start until they are fixed"
fi

# /data/rc.local: run boot.sh at every boot (firmware updates wipe /service).
# The block is replaced in place, or added before a final "exit" line, or appended.
hook() {
  local f=$ROOT$rc tmp
  tmp=$(mktemp "$ROOT/data/.rc.local.XXXXXX")
  if [ -e "$f" ]; then
    awk -v b="$begin" -v e="$end" '
      $0 == b { skip = 1; next }
      skip && $0 == e { skip = 0; next }
      !skip { print }' "$f" >"$tmp.body"
  else
    printf '%s\n' '#!/bin/sh' "$created" >"$tmp.body"
  fi
  awk -v b="$begin" -v e="$end" -v app="$app" '
    function block() {
      print b
      print "if [ -x " app "/boot.sh ]; then " app "/boot.sh >" app "/boot.log 2>&1 || true; fi"
      print e
    }
    { lines[NR] = $0 }
    END {
      last = NR
      while (last > 0 && lines[last] ~ /^[[:space:]]*$/) last--
      for (i = 1; i <= NR; i++) {
        if (i == last && lines[i] ~ /^[[:space:]]*exit([[:space:]]+[0-9]+)?[[:space:]]*$/) { block(); done = 1 }
        print lines[i]
      }
      if (!done) block()
    }' "$tmp.body" >"$tmp"
  rm -f "$tmp.body"
  # Keep an existing file's mode; it has to be executable to run at boot.
  if [ -e "$f" ]; then chmod "$(stat -c %a "$f")" "$tmp"; else chmod 0755 "$tmp"; fi
  [ -x "$tmp" ] || chmod u+x,go+rx "$tmp"
  mv -f "$tmp" "$f"
}
hook

export ROOT
"$ROOT$app/boot.sh"
log "installed serialbattery $(sed -n 's/^version=//p' "$src/VERSION") ($pkg_arch) in $app"
log "config: $etc/serialbattery.conf; logs: /var/log/serialbattery/current"
