#!/usr/bin/env bash
# Runs on a machine that leaves the platform: takes it out of its Swarm so the machine can be reused.
# When the rest of the Swarm is going too (destroy), the engine may answer "context deadline exceeded"
# while it leaves; what counts is the node's state afterwards, so it is checked and the leave retried.
# Env: NODE_ID (optional): leave only while this machine is still that node — a machine rebuilt at the
# same address has joined again as a new node, and the old node's removal must not take it out.
set -euo pipefail
state() { docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo inactive; }
if [ "$(state)" = inactive ]; then
  echo "swarm-leave: unchanged: not in a Swarm" >&2
  exit 0
fi
current="$(docker info --format '{{.Swarm.NodeID}}' 2>/dev/null || true)"
if [ -n "${NODE_ID:-}" ] && [ "$current" != "$NODE_ID" ]; then
  echo "swarm-leave: unchanged: this machine is node ${current:-none} now, not $NODE_ID (rebuilt and joined again)" >&2
  exit 0
fi
for attempt in 1 2 3 4 5; do
  docker swarm leave --force >/dev/null 2>&1 || true
  if [ "$(state)" = inactive ]; then
    echo "swarm-leave: left the Swarm" >&2
    exit 0
  fi
  echo "swarm-leave: still $(state) after attempt $attempt; retrying" >&2
  sleep $((attempt * 2))
done
echo "swarm-leave: error: the node is still $(state) after 5 attempts; run 'docker swarm leave --force' on it by hand" >&2
exit 1
