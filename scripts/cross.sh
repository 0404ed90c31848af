#!/usr/bin/env bash
# Release cross build for Venus OS GX devices and other ARM Linux boards.
#
#   scripts/cross.sh armhf|arm64 [--test] [--no-package] [--jobs N]
#
# 1. installs Debian 12's cross compiler (gcc-arm-linux-gnueabihf or
#    gcc-aarch64-linux-gnu) and qemu-user;
# 2. makes a Debian bullseye sysroot (glibc 2.31, the oldest glibc on Venus OS
#    v3.x) in build-cross-sysroot/bullseye-<arch> (once; SB_SYSROOT overrides);
# 3. builds in build-cross-<arch> (Release, libconfig linked statically,
#    libdbus-1 and libudev dynamically);
# 4. fails when a binary needs a GLIBC symbol newer than 2.31 or a shared
#    library Venus OS does not ship (scripts/check-binary.sh);
# 5. --test: runs the unit tests under qemu-user (scripts/qemu-test.sh);
# 6. writes out/serialbattery-<version>-<arch>.tar.gz (binaries, example
#    config, daemontools service, udev rules, systemd files, install.sh,
#    uninstall.sh, docs).
#
# Why apt + dpkg-deb rather than debootstrap: the sysroot only needs headers and
# libraries to link against, not a bootable system. apt (with a private state
# directory) resolves the -dev packages' dependencies from the bullseye index and
# downloads about 40 packages; dpkg-deb -x unpacks them. No chroot, no qemu second
# stage, no root needed for that part, and the package list is the one below.
#
# Mirrors: SB_DEBIAN_MIRROR if set, else the host's Debian mirror (from
# /etc/apt/sources.list*), else archive.debian.org (where bullseye moves when it
# leaves the main mirror). The first that serves bullseye wins.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

die() { echo "cross.sh: $*" >&2; exit 1; }
usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; }

arch=""
run_tests=0
package=1
jobs=2
while [ $# -gt 0 ]; do
  case $1 in
    armhf|arm64) arch=$1; shift ;;
    --test) run_tests=1; shift ;;
    --no-package) package=0; shift ;;
    --jobs|-j) [ $# -ge 2 ] || die "$1 needs a number"; jobs=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
[ -n "$arch" ] || { usage >&2; die "name an architecture: armhf or arm64"; }

case $arch in
  armhf) triple=arm-linux-gnueabihf; qemu="qemu-arm" ;;
  arm64) triple=aarch64-linux-gnu; qemu="qemu-aarch64" ;;
esac

# ---- host packages -------------------------------------------------------------
# shellcheck source=deps.sh
source scripts/deps.sh
sb_install_deps "gcc-$triple" "binutils-$triple" qemu-user binutils apt dpkg

# ---- sysroot ---------------------------------------------------------------------
SYSROOT_PACKAGES=(libc6-dev libdbus-1-dev libudev-dev libconfig-dev libcunit1-dev)
sysroot=${SB_SYSROOT:-$repo/build-cross-sysroot/bullseye-$arch}
stamp="$sysroot/.sb-sysroot"
want_stamp="bullseye $arch ${SYSROOT_PACKAGES[*]}"

mirror_candidates() {
  if [ -n "${SB_DEBIAN_MIRROR:-}" ]; then
    echo "$SB_DEBIAN_MIRROR|${SB_DEBIAN_SECURITY_MIRROR:-}"
    return
  fi
  local host
  host=$(grep -rhoE 'https?://[^ ]*/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
         | head -n1 | tr -d ' ' | sed 's:/*$::') || true
  [ -n "$host" ] && echo "$host|${host%/debian}/debian-security"
  echo "http://deb.debian.org/debian|http://deb.debian.org/debian-security"
  echo "http://archive.debian.org/debian|http://archive.debian.org/debian-security"
}

