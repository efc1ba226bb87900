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

# Makes pulumi and its plugins available: runs toolchain.sh when anything is missing, puts Node.js 24 and
# then the toolchain first on PATH.
ensure_pulumi() {
  if ! pulumi_toolchain_ready; then
    bash "$MBIO_ROOT/scripts/toolchain.sh" || die "scripts/toolchain.sh failed"
  fi
  ensure_node
  _pulumi_path_first
  command -v pulumi >/dev/null || die "pulumi is not on PATH after scripts/toolchain.sh"
}
