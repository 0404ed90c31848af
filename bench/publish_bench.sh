#!/usr/bin/env bash
# Publisher benchmark: D-Bus signals per second for 1 and 8 batteries at a 1 s
# poll with every value changing each poll, and the publisher's CPU and memory.
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

run() { # batteries bank
  local n=$1 bank=$2 log="$work/mon.$1.$2"
  dbus-monitor --address "$addr" "type='signal',interface='com.victronenergy.BusItem'" >"$log" 2>/dev/null &
  local mon=$!
  sleep 1 # let the monitor attach before the first signal (a bench, not a test)
  local res
  res=$("$work/publish_bench" --address "$addr" --batteries "$n" --seconds "$secs" $bank)
  kill $mon; wait $mon 2>/dev/null || true
  local items props
  items=$(grep -c 'member=ItemsChanged' "$log" || true)
  props=$(grep -c 'member=PropertiesChanged' "$log" || true)
  local cpu rss hwm
  cpu=$(sed -n 's/.*cpu_pct=\([0-9.]*\).*/\1/p' <<<"$res")
  rss=$(sed -n 's/.*rss_kb=\([0-9]*\).*/\1/p' <<<"$res")
  hwm=$(sed -n 's/.*hwm_kb=\([0-9]*\).*/\1/p' <<<"$res")
  printf '| %2d | %-9s | %6d | %5d | %8.2f | %8.2f | %6s | %7s | %7s |\n' "$n" \
    "${bank:-(none)}" "$items" "$props" "$(awk "BEGIN {print $items / $secs}")" \
    "$(awk "BEGIN {print $items / $secs / $n}")" "$cpu" "$rss" "$hwm"
}
echo "publisher benchmark: ${secs}s per run, 1 s poll, values change every poll"
echo "| batteries | aggregate | ItemsChanged | PropertiesChanged | msgs/s | msgs/s/battery | CPU % | RSS kB | peak kB |"
echo "|---|---|---|---|---|---|---|---|---|"
run 1 ""
run 8 ""
run 8 --bank
