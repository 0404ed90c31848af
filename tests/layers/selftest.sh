#!/usr/bin/env bash
# check_layers.py catches what it is there for: on a copy of the tree, each
# breach below, planted alone, must fail the check with its own message (a
# checker that passes everything would otherwise look like a clean tree).
set -euo pipefail
src=$1
check=$src/tests/layers/check_layers.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

fresh() {
  rm -rf "$tmp/t"
  mkdir "$tmp/t"
  for d in "$src"/*/; do
    d=${d%/}
    [ -e "$d/CMakeCache.txt" ] && continue # a build tree
    cp -r "$d" "$tmp/t/"
  done
}

fresh
python3 "$check" "$tmp/t" >/dev/null || fail "the unmodified copy does not pass"

# plant FILE LINE EXPECTED-MESSAGE
plant() {
  fresh
  echo "$2" >>"$tmp/t/$1"
  set +e
  out=$(python3 "$check" "$tmp/t" 2>&1)
  rc=$?
  set -e
  [ "$rc" -eq 1 ] || fail "$1 + '$2': exit $rc, want 1: $out"
  grep -qF -- "$3" <<<"$out" || fail "$1 + '$2': no '$3' in: $out"
}

plant tools/cmd_plan.c '#include "supervisor/supervisor.h"' 'tools/ includes supervisor/'
plant hotplug/hotplug.h '#include "worker/worker.h"' 'hotplug/ includes worker/'
plant bms/bms.h '#include "worker/worker.h"' 'bms/ includes worker/'
plant charge/charge.h '#include "publish/publish.h"' 'charge/ includes publish/'
plant common/log.h '#include "tools/tools.h"' 'common/ includes tools/'
plant config/schema.h '#include "supervisor/supervisor.h"' 'config/ includes supervisor/'
plant worker/worker.h '#include "supervisor/supervisor.h"' 'include cycle among folders: '
plant worker/serial.c '#include <dbus/dbus.h>' '<dbus/dbus.h>: only publish/ may include it'
plant supervisor/main.c '#include <libudev.h>' '<libudev.h>: only hotplug/ may include it'
plant publish/paths.h '#include "nowhere/x.h"' '"nowhere/x.h" does not resolve to a file'
fresh
mv "$tmp/t/hotplug" "$tmp/t/udev"
set +e; out=$(python3 "$check" "$tmp/t" 2>&1); rc=$?; set -e
[ "$rc" -eq 1 ] && grep -qF 'rule names folder hotplug/, which does not exist' <<<"$out" ||
  fail "a renamed folder: exit $rc: $out"

# the link closure: the CLI linking the supervisor is refused
fresh
printf 'serialbattery: sb_tools sb_config sb_supervisor\n' >"$tmp/closure"
set +e; out=$(python3 "$check" "$tmp/t" "$tmp/closure" 2>&1); rc=$?; set -e
[ "$rc" -eq 1 ] && grep -qF 'serialbattery links sb_supervisor' <<<"$out" ||
  fail "link closure: exit $rc: $out"
echo "ok"
