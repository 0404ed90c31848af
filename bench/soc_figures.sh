#!/usr/bin/env bash
# The SOC figures of issue 17: SOC error at the end of test_soc's scripted 24 h
# day for soc_source "bms" (the BMS's own, drifting) and "coulomb" (the
# daemon's count, with and without the current correction table).
#   bench/soc_figures.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake -S . -B "$build" >/dev/null
cmake --build "$build" --target test_soc -j2 >/dev/null
"$build"/tests/charge/test_soc | sed -n 's/^figure: //p'
