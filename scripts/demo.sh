#!/usr/bin/env bash
# The main job with no hardware: a private dbus-daemon, two simulated BMSes on
# pseudo-terminals (a JK PB pack charging towards full, a JBD pack with one cell
# running high), the real serialbatteryd claiming both ports and presenting them
# as one bank, and `serialbattery status --watch` showing it live.
# Ctrl-C stops everything it started. `scripts/demo.sh --duration N` stops after N s.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=""
if [ "${1:-}" = "--duration" ]; then duration=${2:?seconds}; fi

# shellcheck source=deps.sh
source scripts/deps.sh
sb_install_deps
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" --target serialbatteryd serialbattery >/dev/null

SB_BIN=$PWD/build
SB_DIR=$(mktemp -d /tmp/serialbattery-demo.XXXXXX)
# shellcheck source=demo/lib.sh
source scripts/demo/lib.sh
cleanup() {
  sb_demo_stop
  rm -rf "$SB_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sb_start_bus
sb_start_sim jkpb jkpb --state scripts/demo/jkpb-charging.json
sb_start_sim jbd jbd --state scripts/demo/jbd-high-cell.json
sb_render_conf scripts/demo/demo.conf.in "$SB_DIR/demo.conf"
sb_start_daemon "$SB_DIR/demo.conf"

echo "private bus:  $SB_BUS_ADDRESS"
echo "simulators:   $SB_DIR/jkpb (JK PB, charging)  $SB_DIR/jbd (JBD, cell 7 running high)"
echo "daemon log:   $SB_DIR/daemon.log (pid $SB_DAEMON_PID)"
echo "watch it yourself: build/tools/serialbattery status --bus-address '$SB_BUS_ADDRESS' --watch"
echo
status=("$SB_BIN/tools/serialbattery" status --bus-address "$SB_BUS_ADDRESS" --watch)
if [ -n "$duration" ]; then
  timeout --foreground "$duration" "${status[@]}" || true
  echo
  echo "final state:"
  "$SB_BIN/tools/serialbattery" status --bus-address "$SB_BUS_ADDRESS"
else
  "${status[@]}"
fi
