#!/usr/bin/env bash
# Builds the real upstream Pulumi programs from the tagged source archives in ../shared/upstream (the Go
# module proxy of our build machines refuses them): the CLI and the Node.js language host (pulumi), and the
# command, hcloud, cloudflare and docker resource plugins. Dependencies come from the Go module proxy.
#
#   source scripts/lib/upstream-plugins.sh
#   upstream_build NAME        NAME: cli | language-host | command | hcloud | cloudflare | docker
#
# Each program lands in $MBIO_CACHE/upstream/<NAME>-<version>/ with a `.built` stamp that records the archive
# checksums, so a second call returns at once. Every archive is checked against scripts/upstream.sha256
# before anything is extracted. docs/toolchain.md explains the versions and the timings.
# shellcheck shell=bash

# shellcheck source=scripts/lib/pulumi-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/pulumi-env.sh"

UPSTREAM_DIR="${MBIO_UPSTREAM_DIR:-$MBIO_ROOT/../shared/upstream}"
UPSTREAM_SUMS="$MBIO_ROOT/scripts/upstream.sha256"
# Reproducible, path-independent builds: the Go build cache then serves every later build of the same tag.
export GOFLAGS="-trimpath -buildvcs=false"
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"

# The versions built, the same on every route (docs/toolchain.md, "Versions"): the npm SDK's pin from
# package.json, or package.json's `mbio.pluginVersions.<name>` where no SDK of the plugin's version exists.
upstream_version() {
  case "$1" in
    cli | language-host) mbio_pinned_version @pulumi/pulumi ;;
    command | hcloud | cloudflare | docker)
      local v
      v="$(node -p "(require(process.argv[1]).mbio?.pluginVersions ?? {})[process.argv[2]] ?? ''" "$MBIO_ROOT/package.json" "$1")"
      if [ -n "$v" ]; then echo "$v"; else mbio_pinned_version "@pulumi/$1"; fi
      ;;
    *) die "unknown upstream program: $1 (cli, language-host, command, hcloud, cloudflare, docker)" ;;
  esac
}

# The archives a program is built from.
upstream_archives() {
  local v
  v="$(upstream_version "$1")"
  case "$1" in
    cli | language-host) echo "pulumi-v$v.tar.gz" ;;
    command) echo "pulumi-command-v$v.tar.gz" ;;
    hcloud) echo "pulumi-hcloud-v$v.tar.gz terraform-provider-hcloud-v1.66.1.tar.gz" ;;
    cloudflare) echo "pulumi-cloudflare-v$v.tar.gz terraform-provider-cloudflare-v5.15.0.tar.gz" ;;
    docker) echo "pulumi-docker-v$v.tar.gz terraform-provider-docker-v4.5.0.tar.gz" ;;
  esac
}

# The binary a program installs as.
upstream_binary() {
  case "$1" in
    cli) echo pulumi ;;
    language-host) echo pulumi-language-nodejs ;;
    *) echo "pulumi-resource-$1" ;;
  esac
}

upstream_out_dir() { printf '%s/upstream/%s-%s\n' "$MBIO_CACHE" "$1" "$(upstream_version "$1")"; }

# The expected checksums of a program's archives, one line: the cache stamp.
upstream_stamp() {
  local a s
  for a in $(upstream_archives "$1"); do
    s="$(awk -v f="$a" '$2 == f { print $1 }' "$UPSTREAM_SUMS")"
    [ -n "$s" ] || die "scripts/upstream.sha256 lists no checksum for $a"
    printf '%s=%s ' "$a" "$s"
  done
  echo
}

upstream_cached() {
  local out
  out="$(upstream_out_dir "$1")"
  [ -x "$out/$(upstream_binary "$1")" ] && [ "$(cat "$out/.built" 2>/dev/null)" = "$(upstream_stamp "$1")" ]
}

