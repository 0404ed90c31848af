#!/usr/bin/env bash
# serialbatteryd's config handling seen from outside: a bad config names file,
# line and key and exits 2 before starting (unknown keys and integers that do
# not fit included); a good one passes; --dump-config output loads back.
set -euo pipefail
bin="$1/supervisor/serialbatteryd"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

printf 'daemon = {\n  log_level = "info";\n  max_batteries = 500;\n};\n' > "$tmp/range.conf"
set +e
out=$("$bin" --check-config "$tmp/range.conf" 2>&1); rc=$?
set -e
[ "$rc" -eq 2 ] || fail "out of range: exit $rc, want 2"
grep -q "$tmp/range.conf:3: daemon.max_batteries: value 500 out of range" <<<"$out" || fail "range message: $out"

printf 'daemon = {\n  syslog = "yes";\n};\n' > "$tmp/type.conf"
set +e; out=$("$bin" -c "$tmp/type.conf" 2>&1); rc=$?; set -e
[ "$rc" -eq 2 ] || fail "bad type: exit $rc"
grep -q "type.conf:2: daemon.syslog: expected true or false" <<<"$out" || fail "type message: $out"

set +e; out=$("$bin" -c "$tmp/missing.conf" 2>&1); rc=$?; set -e
[ "$rc" -eq 2 ] || fail "missing file: exit $rc"
grep -q "missing.conf: cannot open" <<<"$out" || fail "missing message: $out"

printf 'daemon = {\n  log_level = "info"\n' > "$tmp/syntax.conf"
set +e; out=$("$bin" --check-config "$tmp/syntax.conf" 2>&1); rc=$?; set -e
[ "$rc" -eq 2 ] || fail "syntax: exit $rc"
grep -q "syntax.conf:[0-9]*: syntax error" <<<"$out" || fail "syntax message: $out"

# A misspelt key is refused, by --check-config and by the daemon itself, with
# the key it was probably meant to be; left alone it would run the default
# (50 A here instead of the 10 A the owner wrote).
printf 'charge = {\n  max_cell_voltage = 3.45;\n  max_charge_curent = 10.0;\n};\n' > "$tmp/typo.conf"
set +e; out=$("$bin" --check-config "$tmp/typo.conf" 2>&1); rc=$?; set -e
[ "$rc" -eq 2 ] || fail "misspelt key: exit $rc, want 2: $out"
grep -qF "$tmp/typo.conf:3: charge.max_charge_curent: unknown, did you mean 'max_charge_current'?" <<<"$out" ||
  fail "misspelt key message: $out"
set +e; out=$("$bin" -c "$tmp/typo.conf" --no-udev --bus-address unix:path=/nonexistent 2>&1); rc=$?; set -e
[ "$rc" -eq 2 ] || fail "daemon start with a misspelt key: exit $rc, want 2: $out"
grep -qF "typo.conf:3: charge.max_charge_curent: unknown, did you mean" <<<"$out" ||
  fail "daemon start message: $out"

printf 'daemon = {\n  colour = "blue";\n};\n' > "$tmp/unknown.conf"
set +e; out=$("$bin" --check-config "$tmp/unknown.conf" 2>&1); rc=$?; set -e
[ "$rc" -eq 2 ] || fail "unknown key: exit $rc, want 2"
grep -qF "unknown.conf:2: daemon.colour: unknown" <<<"$out" || fail "unknown message: $out"

# Integers beyond 32 bits: libconfig would wrap 4294967297 to 1 (in range).
printf 'daemon = {\n  max_batteries = 4294967297;\n};\n' > "$tmp/wrap.conf"
set +e; out=$("$bin" --check-config "$tmp/wrap.conf" 2>&1); rc=$?; set -e
[ "$rc" -eq 2 ] || fail "wrapped integer: exit $rc, want 2: $out"
grep -qF "wrap.conf:2: daemon.max_batteries: value 4294967297 out of range [1, 64]" <<<"$out" ||
  fail "wrapped integer message: $out"
printf 'serial = {\n  ports = ( { path = "/dev/ttyUSB0";\n    addresses = [1,\n      4294967298]; } );\n};\n' > "$tmp/wrapl.conf"
set +e; out=$("$bin" --check-config "$tmp/wrapl.conf" 2>&1); rc=$?; set -e
[ "$rc" -eq 2 ] || fail "wrapped list entry: exit $rc, want 2: $out"
grep -qF "wrapl.conf:4: serial.ports[0].addresses[1]: value 4294967298 out of range" <<<"$out" ||
  fail "wrapped list entry message: $out"
printf 'serial = {\n  redetect_after = 99999999999999999999;\n};\n' > "$tmp/huge.conf"
set +e; out=$("$bin" --check-config "$tmp/huge.conf" 2>&1); rc=$?; set -e
[ "$rc" -eq 2 ] || fail "64-bit overflow: exit $rc, want 2: $out"
grep -qF "huge.conf:2: serial.redetect_after: value does not fit in 64 bits" <<<"$out" ||
  fail "64-bit overflow message: $out"

# A cross-key error names the line of the key, here inside a list element.
printf 'serial = {\n  ports = (\n    { path = "/dev/ttyUSB0"; },\n    { path = "/dev/ttyUSB1";\n      bms = "nosuch"; }\n  );\n};\n' > "$tmp/cross.conf"
set +e; out=$("$bin" --check-config "$tmp/cross.conf" 2>&1); rc=$?; set -e
[ "$rc" -eq 2 ] || fail "cross-key: exit $rc, want 2: $out"
grep -qF "cross.conf:5: serial.ports[1].bms: unknown driver 'nosuch'" <<<"$out" ||
  fail "cross-key message: $out"

printf 'daemon = {\n  max_batteries = 4;\n};\n' > "$tmp/good.conf"
"$bin" -c "$tmp/good.conf" --dump-config > "$tmp/dump.conf"
out=$("$bin" --check-config "$tmp/dump.conf" 2>&1) || fail "dump does not load back: $out"
echo "cli_config: ok"
