#!/usr/bin/env bash
# Regenerates serialbattery.conf and the reference part of docs/CONFIG.md from
# the config table (a test fails when they differ from what the table says).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
cmake -S . -B "$build" >/dev/null
cmake --build "$build" --target serialbatteryd -j"$(nproc)" >/dev/null
{
  echo "# serialbattery example configuration (libconfig syntax)."
  echo "# Every key with its default; generated from the config table by"
  echo "# scripts/gen-config-docs.sh. Copy it to /etc/serialbattery/serialbattery.conf"
  echo "# (Venus OS: /data/etc/serialbattery/serialbattery.conf) and change what you need."
  echo
  "$build"/supervisor/serialbatteryd --dump-config-doc
} > serialbattery.conf
md=docs/CONFIG.md
head=$(sed '/<!-- generated: do not edit below -->/q' "$md")
{
  printf '%s\n\n' "$head"
  "$build"/supervisor/serialbatteryd --config-markdown
} > "$md.tmp"
mv "$md.tmp" "$md"
echo "regenerated serialbattery.conf and $md"