# Verifies an archive against scripts/upstream.sha256 and extracts it into DIR (replacing DIR).
upstream_extract() {
  local archive="$1" dir="$2" path want have
  path="$UPSTREAM_DIR/$archive"
  if [ ! -f "$path" ]; then
    die "the offline route builds the Pulumi plugins from the upstream source archives, and $path is missing." \
      "Put the archives of ../shared/upstream next to this repository (or set MBIO_UPSTREAM_DIR), or use a machine with" \
      "internet access (the official installer)."
  fi
  want="$(awk -v f="$archive" '$2 == f { print $1 }' "$UPSTREAM_SUMS")"
  have="$(sha256sum "$path" | cut -d' ' -f1)"
  [ "$want" = "$have" ] || die "$path has sha256 $have, scripts/upstream.sha256 expects $want: refusing to build from it"
  rm -rf "$dir"
  mkdir -p "$dir"
  tar -xzf "$path" -C "$dir" --strip-components=1
}

# Runs a long command quietly into LOG, printing a heartbeat every 30 s and the elapsed time at the end;
# on failure prints the log's tail and fails.
upstream_step() {
  local label="$1" logfile="$2" start=$SECONDS hb rc=0
  shift 2
  log "$label"
  (
    s=""
    trap '[ -n "$s" ] && kill "$s" 2>/dev/null; exit 0' TERM
    while :; do
      sleep 30 &
      s=$!
      wait "$s"
      printf '    ... %s (%ds)\n' "$label" "$((SECONDS - start))" >&2
    done
  ) &
  hb=$!
  "$@" >>"$logfile" 2>&1 || rc=$?
  kill "$hb" 2>/dev/null || true
  wait "$hb" 2>/dev/null || true
  if [ "$rc" != 0 ]; then
    tail -n 40 "$logfile" >&2
    printf 'error: %s failed after %ds (log: %s)\n' "$label" "$((SECONDS - start))" "$logfile" >&2
    return 1
  fi
  printf '    %s: done in %ds\n' "$label" "$((SECONDS - start))" >&2
}

# go build with the program's version stamped in (-X FLAG=VERSION).
upstream_go_build() { # dir version_flag out package
  (cd "$1" && go build -ldflags "-s -w -X $2" -o "$3" "$4")
}

