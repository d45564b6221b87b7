#!/usr/bin/env bash
# Installs the Debian packages the suite needs, only when something is missing.
set -euo pipefail
need=()
command -v php >/dev/null || need+=(php-cli)
php -m 2>/dev/null | grep -qi '^curl$' || need+=(php-curl)
php -m 2>/dev/null | grep -qi '^mbstring$' || need+=(php-mbstring)
php -m 2>/dev/null | grep -qi '^xml$' || need+=(php-xml)
command -v phpunit >/dev/null || need+=(phpunit)
command -v phpcs >/dev/null || need+=(php-codesniffer)
command -v cloud-init >/dev/null || need+=(cloud-init)
command -v openssl >/dev/null || need+=(openssl)
# The WHMCS templates are rendered by the real Smarty in tests (both Debian majors: 3.1 and 4).
[[ -f /usr/share/php/smarty3/Smarty.class.php ]] || need+=(smarty3)
[[ -f /usr/share/php/smarty4/Smarty.class.php ]] || need+=(smarty4)
# tests/e2e_vm's fast tests: the stand-in apt repositories (apt-ftparchive) and the NoCloud seed (isoinfo).
command -v apt-ftparchive >/dev/null || need+=(apt-utils)
command -v genisoimage >/dev/null || need+=(genisoimage)
# tests/realapp and the sandbox: the real Caddy in front of the real gateway (its package also makes the
# `caddy` account it runs as); npm fetches Node and openclaw from the npm registry.
command -v caddy >/dev/null || need+=(caddy)
command -v npm >/dev/null || need+=(npm)
# tests/channel: a real sshd (its forced command is the agent), ssh-keygen for the keys, and nss_wrapper so
# that sshd sees the agent's production login (clawhost-agent) without an account on this machine.
[[ -x /usr/sbin/sshd ]] || need+=(openssh-server)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
[[ -f /usr/lib/x86_64-linux-gnu/libnss_wrapper.so ]] || need+=(libnss-wrapper)
if [[ ${#need[@]} -gt 0 ]]; then
  echo "installing Debian packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # cloud-init is installed only for its `schema` command: keep its services from being enabled.
  # Caddy is for the tests' own instances: a policy-rc.d keeps its package service from starting on :80.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  if [[ " ${need[*]} " == *" caddy "* ]]; then
    systemctl disable caddy.service >/dev/null 2>&1 || true # nor at the next boot
  fi
  if [[ " ${need[*]} " == *" openssh-server "* ]]; then
    systemctl disable ssh.service >/dev/null 2>&1 || true # the tests start their own sshd on loopback
  fi
fi
