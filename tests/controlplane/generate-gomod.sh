#!/usr/bin/env bash
# Regenerates go.mod for the control-plane wrapper module.
#
# k8s.io/kubernetes publishes a go.mod that requires its staging modules (k8s.io/api, ...) at the
# non-existent version v0.0.0 and relies on replace directives that only apply inside its own repo.
# A consumer must replace each of them with the published v0.<minor>.<patch> tag. We derive the list
# from the real go.mod rather than hard-coding it, because new releases add staging modules.
set -euo pipefail
cd "$(dirname "$0")"
source ./versions.env
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local

rm -f go.mod go.sum
go mod init openclaw.dev/controlplane >/dev/null 2>&1
go mod edit -go=1.26.0
UPSTREAM_GOMOD=$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
grep -E '^\s*k8s\.io/[a-z0-9-]+ v0\.0\.0$' "$UPSTREAM_GOMOD" | awk '{print $1}' | sort -u |
  while read -r module; do go mod edit -replace "${module}=${module}@${STAGING_VERSION}"; done
# Only the main module's godebug lines apply; copy upstream's so behaviour matches their release.
grep -E '^godebug ' "$UPSTREAM_GOMOD" | while read -r _ setting; do go mod edit -godebug "$setting"; done
go mod edit -require "k8s.io/kubernetes@${K8S_VERSION}"
go mod tidy
echo "go.mod regenerated for Kubernetes ${K8S_VERSION} (staging ${STAGING_VERSION})"
