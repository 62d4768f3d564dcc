#!/usr/bin/env bash
# binfmt.sh: makes arm64 programs run on this machine through
# qemu-user-static, mounting binfmt_misc and registering the interpreter
# when they are missing (containers often have neither).
set -euo pipefail
[ "$(uname -m)" = aarch64 ] && exit 0
dir=/proc/sys/fs/binfmt_misc
if [ ! -e "$dir/register" ]; then
  mount -t binfmt_misc binfmt_misc "$dir"
fi
if [ ! -e "$dir/qemu-aarch64" ]; then
  conf=/usr/lib/binfmt.d/qemu-aarch64.conf
  [ -e "$conf" ] || { echo "binfmt: $conf is missing: apt-get install qemu-user-static" >&2; exit 1; }
  grep -v '^#' "$conf" >"$dir/register"
fi
grep -q '^enabled' "$dir/qemu-aarch64" || { echo "binfmt: qemu-aarch64 is registered but disabled" >&2; exit 1; }
