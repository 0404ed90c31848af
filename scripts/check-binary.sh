#!/usr/bin/env bash
# Fails when an ELF binary would not start on every Venus OS release from v3.x on:
#   - it needs a GLIBC_x.y symbol version newer than --max-glibc (default 2.31,
#     the glibc of Venus OS up to v3.5x; v3.60+ has 2.39), or
#   - it needs a shared library that Venus OS does not ship (allowed: the glibc
#     family, the dynamic loader, libgcc_s, libdbus-1, libudev).
# Usage: scripts/check-binary.sh [--max-glibc 2.31] [--quiet] FILE...
# Works for any ELF architecture (binutils' readelf reads them all).
set -euo pipefail

max=2.31
quiet=0
allowed_re='^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|librt\.so\.1|libdl\.so\.2|libgcc_s\.so\.1|libdbus-1\.so\.3|libudev\.so\.1|ld-linux[-a-z0-9_]*\.so\.[0-9]+)$'

die() { echo "check-binary: $*" >&2; exit 2; }
files=()
while [ $# -gt 0 ]; do
  case $1 in
    --max-glibc) [ $# -ge 2 ] || die "--max-glibc needs a version"; max=$2; shift 2 ;;
    --quiet) quiet=1; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) files+=("$1"); shift ;;
  esac
done
[ "${#files[@]}" -gt 0 ] || die "no file given"
command -v readelf >/dev/null || die "readelf not found (apt-get install binutils)"

# version_gt A B: true when A > B (dotted numeric).
version_gt() { [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -n1)" = "$1" ]; }

bad=0
for f in "${files[@]}"; do
  [ -f "$f" ] || die "$f: no such file"
  readelf -h "$f" >/dev/null 2>&1 || die "$f: not an ELF file"
  interp=$(readelf -l "$f" | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]/\1/p')
  needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  # GLIBC versions from the version-needs section (what the loader checks).
  glibc=$(readelf -V "$f" | sed -n 's/.*Name: GLIBC_\([0-9.]*\).*/\1/p' | sort -uV)
  newest=$(printf '%s\n' "$glibc" | sed '/^$/d' | tail -n1)
  for lib in $needed; do
    if ! [[ $lib =~ $allowed_re ]]; then
      echo "check-binary: $f: needs $lib, which Venus OS does not ship" >&2
      bad=1
    fi
  done
  for v in $glibc; do
    if version_gt "$v" "$max"; then
      syms=$(readelf --dyn-syms -W "$f" | awk -v v="@GLIBC_$v" 'index($8, v) {print $8}' | head -n5 | tr '\n' ' ')
      echo "check-binary: $f: needs GLIBC_$v > $max (${syms:-symbols not listed})" >&2
      bad=1
    fi
  done
  if [ "$quiet" -eq 0 ]; then
    echo "$f: interpreter ${interp:-none}; needs $(echo $needed | tr ' ' ','); newest GLIBC_${newest:-none} (max $max)"
  fi
done
exit "$bad"
