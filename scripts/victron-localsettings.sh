#!/usr/bin/env bash
# Fetches Victron's localsettings (the com.victronenergy.settings service of
# Venus OS) and the velib_python it runs on, at the commits our migration was
# tested against, into build-victron/ (once), and prints the path of its
# localsettings.py. test_migrate then runs against it (SB_LOCALSETTINGS)
# instead of the settings stand-in. Exit 1, printing nothing on stdout, when
# GitHub cannot be reached: the caller falls back to the stand-in.
#   scripts/victron-localsettings.sh [DIR]
# SB_LOCALSETTINGS_URL and SB_VELIB_URL name other clones (a local mirror).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-victron}
case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac
LOCALSETTINGS_COMMIT=3aac232f99b150f4db74d20abae3421bcdb72268 # 2026-04-16
VELIB_COMMIT=15da9cea69165e9b55df3e717af80bb94ede4c15         # its ext/velib_python

fetch() { # url commit dest
  local url=$1 commit=$2 dest=$3
  if [ "$(git -C "$dest" rev-parse HEAD 2>/dev/null || true)" = "$commit" ]; then
    return 0
  fi
  rm -rf "$dest"
  mkdir -p "$dest"
  git -C "$dest" init -q
  timeout "${SB_FETCH_TIMEOUT:-60}" git -C "$dest" -c http.lowSpeedLimit=1000 \
    -c http.lowSpeedTime=10 fetch -q --depth 1 "$url" "$commit" || { rm -rf "$dest"; return 1; }
  git -C "$dest" -c advice.detachedHead=false checkout -q FETCH_HEAD
}

fetch "${SB_LOCALSETTINGS_URL:-https://github.com/victronenergy/localsettings}" "$LOCALSETTINGS_COMMIT" \
  "$dir/localsettings" >&2 || exit 1
fetch "${SB_VELIB_URL:-https://github.com/victronenergy/velib_python}" "$VELIB_COMMIT" \
  "$dir/localsettings/ext/velib_python" >&2 || exit 1
echo "$dir/localsettings/localsettings.py"
