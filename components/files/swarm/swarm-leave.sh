#!/usr/bin/env bash
# Runs on a machine that leaves the platform: takes it out of its Swarm so the machine can be reused.
set -euo pipefail
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo inactive)" = inactive ]; then
  echo "swarm-leave: unchanged: not in a Swarm" >&2
else
  docker swarm leave --force >/dev/null
  echo "swarm-leave: left the Swarm" >&2
fi
