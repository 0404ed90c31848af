#!/usr/bin/env bash
# The main job with no hardware. Until the simulator and publisher exist it
# builds the daemon, starts it with the example config and shows it is alive.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
sb_install_deps
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" --target serialbatteryd serialbattery >/dev/null
build/supervisor/serialbatteryd --check-config serialbattery.conf
build/supervisor/serialbatteryd -c serialbattery.conf -v &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
sleep 1
if kill -0 $pid; then echo "serialbatteryd is running (pid $pid); Ctrl-C stops it"; fi
wait $pid
