#!/usr/bin/env bash
# trim.sh ROOT KVER: removes from the root filesystem what a Raspberry Pi
# 4/5 running Constellation (and the QEMU image test) never loads: kernel
# modules outside the listed subsystems, firmware other than the Pi's
# Wi-Fi chip, documentation and package caches. The modules the kept ones
# need are kept too.
set -euo pipefail
root="$1" kver="$2"
mods="$root/lib/modules/$kver/kernel"
[ -d "$mods" ] || { echo "trim: no modules in $mods" >&2; exit 1; }

# Kernel modules kept, as paths under kernel/ (directories or files).
keep=(
  arch crypto lib
  fs/ext4 fs/jbd2 fs/mbcache.ko fs/fat fs/vfat fs/nls fs/autofs
  net/core net/ipv4 net/ipv6 net/netfilter net/wireless net/rfkill net/packet
  net/sched net/802 net/llc net/8021q net/bridge net/unix net/key net/xfrm net/netlink
  # SD card, USB, the Pi's Ethernet and Wi-Fi, USB Ethernet dongles.
  drivers/mmc drivers/usb drivers/net/wireless/broadcom drivers/net/ethernet/broadcom
  drivers/net/phy drivers/net/mdio drivers/net/pcs drivers/net/usb drivers/net/mii.ko
  drivers/net/virtio_net.ko drivers/net/net_failover.ko drivers/net/veth.ko
  # The station's buses and devices: SPI reader, I2C display, GPIO, USB keyboard readers.
  drivers/i2c drivers/spi drivers/gpio drivers/pinctrl drivers/input drivers/hid
  # The SoC: clocks, firmware mailbox, power, DMA, PCIe (the Pi 4's USB), watchdog, RNG, thermal.
  drivers/char drivers/watchdog drivers/mfd drivers/clk drivers/soc drivers/firmware
  drivers/regulator drivers/dma drivers/phy drivers/pci drivers/thermal drivers/nvmem
  drivers/rtc drivers/reset drivers/mailbox drivers/irqchip drivers/base drivers/cpufreq
  drivers/hwmon drivers/mux drivers/power drivers/pwm drivers/bus drivers/ptp drivers/pps
  drivers/leds drivers/of drivers/misc
  # The QEMU image test: virtio disk, network and console.
  drivers/virtio drivers/block/virtio_blk.ko
)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for k in "${keep[@]}"; do
  if [ -e "$mods/$k" ]; then
    mkdir -p "$tmp/$(dirname "$k")"
    mv "$mods/$k" "$tmp/$k"
  fi
done
# With the modules they need (modules.dep lists every module's
# dependencies, transitively).
awk -F': *' '{ n = split($2, deps, " "); for (i = 1; i <= n; i++) print $1 " " deps[i] }' "$mods/../modules.dep" |
  while read -r mod dep; do
    mod="${mod#kernel/}" dep="${dep#kernel/}"
    if [ -e "$tmp/$mod" ] && [ ! -e "$tmp/$dep" ]; then
      [ -e "$mods/$dep" ] || { echo "trim: $mod needs $dep, which is not installed" >&2; exit 1; }
      mkdir -p "$tmp/$(dirname "$dep")"
      mv "$mods/$dep" "$tmp/$dep"
    fi
  done
rm -rf "$mods"
mv "$tmp" "$mods"
trap - EXIT
chroot "$root" /sbin/depmod "$kver" # the image's own depmod, under qemu-user

# Firmware: the Wi-Fi chip of the Pi 4, Pi 400 and Pi 5 (BCM43455/43456,
# also shipped as Cypress CYW43455), and the Wi-Fi regulatory database.
fw="$root/lib/firmware"
find "$fw" \( -type f -o -type l \) \
  ! -path "$fw/brcm/brcmfmac4345*" ! -path "$fw/cypress/cyfmac4345*" ! -name 'regulatory.db*' -delete
find "$fw" -mindepth 1 -type d -empty -delete

# Documentation (the copyright files stay), caches, logs of the build.
find "$root/usr/share/doc" -type f ! -name copyright ! -path '*/constellation/*' -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
  "$root"/var/log/* "$root"/var/cache/debconf/*-old "$root"/usr/share/man "$root"/usr/share/info \
  "$root"/usr/share/lintian "$root"/usr/share/bug
