#!/usr/bin/env bash
# layer.sh ROOT BOOT DATA BINARY REPO VERSION: puts Constellation on the
# base root filesystem in ROOT (the appliance, its units and settings,
# image/files/), moves the kernel and firmware the Pi boots from into BOOT,
# prepares the data partition's tree in DATA, and trims what a Pi does not
# need. Called by build.sh; runs on the host (no chroot).
set -euo pipefail
root="$1" boot="$2" data="$3" binary="$4" repo="$5" version="$6"
here="$repo/image"

# The appliance and the files that go with it (systemd/README.md).
install -D -m 0755 "$binary" "$root/usr/bin/constellation-appliance"
sd="$repo/systemd"
install -m 0644 "$sd"/*.service "$sd"/*.path "$root/etc/systemd/system/"
rm -f "$root/etc/systemd/system/constellation-watchtower.service" # cloud hosts only
install -D -m 0644 "$sd/journald.conf.d/constellation.conf" "$root/etc/systemd/journald.conf.d/constellation.conf"
install -D -m 0644 "$sd/system.conf.d/watchdog.conf" "$root/etc/systemd/system.conf.d/watchdog.conf"
install -D -m 0644 "$sd/sysusers.d/constellation.conf" "$root/usr/lib/sysusers.d/constellation.conf"
install -D -m 0644 "$sd/tmpfiles.d/constellation.conf" "$root/usr/lib/tmpfiles.d/constellation.conf"
install -D -m 0644 "$sd/udev/99-constellation.rules" "$root/etc/udev/rules.d/99-constellation.rules"
install -D -m 0644 "$sd/polkit/50-constellation-networkmanager.rules" "$root/etc/polkit-1/rules.d/50-constellation-networkmanager.rules"
cp -a --no-preserve=ownership "$here/files/." "$root/"
chmod 0440 "$root/etc/sudoers.d/admin"
install -d -m 0755 "$root/usr/share/doc/constellation"
install -m 0644 "$repo"/docs/{install,configuration,network}.md "$repo/image/constellation.example.toml" "$root/usr/share/doc/constellation/"
echo "$version" >"$root/etc/constellation-version"

# Users now, so that files can be given to them; systemd-sysusers runs
# again at boot and finds nothing to do.
systemd-sysusers --root="$root" >/dev/null
systemctl --root="$root" enable --quiet \
  constellation-appliance.service constellation-firstboot.service constellation-firewall.service constellation-setup.path \
  constellation-grow-data.service systemd-timesyncd.service NetworkManager.service ssh.service
systemctl --root="$root" mask --quiet systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer e2scrub_reap.service 2>/dev/null || true

# Every device makes its own identity: machine id, SSH host keys.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_*

# The boot partition: firmware, kernel, initramfs and device trees
# (raspi-firmware's kernel hook put them in /boot/firmware), our
# config.txt and cmdline.txt. The kernel and initramfs get stable names.
kver="$(basename "$(ls -d "$root"/lib/modules/* | sort -V | tail -1)")"
fw="$root/boot/firmware"
for f in start4.elf fixup4.dat start4cd.elf fixup4cd.dat LICENCE.broadcom; do
  [ -e "$fw/$f" ] && cp "$fw/$f" "$boot/"
done
[ -e "$boot/start4.elf" ] || { echo "layer: raspi-firmware left no start4.elf in /boot/firmware" >&2; exit 1; }
cp "$fw"/bcm2711-*.dtb "$boot/"
cp "$fw"/bcm2712-*.dtb "$boot/" 2>/dev/null || true
cp "$root/boot/vmlinuz-$kver" "$boot/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$boot/initrd.img"
install -m 0644 "$here/boot/config.txt" "$here/boot/cmdline.txt" "$boot/"
install -m 0644 "$here/constellation.example.toml" "$boot/constellation.example.toml"
rm -rf "${fw:?}"/* "$root/boot/vmlinuz-$kver" "$root/boot/initrd.img-$kver" "$root/vmlinuz" "$root/initrd.img" "$root/vmlinuz.old" "$root/initrd.img.old"

# The data partition: the appliance's state and the journal (fstab binds them).
install -d -m 0750 "$data/constellation"
install -d -m 2755 "$data/journal"
uid="$(awk -F: '$1=="constellation"{print $3":"$4}' "$root/etc/passwd")"
chown "$uid" "$data/constellation"
gid="$(awk -F: '$1=="systemd-journal"{print $3}' "$root/etc/group")"
chown "0:$gid" "$data/journal"

# Trim: kernel modules and firmware a Pi 4/5 (and the QEMU test) does
# not use, documentation, caches.
"$here/trim.sh" "$root" "$kver"
# Mount points of the data partition and its bind mounts (fstab).
install -d -m 0755 "$root/data" "$root/var/lib/constellation" "$root/var/log/journal"
