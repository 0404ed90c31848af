#!/usr/bin/env bash
# Lays out the serialbattery release directory (what the tarball contains):
#
#   scripts/package-venus.sh --out DIR --arch armhf|arm64|NAME --version V \
#       --daemon FILE --cli FILE [--destdir DIR]
#
#   DIR/bin/serialbatteryd, bin/serialbattery
#   DIR/install.sh, uninstall.sh, boot.sh            Venus OS installer (packaging/venus)
#   DIR/service/run, service/log/run                 daemontools service
#   DIR/udev/90-serialbattery.rules, udev/local.rules  serial-starter hand-off
#   DIR/share/serialbattery.conf.example             the generated example config
#   DIR/docs/                                        VENUS.md, CONFIG.md
#   DIR/linux/                                       `cmake --install` tree without the
#                                                    binaries (systemd unit, udev rule,
#                                                    sysusers): other Linux systems
#   DIR/VERSION                                      version=, arch=, git=
# Used by scripts/cross.sh and by tests/packaging/test_install.sh (host binaries).
set -euo pipefail
die() { echo "package-venus.sh: $*" >&2; exit 1; }
repo=$(cd "$(dirname "$0")/.." && pwd)

out="" arch="" version="" daemon="" cli="" destdir=""
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || die "$1 needs a value"
  case $1 in
    --out) out=$2 ;;
    --arch) arch=$2 ;;
    --version) version=$2 ;;
    --daemon) daemon=$2 ;;
    --cli) cli=$2 ;;
    --destdir) destdir=$2 ;;
    *) die "unknown argument '$1'" ;;
  esac
  shift 2
done
for v in out arch version daemon cli; do
  [ -n "${!v}" ] || die "--$v is required"
done
[ -x "$daemon" ] || die "$daemon is not an executable"
[ -x "$cli" ] || die "$cli is not an executable"

v=$repo/packaging/venus
rm -rf "$out"
mkdir -p "$out"/{bin,service/log,udev,share,docs}
install -m 0755 "$daemon" "$out/bin/serialbatteryd"
install -m 0755 "$cli" "$out/bin/serialbattery"
install -m 0755 "$v/install.sh" "$v/uninstall.sh" "$v/boot.sh" "$out/"
install -m 0755 "$v/service/run" "$out/service/run"
install -m 0755 "$v/service/log/run" "$out/service/log/run"
install -m 0644 "$v/90-serialbattery.rules" "$v/local.rules" "$out/udev/"
install -m 0644 "$repo/serialbattery.conf" "$out/share/serialbattery.conf.example"
for d in VENUS.md CONFIG.md; do
  [ -f "$repo/docs/$d" ] && install -m 0644 "$repo/docs/$d" "$out/docs/"
done
if [ -n "$destdir" ] && [ -d "$destdir" ]; then
  mkdir -p "$out/linux"
  (cd "$destdir" && find . \( -type f -o -type l \) ! -path './usr/bin/*' -print0 \
     | xargs -0r cp -a --parents -t "$out/linux")
  [ -n "$(ls -A "$out/linux")" ] || rmdir "$out/linux"
fi
git_rev=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
printf 'version=%s\narch=%s\ngit=%s\n' "$version" "$arch" "$git_rev" >"$out/VERSION"
