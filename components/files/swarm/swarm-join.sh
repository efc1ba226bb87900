#!/usr/bin/env bash
# Joins this machine to the Swarm with the given role; a node that is already in a Swarm is left as is.
# Prints the node's Swarm ID. Env: MANAGER_ADDR (every manager's private address, space-separated: any
# reachable one will do, so a stopped first manager does not block a join), ADVERTISE_ADDR; the join token
# on stdin (never on a command line, where `ps` and logs would show it).
set -euo pipefail
: "${MANAGER_ADDR:?}" "${ADVERTISE_ADDR:?}"
JOIN_TOKEN="$(cat)"
[ -n "$JOIN_TOKEN" ] || { echo "swarm-join: error: no join token on stdin" >&2; exit 1; }
say() { printf 'swarm-join: %s\n' "$*" >&2; }

state="$(docker info --format '{{.Swarm.LocalNodeState}}')"
if [ "$state" = active ]; then
  say "unchanged: already in the Swarm"
else
  [ "$state" = inactive ] || say "node state was $state; joining again"
  joined=""
  for attempt in 1 2 3 4 5; do
    for manager in $MANAGER_ADDR; do
      [ "$manager" = "$ADVERTISE_ADDR" ] && continue
      say "joining $manager:2377 as $(hostname), advertising $ADVERTISE_ADDR"
      if docker swarm join --token "$JOIN_TOKEN" --advertise-addr "$ADVERTISE_ADDR" --listen-addr "$ADVERTISE_ADDR:2377" "$manager:2377" >/dev/null; then
        joined="$manager"
        break 2
      fi
    done
    sleep $((attempt * 2))
  done
  [ -n "$joined" ] || { say "error: could not join any of $MANAGER_ADDR (port 2377); check that 2377/tcp, 7946/tcp+udp and 4789/udp pass on the private network"; exit 1; }
fi
docker info --format '{{.Swarm.NodeID}}'
