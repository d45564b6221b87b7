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
if [[ ${#need[@]} -gt 0 ]]; then
  echo "installing Debian packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # cloud-init is installed only for its `schema` command: keep its services from being enabled.
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
