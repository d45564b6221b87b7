#!/usr/bin/env bash
# php -l on every PHP file (PHP 8.2 here; also PHP 8.4 when tests/whmcs/php-trixie.sh has built its tree),
# strict types in every file, and phpcs (PSR-12) on the WHMCS module.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d whmcs-module ]] || exit 0
mapfile -t files < <(find whmcs-module -name '*.php' -not -path '*/vendor/*')
[[ ${#files[@]} -gt 0 ]] || exit 0
for f in "${files[@]}"; do php -l "$f" >/dev/null; done
missing=$(grep -L '^declare(strict_types=1);$' "${files[@]}" || true)
if [[ -n "$missing" ]]; then
  echo "without declare(strict_types=1):" >&2
  echo "$missing" >&2
  exit 1
fi
trixie="${OPENCLAW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/openclaw-hosting}/php/trixie-php8.4"
if [[ -f "$trixie/.complete" && $(id -u) == 0 ]]; then
  for f in "${files[@]}"; do chroot "$trixie" php -l <"$f" >/dev/null || { echo "PHP 8.4 syntax: $f" >&2; exit 1; }; done
fi
phpcs --standard=PSR12 -q whmcs-module/modules whmcs-module/tests
