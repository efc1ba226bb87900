#!/usr/bin/env bash
# Installs the Pulumi toolchain at the versions package.json pins: the CLI, the Node.js language host, the
# dynamic-provider and policy scripts, and the `command` provider plugin. docs/toolchain.md explains it.
#
#   bash scripts/toolchain.sh                          CLI + language host + command plugin
#   bash scripts/toolchain.sh --with-cloud-providers   also hcloud (and, with network, cloudflare and docker)
#   bash scripts/toolchain.sh --check                  exit 0 when everything is installed, 1 otherwise
#   bash scripts/toolchain.sh --force                  reinstall even when cached
#
# Two routes, chosen in at most 5 s:
#   internet  get.pulumi.com answers: the official installer, then `pulumi plugin install` from the network.
#   offline   otherwise: everything is built from the Go module proxy (go mod download, go build).
#
# Cache, keyed by version (a second run prints "cached" and exits at once):
#   $MBIO_CACHE/pulumi/<@pulumi/pulumi version>/bin   pulumi, pulumi-language-nodejs, pulumi-resource-pulumi-nodejs,
#                                                     pulumi-analyzer-policy
#   $MBIO_CACHE/pulumi/<version>/toolchain.env        manifest: route and what was actually installed
#   $MBIO_CACHE/pulumi-home                           PULUMI_HOME; plugins/resource-command-v<version>/
#   $MBIO_CACHE/pulumi/build                          scratch source trees (removed after a good build)
# Go's own caches (GOCACHE, GOMODCACHE) stay at their defaults, outside the repository, so rebuilds are fast.
set -euo pipefail

# shellcheck source=scripts/lib/pulumi-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/pulumi-env.sh"

WITH_CLOUD=0
FORCE=0
CHECK=0
for arg in "$@"; do
  case "$arg" in
    --with-cloud-providers) WITH_CLOUD=1 ;;
    --force) FORCE=1 ;;
    --check) CHECK=1 ;;
    -h | --help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (see --help)" ;;
  esac
done

COMMAND_VERSION="$(mbio_pinned_version @pulumi/command)"
HCLOUD_VERSION="$(mbio_pinned_version @pulumi/hcloud)"
CLOUDFLARE_VERSION="$(mbio_pinned_version @pulumi/cloudflare)"
DOCKER_VERSION="$(mbio_pinned_version @pulumi/docker)"
BIN="$PULUMI_TOOLCHAIN_BIN"
MANIFEST="$PULUMI_TOOLCHAIN_MANIFEST"
# Stand-ins for what the module proxy cannot serve (language host, command provider): docs/toolchain.md.
OFFLINE_SRC="$MBIO_ROOT/scripts/lib/pulumi-offline"

plugin_dir() { printf '%s/plugins/resource-%s-v%s\n' "$PULUMI_HOME" "$1" "$2"; }
plugin_installed() { [ -x "$(plugin_dir "$1" "$2")/pulumi-resource-$1" ]; }

