#!/usr/bin/env bash
# Initialises the Swarm on the first manager, advertising its private address; on a node that is already
# a Swarm manager it changes nothing. Prints the join tokens as JSON (a secret output in Pulumi).
# Env: ADVERTISE_ADDR.
set -euo pipefail
: "${ADVERTISE_ADDR:?}"
say() { printf 'swarm-init: %s\n' "$*" >&2; }

state="$(docker info --format '{{.Swarm.LocalNodeState}}')"
if [ "$state" = active ]; then
  [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] || { say "error: $(hostname) is in a Swarm but not a manager; run 'docker swarm leave' there first"; exit 1; }
  say "unchanged: already a Swarm manager"
else
  say "initialising the Swarm on $ADVERTISE_ADDR"
  docker swarm init --advertise-addr "$ADVERTISE_ADDR" --listen-addr "$ADVERTISE_ADDR:2377" >/dev/null
fi
printf '{"managerToken":"%s","workerToken":"%s","nodeId":"%s"}\n' \
  "$(docker swarm join-token -q manager)" "$(docker swarm join-token -q worker)" "$(docker info --format '{{.Swarm.NodeID}}')"
