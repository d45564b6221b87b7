#!/usr/bin/env bash
# A second PHP for the WHMCS module's tests: Debian 13 (trixie)'s php8.4 with its own phpunit, in a
# directory tree built by mmdebstrap from Debian's packages (this machine is Debian 12, whose only PHP
# is 8.2; no Debian release ships 8.3, and third-party PHP repositories are not reachable here).
# Prints the tree's root when ready; run PHP in it with `chroot <root> php ...`.
# Built once into a cache outside the repository; parallel sessions wait on a lock.
set -euo pipefail
CACHE_ROOT="${OPENCLAW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/openclaw-hosting}/php"
root="$CACHE_ROOT/trixie-php8.4"
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock"
flock 9
if [[ ! -f "$root/.complete" ]]; then
  command -v mmdebstrap >/dev/null || {
    echo "installing mmdebstrap (Debian package)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
  }
  echo "building a Debian trixie tree with php8.4 into $root (first run only; a few minutes)" >&2
  rm -rf "$root"
  mmdebstrap --variant=essential --mode=root --format=directory \
    --include=php8.4-cli,php8.4-curl,php8.4-mbstring,php8.4-xml,phpunit,smarty4,ca-certificates \
    trixie "$root" http://deb.debian.org/debian >"$CACHE_ROOT/mmdebstrap.log" 2>&1 || {
    tail -40 "$CACHE_ROOT/mmdebstrap.log" >&2
    exit 1
  }
  chroot "$root" php -r 'exit(PHP_VERSION_ID >= 80400 ? 0 : 1);'
  touch "$root/.complete"
fi
echo "$root"
