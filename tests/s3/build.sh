#!/usr/bin/env bash
# Builds versitygw (a real S3-compatible server with a posix backend) from the Go module proxy into a
# versioned cache directory outside the repository and prints that directory. Tests start it on
# loopback; the repository never holds the binary. Only the first run on a machine pays the compile.
set -euo pipefail
VERSITYGW_VERSION=v1.8.0
# v1.8.0 needs Go >= 1.25 (its go.mod); the machine's Go builds it, no toolchain download.
export GOTOOLCHAIN=local CGO_ENABLED=0

CACHE_ROOT="${OPENCLAW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/openclaw-hosting}"
BIN_DIR="${CACHE_ROOT}/s3/versitygw-${VERSITYGW_VERSION}/bin"
STAMP="${BIN_DIR}/.complete"
if [[ "${1:-}" == "--where" ]]; then  # the fixtures ask where the binary would be, without building
  echo "$BIN_DIR"
  exit 0
fi
built() { [[ -f "$STAMP" ]] && echo "$BIN_DIR"; }
built && exit 0
# Parallel sessions share one build: the second waits for the first, then finds it done.
mkdir -p "$BIN_DIR"
exec 9>"${BIN_DIR}/.lock"
flock 9
built && exit 0
# Module and build caches live beside the binary, never in the repository.
export GOPATH="${CACHE_ROOT}/s3/gopath" GOCACHE="${CACHE_ROOT}/s3/gocache" GOFLAGS=-buildvcs=false
echo "building versitygw ${VERSITYGW_VERSION} into ${BIN_DIR} (first run only; a few minutes)" >&2
GOBIN="$BIN_DIR" go install -trimpath -ldflags "-s -w" \
  "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}" >&2
touch "$STAMP"
echo "$BIN_DIR"
