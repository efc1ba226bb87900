#!/usr/bin/env bash
# Installs the Pulumi toolchain at the versions the repository pins: the CLI and Node.js language host
# (@pulumi/pulumi), the dynamic-provider and policy scripts, and the resource plugins command, hcloud,
# (with --with-docker) docker and (with --with-cloudflare) cloudflare. Every route installs the same versions; docs/toolchain.md says why.
#
#   bash scripts/toolchain.sh                     CLI, language host, command + hcloud plugins
#   bash scripts/toolchain.sh --with-cloudflare   also the cloudflare plugin (offline: ~45 min the first time)
#   bash scripts/toolchain.sh --with-docker       also the docker plugin 5.1.0 (offline: ~10-15 min the first time)
#   bash scripts/toolchain.sh --check [--with-cloudflare] [--with-docker]   exit 0 when installed, 1 otherwise
#   bash scripts/toolchain.sh --force             reinstall even when cached
#
# Two routes, chosen in at most 5 s:
#   internet  get.pulumi.com answers: the official installer, then `pulumi plugin install` from the network.
#   offline   otherwise: the real upstream programs built from the tagged source archives of ../shared/upstream
#             (checked against scripts/upstream.sha256) with dependencies from the Go module proxy
#             (scripts/lib/upstream-plugins.sh), then `pulumi plugin install … --file`.
#
# Cache, keyed by version (a second run prints "cached" and exits at once):
#   $MBIO_CACHE/pulumi/<version>/bin             pulumi, pulumi-language-nodejs, pulumi-resource-pulumi-nodejs,
#                                                pulumi-analyzer-policy
#   $MBIO_CACHE/pulumi/<version>/toolchain.env   manifest: route and what was installed
#   $MBIO_CACHE/pulumi/<version>/sha256sums      sha256 of every installed binary and plugin, checked before
#                                                each use (pulumi-env.sh verify_pulumi_toolchain)
#   $MBIO_CACHE/pulumi-home/plugins/             PULUMI_HOME's plugin cache (resource-<name>-v<version>/)
#   $MBIO_CACHE/upstream/<name>-<version>/       offline builds (Go's own caches stay at their defaults)
set -euo pipefail

# shellcheck source=scripts/lib/pulumi-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/pulumi-env.sh"
# shellcheck source=scripts/lib/upstream-plugins.sh
source "$MBIO_ROOT/scripts/lib/upstream-plugins.sh"

WITH_CLOUDFLARE=0
WITH_DOCKER=0
FORCE=0
CHECK=0
for arg in "$@"; do
  case "$arg" in
    --with-cloudflare) WITH_CLOUDFLARE=1 ;;
    --with-docker) WITH_DOCKER=1 ;;
    --force) FORCE=1 ;;
    --check) CHECK=1 ;;
    -h | --help) sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (see --help)" ;;
  esac
done

BIN="$PULUMI_TOOLCHAIN_BIN"
MANIFEST="$PULUMI_TOOLCHAIN_MANIFEST"
PLUGINS=(command hcloud)
[ "$WITH_DOCKER" = 1 ] && PLUGINS+=(docker)
[ "$WITH_CLOUDFLARE" = 1 ] && PLUGINS+=(cloudflare)

plugin_dir() { printf '%s/plugins/resource-%s-v%s\n' "$PULUMI_HOME" "$1" "$(upstream_version "$1")"; }
plugin_installed() { [ -x "$(plugin_dir "$1")/pulumi-resource-$1" ]; }
manifest_get() { [ -f "$MANIFEST" ] && sed -n "s/^$1=//p" "$MANIFEST" | tail -n 1; }

is_cached() {
  [ -f "$MANIFEST" ] || return 1
  local f p
  for f in pulumi pulumi-language-nodejs pulumi-resource-pulumi-nodejs pulumi-analyzer-policy; do
    [ -x "$BIN/$f" ] || return 1
  done
  for p in "${PLUGINS[@]}"; do plugin_installed "$p" || return 1; done
  [ "$(manifest_get language_host)" = upstream ] || return 1
}

# Records what was installed; written last, so only a complete install has it.
record_checksums() {
  umask 022
  pulumi_toolchain_files | sort | xargs -r sha256sum >"$PULUMI_TOOLCHAIN_DIR/sha256sums.tmp"
  mv "$PULUMI_TOOLCHAIN_DIR/sha256sums.tmp" "$PULUMI_TOOLCHAIN_DIR/sha256sums"
}

if [ "$CHECK" = 1 ]; then
  is_cached
  exit $?
fi
if [ "$FORCE" = 0 ] && is_cached; then
  if [ ! -s "$PULUMI_TOOLCHAIN_DIR/sha256sums" ]; then
    # A cache installed before checksums were recorded: recorded now, as found (docs/ci.md says why a
    # deploy runner's cache is built fresh in its own user's home instead).
    record_checksums
    log "pulumi toolchain $PULUMI_VERSION: recorded the sha256 of the existing cache's binaries"
  fi
  log "pulumi toolchain $PULUMI_VERSION: cached ($(manifest_get route) route; plugins: ${PLUGINS[*]}; $BIN)"
  exit 0
fi

