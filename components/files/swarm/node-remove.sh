#!/usr/bin/env bash
# Runs on a manager before a node's machine goes away (scale in): drains the node so its tasks move,
# demotes it if it is a manager, and removes it from the Swarm. A node already gone is not an error.
# Only while the node carries the caller's claim (label mbio.membership = CLAIM): a node claimed by a newer
# membership (the old one's delete after a replace) is left exactly as it is. The Swarm's last manager is
# never removed either: it holds the Swarm.
# Prints one word on stdout: removed, kept (claimed by another membership) or absent.
# Env: NODE_ID, CLAIM (empty: a membership from before claims), DRAIN_TIMEOUT (seconds, default 300).
set -euo pipefail
: "${NODE_ID:?}"
CLAIM="${CLAIM:-}"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-300}"
say() { printf 'node-remove: %s\n' "$*" >&2; }

# Node updates are optimistic and go through the Raft leader: while nodes leave or leadership moves the
# Swarm answers "update out of sequence", "node lost leader status" or "does not have a leader" for a
# moment. Retry those, bounded; any other error stops the script.
swarm_update() {
  local attempt out
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if out="$("$@" 2>&1)"; then return 0; fi
    case "$out" in
      *"update out of sequence"* | *"lost leader"* | *"does not have a leader"* | *"rpc error"*"retry"*) sleep $((attempt % 4 + 1)) ;;
      *) printf '%s\n' "$out" >&2; return 1 ;;
    esac
  done
  printf '%s\n' "$out" >&2
  return 1
}

if ! docker node inspect "$NODE_ID" >/dev/null 2>&1; then
  say "unchanged: node $NODE_ID is not in the Swarm"
  echo absent
  exit 0
fi
live_claim="$(docker node inspect "$NODE_ID" --format '{{index .Spec.Labels "mbio.membership"}}')"
if [ "$live_claim" != "$CLAIM" ]; then
  say "unchanged: node $NODE_ID belongs to another membership (claim ${live_claim:-none}, not ${CLAIM:-none}): a replace, not a removal"
  echo kept
  exit 0
fi
if [ "$(docker node inspect "$NODE_ID" --format '{{.Spec.Role}}')" = manager ] && [ "$(docker node ls --filter role=manager -q | wc -l)" -le 1 ]; then
  say "unchanged: $NODE_ID is the Swarm's last manager; it keeps the Swarm (destroy leaves a one-node Swarm)"
  echo kept
  exit 0
fi
say "draining $NODE_ID"
swarm_update docker node update --availability drain "$NODE_ID"
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
  swarm_update docker node demote "$NODE_ID"
fi
swarm_update docker node rm --force "$NODE_ID"
say "removed $NODE_ID"
echo removed