# Fingerprint of the stand-ins' sources: a change rebuilds them.
offline_source_hash() {
  cat "$OFFLINE_SRC"/go.mod "$OFFLINE_SRC"/go.sum "$OFFLINE_SRC"/cmd/*/*.go | sha256sum | cut -c1-16
}

manifest_get() { [ -f "$MANIFEST" ] && sed -n "s/^$1=//p" "$MANIFEST" | tail -n 1; }

is_cached() {
  [ -f "$MANIFEST" ] || return 1
  local f
  for f in pulumi pulumi-language-nodejs pulumi-resource-pulumi-nodejs pulumi-analyzer-policy; do
    [ -x "$BIN/$f" ] || return 1
  done
  [ "$(manifest_get command_version)" = "$COMMAND_VERSION" ] || return 1
  plugin_installed command "$COMMAND_VERSION" || return 1
  if [ -n "$(manifest_get offline_source)" ]; then
    [ "$(manifest_get offline_source)" = "$(offline_source_hash)" ] || return 1
  fi
  if [ "$WITH_CLOUD" = 1 ]; then
    [ "$(manifest_get cloud_providers)" = attempted ] || return 1
  fi
  return 0
}

if [ "$CHECK" = 1 ]; then
  is_cached
  exit $?
fi
if [ "$FORCE" = 0 ] && is_cached; then
  log "pulumi toolchain $PULUMI_VERSION: cached ($(manifest_get route) route; $BIN, PULUMI_HOME=$PULUMI_HOME)"
  exit 0
fi

mkdir -p "$BIN" "$PULUMI_HOME"
# One install at a time (parallel CI jobs, two shells): the second waits, then finds the cache filled.
exec 9>"$MBIO_CACHE/pulumi/.lock"
if command -v flock >/dev/null; then
  flock 9
  if [ "$FORCE" = 0 ] && is_cached; then
    log "pulumi toolchain $PULUMI_VERSION: cached (installed meanwhile by another process)"
    exit 0
  fi
fi
# No manifest until everything is in place: an interrupted install is never taken for a cached one.
rm -f "$MANIFEST"
T0=$SECONDS
since() { printf '%ds' "$((SECONDS - $1))"; }

# Runs a long command with its output in a log file, printing a line every 30 s and the elapsed time at the
# end; on failure prints the log's tail.
run_step() {
  local label="$1" logfile="$2" start=$SECONDS hb rc=0
  shift 2
  log "$label"
  # The heartbeat kills its own sleep when stopped, so no stray process keeps a pipe (| tee) open.
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
  "$@" >"$logfile" 2>&1 || rc=$?
  kill "$hb" 2>/dev/null || true
  wait "$hb" 2>/dev/null || true
  if [ "$rc" != 0 ]; then
    tail -n 40 "$logfile" >&2
    die "$label failed after $(since "$start") (log: $logfile)"
  fi
  printf '    done in %s\n' "$(since "$start")" >&2
}

write_manifest() {
  {
    printf 'pulumi_version=%s\n' "$PULUMI_VERSION"
    printf 'command_version=%s\n' "$COMMAND_VERSION"
    printf 'installed_at=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf '%s\n' "$@"
  } >"$MANIFEST.tmp"
  mv "$MANIFEST.tmp" "$MANIFEST"
}

install_plugin_file() { # name version binary
  pulumi plugin install resource "$1" "$2" --file "$3" --reinstall >"$BUILD/plugin-$1.log" 2>&1 ||
    { cat "$BUILD/plugin-$1.log" >&2; die "pulumi plugin install resource $1 $2 --file $3 failed"; }
  plugin_installed "$1" "$2" || die "pulumi plugin install did not put $1 $2 into $PULUMI_HOME/plugins"
}

# ---------------------------------------------------------------------------------------------------------
# Route 1: the official installer and `pulumi plugin install` from the network.
# ---------------------------------------------------------------------------------------------------------
internet_route() {
  log "route: internet (get.pulumi.com answers): official installer for pulumi $PULUMI_VERSION"
  local tmp
  tmp="$(mktemp -d)"
  curl -fsSL https://get.pulumi.com -o "$tmp/install.sh"
  run_step "installing pulumi v$PULUMI_VERSION" "$tmp/install.log" \
    sh "$tmp/install.sh" --version "$PULUMI_VERSION" --install-root "$PULUMI_TOOLCHAIN_DIR" --no-edit-path
  rm -rf "$tmp"
  [ -x "$BIN/pulumi-analyzer-policy" ] || write_policy_script
  [ -x "$BIN/pulumi-resource-pulumi-nodejs" ] || write_dynamic_provider_script
  run_step "pulumi plugin install resource command $COMMAND_VERSION" "$PULUMI_TOOLCHAIN_DIR/plugin-command.log" \
    pulumi plugin install resource command "$COMMAND_VERSION"
  local cloud=()
  if [ "$WITH_CLOUD" = 1 ]; then
    local p
    for p in "hcloud $HCLOUD_VERSION" "cloudflare $CLOUDFLARE_VERSION" "docker $DOCKER_VERSION"; do
      # shellcheck disable=SC2086 # "name version"
      run_step "pulumi plugin install resource $p" "$PULUMI_TOOLCHAIN_DIR/plugin-${p%% *}.log" pulumi plugin install resource $p
    done
    cloud=(cloud_providers=attempted "hcloud_plugin=$HCLOUD_VERSION" "cloudflare_plugin=$CLOUDFLARE_VERSION" "docker_plugin=$DOCKER_VERSION")
  fi
  write_manifest route=internet "pulumi_cli=v$PULUMI_VERSION" "language_host=v$PULUMI_VERSION" command_plugin=official "${cloud[@]}"
}

# The commit a module version was tagged at, as the proxy records it (empty when it does not say).
origin_hash() { go mod download -json "$1" 2>/dev/null | jq -r '.Origin.Hash // empty' 2>/dev/null || true; }

# The directory of REPO's provider/ module at VERSION: provider modules have no tags of their own, so try
# the tag, then the commit of the repository's tag. Prints nothing when the proxy serves neither.
provider_module_dir() {
  local repo="$1" version="$2" rev dir
  for rev in "v$version" "$(origin_hash "$repo@v$version")"; do
    [ -n "$rev" ] && dir="$(go_mod_dir "$repo/provider" "$rev")" && { echo "$dir"; return 0; }
  done
  return 0
}

# Builds PACKAGE inside the writable module tree DIR with its version stamped in (-X VERSION_FLAG), to OUT,
# showing progress and keeping the go output in LOG.
go_build_in() {
  local dir="$1" label="$2" logfile="$3" version_flag="$4" out="$5" package="$6"
  (cd "$dir" && run_step "$label" "$logfile" go build -ldflags "-s -w -X $version_flag" -o "$out" "$package")
}

# The two shell plugins the official tarball ships next to the CLI: the dynamic-provider plugin (the same
# script as in the @pulumi/pulumi npm package) and the legacy policy-pack runner. Each runs one entry point
# of the program's own @pulumi/pulumi.
write_node_plugin() {
  local name="$1" entry="$2" what="$3"
  cat >"$BIN/$name" <<EOF
#!/bin/sh
# $what: runs @pulumi/pulumi/cmd/$entry of the program.
SCRIPT_PATH=\$(node -e "try { console.log(require.resolve('@pulumi/pulumi/cmd/$entry')) } catch (e) { console.error(e.message) }")
if [ -n "\$SCRIPT_PATH" ]; then
    exec node "\$SCRIPT_PATH" "\$@"
fi
EOF
  chmod +x "$BIN/$name"
}
write_dynamic_provider_script() { write_node_plugin pulumi-resource-pulumi-nodejs dynamic-provider "Dynamic providers (pulumi.dynamic.Resource)"; }
write_policy_script() { write_node_plugin pulumi-analyzer-policy run-policy-pack "Node.js policy packs (legacy entry point)"; }

# ---------------------------------------------------------------------------------------------------------
# Route 2: built from the Go module proxy.
# ---------------------------------------------------------------------------------------------------------
export GOTOOLCHAIN=auto
export GOFLAGS="-trimpath -buildvcs=false"
BUILD="$MBIO_CACHE/pulumi/build"

# Prints the module cache directory of MODULE@VERSION, downloading it; fails when the proxy does not serve it.
go_mod_dir() {
  local json dir
  json="$(go mod download -json "$1@$2" 2>/dev/null || true)"
  dir="$(printf '%s' "$json" | jq -r 'select(.Error == null) | .Dir // empty' 2>/dev/null || true)"
  [ -n "$dir" ] && [ -d "$dir" ] || return 1
  printf '%s\n' "$dir"
}

wait_offline_deps() {
  if [ -n "${OFFLINE_DEPS_PID:-}" ]; then
    wait "$OFFLINE_DEPS_PID" || log "prefetching the stand-ins' modules failed; go build retries (see $BUILD/offline-download.log)"
    OFFLINE_DEPS_PID=""
  fi
}

# Copies a module from the read-only module cache into a writable tree.
copy_module() {
  rm -rf "$2"
  mkdir -p "$(dirname "$2")"
  cp -r "$1" "$2"
  chmod -R u+w "$2"
}

# The pkg/v3 tag to build the CLI from: the pinned one when the proxy serves it, else the nearest newer
# v3 tag that it serves (then the nearest older one). PULUMI_CLI_VERSION=vX.Y.Z overrides.
resolve_cli_version() {
  local want="v$PULUMI_VERSION" v
  if [ -n "${PULUMI_CLI_VERSION:-}" ]; then
    printf '%s\n' "$PULUMI_CLI_VERSION"
    return
  fi
  if go_mod_dir github.com/pulumi/pulumi/pkg/v3 "$want" >/dev/null; then
    printf '%s\n' "$want"
    return
  fi
  local versions newer older
  versions="$(go list -m -versions github.com/pulumi/pulumi/pkg/v3 2>/dev/null | tr ' ' '\n' | grep '^v3\.' | sort -V || true)"
  newer="$(printf '%s\n%s\n' "$versions" "$want" | sort -uV | sed -n "/^${want//./\\.}\$/,\$p" | grep -vx "$want" || true)"
  older="$(printf '%s\n%s\n' "$versions" "$want" | sort -uV | sed -n "1,/^${want//./\\.}\$/p" | grep -vx "$want" | sort -rV || true)"
  for v in $newer $older; do
    if go_mod_dir github.com/pulumi/pulumi/pkg/v3 "$v" >/dev/null && go_mod_dir github.com/pulumi/pulumi/sdk/v3 "$v" >/dev/null; then
      printf '%s\n' "$v"
      return
    fi
  done
  return 1
}

offline_route() {
  log "route: offline (get.pulumi.com unreachable): building from the Go module proxy ($(go env GOPROXY))"
  command -v go >/dev/null || die "go is needed for the offline route"
  command -v jq >/dev/null || ensure_apt_packages jq
  rm -rf "$BUILD"
  mkdir -p "$BUILD"
  # The stand-ins' dependencies download while the CLI compiles.
  (cd "$OFFLINE_SRC" && go mod download) >"$BUILD/offline-download.log" 2>&1 &
  OFFLINE_DEPS_PID=$!

  # --- CLI: pkg/v3 and sdk/v3 of the same tag, laid out as in the repository (pkg has replace sdk => ../sdk).
  local t=$SECONDS cli pkgdir sdkdir
  log "resolving github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION on the module proxy"
  cli="$(resolve_cli_version)" || die "the module proxy serves no github.com/pulumi/pulumi/pkg/v3 v3 tag"
  if [ "$cli" != "v$PULUMI_VERSION" ]; then
    log "WARNING: the module proxy does not serve github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION;" \
      "building the CLI from $cli instead (a CLI newer than the Node.js SDK is supported; set PULUMI_CLI_VERSION to choose)"
  fi
  pkgdir="$(go_mod_dir github.com/pulumi/pulumi/pkg/v3 "$cli")" || die "cannot download pkg/v3@$cli"
  sdkdir="$(go_mod_dir github.com/pulumi/pulumi/sdk/v3 "$cli")" || die "cannot download sdk/v3@$cli"
  copy_module "$pkgdir" "$BUILD/pulumi/pkg"
  copy_module "$sdkdir" "$BUILD/pulumi/sdk"
  printf '    downloaded pkg/v3 and sdk/v3 %s in %s\n' "$cli" "$(since "$t")" >&2
  go_build_in "$BUILD/pulumi/pkg" "building pulumi $cli (go build ./cmd/pulumi; the longest step)" "$BUILD/cli.log" \
    "github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$cli" "$BIN/pulumi" ./cmd/pulumi

  # --- Node.js language host: the upstream module when the proxy serves it at the tag's commit, else the
  # stand-in in scripts/lib/pulumi-offline (the upstream module has no tags; see docs/toolchain.md).
  local host hostmod=github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 hash hostdir=""
  hash="$(origin_hash "github.com/pulumi/pulumi/pkg/v3@$cli")"
  if [ -n "$hash" ]; then hostdir="$(go_mod_dir "$hostmod" "$hash" || true)"; fi
  if [ -n "$hostdir" ]; then
    host=upstream
    copy_module "$hostdir" "$BUILD/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs"
    go_build_in "$BUILD/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs" "building pulumi-language-nodejs $cli (commit ${hash:0:12})" \
      "$BUILD/host.log" "github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$cli" "$BIN/pulumi-language-nodejs" .
  else
    host=offline-stand-in
    log "WARNING: the module proxy serves no version of $hostmod (it has no tags);" \
      "building the stand-in language host of scripts/lib/pulumi-offline"
  fi

  # --- command provider: the real one when the proxy serves it (its module has no tags of its own: try the
  # tag, then the commit of the repository's tag), else the stand-in in scripts/lib/pulumi-offline.
  local command_plugin offline_source="" provdir
  provdir="$(provider_module_dir github.com/pulumi/pulumi-command "$COMMAND_VERSION")"
  if [ -n "$provdir" ]; then
    command_plugin=official
    copy_module "$provdir" "$BUILD/pulumi-command/provider"
    go_build_in "$BUILD/pulumi-command/provider" "building pulumi-resource-command $COMMAND_VERSION" "$BUILD/command.log" \
      "github.com/pulumi/pulumi-command/provider/pkg/version.Version=$COMMAND_VERSION" "$BUILD/bin/pulumi-resource-command" ./cmd/pulumi-resource-command
  else
    command_plugin=offline-stand-in
    log "WARNING: the module proxy serves no version of github.com/pulumi/pulumi-command/provider;" \
      "building the stand-in of scripts/lib/pulumi-offline (local.Command, remote.Command, local.run)"
  fi

  # --- The stand-ins, one Go module for both programs.
  if [ "$host" = offline-stand-in ] || [ "$command_plugin" = offline-stand-in ]; then
    offline_source="$(offline_source_hash)"
    local targets=()
    [ "$host" = offline-stand-in ] && targets+=(./cmd/pulumi-language-nodejs)
    [ "$command_plugin" = offline-stand-in ] && targets+=(./cmd/pulumi-resource-command)
    wait_offline_deps
    (
      cd "$OFFLINE_SRC"
      # The provider reports the @pulumi/command version; the host the CLI's, as a bundled host does.
      run_step "building ${targets[*]#./cmd/} (scripts/lib/pulumi-offline)" "$BUILD/offline.log" \
        go build -mod=readonly -ldflags "-s -w -X main.version=$COMMAND_VERSION -X main.languageHostVersion=$cli" \
        -o "$BUILD/bin/" "${targets[@]}"
    )
    if [ "$host" = offline-stand-in ]; then mv "$BUILD/bin/pulumi-language-nodejs" "$BIN/pulumi-language-nodejs"; fi
  fi
  write_dynamic_provider_script
  write_policy_script
  install_plugin_file command "$COMMAND_VERSION" "$BUILD/bin/pulumi-resource-command"

  local cloud=()
  if [ "$WITH_CLOUD" = 1 ]; then
    offline_cloud_providers
    cloud=(cloud_providers=attempted "hcloud_plugin=${HCLOUD_RESULT:-none}")
  fi
  write_manifest route=offline "pulumi_cli=$cli" "language_host=$host" "command_plugin=$command_plugin" \
    "offline_source=$offline_source" "${cloud[@]}"
  rm -rf "$BUILD"
}

# hcloud from github.com/pulumi/pulumi-hcloud/provider: schema-embed.json is generated before the build,
# as its Makefile does. docker (../upstream submodule) and cloudflare (../upstream + shim) cannot be built
# from module zips and are not attempted.
offline_cloud_providers() {
  HCLOUD_RESULT=none
  local dir
  dir="$(provider_module_dir github.com/pulumi/pulumi-hcloud "$HCLOUD_VERSION")"
  if [ -z "$dir" ]; then
    log "WARNING: the module proxy serves no github.com/pulumi/pulumi-hcloud/provider@v$HCLOUD_VERSION" \
      "nor at the commit of the repository tag (the provider module has no tags of its own);" \
      "hcloud is not installed (docs/toolchain.md)"
    return 0
  fi
  copy_module "$dir" "$BUILD/pulumi-hcloud/provider"
  (
    cd "$BUILD/pulumi-hcloud/provider/cmd/pulumi-resource-hcloud"
    run_step "generating hcloud schema-embed.json" "$BUILD/hcloud-schema.log" go run ./generate.go
    run_step "building pulumi-resource-hcloud $HCLOUD_VERSION" "$BUILD/hcloud.log" \
      go build -ldflags "-s -w -X github.com/pulumi/pulumi-hcloud/provider/pkg/version.Version=$HCLOUD_VERSION" \
      -o "$BUILD/bin/pulumi-resource-hcloud" .
  )
  install_plugin_file hcloud "$HCLOUD_VERSION" "$BUILD/bin/pulumi-resource-hcloud"
  HCLOUD_RESULT="$HCLOUD_VERSION"
}

if curl -fsS --max-time 5 -o /dev/null https://get.pulumi.com 2>/dev/null; then
  internet_route
else
  offline_route
fi

"$BIN/pulumi" version >/dev/null || die "the installed pulumi does not run"
log "pulumi toolchain $PULUMI_VERSION ready in $(since "$T0"): $("$BIN/pulumi" version) ($(manifest_get route) route)"
sed 's/^/    /' "$MANIFEST" >&2
