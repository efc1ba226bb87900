#!/usr/bin/env bash
# Tools used only by tests and CI jobs (gitlab-ci-local, renovate) live in tools/<name>/ with their own
# package.json and lockfile, never in the root package.json. This installs one into the cache, keyed by
# the lockfile's hash (a second call returns at once), and prints its node_modules/.bin directory.
#
#   source scripts/lib/npm-tool.sh && bin="$(ensure_npm_tool gitlab-ci-local)"
# shellcheck shell=bash

# shellcheck source=scripts/lib/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

ensure_npm_tool() {
  local name="$1" src="$MBIO_ROOT/tools/$1" hash dir
  [ -f "$src/package-lock.json" ] || die "tools/$name/package-lock.json is missing: the tool must be pinned by a lockfile"
  ensure_node >&2
  hash="$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -c1-16)"
  dir="$MBIO_CACHE/npm-tools/$name-$hash"
  if [ ! -f "$dir/.installed" ]; then
    log "installing tools/$name (npm ci) into $dir" >&2
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$src/package.json" "$src/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2 || die "npm ci of tools/$name failed"
    touch "$dir/.installed"
  fi
  printf '%s\n' "$dir/node_modules/.bin"
}
