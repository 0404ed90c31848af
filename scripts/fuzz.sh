#!/usr/bin/env bash
# Builds the libFuzzer harness (clang, ASan+UBSan) in build-fuzz and fuzzes
# every registered BMS driver for SECONDS each (default 30), starting from the
# seeds generated from tests/vectors/<driver>.json (and tests/fuzz/regressions/).
# New inputs go to
# build-fuzz/corpus/<driver>/ (the tree's corpus is not modified); a crash
# leaves build-fuzz/crash-* and fails the script. Prints executions per
# second and total executions per driver.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
jobs=${SB_FUZZ_JOBS:-2}

# shellcheck source=deps.sh
source scripts/deps.sh
sb_install_deps

cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DSB_FUZZ=ON -DSB_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_drivers sb_vectors >/dev/null
bin=build-fuzz/tests/fuzz/fuzz_drivers

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for drv in $(SB_FUZZ_LIST=1 "$bin"); do
  work=build-fuzz/corpus/$drv
  mkdir -p "$work"
  seeds=build-fuzz/tests/fuzz/corpus/$drv
  [ -d "$seeds" ] || seeds=
  regs=tests/fuzz/regressions/$drv
  [ -d "$regs" ] || regs=
  kept=tests/fuzz/corpus/$drv # the families without captures
  [ -d "$kept" ] || kept=
  log=build-fuzz/fuzz-$drv.log
  if SB_FUZZ_DRIVER=$drv "$bin" -max_total_time="$seconds" -max_len=4096 \
      -print_final_stats=1 -artifact_prefix=build-fuzz/ "$work" $seeds $regs $kept >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    status=1
    tail -n 30 "$log"
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  printf 'fuzz %-6s %4ss  %10s execs  %8s execs/s  %s\n' "$drv" "$seconds" "${execs:-?}" "${rate:-?}" "$result"
done
exit $status