upstream_build() {
  local name="$1" v out src logf bin
  v="$(upstream_version "$name")"
  out="$(upstream_out_dir "$name")"
  bin="$(upstream_binary "$name")"
  if upstream_cached "$name"; then return 0; fi
  command -v go >/dev/null || die "go is needed to build $name $v (offline route)"
  src="$MBIO_CACHE/upstream/src/$name-$v"
  logf="$out.log"
  mkdir -p "$out"
  : >"$logf"
  local t0=$SECONDS
  case "$name" in
    cli | language-host)
      upstream_extract "pulumi-v$v.tar.gz" "$src"
      local flag="github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$v"
      if [ "$name" = cli ]; then
        upstream_step "building pulumi v$v (CLI, pkg/cmd/pulumi)" "$logf" upstream_go_build "$src/pkg" "$flag" "$out/$bin" ./cmd/pulumi
      else
        upstream_step "building pulumi-language-nodejs v$v" "$logf" \
          upstream_go_build "$src/sdk/nodejs/cmd/pulumi-language-nodejs" "$flag" "$out/$bin" .
      fi
      ;;
    command)
      upstream_extract "pulumi-command-v$v.tar.gz" "$src"
      upstream_step "building pulumi-resource-command $v" "$logf" upstream_go_build "$src/provider" \
        "github.com/pulumi/pulumi-command/provider/pkg/version.Version=$v" "$out/$bin" ./cmd/pulumi-resource-command
      ;;
    hcloud)
      upstream_extract "pulumi-hcloud-v$v.tar.gz" "$src"
      upstream_extract terraform-provider-hcloud-v1.66.1.tar.gz "$src/terraform-provider-hcloud"
      # The Terraform provider's module zip is refused by the proxy: point the provider at the archive.
      (cd "$src/provider" && go mod edit -replace github.com/hetznercloud/terraform-provider-hcloud=../terraform-provider-hcloud)
      upstream_step "generating the hcloud $v schema" "$logf" \
        env -C "$src/provider/cmd/pulumi-resource-hcloud" VERSION="$v" go run generate.go
      upstream_step "building pulumi-resource-hcloud $v" "$logf" upstream_go_build "$src/provider" \
        "github.com/pulumi/pulumi-hcloud/provider/pkg/version.Version=$v" "$out/$bin" ./cmd/pulumi-resource-hcloud
      ;;
    cloudflare)
      local vflag="github.com/pulumi/pulumi-cloudflare/provider/v6/pkg/version.Version=$v"
      upstream_extract "pulumi-cloudflare-v$v.tar.gz" "$src"
      upstream_extract terraform-provider-cloudflare-v5.15.0.tar.gz "$src/upstream"
      # The repository's patch exposes the Terraform provider to the bridge (adds upstream/shim).
      (cd "$src/upstream" && git init -q && git apply ../patches/0001-expose-providers.patch) ||
        die "patches/0001-expose-providers.patch does not apply to terraform-provider-cloudflare v5.15.0"
      upstream_step "building pulumi-tfgen-cloudflare $v (first build ~45 min on 2 cores, then cached by Go)" "$logf" \
        upstream_go_build "$src/provider" "$vflag" "$src/bin/pulumi-tfgen-cloudflare" ./cmd/pulumi-tfgen-cloudflare
      upstream_step "generating the cloudflare $v schema" "$logf" \
        env -C "$src/provider" "$src/bin/pulumi-tfgen-cloudflare" schema --out cmd/pulumi-resource-cloudflare
      upstream_step "embedding the cloudflare $v schema" "$logf" \
        env -C "$src/provider/cmd/pulumi-resource-cloudflare" VERSION="$v" go run generate.go
      upstream_step "building pulumi-resource-cloudflare $v" "$logf" upstream_go_build "$src/provider" \
        "$vflag" "$out/$bin" ./cmd/pulumi-resource-cloudflare
      ;;
    docker)
      upstream_extract "pulumi-docker-v$v.tar.gz" "$src"
      upstream_extract terraform-provider-docker-v4.5.0.tar.gz "$src/upstream"
      # The repository applies its patches to the submodule before building (the first adds upstream/shim).
      local patch
      for patch in "$src"/patches/*.patch; do
        (cd "$src/upstream" && { [ -d .git ] || git init -q; } && git apply "$patch") ||
          die "$(basename "$patch") does not apply to terraform-provider-docker v4.5.0"
      done
      # The committed schema.json is embedded as is (no tfgen); -tags no_compose leaves out the compose
      # resource (not used here, and its docker/compose module graph is the one the proxy refuses).
      # GOFLAGS=-mod=mod: go.sum lacks entries the build needs resolved, and a plain `go mod download`
      # stops on github.com/pulumi/pulumi-java v1.30.0, which the build does not import.
      upstream_step "embedding the docker $v schema" "$logf" \
        env -C "$src/provider/cmd/pulumi-resource-docker" VERSION="$v" GOFLAGS="$GOFLAGS -mod=mod" go generate main.go
      upstream_step "building pulumi-resource-docker $v (~5-10 min on one core the first time)" "$logf" \
        env -C "$src/provider" CGO_ENABLED=0 GOFLAGS="$GOFLAGS -mod=mod" go build -tags no_compose \
        -ldflags "-s -w -X github.com/pulumi/pulumi-docker/provider/v5/pkg/version.Version=$v" \
        -o "$out/$bin" ./cmd/pulumi-resource-docker
      ;;
  esac
  upstream_stamp "$name" >"$out/.built"
  rm -rf "$src"
  log "$bin $v built in $((SECONDS - t0))s ($out)"
}