mkdir -p "$BIN" "$PULUMI_HOME" "$MBIO_CACHE/pulumi"
# One install at a time (parallel CI jobs, two shells): the second waits, then finds the cache filled.
exec 9>"$MBIO_CACHE/pulumi/.lock"
if command -v flock >/dev/null; then
  flock 9
  if [ "$FORCE" = 0 ] && is_cached; then
    log "pulumi toolchain $PULUMI_VERSION: cached (installed meanwhile by another process)"
    exit 0
  fi
fi
T0=$SECONDS

write_manifest() {
  local p
  {
    printf 'pulumi_version=%s\n' "$PULUMI_VERSION"
    printf 'installed_at=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf '%s\n' "$@"
    for p in "${PLUGINS[@]}"; do printf 'plugin_%s=%s\n' "$p" "$(upstream_version "$p")"; done
  } >"$MANIFEST.tmp"
  mv "$MANIFEST.tmp" "$MANIFEST"
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
write_node_plugins() {
  [ -x "$BIN/pulumi-resource-pulumi-nodejs" ] ||
    write_node_plugin pulumi-resource-pulumi-nodejs dynamic-provider "Dynamic providers (pulumi.dynamic.Resource)"
  [ -x "$BIN/pulumi-analyzer-policy" ] ||
    write_node_plugin pulumi-analyzer-policy run-policy-pack "Node.js policy packs (legacy entry point)"
}

# ---------------------------------------------------------------------------------------------------------
# Route 1: the official installer and `pulumi plugin install` from the network.
# ---------------------------------------------------------------------------------------------------------
internet_route() {
  log "route: internet (get.pulumi.com answers): official installer for pulumi $PULUMI_VERSION"
  local tmp p
  tmp="$(mktemp -d)"
  curl -fsSL https://get.pulumi.com -o "$tmp/install.sh"
  upstream_step "installing pulumi v$PULUMI_VERSION" "$tmp/install.log" \
    sh "$tmp/install.sh" --version "$PULUMI_VERSION" --install-root "$PULUMI_TOOLCHAIN_DIR" --no-edit-path
  rm -rf "$tmp"
  write_node_plugins
  for p in "${PLUGINS[@]}"; do
    upstream_step "pulumi plugin install resource $p $(upstream_version "$p")" "$PULUMI_TOOLCHAIN_DIR/plugin-$p.log" \
      pulumi plugin install resource "$p" "$(upstream_version "$p")"
  done
  write_manifest route=internet "pulumi_cli=v$PULUMI_VERSION" language_host=upstream command_plugin=upstream
}

# ---------------------------------------------------------------------------------------------------------
# Route 2: the upstream sources (../shared/upstream) built with modules from the Go module proxy.
# ---------------------------------------------------------------------------------------------------------
offline_route() {
  log "route: offline (get.pulumi.com unreachable): building the upstream programs from $UPSTREAM_DIR"
  command -v go >/dev/null || die "go is needed for the offline route (Go 1.22+; GOTOOLCHAIN=auto fetches the one the sources ask for)"
  [ "$(upstream_version cli)" = "$PULUMI_VERSION" ] ||
    die "package.json pins @pulumi/pulumi $PULUMI_VERSION but the upstream sources are pulumi $(upstream_version cli): pin the same version"
  # Builds run in parallel (2 at a time keeps a 2-core machine responsive); each is cached by version.
  local names=(cli language-host "${PLUGINS[@]}") pids=() n i rc=0
  for n in "${names[@]}"; do
    if upstream_cached "$n"; then
      log "$(upstream_binary "$n") $(upstream_version "$n"): cached"
      continue
    fi
    upstream_build "$n" &
    pids+=("$!")
  done
  for i in "${pids[@]}"; do wait "$i" || rc=1; done
  [ "$rc" = 0 ] || die "building the upstream programs failed (logs: $MBIO_CACHE/upstream/*.log)"
  install -m 0755 "$(upstream_out_dir cli)/pulumi" "$BIN/pulumi"
  install -m 0755 "$(upstream_out_dir language-host)/pulumi-language-nodejs" "$BIN/pulumi-language-nodejs"
  write_node_plugins
  for n in "${PLUGINS[@]}"; do install_plugin_file "$n"; done
  write_manifest route=offline "pulumi_cli=v$PULUMI_VERSION" language_host=upstream command_plugin=upstream
}

install_plugin_file() { # name
  local v bin logf
  v="$(upstream_version "$1")"
  bin="$(upstream_out_dir "$1")/pulumi-resource-$1"
  logf="$(upstream_out_dir "$1").install.log"
  "$BIN/pulumi" plugin install resource "$1" "$v" --file "$bin" --reinstall >"$logf" 2>&1 ||
    { cat "$logf" >&2; die "pulumi plugin install resource $1 $v --file $bin failed"; }
  plugin_installed "$1" || die "pulumi plugin install did not put $1 $v into $PULUMI_HOME/plugins"
}

if curl -fsS --max-time 5 -o /dev/null https://get.pulumi.com 2>/dev/null; then
  internet_route
else
  offline_route
fi

"$BIN/pulumi" version >/dev/null || die "the installed pulumi does not run"
record_checksums
log "pulumi toolchain $PULUMI_VERSION ready in $((SECONDS - T0))s: $("$BIN/pulumi" version) ($(manifest_get route) route)"
sed 's/^/    /' "$MANIFEST" >&2
