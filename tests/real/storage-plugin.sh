#!/usr/bin/env bash
# components/files/storage/hetzner-csi-plugin.sh against the real Docker engine: a stand-in managed plugin
# (Debian rootfs, a perl listener on the plugin socket, a settable HCLOUD_TOKEN like Hetzner's) is pushed to
# a throwaway registry on loopback, then installed by name:tag@sha256:<digest> with the script. Checks: the
# engine records the digest, a second run changes nothing, a rotated token is set without reinstall, a
# wrong digest is refused, a plugin at another digest is replaced, remove runs twice. No Hetzner API here,
# so the CSI driver itself is not run. Host engine only (no sandbox machines): no lock. On an engine older
# than 26.0 (moby#47299: a pull by digest panics the daemon) only the script's refusal is checked.
# Ends with "storage-plugin: N passed, M failed".
# shellcheck disable=SC2317 # the step functions are called through check/must
set -uo pipefail
# shellcheck source=scripts/lib/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/env.sh"
TEST_NAME=storage-plugin
# shellcheck source=tests/real/lib/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/check.sh"
SCRIPT="$MBIO_ROOT/components/files/storage/hetzner-csi-plugin.sh"
BASE=mbio-sandbox/debian:bookworm
REGISTRY_IMAGE="$(docker images --format '{{.Repository}}:{{.Tag}}' mbio-sandbox/registry | head -1)"
NAME=mbio-storage-plugin-registry
ALIAS=mbio-storage-test/hcloud-csi-driver:swarm
PORT=45123
REPO="127.0.0.1:$PORT/mbio-storage-test/hcloud-csi-driver"
work="$(mktemp -d)"
started=$SECONDS
# The two API tokens: STORAGE_PLUGIN_TOKENS_FILE (two lines; tests/real/secrets-argv.sh passes its own to
# look for them in every argv) or fixed stand-ins. Never on a command line here either.
if [ -n "${STORAGE_PLUGIN_TOKENS_FILE:-}" ]; then
  { IFS= read -r TOKEN1 && IFS= read -r TOKEN2; } <"$STORAGE_PLUGIN_TOKENS_FILE"
else
  TOKEN1=token-one TOKEN2=token-two
fi
(umask 077 && printf '%s\n' "$TOKEN1" "$TOKEN2" >"$work/tokens")

finish() {
  docker plugin disable -f "$ALIAS" >/dev/null 2>&1
  docker plugin rm -f "$ALIAS" >/dev/null 2>&1
  for v in v0.0.1-swarm v0.0.2-swarm; do docker plugin rm -f "$REPO:$v" >/dev/null 2>&1; done
  docker rm -f "$NAME" >/dev/null 2>&1
  rm -rf "$work"
  echo "  ($((SECONDS - started))s)"
  echo "storage-plugin: $passed passed, $failed failed"
  exit $((failed > 0))
}
trap finish INT TERM

ensure_docker >/dev/null
if [ -z "$REGISTRY_IMAGE" ] || ! docker image inspect "$BASE" >/dev/null 2>&1; then
  echo "SKIP: needs the sandbox images $BASE and mbio-sandbox/registry (bash sandbox/up.sh builds them)"
  echo "storage-plugin: 0 passed, 0 failed"
  exit 0
fi

# A registry on loopback (the engine treats 127.0.0.0/8 as insecure: plain HTTP is fine there).
setup_registry() {
  printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/docker-registry\nhttp:\n  addr: :5000\n' >"$work/config.yml"
  docker rm -f "$NAME" >/dev/null 2>&1
  docker run -d --name "$NAME" -p "127.0.0.1:$PORT:5000" -v "$work/config.yml:/etc/docker/registry/config.yml:ro" "$REGISTRY_IMAGE" >/dev/null || return 1
  for _ in $(seq 1 30); do curl -fsS "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && return 0; sleep 1; done
  return 1
}

# Two versions of a stand-in plugin; prints nothing, leaves "$work/<version>.digest".
build_plugins() {
  local v dir cid
  mkdir -p "$work/rootfs"
  cid="$(docker create "$BASE" true)" || return 1
  docker export "$cid" | tar -x -C "$work/rootfs" || return 1
  docker rm "$cid" >/dev/null
  for v in v0.0.1-swarm v0.0.2-swarm; do
    dir="$work/$v"
    mkdir -p "$dir"
    cp -a "$work/rootfs" "$dir/rootfs"
    cat >"$dir/config.json" <<EOF
{
  "description": "mbio-cloud test stand-in for hetznercloud/hcloud-csi-driver ($v)",
  "entrypoint": ["/usr/bin/perl", "-MIO::Socket::UNIX", "-e", "my \$p='/run/docker/plugins/csi.sock'; unlink \$p; my \$s=IO::Socket::UNIX->new(Type=>IO::Socket::UNIX::SOCK_STREAM(), Local=>\$p, Listen=>5) or die \$!; while (my \$c=\$s->accept) { close \$c }"],
  "env": [{ "name": "HCLOUD_TOKEN", "description": "the API token", "settable": ["value"], "value": "" }],
  "interface": { "socket": "csi.sock", "types": ["docker.volumedriver/1.0"] },
  "network": { "type": "none" }
}
EOF
    docker plugin create "$REPO:$v" "$dir" >/dev/null || { echo "plugin create failed" >&2; return 1; }
    docker plugin push "$REPO:$v" >"$work/$v.push" 2>&1 || { cat "$work/$v.push"; return 1; }
    # The digest as the registry serves it (not as the engine reports it): what an operator would pin.
    curl -fsSI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://127.0.0.1:$PORT/v2/mbio-storage-test/hcloud-csi-driver/manifests/$v" |
      tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" { print $2 }' >"$work/$v.digest"
    [ -s "$work/$v.digest" ] || return 1
    docker plugin rm -f "$REPO:$v" >/dev/null || return 1
  done
}

