#!/bin/sh
# SPDX-License-Identifier: MIT
# `serialbattery plan` on a shipped scenario reproduces the committed output,
# and --plot writes a well-formed SVG. Regenerate an expected file after an
# intended behaviour change with:
#   serialbattery plan --scenario docs/scenarios/NAME.csv --out tests/charge/expected/NAME.csv
set -eu
name=$1
bin="$SB_BINARY_DIR/tools/serialbattery"
src="$SB_SOURCE_DIR"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" plan --scenario "$src/docs/scenarios/$name.csv" --out "$tmp/out.csv" --plot "$tmp/plot.svg"
diff -u "$src/tests/charge/expected/$name.csv" "$tmp/out.csv"
grep -q '^<svg ' "$tmp/plot.svg"
tail -n 1 "$tmp/plot.svg" | grep -q '^</svg>$'
# stdout without --out is the same text
"$bin" plan --scenario "$src/docs/scenarios/$name.csv" | cmp - "$tmp/out.csv"
# a bad scenario is an error, not a silent empty plan
printf 't,cell1\n1,abc\n' > "$tmp/bad.csv"
if "$bin" plan --scenario "$tmp/bad.csv" >/dev/null 2>&1; then
	echo "bad scenario accepted" >&2
	exit 1
fi
echo "plan $name: ok"
