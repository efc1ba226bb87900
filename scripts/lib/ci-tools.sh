#!/usr/bin/env bash
# Image tools of the CI jobs, Go-built at pinned versions from the Go module proxy (no binary downloads)
# and cached by version under $MBIO_CACHE/ci-tools/<name>-<version>/. Renovate updates the versions
# (the `# renovate:` comments, renovate.json).
#
#   source scripts/lib/ci-tools.sh && ensure_ci_tool trivy|cosign     (puts it on PATH)
#   source scripts/lib/ci-tools.sh && ci_tool_path cosign             (prints the verified binary's path)
#
# Checksums: the build is reproducible (-trimpath, no VCS stamp, no build id, CGO off, the Go toolchain
# pinned by CI_TOOLS_GO: GOTOOLCHAIN fetches it from the module proxy when the local go differs), so the
# binary's sha256 is pinned in scripts/ci-tools.sha256 per tool, version, Go and platform. A fresh build
# must match its pinned line; the cached binary is checked against it before every use (a cache another
# job could write is not trusted). A tool with no pinned line yet (trivy) is checked against the sha256
# recorded at its build, with a warning.
# shellcheck shell=bash

# shellcheck source=scripts/lib/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# renovate: datasource=go depName=github.com/aquasecurity/trivy
TRIVY_VERSION=v0.57.1
# renovate: datasource=go depName=github.com/sigstore/cosign/v2
COSIGN_VERSION=v2.6.5
# The Go toolchain the CI tools are built with (part of each pinned checksum's key).
CI_TOOLS_GO=go1.26.8
CI_TOOLS_SUMS="$MBIO_ROOT/scripts/ci-tools.sha256"

ci_tool_package() {
  case "$1" in
    trivy) echo "github.com/aquasecurity/trivy/cmd/trivy@$TRIVY_VERSION" ;;
    cosign) echo "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION" ;;
    *) die "unknown CI tool: $1 (trivy, cosign)" ;;
  esac
}

# Version stamps as the upstream Makefiles set them (`cosign version`, `trivy --version`).
ci_tool_ldflags() {
  case "$1" in
    trivy) echo "-s -w -buildid= -X github.com/aquasecurity/trivy/pkg/version/app.ver=${TRIVY_VERSION#v}" ;;
    cosign) echo "-s -w -buildid= -X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION -X sigs.k8s.io/release-utils/version.gitTreeState=clean" ;;
  esac
}

# The key of a tool's line in scripts/ci-tools.sha256: "<name> <version> <go> <os>/<arch>".
ci_tool_key() {
  local pkg
  pkg="$(ci_tool_package "$1")"
  printf '%s %s %s %s/%s\n' "$1" "${pkg##*@}" "$CI_TOOLS_GO" "$(go env GOOS 2>/dev/null || echo linux)" "$(go env GOARCH 2>/dev/null || echo amd64)"
}

ci_tool_pinned_sum() {
  local key
  key="$(ci_tool_key "$1")"
  [ -f "$CI_TOOLS_SUMS" ] || return 0
  awk -v k="$key" '{ sum = $1; $1 = ""; sub(/^ +/, ""); if ($0 == k) print sum }' "$CI_TOOLS_SUMS" | head -n 1
}

ci_tool_dir() {
  local pkg
  pkg="$(ci_tool_package "$1")"
  echo "$MBIO_CACHE/ci-tools/$1-${pkg##*@}"
}

# Checks a cached tool against its pinned sha256 (or, unpinned, the one recorded at its build).
ci_tool_verify() {
  local name="$1" dir bin want have
  dir="$(ci_tool_dir "$name")"
  bin="$dir/$name"
  [ -x "$bin" ] || return 1
  want="$(ci_tool_pinned_sum "$name")"
  if [ -z "$want" ]; then
    [ -f "$dir/$name.sha256" ] || return 1
    want="$(cut -d' ' -f1 "$dir/$name.sha256")"
    log "warning: $(ci_tool_key "$name") has no pinned sha256 in scripts/ci-tools.sha256; checking the one recorded at its build"
  fi
  have="$(sha256sum "$bin" | cut -d' ' -f1)"
  [ "$have" = "$want" ] || { log "$bin: sha256 $have is not the pinned $want"; return 1; }
}

ci_tool_build() {
  local name="$1" pkg dir tmp start want have
  pkg="$(ci_tool_package "$name")"
  dir="$(ci_tool_dir "$name")"
  command -v go >/dev/null || ensure_apt_packages golang-go
  log "building $pkg with $CI_TOOLS_GO (Go module proxy) into $dir"
  start=$(date +%s)
  tmp="$(mktemp -d)"
  # -mod=mod: the module's own go.mod and go.sum decide every dependency (checked against the checksum
  # database by the go command); nothing of the caller's workspace applies.
  if ! (cd "$tmp" && GOBIN="$tmp/bin" GOTOOLCHAIN="$CI_TOOLS_GO" GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOWORK=off \
      nice -n 10 go install -trimpath -ldflags "$(ci_tool_ldflags "$name")" "$pkg"); then
    rm -rf "$tmp"
    die "go install $pkg failed"
  fi
  have="$(sha256sum "$tmp/bin/$name" | cut -d' ' -f1)"
  want="$(ci_tool_pinned_sum "$name")"
  if [ -n "$want" ] && [ "$have" != "$want" ]; then
    rm -rf "$tmp"
    die "$(ci_tool_key "$name") built to sha256 $have, not the pinned $want (scripts/ci-tools.sha256): refusing it"
  fi
  [ -n "$want" ] || log "warning: no pinned sha256 for $(ci_tool_key "$name"); pin it with: echo '$have  $(ci_tool_key "$name")' >> scripts/ci-tools.sha256"
  mkdir -p "$dir"
  install -m 0755 "$tmp/bin/$name" "$dir/$name.partial"
  printf '%s  %s\n' "$have" "$(ci_tool_key "$name")" >"$dir/$name.sha256"
  mv "$dir/$name.partial" "$dir/$name"
  rm -rf "$tmp"
  log "$(ci_tool_key "$name") built in $(($(date +%s) - start)) s: $dir/$name (sha256 $have)"
}

# Prints the path of the tool, built when missing, verified before it is handed out.
ci_tool_path() {
  local name="$1" dir
  dir="$(ci_tool_dir "$name")"
  if ! ci_tool_verify "$name"; then
    # One build at a time per tool (parallel jobs, two shells); the second finds it built.
    mkdir -p "$MBIO_CACHE/ci-tools"
    (
      flock 8
      ci_tool_verify "$name" 2>/dev/null || { rm -f "$dir/$name"; ci_tool_build "$name"; }
    ) 8>"$MBIO_CACHE/ci-tools/.$name.lock"
    ci_tool_verify "$name" || die "$dir/$name does not match its checksum after the build"
  fi
  echo "$dir/$name"
}

ensure_ci_tool() {
  local bin
  bin="$(ci_tool_path "$1")" || exit 1
  export PATH="${bin%/*}:$PATH"
}
