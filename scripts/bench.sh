#!/usr/bin/env bash
# The whole daemon's figures against the resource budget (a benchmark, not a test):
# 1, 4 and 16 simulated batteries at a 1 s poll for SECONDS (default 60) each:
# CPU per battery, peak resident memory, D-Bus messages per second, latency from
# the last reply byte to the ItemsChanged carrying it, start-to-service time;
# per thread CPU and wake-ups per poll cycle; the same figures for the floor
# program (bench/floor.c), run side by side with the daemon on packs of its own
# over the same window, and the ratio daemon/floor;
# then detection time and CPU per cycle per protocol (bench/worker_bench.sh).
# Replies are paced at the line rate (SB_BENCH_PACE=off: one write per reply).
# SB_DAEMON=path measures another daemon binary (e.g. a build of the base).
# Method and figures: docs/PERFORMANCE.md.
#   scripts/bench.sh [SECONDS] [BMS] [COUNTS]   (BMS: default jbd; COUNTS: "1 4 16")
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
bms=${2:-jbd}
counts=${3:-1 4 16}
source scripts/deps.sh
sb_install_deps
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" --target serialbatteryd serialbattery sb_bms sb_bms_sim >/dev/null

SB_BIN=$PWD/build
SB_DIR=$(mktemp -d /tmp/sb-bench.XXXXXX)
source scripts/demo/lib.sh
trap 'sb_demo_stop; rm -rf "$SB_DIR"' EXIT
cc -O2 -std=c11 -D_GNU_SOURCE -I. bench/e2e_bench.c build/bms/sim/libsb_bms_sim.a build/bms/libsb_bms.a \
  $(pkg-config --cflags --libs dbus-1) -o "$SB_DIR/e2e_bench"
cc -O2 -std=gnu11 -D_GNU_SOURCE -I. bench/floor.c build/bms/libsb_bms.a \
  $(pkg-config --cflags --libs dbus-1) -lpthread -o "$SB_DIR/floor"
daemon=${SB_DAEMON:-$SB_BIN/supervisor/serialbatteryd}
sb_start_bus

strip -o "$SB_DIR/serialbatteryd.stripped" "$SB_BIN/supervisor/serialbatteryd"
size "$SB_BIN/supervisor/serialbatteryd" | awk -v f="$(stat -c %s "$SB_DIR/serialbatteryd.stripped")" \
  'NR == 2 { printf "daemon binary: text %d, data %d, bss %d bytes; stripped file %d bytes\n", $1, $2, $3, f }'
echo "budget: < 3 MiB RSS for 1 battery, < 8 MiB for 16; < 0.006 % of a core per battery"
echo "        (~60 us per poll cycle); 1 D-Bus message per battery per cycle;"
echo "        start-to-service < 0.9 s; latency < 5 ms at the 99th percentile"
for n in $counts; do
  echo
  echo "== $n battery(ies), $bms, 1 s poll, $secs s"
  mkdir -p "$SB_DIR/run$n"
  "$SB_DIR/e2e_bench" "$daemon" "$SB_BUS_ADDRESS" "$SB_DIR/run$n" \
    "$bms" "$n" "$secs" 1 "$SB_DIR/floor"
done
echo
[ -n "${SB_NO_WORKER_BENCH:-}" ] && exit 0
echo "== detection time and CPU per cycle per protocol (no hints)"
BUILD_DIR=build bench/worker_bench.sh 10
