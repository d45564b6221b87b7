#!/usr/bin/env bash
# build-image.sh OUT_DIR CA_CERT HOSTS_FILE SEAM_DIR PACKAGES
#
# The e2e guest's base image: Debian 13 (trixie) from Debian's own packages with mmdebstrap, no bootloader
# (qemu boots the kernel and initrd written next to it). Writes OUT_DIR/{disk.qcow2,vmlinuz,initrd.img,
# debs/ (caddy and its dependencies), apt-lists/}. What the image gets on top of Debian is the test seam (seam.py says why):
#   - the test CA in the trust store, and NODE_EXTRA_CA_CERTS for every systemd unit (Node ignores it);
#   - HOSTS_FILE appended to /etc/hosts (the vendor hosts -> the host's stand-ins);
#   - every file under SEAM_DIR copied to / (e.g. the Caddy drop-in);
#   - its apt lists kept, so the Debian stand-in can serve the same (Debian-signed) index.
# systemd-networkd is enabled, as in Debian's cloud images: cloud-init writes its config, nothing starts it.
# PACKAGES (comma-separated) are the packages the user-data asks cloud-init for: preinstalled, because the
# guest has no Debian mirror to download them from (they are in Hetzner's images too).
set -euo pipefail
out=$1 ca=$2 hosts=$3 seam=$4 packages=$5
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

base=linux-image-amd64,systemd-sysv,systemd-timesyncd,dbus,cloud-init,cloud-guest-utils
base+=,openssh-server,sudo,e2fsprogs,iproute2,netbase,procps,python3,less
mmdebstrap --variant=apt --mode=root --format=directory --skip=cleanup/apt/lists \
  --include="$base,$packages" \
  --customize-hook="install -m 0644 '$ca' \"\$1/usr/local/share/ca-certificates/clawhost-e2e-ca.crt\"" \
  --customize-hook='chroot "$1" update-ca-certificates' \
  --customize-hook="printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >\"\$1/etc/hosts\"" \
  --customize-hook="cat '$hosts' >>\"\$1/etc/hosts\"" \
  --customize-hook="cp -a '$seam'/. \"\$1/\"" \
  --customize-hook='mkdir -p "$1/tmp/e2e-debs/partial"' \
  --customize-hook='chroot "$1" apt-get install -q -y --download-only -o Dir::Cache::Archives=/tmp/e2e-debs/ caddy' \
  --customize-hook="rm -rf '$out/debs' && mkdir '$out/debs' && mv \"\$1\"/tmp/e2e-debs/*.deb '$out/debs/' && rm -rf \"\$1/tmp/e2e-debs\"" \
  --customize-hook='rm -f "$1/etc/machine-id" "$1/var/lib/dbus/machine-id"; touch "$1/etc/machine-id"' \
  --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
  --customize-hook='chroot "$1" systemctl enable systemd-networkd.service' \
  trixie "$work/root" http://deb.debian.org/debian >"$work/mmdebstrap.log" 2>&1 || {
  tail -40 "$work/mmdebstrap.log" >&2
  exit 1
}

# The root filesystem on partition 1 of a GPT disk, as on a cloud server (growpart has a partition to grow).
root=$work/root
echo 'LABEL=root / ext4 defaults,errors=remount-ro 0 1' >"$root/etc/fstab"
cp "$root"/boot/vmlinuz-* "$out/vmlinuz"
cp "$root"/boot/initrd.img-* "$out/initrd.img"
rm -rf "$out/apt-lists" && cp -a "$root/var/lib/apt/lists" "$out/apt-lists"
rm -rf "$out/apt-lists/partial" "$out/apt-lists/lock" "$out/apt-lists/auxfiles"
mkfs.ext4 -q -L root -d "$root" "$work/root.ext4" 3G
truncate -s 1M "$work/disk.raw"
cat "$work/root.ext4" >>"$work/disk.raw"
truncate -s +1M "$work/disk.raw"
sfdisk -q "$work/disk.raw" <<<'label: gpt
start=2048, type=linux, name=root'
qemu-img convert -O qcow2 "$work/disk.raw" "$out/disk.qcow2"