make_sysroot() {
  local aptdir="$sysroot.apt" m sec ok=0
  rm -rf "$sysroot" "$aptdir"
  mkdir -p "$aptdir"/{lists/partial,archives/partial,etc/apt.conf.d,etc/preferences.d,etc/sources.list.d}
  : >"$aptdir/status"
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -f "$keyring" ] || die "$keyring missing (apt-get install debian-archive-keyring)"
  local opts=(
    -o "Dir::State=$aptdir" -o "Dir::State::Lists=$aptdir/lists" -o "Dir::State::status=$aptdir/status"
    -o "Dir::Cache=$aptdir" -o "Dir::Cache::archives=$aptdir/archives"
    -o "Dir::Etc::SourceList=$aptdir/sources.list" -o "Dir::Etc::SourceParts=$aptdir/etc/sources.list.d"
    -o "Dir::Etc::Preferences=$aptdir/preferences" -o "Dir::Etc::PreferencesParts=$aptdir/etc/preferences.d"
    -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch"
    -o "APT::Install-Recommends=false" -o "APT::Get::AllowUnauthenticated=false"
    -o "Acquire::Languages=none" -o "Debug::NoLocking=true"
  )
  # fetch SOURCES_LINES: index update and package download from one source set.
  fetch() {
    printf '%s\n' "$@" >"$aptdir/sources.list"
    rm -rf "$aptdir/lists" "$aptdir/archives"
    mkdir -p "$aptdir/lists/partial" "$aptdir/archives/partial"
    # archive.debian.org's Release files are past their Valid-Until date.
    apt-get "${opts[@]}" -o Acquire::Check-Valid-Until=false -q update --error-on=any \
      >"$aptdir/fetch.log" 2>&1 || return 1
    apt-get "${opts[@]}" -q -y --download-only install "${SYSROOT_PACKAGES[@]}" \
      >>"$aptdir/fetch.log" 2>&1
  }
  while IFS='|' read -r m sec; do
    [ -n "$m" ] || continue
    main_src="deb [arch=$arch signed-by=$keyring] $m bullseye main"
    sec_src="deb [arch=$arch signed-by=$keyring] $sec bullseye-security main"
    echo "cross.sh: fetching ${SYSROOT_PACKAGES[*]} ($arch, bullseye) from $m" >&2
    if [ -n "$sec" ] && fetch "$main_src" "$sec_src"; then ok=1; break; fi
    # A mirror may serve bullseye but not (all of) bullseye-security: the point
    # release alone is fine for headers and link stubs.
    if fetch "$main_src"; then ok=1; break; fi
    grep -E '^(E|W):' "$aptdir/fetch.log" | head -n3 | sed 's/^/    /' >&2 || true
  done < <(mirror_candidates | awk '!seen[$0]++')
  [ "$ok" -eq 1 ] || die "no mirror serves Debian bullseye for $arch (set SB_DEBIAN_MIRROR); see $aptdir/fetch.log"
  local deb n=0
  mkdir -p "$sysroot"
  for deb in "$aptdir"/archives/*.deb; do
    dpkg-deb -x "$deb" "$sysroot"
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || die "no package downloaded"
  # Absolute symlinks (libfoo.so -> /lib/<triple>/libfoo.so.1) would point into the
  # host: make them relative to the sysroot.
  local link target rel
  while IFS= read -r -d '' link; do
    target=$(readlink "$link")
    case $target in
      /*) rel=$(realpath -m --relative-to="$(dirname "$link")" "$sysroot$target")
          ln -sfn "$rel" "$link" ;;
    esac
  done < <(find "$sysroot" -type l -print0)
  # The static libconfig is what SB_STATIC_LIBCONFIG links.
  [ -f "$sysroot/usr/lib/$triple/libconfig.a" ] || die "libconfig.a missing from the sysroot"
  ls "$aptdir"/archives/*.deb | sed 's:.*/::' >"$sysroot/.sb-packages"
  rm -rf "$aptdir/archives" "$aptdir/lists"
  echo "$want_stamp" >"$stamp"
  echo "cross.sh: sysroot ready: $sysroot ($n packages)" >&2
}

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want_stamp" ]; then
  make_sysroot
fi
glibc_in_sysroot=$(ls "$sysroot/lib/$triple/" | sed -n 's/^libc-\([0-9.]*\)\.so$/\1/p' | head -n1)
echo "cross.sh: sysroot $sysroot (glibc ${glibc_in_sysroot:-?})" >&2

# ---- build -----------------------------------------------------------------------
# -O2, not CMake's Release -O3: smaller binaries for the GX's flash, and Debian 12's
# aarch64 gcc 12.2 hits an internal compiler error in the -O3 vectorizer
# (vect_transform_reduction) on tests/charge/test_charge.c.
builddir=$repo/build-cross-$arch
tests=OFF
[ "$run_tests" -eq 1 ] && tests=ON
# The toolchain file only seeds the cache: start afresh when it changed.
if [ "$builddir/CMakeCache.txt" -ot cmake/toolchain-debian-cross.cmake ]; then
  rm -f "$builddir/CMakeCache.txt"
fi
cmake -S . -B "$builddir" \
  -DCMAKE_TOOLCHAIN_FILE="$repo/cmake/toolchain-debian-cross.cmake" \
  -DSB_CROSS_ARCH="$arch" -DSB_SYSROOT="$sysroot" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DSB_STATIC_LIBCONFIG=ON -DSB_TESTS="$tests" \
  -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$builddir" -j"$jobs"

bins=("$builddir/supervisor/serialbatteryd" "$builddir/tools/serialbattery")
for b in "${bins[@]}"; do [ -x "$b" ] || die "$b was not built"; done
echo "== binary check ($arch)"
scripts/check-binary.sh --max-glibc 2.31 "${bins[@]}"

if [ "$run_tests" -eq 1 ]; then
  echo "== unit tests under $qemu"
  scripts/qemu-test.sh "$arch" "$builddir" "$sysroot"
fi

# ---- package -----------------------------------------------------------------------
[ "$package" -eq 1 ] || exit 0
version=$(sed -n 's/^project(serialbattery VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[ -n "$version" ] || die "no version in CMakeLists.txt"
name=serialbattery-$version-$arch
stage=$repo/out/stage-$arch
rm -rf "$stage"
mkdir -p "$stage"
DESTDIR="$stage/destdir" cmake --install "$builddir" --strip --prefix /usr >/dev/null
scripts/package-venus.sh --out "$stage/$name" --destdir "$stage/destdir" --arch "$arch" --version "$version" \
  --daemon "$stage/destdir/usr/bin/serialbatteryd" --cli "$stage/destdir/usr/bin/serialbattery"
scripts/check-binary.sh --quiet "$stage/$name/bin/serialbatteryd" "$stage/$name/bin/serialbattery"
if [ "$run_tests" -eq 1 ]; then
  echo "== install.sh / uninstall.sh against fake roots with the $arch binaries"
  tests/packaging/test_install.sh "$stage/$name/bin/serialbatteryd" "$stage/$name/bin/serialbattery"
fi
mkdir -p out
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}" \
  -C "$stage" -czf "out/$name.tar.gz" "$name"
rm -rf "$stage"
echo "cross.sh: out/$name.tar.gz ($(du -k "out/$name.tar.gz" | cut -f1) KiB)"
