#!/usr/bin/env bash
# Runs the cross-built unit tests under qemu-user.
#
#   scripts/qemu-test.sh armhf|arm64 [BUILD_DIR [SYSROOT]]
#
# Normally called by `scripts/cross.sh <arch> --test`, which builds BUILD_DIR
# (default build-cross-<arch>) against SYSROOT (default
# build-cross-sysroot/bullseye-<arch>). CMake's CMAKE_CROSSCOMPILING_EMULATOR
# ("qemu-<arch> -L SYSROOT", set by cmake/toolchain-debian-cross.cmake) runs
# every test that is a target executable.
#
# Left out, and why:
#   - tests labelled "noqemu": they need something qemu-user cannot give an
#     emulated process (an LD_PRELOAD'ed host library such as umockdev, a real
#     device, timing that emulation slows past its limits);
#   - tests whose command is a host script (e.g. tests/common/cli_config.sh):
#     they exec the ARM binaries directly, which only works when the kernel has
#     a binfmt_misc entry for qemu; with one registered they are run too.
#   - tests that start ARM programs of the project as child processes:
#     test_publish, test_migrate, test_extsource, test_idle and test_handoff (sb_fake_settings next to a host
#     dbus-daemon), test_cli and
#     test_worker_thread (the serialbattery CLI and its BMS simulator). Without
#     binfmt_misc the kernel cannot exec an ARM child, so they are listed in
#     SB_QEMU_EXCLUDE below until they carry the "noqemu" label themselves.
# Everything else (the pure protocol, charge, config and store suites) runs.
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "qemu-test.sh: $*" >&2; exit 1; }

arch=${1:-}
case $arch in
  armhf) qemu="qemu-arm"; binfmt="qemu-arm" ;;
  arm64) qemu="qemu-aarch64"; binfmt="qemu-aarch64" ;;
  *) die "usage: $0 armhf|arm64 [BUILD_DIR [SYSROOT]]" ;;
esac
builddir=${2:-build-cross-$arch}
sysroot=${3:-${SB_SYSROOT:-build-cross-sysroot/bullseye-$arch}}
[ -f "$builddir/CTestTestfile.cmake" ] || die "$builddir has no tests: run scripts/cross.sh $arch --test"
[ -d "$sysroot/lib" ] || die "no sysroot at $sysroot"
command -v "$qemu" >/dev/null || die "$qemu not found (apt-get install qemu-user)"
sysroot=$(cd "$sysroot" && pwd)

# A child ARM process started by a test finds its libraries here too.
export QEMU_LD_PREFIX=$sysroot

have_binfmt=0
if [ -r "/proc/sys/fs/binfmt_misc/$binfmt" ] && grep -q '^enabled' "/proc/sys/fs/binfmt_misc/$binfmt"; then
  have_binfmt=1
fi

# Tests run directly (not through the emulator) are host scripts.
mapfile -t host_tests < <(ctest --test-dir "$builddir" --show-only=json-v1 | python3 -c '
import json, sys
d = json.load(sys.stdin)
for t in d.get("tests", []):
    cmd = t.get("command") or [""]
    if "qemu-" not in cmd[0].rsplit("/", 1)[-1]:
        print(t["name"])
')
# Tests that exec ARM children (see above); space-separated names.
read -r -a needs_binfmt <<<"${SB_QEMU_EXCLUDE-test_publish test_migrate test_extsource test_idle test_handoff test_cli test_worker_thread test_worker_plausible}"
skip=()
if [ "$have_binfmt" -eq 0 ]; then
  skip=("${host_tests[@]}" "${needs_binfmt[@]}")
  [ "${#skip[@]}" -gt 0 ] && echo "qemu-test.sh: no binfmt_misc entry for $binfmt: skipping ${skip[*]}" >&2
fi
exclude=()
if [ "${#skip[@]}" -gt 0 ]; then
  regex=$(printf '^%s$|' "${skip[@]}")
  exclude=(-E "${regex%|}")
fi

start=$(date +%s)
ctest --test-dir "$builddir" --output-on-failure --no-label-summary -LE noqemu "${exclude[@]}" \
  -j"${SB_JOBS:-2}" --timeout "${SB_QEMU_TIMEOUT:-600}"
echo "qemu-test.sh: $arch tests took $(( $(date +%s) - start )) s"
