#!/usr/bin/env bash
# build.sh: the Constellation SD card image for the Raspberry Pi 4/5 (arm64),
# as a file: no Docker, no loop mounts, no root filesystem mounted.
#
#   image/build.sh [OUT_DIR]        (make image; default OUT_DIR: out/image)
#
# Steps: the base root filesystem from Debian bookworm's packages (cached
# in IMAGE_CACHE, keyed by image/packages.txt and image/base.sh), our layer
# on top (image/layer.sh), the filesystems populated from directories
# (mkfs.vfat + mtools, mkfs.ext4 -d), the partition table (sfdisk on the
# file), then OUT_DIR/constellation-VERSION.img.xz, its .sha256 and a
# manifest. Needs root (file ownership in the root filesystem), and
# binfmt_misc with qemu-user-static for arm64 (set up here if missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
out="$(realpath -m "${1:-$repo/out/image}")"
cache="${IMAGE_CACHE:-/var/cache/constellation-image}"
work="${IMAGE_WORK:-$repo/out/image-work}"

# Partition sizes in MiB. The data partition grows to fill the card at
# first boot; root B stays empty until the first update.
boot_mib="${BOOT_MIB:-256}"
root_mib="${ROOT_MIB:-1024}"
data_mib="${DATA_MIB:-64}"

