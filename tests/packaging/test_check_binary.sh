#!/usr/bin/env bash
# scripts/check-binary.sh must reject what Venus OS v3.x cannot run and accept what it can.
#   tests/packaging/test_check_binary.sh HOST_SERIALBATTERYD
# The host build links Debian 12's glibc 2.36 (__libc_start_main@GLIBC_2.34) and
# libconfig.so: both must be reported. A static binary needs no versioned symbol
# and no library: it must pass.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
host_bin=${1:?usage: $0 HOST_SERIALBATTERYD}
check=$repo/scripts/check-binary.sh
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sb-test-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0 checks=0
expect() { # status, description, command...
  local want=$1 what=$2 got=0; shift 2
  checks=$((checks + 1))
  "$@" >"$tmp/out" 2>&1 || got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL: $what: exit $got, wanted $want" >&2; sed 's/^/  /' "$tmp/out" >&2
    failures=$((failures + 1))
  fi
}

expect 1 "host binary (glibc 2.36) rejected at 2.31" "$check" --max-glibc 2.31 "$host_bin"
checks=$((checks + 1))
grep -q 'needs GLIBC_2\.3[4-9]' "$tmp/out" || { echo "FAIL: no GLIBC_2.34+ reported" >&2; failures=$((failures + 1)); }
if readelf -d "$host_bin" | grep -q 'libconfig\.so'; then
  expect 1 "libconfig.so rejected" "$check" --max-glibc 9.99 "$host_bin"
  checks=$((checks + 1))
  grep -q 'needs libconfig' "$tmp/out" || { echo "FAIL: libconfig.so not reported" >&2; failures=$((failures + 1)); }
fi
expect 2 "a missing file is a usage error" "$check" "$tmp/nope"
printf 'not elf' >"$tmp/text"
expect 2 "a non-ELF file is a usage error" "$check" "$tmp/text"

printf 'int main(void){return 0;}\n' >"$tmp/s.c"
if cc -static -o "$tmp/static" "$tmp/s.c" 2>/dev/null; then
  expect 0 "a static binary passes" "$check" --max-glibc 2.31 "$tmp/static"
fi

echo "test_check_binary: $checks checks"
echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
