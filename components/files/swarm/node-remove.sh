#!/usr/bin/env bash
# Runs on a manager before a node's machine goes away (scale in): drains the node so its tasks move,
# demotes it if it is a manager, and removes it from the Swarm. A node already gone is not an error.
# Env: NODE_ID, DRAIN_TIMEOUT (seconds, default 300).
set -euo pipefail
: "${NODE_ID:?}"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-300}"
say() { printf 'node-remove: %s\n' "$*" >&2; }

if ! docker node inspect "$NODE_ID" >/dev/null 2>&1; then
  say "unchanged: node $NODE_ID is not in the Swarm"
  exit 0
fi
say "draining $NODE_ID"
docker node update --availability drain "$NODE_ID" >/dev/null
deadline=$(( $(date +%s) + DRAIN_TIMEOUT ))
while [ -n "$(docker node ps "$NODE_ID" --filter desired-state=running -q 2>/dev/null)" ]; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    say "tasks still on $NODE_ID after ${DRAIN_TIMEOUT}s; removing anyway"
    break
  fi
  sleep 2
done
if [ "$(docker node inspect "$NODE_ID" --format '{{.Spec.Role}}')" = manager ]; then
  say "demoting $NODE_ID"
  docker node demote "$NODE_ID" >/dev/null
fi
docker node rm --force "$NODE_ID" >/dev/null
say "removed $NODE_ID"