run() { # ACTION PLUGIN TOKEN
  printf '%s' "$3" | ACTION="$1" ALIAS="$ALIAS" PLUGIN="$2" STATE_DIR="$work/state" bash "$SCRIPT" 2>"$work/err"
}
ref() { docker plugin inspect -f '{{.PluginReference}}' "$ALIAS" 2>/dev/null; }
enabled() { [ "$(docker plugin inspect -f '{{.Enabled}}' "$ALIAS" 2>/dev/null)" = true ]; }
# Compared in bash: a grep pattern would put the token on a command line.
token_is() { local env; env="$(docker plugin inspect -f '{{range .Settings.Env}}{{println .}}{{end}}' "$ALIAS")"; [[ $'\n'"$env"$'\n' == *$'\n'"HCLOUD_TOKEN=$1"$'\n'* ]]; }
installs() { docker events --since "$1" --until "$(date +%s)" --filter type=plugin --filter event=pull --format '{{.Action}}' 2>/dev/null | wc -l; }

SERVER="$(docker version --format '{{.Server.Version}}')"
if [ "${SERVER%%.*}" -lt 26 ]; then
  # Docker before moby#47299 panics on a plugin pull by digest and takes every container with it (this test
  # did that once to the build machine's Debian docker.io 20.10.24). Only the refusal can be checked here.
  refused() { local rc=0; run install "$REPO:v0.0.1-swarm@sha256:$(printf '0%.0s' $(seq 1 64))" "$TOKEN1" || rc=$?; [ "$rc" = 3 ] && grep -q 'moby#47299' "$work/err" && [ -z "$(ref)" ]; }
  echo
  check "engine $SERVER: the script refuses to pull by digest (exit 3), nothing installed" refused
  echo "  SKIP  install, digest check, idempotency, token rotation, replacement, removal: they need Docker Engine >= 26 (the stack files pin 27.5.1); this machine has $SERVER"
  finish
fi
must "a throwaway registry on 127.0.0.1:$PORT" setup_registry
must "two versions of a stand-in plugin pushed, digests read from the registry" build_plugins
D1="$(cat "$work/v0.0.1-swarm.digest")"
D2="$(cat "$work/v0.0.2-swarm.digest")"
P1="$REPO:v0.0.1-swarm@$D1"
P2="$REPO:v0.0.2-swarm@$D2"

first_install() { run install "$P1" "$TOKEN1"; }
recorded() { [[ "$(ref)" == *"@$1" ]]; }
second_unchanged() { local since; since=$(date +%s); run install "$P1" "$TOKEN1" && grep -q unchanged "$work/err" && [ "$(installs "$since")" = 0 ]; }
rotated() { local since; since=$(date +%s); run install "$P1" "$TOKEN2" && token_is "$TOKEN2" && enabled && [ "$(installs "$since")" = 0 ]; }
upgraded() { run install "$P2" "$TOKEN2" && recorded "$D2" && enabled && token_is "$TOKEN2"; }
unknown_digest() { ! run install "$REPO:v0.0.1-swarm@sha256:$(printf '0%.0s' $(seq 1 64))" "$TOKEN2"; }
no_digest() { local rc=0; run install "$REPO:v0.0.1-swarm" "$TOKEN2" || rc=$?; [ "$rc" = 2 ] && recorded "$D2"; }
removed() { run remove "" "" && [ -z "$(ref)" ]; }
removed_again() { run remove "" "" && grep -q unchanged "$work/err"; }


echo
check "install by name:tag@digest" first_install
check "the engine recorded the reference with that digest" recorded "$D1"
check "enabled, HCLOUD_TOKEN set" bash -c "[ \"\$(docker plugin inspect -f '{{.Enabled}}' '$ALIAS')\" = true ]"
check "token set from stdin" token_is "$TOKEN1"
check "second run: unchanged, nothing pulled" second_unchanged
check "rotated token: set and enabled without a new pull" rotated
check "the token is never printed" bash -c "! grep -qF -f '$work/tokens' '$work/err'"
check "a new version by digest replaces the plugin" upgraded
check "no digest: refused before anything changes (exit 2)" no_digest
check "remove: the plugin is gone" removed
check "remove again: exit 0, unchanged" removed_again
check "a digest the registry does not have: the install fails" unknown_digest
finish