export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}"
version="${IMAGE_VERSION:-$(git -C "$repo" describe --always --dirty --tags 2>/dev/null || echo dev)}"
start=$(date +%s)
step() { printf '== [%4ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }
die() { echo "image: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (the root filesystem's files belong to several users)"
for t in mmdebstrap mkfs.ext4 mkfs.vfat mcopy mmd sfdisk xz go; do
  command -v "$t" >/dev/null || die "$t is missing: apt-get install mmdebstrap qemu-user-static binfmt-support e2fsprogs dosfstools mtools fdisk xz-utils (README, \"The OS image\")"
done

# Foreign-architecture maintainer scripts run under qemu-user via binfmt_misc.
"$here/binfmt.sh"

# 1. The base root filesystem, cached.
key="$(cat "$here/packages.txt" "$here/base.sh" | sha256sum | cut -c1-16)"
base="$cache/base-$key.tar"
mkdir -p "$cache"
if [ -s "$base" ] && [ -z "${IMAGE_REFRESH:-}" ]; then
  step "base root filesystem: cached ($base)"
else
  step "base root filesystem: building with mmdebstrap (about 15 minutes under emulation)"
  # The name ends in .tar: mmdebstrap chooses its output format by it
  # (a directory otherwise).
  partial="$cache/partial-base-$key.tar"
  rm -rf "$partial"
  "$here/base.sh" "$partial"
  mv "$partial" "$base"
  # Keep the last three bases.
  ls -t "$cache"/base-*.tar | tail -n +4 | xargs -r rm -f
fi

# 2. The appliance, for the Pi.
step "appliance binary (linux/arm64, CGO_ENABLED=0)"
rm -rf "$work"; mkdir -p "$work"/{root,boot,data} "$out"
(cd "$repo" && CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -trimpath -o "$work/constellation-appliance" ./appliance/cmd/constellation-appliance)

# 3. Our layer on the base.
step "root filesystem: base + layer"
# File capabilities (ping's, say) are the only extended attributes kept.
tar -C "$work/root" --numeric-owner --xattrs --xattrs-include='security.capability' -xpf "$base"
"$here/layer.sh" "$work/root" "$work/boot" "$work/data" "$work/constellation-appliance" "$repo" "$version"

# 4. The filesystems, populated from the directories.
step "filesystems"
uuid() { printf '%s' "$1-$SOURCE_DATE_EPOCH" | sha256sum | sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*/\1-\2-4\3-8\4-\5/'; }
# Timestamps: everything from SOURCE_DATE_EPOCH, so the same inputs give the same image.
find "$work/root" "$work/boot" "$work/data" -newermt "@$SOURCE_DATE_EPOCH" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +
export E2FSPROGS_FAKE_TIME="$SOURCE_DATE_EPOCH"
mkext4() { # name label dir mib
  mkfs.ext4 -q -F -L "$2" -U "$(uuid "$2")" -E "hash_seed=$(uuid "$2-hash"),lazy_itable_init=0,lazy_journal_init=0" \
    -O ^metadata_csum_seed ${3:+-d "$3"} "$work/$1.ext4" "${4}M"
}
rm -f "$work/boot.vfat"
mkfs.vfat -F 32 -n CST-BOOT -i "$(printf '%08x' "$SOURCE_DATE_EPOCH")" --invariant -C "$work/boot.vfat" $((boot_mib * 1024)) >/dev/null
( cd "$work/boot" && find . -mindepth 1 -type d | sed 's|^\./||' | sort | while read -r d; do mmd -i "$work/boot.vfat" "::$d"; done
  find . -type f | sed 's|^\./||' | sort | while read -r f; do mcopy -m -i "$work/boot.vfat" "$f" "::$f"; done )
used_mib=$(( $(du -s --block-size=1M "$work/root" | cut -f1) ))
[ "$used_mib" -lt $((root_mib * 85 / 100)) ] || die "root filesystem is $used_mib MiB; ROOT_MIB=$root_mib leaves too little room"
mkext4 rootA cst-root-a "$work/root" "$root_mib"
mkext4 rootB cst-root-b "" "$root_mib"
mkext4 data cst-data "$work/data" "$data_mib"

# 5. The partition table (MBR: the Pi 4's boot ROM and every card reader
# read it), written on the image file, then the filesystems into place.
step "partition table and image"
img="$work/constellation.img"
first=8192 # 4 MiB: aligned for SD cards' erase blocks
mib=2048   # sectors per MiB
total=$(( first + (boot_mib + 2 * root_mib + data_mib) * mib ))
rm -f "$img"; truncate -s $(( total * 512 )) "$img"
disk_id="0x$(printf '%s' "disk-$SOURCE_DATE_EPOCH" | sha256sum | cut -c1-8)"
sfdisk --quiet --no-reread --no-tell-kernel "$img" <<SFDISK
label: dos
label-id: $disk_id
unit: sectors
start=$first, size=$(( boot_mib * mib )), type=c, bootable
start=$(( first + boot_mib * mib )), size=$(( root_mib * mib )), type=83
start=$(( first + (boot_mib + root_mib) * mib )), size=$(( root_mib * mib )), type=83
start=$(( first + (boot_mib + 2 * root_mib) * mib )), size=$(( data_mib * mib )), type=83
SFDISK
put() { dd if="$work/$1" of="$img" bs=1M seek=$(( $2 / mib )) conv=notrunc,sparse status=none; }
put boot.vfat "$first"
put rootA.ext4 $(( first + boot_mib * mib ))
put rootB.ext4 $(( first + (boot_mib + root_mib) * mib ))
put data.ext4 $(( first + (boot_mib + 2 * root_mib) * mib ))

# 6. Compressed image, checksum, manifest.
step "compressing (xz)"
name="constellation-$version"
# One image in OUT_DIR: the previous build's go.
find "$out" -maxdepth 1 -name 'constellation-*' ! -name "$name.*" -delete
xz -T0 -6 -c "$img" >"$out/$name.img.xz.partial"
mv "$out/$name.img.xz.partial" "$out/$name.img.xz"
(cd "$out" && sha256sum "$name.img.xz" >"$name.img.xz.sha256")
{
  echo "# Constellation image manifest"
  echo "image: $name.img.xz"
  echo "version: $version"
  echo "build_date: $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ) (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH)"
  echo "base: $(basename "$base")"
  echo "partitions: boot ${boot_mib}MiB vfat CST-BOOT, root A ${root_mib}MiB ext4 cst-root-a, root B ${root_mib}MiB ext4 cst-root-b, data ${data_mib}MiB ext4 cst-data (grown at first boot)"
  echo "size: $(stat -c %s "$out/$name.img.xz") bytes compressed, $(stat -c %s "$img") bytes raw, root filesystem ${used_mib} MiB"
  echo "appliance:"
  go version -m "$work/constellation-appliance" | sed 's/^/  /'
  echo "packages:"
  sed 's/^/  /' <(dpkg-query --admindir="$work/root/var/lib/dpkg" -W -f="\${Package}\t\${Version}\n")
} >"$out/$name.manifest"
ln -sfn "$name.img.xz" "$out/constellation.img.xz"
ln -sfn "$name.manifest" "$out/constellation.manifest"
# The raw image and its parts stay in IMAGE_WORK for make image-test.
ln -sfn "$img" "$out/constellation.img"
step "done: $out/$name.img.xz ($(du -h "$out/$name.img.xz" | cut -f1))"
