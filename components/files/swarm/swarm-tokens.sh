#!/usr/bin/env bash
# Runs on a manager: prints the Swarm's cluster ID and join tokens as JSON (a secret output in Pulumi).
# With ROTATE=true it first rotates both tokens (`docker swarm join-token --rotate`): nodes already in the
# Swarm are not touched, only joins with an old token are refused from then on. The provider runs a rotation
# only when mbio-cloud:swarm.joinTokenRotation changes, so a re-run never rotates twice.
# Env: ROTATE (true|false, default false).
set -euo pipefail
if [ "${ROTATE:-false}" = true ]; then
  docker swarm join-token --rotate -q worker >/dev/null
  docker swarm join-token --rotate -q manager >/dev/null
  echo "swarm-tokens: rotated the worker and manager join tokens on $(hostname)" >&2
fi
printf '{"clusterId":"%s","managerToken":"%s","workerToken":"%s"}\n' \
  "$(docker info --format '{{.Swarm.Cluster.ID}}')" "$(docker swarm join-token -q manager)" "$(docker swarm join-token -q worker)"
