#!/usr/bin/env bash
# Runs on a manager: creates the platform's attachable overlay network. An existing network with the
# same name and encryption is left as is; one with different encryption is an error (recreating it would
# detach every service).
# Env: NETWORK, ENCRYPTED (true|false).
set -euo pipefail
: "${NETWORK:?}" "${ENCRYPTED:?}"
if docker network inspect "$NETWORK" >/dev/null 2>&1; then
  have="$(docker network inspect "$NETWORK" --format '{{if index .Options "encrypted"}}true{{else}}false{{end}}')"
  if [ "$have" != "$ENCRYPTED" ]; then
    echo "error: network $NETWORK exists with encrypted=$have, config wants $ENCRYPTED; remove the stacks using it, 'docker network rm $NETWORK', and run pulumi up again" >&2
    exit 1
  fi
  echo "network: unchanged $NETWORK" >&2
else
  opts=(--driver overlay --attachable --label mbio.managed-by=pulumi)
  [ "$ENCRYPTED" = true ] && opts+=(--opt encrypted)
  docker network create "${opts[@]}" "$NETWORK" >/dev/null
  echo "network: created $NETWORK (encrypted=$ENCRYPTED)" >&2
fi
docker network inspect "$NETWORK" --format '{{.Id}}'
