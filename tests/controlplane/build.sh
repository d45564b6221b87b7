#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager, kubectl and helm into a versioned cache
# directory outside the repository and prints that directory. A build whose inputs have not changed
# is skipped, so only the first run on a machine pays the (several-minute) compile.
set -euo pipefail
cd "$(dirname "$0")"
source ./versions.env
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0

CACHE_ROOT="${OPENCLAW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/openclaw-hosting}"
INPUTS_HASH=$( (go version; cat versions.env go.mod go.sum; find cmd -name '*.go' | sort | xargs cat) |
  sha256sum | cut -c1-12)
BIN_DIR="${CACHE_ROOT}/controlplane/${K8S_VERSION}-${INPUTS_HASH}/bin"
STAMP="${BIN_DIR}/.complete"

if [[ -f "$STAMP" ]]; then
  echo "$BIN_DIR"
  exit 0
fi

# Parallel test sessions (worktrees, CI retries) share one build: the second waits for the first.
mkdir -p "$BIN_DIR"
exec 9>"${BIN_DIR}/.lock"
flock 9
if [[ -f "$STAMP" ]]; then
  echo "$BIN_DIR"
  exit 0
fi
MINOR="${K8S_VERSION#v1.}"; MINOR="${MINOR%%.*}"
VERSION_PKG=k8s.io/component-base/version
LDFLAGS="-s -w -X ${VERSION_PKG}.gitVersion=${K8S_VERSION} -X ${VERSION_PKG}.gitMajor=1"
LDFLAGS+=" -X ${VERSION_PKG}.gitMinor=${MINOR} -X ${VERSION_PKG}.gitTreeState=clean"
echo "building control plane ${K8S_VERSION} into ${BIN_DIR} (first run only; several minutes)" >&2
go build -trimpath -p "$(nproc)" -ldflags "$LDFLAGS" -o "$BIN_DIR/" ./cmd/... >&2

# helm's own module has no replace directives, so `go install` at a pinned version works.
HELM_LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
HELM_LDFLAGS+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1"
HELM_LDFLAGS+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${MINOR}"
HELM_LDFLAGS+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1"
HELM_LDFLAGS+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${MINOR}"
GOFLAGS= GOBIN="$BIN_DIR" go install -trimpath -ldflags "$HELM_LDFLAGS" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}" >&2

touch "$STAMP"
echo "$BIN_DIR"
