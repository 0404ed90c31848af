#!/bin/bash
# serialbattery on Venus OS: what has to be redone at every boot, because /service
# and /run are tmpfs and the root file system is replaced by firmware updates.
# Called from /data/rc.local (hook added by install.sh) and by install.sh itself.
# Idempotent. ROOT=/some/dir runs it against a fake root (tests): then no svc or
# udevadm command is run.
set -euo pipefail

ROOT=${ROOT:-}
ROOT=${ROOT%/}
app=/data/serialbattery
etc=/data/etc/serialbattery
rules_dir=$ROOT/run/udev/rules.d

log() { echo "serialbattery boot: $*" >&2; }
live() { [ -z "$ROOT" ] && command -v "$1" >/dev/null 2>&1; }

[ -x "$ROOT$app/bin/serialbatteryd" ] || { log "$app/bin/serialbatteryd missing: run install.sh"; exit 1; }

# 1. udev rules: ours and the user's local ones, then re-evaluate USB ttys so
#    serial-starter and serialbatteryd see VE_SERVICE / SERIALBATTERY.
mkdir -p "$rules_dir"
install -m 0644 "$ROOT$app/udev/90-serialbattery.rules" "$rules_dir/90-serialbattery.rules"
if [ -f "$ROOT$etc/local.rules" ]; then
  install -m 0644 "$ROOT$etc/local.rules" "$rules_dir/89-serialbattery-local.rules"
else
  rm -f "$rules_dir/89-serialbattery-local.rules"
fi
if live udevadm; then
  udevadm control --reload-rules || log "udevadm control --reload-rules failed"
  udevadm trigger --action=change --subsystem-match=tty --property-match=ID_BUS=usb \
    || log "udevadm trigger failed"
fi

# 2. the daemontools service: svscan starts it within 5 s of the link appearing.
if [ -d "$ROOT/service" ]; then
  if [ -L "$ROOT/service/serialbattery" ] && [ "$(readlink "$ROOT/service/serialbattery")" = "$app/service" ]; then
    :
  else
    rm -rf "$ROOT/service/serialbattery"
    ln -s "$app/service" "$ROOT/service/serialbattery"
  fi
  if live svc && [ -d /service/serialbattery/supervise ]; then
    svc -u /service/serialbattery /service/serialbattery/log || log "svc -u failed"
  fi
else
  log "no /service directory (not Venus OS?): service not linked"
fi
