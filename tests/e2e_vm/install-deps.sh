#!/usr/bin/env bash
# The host packages `make e2e-vm` needs beyond `make system-deps`, installed only when missing:
# qemu (the guest), mmdebstrap (its image), genisoimage (the NoCloud seed), socat (guestfwd relays),
# sshpass (the password-login check), apt-utils (apt-ftparchive for the stand-in repositories), npm.
set -euo pipefail
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v genisoimage >/dev/null || need+=(genisoimage)
command -v socat >/dev/null || need+=(socat)
command -v sshpass >/dev/null || need+=(sshpass)
command -v apt-ftparchive >/dev/null || need+=(apt-utils)
command -v ssh >/dev/null || need+=(openssh-client)
command -v curl >/dev/null || need+=(curl)
command -v npm >/dev/null || need+=(npm)
if [[ ${#need[@]} -gt 0 ]]; then
  echo "installing Debian packages for make e2e-vm: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Other sessions on this machine install packages too: wait for dpkg's lock instead of failing on it.
  wait_lock=(-o DPkg::Lock::Timeout=900)
  apt-get "${wait_lock[@]}" update -qq
  apt-get "${wait_lock[@]}" install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
