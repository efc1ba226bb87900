#!/usr/bin/env bash
# Image tools of the CI jobs, Go-built at pinned versions from the Go module proxy (no binary downloads)
# and cached by version under $MBIO_CACHE/ci-tools/<name>-<version>/. Renovate updates the versions
# (the `# renovate:` comments, renovate.json).
#
#   source scripts/lib/ci-tools.sh && ensure_ci_tool trivy|cosign     (puts it on PATH)
# shellcheck shell=bash

# shellcheck source=scripts/lib/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# renovate: datasource=go depName=github.com/aquasecurity/trivy
TRIVY_VERSION=v0.57.1
# renovate: datasource=go depName=github.com/sigstore/cosign/v2
COSIGN_VERSION=v2.4.1

ci_tool_package() {
  case "$1" in
    trivy) echo "github.com/aquasecurity/trivy/cmd/trivy@$TRIVY_VERSION" ;;
    cosign) echo "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION" ;;
    *) die "unknown CI tool: $1 (trivy, cosign)" ;;
  esac
}

ensure_ci_tool() {
  local name="$1" pkg dir
  pkg="$(ci_tool_package "$name")"
  dir="$MBIO_CACHE/ci-tools/$name-${pkg##*@}"
  if [ ! -x "$dir/$name" ]; then
    command -v go >/dev/null || ensure_apt_packages golang-go
    log "building $pkg (Go module proxy) into $dir"
    mkdir -p "$dir"
    GOBIN="$dir" nice -n 10 go install "$pkg" || die "go install $pkg failed"
  fi
  export PATH="$dir:$PATH"
}
