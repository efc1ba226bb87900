#!/usr/bin/env bash
# Environment for the Pulumi toolchain that scripts/toolchain.sh installs. Source it, then call ensure_pulumi:
#
#   source scripts/lib/pulumi-env.sh && ensure_pulumi
#
# It exports:
#   PATH                     the toolchain's bin directory first (pulumi, pulumi-language-nodejs, ...)
#   PULUMI_HOME              $MBIO_CACHE/pulumi-home: the plugin cache (and credentials of `pulumi login`)
#   PULUMI_SKIP_UPDATE_CHECK, PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION
#                            no network look-ups: every plugin comes from the cache toolchain.sh filled
#   PULUMI_BACKEND_URL       file://$MBIO_CACHE/state unless already set
#   PULUMI_CONFIG_PASSPHRASE a fixed passphrase for the local sandbox state only: it is set only when neither
#                            PULUMI_CONFIG_PASSPHRASE nor PULUMI_CONFIG_PASSPHRASE_FILE is set and the backend
#                            is that local default. Real environments set their own (CI secret variable).
# shellcheck shell=bash

# shellcheck source=scripts/lib/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# Version of an npm dependency pinned in package.json (jq when present, else node).
mbio_pinned_version() {
  local name="$1" v
  command -v jq >/dev/null || command -v node >/dev/null || ensure_apt_packages jq
  if command -v jq >/dev/null; then
    v="$(jq -r --arg n "$name" '.dependencies[$n] // .devDependencies[$n] // empty' "$MBIO_ROOT/package.json")"
  else
    v="$(node -p "const p=require(process.argv[1]); (p.dependencies||{})[process.argv[2]] || (p.devDependencies||{})[process.argv[2]] || ''" \
      "$MBIO_ROOT/package.json" "$name")"
  fi
  [ -n "$v" ] || die "package.json pins no version of $name"
  printf '%s\n' "${v#v}"
}

PULUMI_VERSION="$(mbio_pinned_version @pulumi/pulumi)"
export PULUMI_VERSION
# Everything toolchain.sh installs for this version; its manifest marks a complete install.
export PULUMI_TOOLCHAIN_DIR="$MBIO_CACHE/pulumi/$PULUMI_VERSION"
export PULUMI_TOOLCHAIN_BIN="$PULUMI_TOOLCHAIN_DIR/bin"
export PULUMI_TOOLCHAIN_MANIFEST="$PULUMI_TOOLCHAIN_DIR/toolchain.env"

export PULUMI_HOME="$MBIO_CACHE/pulumi-home"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$MBIO_CACHE/state}"
if [ "$PULUMI_BACKEND_URL" = "file://$MBIO_CACHE/state" ]; then
  mkdir -p "$MBIO_CACHE/state"
  # Local sandbox only; never rely on this for a stack whose secrets matter.
  if [ -z "${PULUMI_CONFIG_PASSPHRASE+x}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    export PULUMI_CONFIG_PASSPHRASE="mbio-local-sandbox"
  fi
fi

_pulumi_path_first() {
  case "$PATH" in
    "$PULUMI_TOOLCHAIN_BIN":*) ;;
    *) export PATH="$PULUMI_TOOLCHAIN_BIN:$PATH" ;;
  esac
}
_pulumi_path_first

# True when the toolchain for the pinned versions is complete (toolchain.sh --check says the same).
pulumi_toolchain_ready() {
  bash "$MBIO_ROOT/scripts/toolchain.sh" --check >/dev/null 2>&1
}

# The files toolchain.sh installs that run: the toolchain's bin/ and every plugin executable in PULUMI_HOME.
pulumi_toolchain_files() {
  find "$PULUMI_TOOLCHAIN_BIN" -maxdepth 1 -type f -perm -u+x 2>/dev/null
  find "$PULUMI_HOME/plugins" -mindepth 2 -maxdepth 2 -type f -name 'pulumi-*' -perm -u+x 2>/dev/null
}

# Before each use (ensure_pulumi, and every CI job that runs pulumi): every binary and plugin must match the
# sha256 toolchain.sh recorded when it built or downloaded it ($PULUMI_TOOLCHAIN_DIR/sha256sums), and the
# cache must belong to this user and be writable by no one else. A deploy runner's cache lives in its own
# user's home (docs/ci.md, "Runners and trust levels"): what this catches is a binary changed after it was
# recorded, and a cache shared with, or writable by, another user (a merge-request job's).
verify_pulumi_toolchain() {
  local sums="$PULUMI_TOOLCHAIN_DIR/sha256sums" bad n
  [ -s "$sums" ] || die "$sums is missing: the toolchain cache predates checksum recording or was tampered with; rebuild it with: bash scripts/toolchain.sh --force"
  bad="$(find "$MBIO_CACHE" "$PULUMI_TOOLCHAIN_DIR" "$PULUMI_HOME" -maxdepth 0 \( ! -user "$(id -u)" -o -perm /022 \) 2>/dev/null)
$(find "$PULUMI_TOOLCHAIN_DIR" "$PULUMI_HOME/plugins" ! -type l \( ! -user "$(id -u)" -o -perm /022 \) -print 2>/dev/null)"
  bad="$(grep . <<<"$bad" || true)"
  [ -z "$bad" ] || die "the Pulumi toolchain cache is writable by another user or owned by one (refusing to run it): $(head -n 3 <<<"$bad" | tr '\n' ' ')"
  # Every file that runs is listed, and every listed file matches.
  n="$(pulumi_toolchain_files | sort | comm -23 - <(awk '{ print $2 }' "$sums" | sort) | head -n 3)"
  [ -z "$n" ] || die "the Pulumi toolchain cache holds executables that were not recorded when it was built: $n (rebuild: bash scripts/toolchain.sh --force)"
  sha256sum --quiet --strict -c "$sums" >&2 || die "a cached Pulumi binary or plugin differs from the sha256 recorded when it was built ($sums): refusing to run it; rebuild with: bash scripts/toolchain.sh --force"
}

# Makes pulumi and its plugins available: runs toolchain.sh when anything is missing, puts Node.js 24 and
# then the toolchain first on PATH, and checks every cached binary against its recorded sha256.
ensure_pulumi() {
  if ! pulumi_toolchain_ready || [ ! -s "$PULUMI_TOOLCHAIN_DIR/sha256sums" ]; then
    bash "$MBIO_ROOT/scripts/toolchain.sh" || die "scripts/toolchain.sh failed"
  fi
  verify_pulumi_toolchain
  ensure_node
  _pulumi_path_first
  command -v pulumi >/dev/null || die "pulumi is not on PATH after scripts/toolchain.sh"
}
