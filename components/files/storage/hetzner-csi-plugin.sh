#!/usr/bin/env bash
# Hetzner's CSI driver as a Docker managed plugin (Swarm cluster volumes) on this node.
#   ACTION=install  installs $PLUGIN (name:vX.Y.Z-swarm@sha256:<digest>) under $ALIAS with the API token from
#                   stdin, then checks that the engine recorded exactly that digest; a plugin at another
#                   digest is replaced. Nothing changes when the pinned digest is enabled with the same token.
#   ACTION=remove   disables and removes the plugin (after hetzner-csi-release.sh moved the volumes away).
# Env: ACTION, ALIAS, PLUGIN (install), STATE_DIR (default /var/lib/mbio). Stdin (install): the Hetzner API token.
# The token's sha256 is kept (0600) to notice a rotated token without ever printing the token.
set -euo pipefail
: "${ACTION:?}" "${ALIAS:?}"
STATE_DIR="${STATE_DIR:-/var/lib/mbio}"
token_sum="$STATE_DIR/hcloud-csi-token.sha256"
say() { printf 'hetzner-csi-plugin: %s\n' "$*" >&2; }
installed_ref() { docker plugin inspect -f '{{.PluginReference}}' "$ALIAS" 2>/dev/null || true; }
enabled() { [ "$(docker plugin inspect -f '{{.Enabled}}' "$ALIAS" 2>/dev/null || true)" = true ]; }
# `docker plugin set` takes KEY=value only as an argument; the Engine API (POST /plugins/{name}/set, what
# the CLI calls) takes it as a JSON body, which curl reads from its stdin over the local socket: the token is
# in no process's argv (jq builds the body from stdin too).
set_token() {
  local response code
  response="$(printf '%s' "$token" | jq -Rs '["HCLOUD_TOKEN=" + .]' |
    curl -sS --unix-socket "${DOCKER_SOCKET:-/var/run/docker.sock}" -H 'Content-Type: application/json' \
      --data-binary @- -w '\n%{http_code}' "http://localhost/plugins/$ALIAS/set")" || return 1
  code="${response##*$'\n'}"
  response="${response%$'\n'*}"
  # The engine's message, with the token (should it be quoted) masked.
  [ "$code" = 204 ] || [ "$code" = 200 ] || { say "error: the engine refused the token ($code): ${response//"$token"/<token>}"; return 1; }
}
remove() {
  docker plugin disable -f "$ALIAS" >/dev/null 2>&1 || true
  docker plugin rm -f "$ALIAS" >/dev/null 2>&1 || true
  rm -f "$token_sum"
}

case "$ACTION" in
  install)
    : "${PLUGIN:?}"
    digest="${PLUGIN##*@}"
    case "$digest" in sha256:????????????????????????????????????????????????????????????????) ;; *)
      say "error: PLUGIN $PLUGIN is not pinned by a sha256 digest"; exit 2 ;;
    esac
    # Engines before moby#47299 (in 26.0) panic on a plugin pull by digest and take every container down
    # with them (seen here with Debian's docker.io 20.10.24): refuse before pulling.
    server="$(docker version --format '{{.Server.Version}}' 2>/dev/null || true)"
    major="${server%%.*}"
    if ! [ "${major:-0}" -ge 26 ] 2>/dev/null; then
      say "error: Docker Engine ${server:-unknown} cannot install a plugin by digest safely (moby#47299); needs 26.0 or later (dockerEngine.version)"
      exit 3
    fi
    for tool in curl jq; do command -v "$tool" >/dev/null || { say "error: $tool is required (cloud-init installs it)"; exit 1; }; done
    token="$(cat)"
    [ -n "$token" ] || { say "error: no Hetzner API token on stdin"; exit 1; }
    sum="$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)"
    ref="$(installed_ref)"
    if [ -n "$ref" ] && [ "${ref##*@}" = "$digest" ]; then
      if enabled && [ "$(cat "$token_sum" 2>/dev/null || true)" = "$sum" ]; then
        say "unchanged: $ALIAS at $digest, enabled"
        exit 0
      fi
      # Same plugin, new token (or left disabled): set it and enable again.
      docker plugin disable -f "$ALIAS" >/dev/null 2>&1 || true
    else
      if [ -n "$ref" ]; then say "replacing $ref"; remove; fi
      say "installing $PLUGIN as $ALIAS"
      docker plugin install --disable --alias "$ALIAS" --grant-all-permissions "$PLUGIN" >&2
      ref="$(installed_ref)"
      # The pull verified the content against the digest; this checks the engine installed that reference.
      if [ "${ref##*@}" != "$digest" ]; then
        say "error: installed plugin reference is '$ref', not at $digest; removing it"
        remove
        exit 1
      fi
    fi
    set_token
    docker plugin enable "$ALIAS" >&2
    install -d -m 0700 "$STATE_DIR"
    (umask 077 && printf '%s\n' "$sum" >"$token_sum")
    say "installed: $ALIAS at $digest, enabled"
    ;;
  remove)
    if [ -z "$(installed_ref)" ]; then say "unchanged: $ALIAS not installed"; exit 0; fi
    remove
    say "removed $ALIAS"
    ;;
  *) say "error: ACTION is $ACTION; must be install or remove"; exit 2 ;;
esac
