#!/usr/bin/env bash
# serialbatteryd's config handling seen from outside: a bad config names file,
# line and key and exits 2 before starting; a good one passes; --dump-config
# output loads back.
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

printf 'daemon = {\n  colour = "blue";\n};\n' > "$tmp/unknown.conf"
out=$("$bin" --check-config "$tmp/unknown.conf" 2>&1) || fail "unknown key must only warn: $out"
grep -q "unknown.conf:2: unknown key 'daemon.colour' ignored" <<<"$out" || fail "unknown message: $out"

"$bin" -c "$tmp/unknown.conf" --dump-config > "$tmp/dump.conf"
out=$("$bin" --check-config "$tmp/dump.conf" 2>&1) || fail "dump does not load back: $out"
grep -q "warn" <<<"$out" && fail "dump has unknown keys: $out"
echo "cli_config: ok"
