#!/usr/bin/env bash
# Worker figures (not a test): detection time per family with no hints
# (median of N runs of `serialbattery probe`), the computed wire time of the
# matching exchange at the family's default baud, CPU time per poll cycle and
# the worker's resident memory; wake-ups (context switches) and the transport's
# counters per cycle; the same cycles by the floor program (bench/floor.c) on the
# same simulator and the ratio worker/floor; with valgrind installed, callgrind's
# instructions per cycle for both (SB_CALLGRIND=0 skips it). The simulator paces
# its replies at the line rate (SB_BENCH_PACE=off: one write per reply; or a
# byte count per write). Method: docs/PERFORMANCE.md.
# Usage: BUILD_DIR=build-worker bench/worker_bench.sh [N]
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
pace=${SB_BENCH_PACE:-line}
start_sim() { sb_start_sim tty "$@" --pace "$pace"; }
stop_sim() { sb_demo_stop; rm -f "$tmp/tty" "$tmp/sim-tty.out"; }

gcc -O2 -std=gnu11 -D_GNU_SOURCE -I. bench/worker_bench.c \
  "$build"/worker/libsb_worker.a "$build"/bms/libsb_bms.a "$build"/common/libsb_common.a \
  -lconfig -lpthread -o "$tmp/worker_bench"
gcc -O2 -g -std=gnu11 -D_GNU_SOURCE -I. bench/floor.c "$build"/bms/libsb_bms.a \
  $(pkg-config --cflags --libs dbus-1) -lpthread -o "$tmp/floor"
callgrind=
if [ "${SB_CALLGRIND:-1}" != 0 ] && command -v valgrind >/dev/null; then callgrind=1; fi
# instructions per cycle inside FUNCTION: callgrind_ir FUNCTION CYCLES command...
callgrind_ir() {
  local fn=$1 cycles=$2; shift 2
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" --toggle-collect="$fn*" \
    "$@" >/dev/null 2>&1 || return 0
  { callgrind_annotate "$tmp/cg.out" 2>/dev/null || true; } |
    awk -v c="$cycles" '/PROGRAM TOTALS/ { gsub(",", "", $1); printf "%.0f", $1 / c; exit }'
}

# An opt-in driver (BMS_F_OPT_IN) is never probed unasked: its detection is
# timed with the port naming it. A pty cannot carry 8E1 (tcsetattr refuses a
# parity setting that does not take), so such a family is left out here.
opt_in() { grep -q '\.flags = .*BMS_F_OPT_IN' "bms/$1.c" 2>/dev/null; }
on_pty() { ! grep -q 'BMS_8E1}' "bms/$1.c" 2>/dev/null; }
fams=
for fam in $families; do
  if on_pty "$fam"; then fams="$fams $fam"; else echo "$fam: left out (8E1: a pty cannot carry it)"; fi
done
families=$fams

echo "== detection with no hints (opt-in families: named), median of $n (replies paced: $pace) =="
for fam in $families; do
  start_sim "$fam"
  hint=()
  if opt_in "$fam"; then hint=(--bms "$fam"); fi
  times=()
  for _ in $(seq "$n"); do
    t=$("$tool" probe "$tmp/tty" "${hint[@]}" --json | sed -n 's/.*"time_ms":\([0-9]*\).*/\1/p')
    times+=("${t:-NA}")
  done
  proto=$("$tool" probe "$tmp/tty" "${hint[@]}" --json | sed -n 's/.*"protocol":"\([a-z0-9_]*\)".*"candidates":\([0-9]*\).*/\1 after \2 candidates/p')
  [ ${#hint[@]} -eq 0 ] || proto="$proto (named: opt-in)"
  med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$fam: median ${med} ms (runs: ${times[*]}) -> $proto"
  stop_sim
done

echo "== per poll cycle: CPU, wake-ups, transport counters, worker memory; floor; replies paced: $pace =="
cycles=50
for fam in $families; do
  start_sim "$fam"
  w=$("$tmp/worker_bench" "$tmp/tty" "$fam" $cycles)
  echo "$w"
  f=$("$tmp/floor" --bms "$fam" --interval-ms 0 --cycles $cycles "$tmp/tty" | sed 's/^floor //')
  echo "floor $f"
  wc=$(sed -n 's/.*CPU \([0-9.]*\) us\/cycle.*/\1/p' <<<"$w")
  fc=$(sed -n 's/.*CPU \([0-9.]*\) us\/cycle.*/\1/p' <<<"$f")
  line="ratio $fam worker/floor: $(awk -v a="$wc" -v b="$fc" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "NA" }')"
  if [ -n "$callgrind" ]; then
    # the measured cycles only (not detection, not the first cycle that learns)
    wi=$(callgrind_ir measured_cycles 10 "$tmp/worker_bench" "$tmp/tty" "$fam" 10)
    fl=$(callgrind_ir measured_cycle 10 "$tmp/floor" --bms "$fam" --interval-ms 0 --cycles 10 "$tmp/tty")
    line="$line; callgrind instructions/cycle: worker ${wi:-NA}, floor ${fl:-NA}"
  fi
  echo "$line"
  stop_sim
done
