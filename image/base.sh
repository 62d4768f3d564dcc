#!/usr/bin/env bash
# base.sh OUT.tar: the image's base root filesystem, Debian bookworm arm64
# from Debian's own packages (image/packages.txt), as a tarball. Runs the
# arm64 maintainer scripts under qemu-user through binfmt_misc.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$1"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
components="main non-free-firmware"

mapfile -t pkgs < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/packages.txt")
include="$(IFS=,; echo "${pkgs[*]}")"

# raspi-firmware's kernel hook copies the kernel, initramfs and device
# trees into /boot/firmware when it exists; the layer step (build.sh)
# takes them from there.
mmdebstrap \
  --architectures=arm64 \
  --variant=apt \
  --components="${components// /,}" \
  --include="$include" \
  --aptopt='Apt::Install-Recommends "false"' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --setup-hook='mkdir -p "$1/boot/firmware"' \
  bookworm "$out" \
  "deb $mirror bookworm $components" \
  "deb $mirror bookworm-updates $components" \
  "deb $security bookworm-security $components"
