#!/usr/bin/env bash
# Worker figures (not a test): detection time per family with no hints
# (median of N runs of `serialbattery probe`), the computed wire time of the
# matching exchange at the family's default baud, CPU time per poll cycle and
# the worker's resident memory. Usage: BUILD_DIR=build-worker bench/worker_bench.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-worker}
n=${1:-10}
tool=$build/tools/serialbattery
tmp=$(mktemp -d /tmp/sbw-bench-XXXXXX)
trap 'kill $sim 2>/dev/null || true; rm -rf "$tmp"' EXIT
sim=
start_sim() { # bms [args...]
  rm -f "$tmp/tty"
  "$tool" simulate --bms "$@" --link "$tmp/tty" >"$tmp/sim.out" 2>/dev/null &
  sim=$!
  for _ in $(seq 200); do grep -q ready "$tmp/sim.out" 2>/dev/null && return 0; sleep 0.05; done
  echo "simulator did not start" >&2; exit 1
}
stop_sim() { kill "$sim" 2>/dev/null || true; wait "$sim" 2>/dev/null || true; }

gcc -O2 -std=gnu11 -D_GNU_SOURCE -I. bench/worker_bench.c \
  "$build"/worker/libsb_worker.a "$build"/bms/libsb_bms.a "$build"/common/libsb_common.a \
  -lconfig -lpthread -o "$tmp/worker_bench"

echo "== detection with no hints, median of $n (pty: no baud delay) =="
for fam in jk jkpb jbd daly; do
  start_sim "$fam"
  times=()
  for _ in $(seq "$n"); do
    t=$("$tool" probe "$tmp/tty" --json | sed -n 's/.*"time_ms":\([0-9]*\).*/\1/p')
    times+=("${t:-NA}")
  done
  proto=$("$tool" probe "$tmp/tty" --json | sed -n 's/.*"protocol":"\([a-z]*\)".*"candidates":\([0-9]*\).*/\1 after \2 candidates/p')
  med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$fam: median ${med} ms (runs: ${times[*]}) -> $proto"
  stop_sim
done

echo "== CPU per poll cycle and worker memory =="
for fam in jk jkpb jbd daly; do
  start_sim "$fam"
  "$tmp/worker_bench" "$tmp/tty" "$fam" 50
  stop_sim
done
