#!/usr/bin/env bash
# Initialises the Swarm on the first manager, advertising its private address; on a node that is already
# a Swarm manager it changes nothing. The Swarm provider (dynamic-providers/swarm.ts) runs it only after every
# configured manager answered that it holds no Swarm; a rebuilt first manager joins the live Swarm instead.
# Never a second Swarm, also as a last check here: when another manager of the configuration
# (OTHER_MANAGERS) already answers on the Swarm port, it refuses instead of initialising.
# Env: ADVERTISE_ADDR, OTHER_MANAGERS (private addresses, space-separated; may be empty).
set -euo pipefail
: "${ADVERTISE_ADDR:?}"
say() { printf 'swarm-init: %s\n' "$*" >&2; }

state="$(docker info --format '{{.Swarm.LocalNodeState}}')"
if [ "$state" = active ]; then
  [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] || { say "error: $(hostname) is in a Swarm but not a manager; run 'docker swarm leave' there first"; exit 1; }
  say "unchanged: already a Swarm manager"
else
  for other in ${OTHER_MANAGERS:-}; do
    if timeout 3 bash -c ">/dev/tcp/$other/2377" 2>/dev/null; then
      say "error: a Swarm already answers on $other:2377; this node would start a second one. Join it to that Swarm as a manager (docker swarm join-token manager on $other), then run pulumi up again"
      exit 1
    fi
  done
  say "initialising the Swarm on $ADVERTISE_ADDR"
  docker swarm init --advertise-addr "$ADVERTISE_ADDR" --listen-addr "$ADVERTISE_ADDR:2377" >/dev/null
fi
docker info --format '{{.Swarm.NodeID}}'
