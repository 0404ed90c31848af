#!/bin/bash
# Removes serialbattery from Venus OS: every step of install.sh, reversed.
#
#   /data/serialbattery/uninstall.sh           keep config, local rules, state, logs
#   /data/serialbattery/uninstall.sh --purge   remove those too
#   ROOT=/tmp/r ./uninstall.sh [--purge]       the same in a fake root (no svc/udevadm)
# Idempotent: a second run finds nothing to do and succeeds.
set -euo pipefail

ROOT=${ROOT:-}
ROOT=${ROOT%/}
app=/data/serialbattery
etc=/data/etc/serialbattery
state=/data/var/lib/serialbattery
logdir=/var/log/serialbattery
rc=/data/rc.local
begin='# >>> serialbattery (added by /data/serialbattery/install.sh; uninstall.sh removes it)'
end='# <<< serialbattery'
created='# (file created by serialbattery install.sh)'

purge=0
for a in "$@"; do
  case $a in
    --purge) purge=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "uninstall.sh: unknown argument '$a'" >&2; exit 2 ;;
  esac
done
log() { echo "uninstall.sh: $*"; }
live() { [ -z "$ROOT" ] && command -v "$1" >/dev/null 2>&1; }

# 1. service: unlink first so svscan does not restart it, then stop supervise.
if [ -L "$ROOT/service/serialbattery" ]; then
  rm -f "$ROOT/service/serialbattery"
  log "removed /service/serialbattery"
fi
if live svc && [ -d "$app/service/supervise" ]; then
  svc -dx "$app/service" "$app/service/log" 2>/dev/null || true
  sleep 1
fi

# 2. udev rules, then let serial-starter have the adapters back.
removed_rules=0
for r in 89-serialbattery-local.rules 90-serialbattery.rules; do
  if [ -e "$ROOT/run/udev/rules.d/$r" ]; then
    rm -f "$ROOT/run/udev/rules.d/$r"
    removed_rules=1
  fi
done
rmdir "$ROOT/run/udev/rules.d" 2>/dev/null || true   # only when empty
if [ "$removed_rules" -eq 1 ] && live udevadm; then
  udevadm control --reload-rules || true
  udevadm trigger --action=change --subsystem-match=tty --property-match=ID_BUS=usb || true
fi

# 3. the rc.local block; the file itself when install.sh created it and nothing else is left.
if [ -f "$ROOT$rc" ] && grep -qxF "$begin" "$ROOT$rc"; then
  tmp=$(mktemp "$ROOT/data/.rc.local.XXXXXX")
  awk -v b="$begin" -v e="$end" '
    $0 == b { skip = 1; next }
    skip && $0 == e { skip = 0; next }
    !skip { print }' "$ROOT$rc" >"$tmp"
  if [ "$(cat "$tmp")" = "$(printf '%s\n%s' '#!/bin/sh' "$created")" ]; then
    rm -f "$tmp" "$ROOT$rc"
    log "removed $rc (only the serialbattery hook was in it)"
  else
    chmod "$(stat -c %a "$ROOT$rc")" "$tmp"
    mv -f "$tmp" "$ROOT$rc"
    log "removed the serialbattery block from $rc"
  fi
fi

# 4. the program files.
if [ -e "$ROOT$app" ]; then
  rm -rf "$ROOT$app"
  log "removed $app"
fi

# 5. --purge: the user's files too.
if [ "$purge" -eq 1 ]; then
  for d in "$etc" "$state" "$logdir"; do
    if [ -e "$ROOT$d" ]; then
      rm -rf "$ROOT$d"
      log "removed $d"
    fi
  done
  # Parents install.sh may have made; only when empty (other drivers use them too).
  for d in /data/etc /data/var/lib /data/var; do
    rmdir "$ROOT$d" 2>/dev/null || true   # only when empty
  done
else
  [ -e "$ROOT$etc" ] && log "kept $etc (config, local.rules) and $state; --purge removes them"
fi
exit 0
