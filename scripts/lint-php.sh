#!/usr/bin/env bash
# php -l on every PHP file and phpcs (PSR-12) on the WHMCS module.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d whmcs-module ]] || exit 0
mapfile -t files < <(find whmcs-module -name '*.php' -not -path '*/vendor/*')
[[ ${#files[@]} -gt 0 ]] || exit 0
for f in "${files[@]}"; do php -l "$f" >/dev/null; done
phpcs --standard=PSR12 -q whmcs-module/modules whmcs-module/tests
