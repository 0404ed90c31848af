#!/usr/bin/env bash
# Publisher benchmark: 1, 4 and 16 batteries at a 1 s poll, once with every value
# changing each poll and once idle (nothing changes but the poll counter), and
# once with the bank aggregate: D-Bus signals per battery per cycle, the
# publisher's CPU per battery-cycle, memory. With valgrind installed (or
# SB_CALLGRIND=0 to skip), instructions per battery-cycle from two callgrind
# runs of different length (their difference: start-up cancels out).
# Runs against a private dbus-daemon; counts signals with dbus-monitor.
#   bench/publish_bench.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-pub}
secs=${2:-20}
source scripts/deps.sh
sb_install_deps
cmake --build "$build" --target sb_publish -j2 >/dev/null
SB_BIN=$PWD/$build
SB_DIR=$(mktemp -d /tmp/sb-pubbench-XXXXXX)
work=$SB_DIR
# shellcheck source=../scripts/demo/lib.sh
source scripts/demo/lib.sh
trap 'sb_demo_stop; rm -rf "$SB_DIR"' EXIT
cc -O2 -std=c11 -D_GNU_SOURCE -DSB_VERSION='"bench"' -I. bench/publish_bench.c \
  "$build"/publish/libsb_publish.a "$build"/charge/libsb_charge.a "$build"/bms/libsb_bms.a \
  "$build"/common/libsb_common.a $(pkg-config --cflags --libs dbus-1 libconfig) -lm -lpthread \
  -o "$work/publish_bench"
sb_start_bus
addr=$SB_BUS_ADDRESS

run() { # batteries mode(change|idle|bank)
  local n=$1 mode=$2 log="$work/mon.$1.$2" flags=""
  [ "$mode" = idle ] && flags=--idle
  [ "$mode" = bank ] && flags=--bank
  dbus-monitor --address "$addr" "type='signal',interface='com.victronenergy.BusItem'" >"$log" 2>/dev/null &
  local mon=$!
  sleep 1 # let the monitor attach before the first signal (a bench, not a test)
  local res
  res=$("$work/publish_bench" --address "$addr" --batteries "$n" --seconds "$secs" $flags)
  kill $mon; wait $mon 2>/dev/null || true
  local items props
  items=$(grep -c 'member=ItemsChanged' "$log" || true)
  props=$(grep -c 'member=PropertiesChanged' "$log" || true)
  local us rss hwm
  us=$(sed -n 's/.*us_per_battery_cycle=\([0-9.]*\).*/\1/p' <<<"$res")
  rss=$(sed -n 's/.*rss_kb=\([0-9]*\).*/\1/p' <<<"$res")
  hwm=$(sed -n 's/.*hwm_kb=\([0-9]*\).*/\1/p' <<<"$res")
  printf '| %2d | %-6s | %6d | %5d | %6.3f | %7s | %7s | %7s |\n' "$n" "$mode" "$items" "$props" \
    "$(awk "BEGIN {print $items / ($secs + 1) / $n}")" "$us" "$rss" "$hwm"
}
# instructions per battery-cycle: callgrind over SECONDS and 2 x SECONDS, the difference
instr() { # batteries mode
  local n=$1 mode=$2 flags="" a b
  [ "$mode" = idle ] && flags=--idle
  for s in "$secs" $((secs * 2)); do
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.$s" \
      "$work/publish_bench" --address "$addr" --batteries "$n" --seconds "$s" $flags \
      >/dev/null 2>"$work/cg.log"
  done
  a=$(sed -n 's/^summary: //p;s/^totals: //p' "$work/cg.$secs" | head -1)
  b=$(sed -n 's/^summary: //p;s/^totals: //p' "$work/cg.$((secs * 2))" | head -1)
  printf '| %2d | %-6s | %9.0f |\n' "$n" "$mode" "$(awk "BEGIN {print ($b - $a) / $secs / $n}")"
}
echo "publisher benchmark: ${secs}s per run, 1 s poll; change: values change every poll,"
echo "idle: only the poll counter moves; bank: values change, plus the aggregate service"
echo "| batteries | mode | ItemsChanged | PropertiesChanged | signals/battery/cycle | CPU us/battery/cycle | RSS kB | peak kB |"
echo "|---|---|---|---|---|---|---|---|"
for n in 1 4 16; do
  run "$n" change
  run "$n" idle
done
run 8 bank
if command -v valgrind >/dev/null && [ "${SB_CALLGRIND:-1}" != 0 ]; then
  echo
  echo "instructions per battery-cycle (callgrind, whole process; ${secs}s vs $((secs * 2))s)"
  echo "| batteries | mode | instructions |"
  echo "|---|---|---|"
  instr 1 change
  instr 16 change
  instr 16 idle
fi
