#!/usr/bin/env bash
# Installs the Debian 12 packages serialbattery needs to build, test and demo.
# Idempotent and quiet when everything is present. Sourced or run by demo.sh and test.sh.
set -euo pipefail

SB_DEB_PACKAGES=(
  build-essential cmake pkg-config
  libdbus-1-dev libudev-dev libconfig-dev libcunit1-dev
  dbus-daemon python3-dbus python3-gi python3-lxml python3-psutil
  umockdev libumockdev-dev
  clang libclang-rt-14-dev clang-format-14
  udev
  valgrind # bench/worker_bench.sh: instructions per cycle (callgrind)
)

sb_missing_packages() {
  local p missing=()
  for p in "${SB_DEB_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  printf '%s\n' "${missing[@]}"
}

sb_install_deps() {
  local missing
  mapfile -t missing < <(sb_missing_packages "$@" | sed '/^$/d')
  [ "${#missing[@]}" -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  sb_install_deps "$@"
fi
