#!/usr/bin/env bash
# Runs on every manager: logs the Docker client in to the private registry, so `docker stack deploy
# --with-registry-auth` hands the credentials to the nodes that pull. The password comes on stdin (never on
# a command line); a login that already holds the same credentials is left as is.
# Env: REGISTRY (host[:port]), REGISTRY_USER. Stdin: the password.
set -euo pipefail
: "${REGISTRY:?}" "${REGISTRY_USER:?}"
password="$(cat)"
[ -n "$password" ] || { echo "error: no registry password on stdin (set mbio-cloud:registryPassword)" >&2; exit 1; }
want="$(printf '%s:%s' "$REGISTRY_USER" "$password" | base64 -w0)"
config="${DOCKER_CONFIG:-$HOME/.docker}/config.json"
# docker writes {"auths": {"<registry>": {"auth": "<base64 user:password>"}}}; the same auth means same login.
# jq reads the stored one and bash compares: a pattern on grep's command line would put it in grep's argv.
have="$(jq -r --arg registry "$REGISTRY" '.auths[$registry].auth // empty' "$config" 2>/dev/null || true)"
if [ -n "$have" ] && [ "$have" = "$want" ]; then
  echo "registry-login: unchanged $REGISTRY_USER@$REGISTRY" >&2
  exit 0
fi
printf '%s' "$password" | docker login --username "$REGISTRY_USER" --password-stdin "$REGISTRY" >/dev/null
chmod 600 "$config"
echo "registry-login: logged in as $REGISTRY_USER@$REGISTRY" >&2
