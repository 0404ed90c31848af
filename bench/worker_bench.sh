#!/usr/bin/env bash
# Worker figures (not a test): detection time per family with no hints
# (median of N runs of `serialbattery probe`), the computed wire time of the
# matching exchange at the family's default baud, CPU time per poll cycle and
# the worker's resident memory. Usage: BUILD_DIR=build-worker bench/worker_bench.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-worker}
n=${1:-10}
# every family with a simulator, in detection order (SB_FAMILIES narrows it)
families=${SB_FAMILIES:-$(sed -n 's/^\tX(\([a-z0-9_]*\)).*/\1/p' bms/sim/registry.c | tr '\n' ' ')}
tool=$build/tools/serialbattery
SB_BIN=$PWD/$build
SB_DIR=$(mktemp -d /tmp/sbw-bench-XXXXXX)
tmp=$SB_DIR
# shellcheck source=../scripts/demo/lib.sh
source scripts/demo/lib.sh
trap 'sb_demo_stop; rm -rf "$SB_DIR"' EXIT
# one simulator at a time, its link at $tmp/tty
start_sim() { sb_start_sim tty "$@"; }
stop_sim() { sb_demo_stop; rm -f "$tmp/tty" "$tmp/sim-tty.out"; }

gcc -O2 -std=gnu11 -D_GNU_SOURCE -I. bench/worker_bench.c \
  "$build"/worker/libsb_worker.a "$build"/bms/libsb_bms.a "$build"/common/libsb_common.a \
  -lconfig -lpthread -o "$tmp/worker_bench"

echo "== detection with no hints, median of $n (pty: no baud delay) =="
for fam in $families; do
  start_sim "$fam"
  times=()
  for _ in $(seq "$n"); do
    t=$("$tool" probe "$tmp/tty" --json | sed -n 's/.*"time_ms":\([0-9]*\).*/\1/p')
    times+=("${t:-NA}")
  done
  proto=$("$tool" probe "$tmp/tty" --json | sed -n 's/.*"protocol":"\([a-z0-9_]*\)".*"candidates":\([0-9]*\).*/\1 after \2 candidates/p')
  med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$fam: median ${med} ms (runs: ${times[*]}) -> $proto"
  stop_sim
done

echo "== CPU per poll cycle and worker memory =="
for fam in $families; do
  start_sim "$fam"
  "$tmp/worker_bench" "$tmp/tty" "$fam" 50
  stop_sim
done
