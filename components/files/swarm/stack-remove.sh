#!/usr/bin/env bash
# Runs on a manager: removes Swarm stack $STACK and waits until its services and their tasks' containers are
# gone (`docker stack rm` returns at once), so the platform network's removal after it does not race the
# tasks. Gone already: nothing to do. Any failure fails the destroy, naming the stack.
# Env: STACK, TIMEOUT seconds (default 120).
set -euo pipefail
: "${STACK:?}"
TIMEOUT="${TIMEOUT:-120}"
left() { docker service ls -q --filter "label=com.docker.stack.namespace=$STACK"; }
if [ -z "$(left)" ] && [ -z "$(docker network ls -q --filter "label=com.docker.stack.namespace=$STACK")" ]; then
  echo "stack $STACK: absent" >&2
  exit 0
fi
docker stack rm "$STACK" >&2
deadline=$(($(date +%s) + TIMEOUT))
while [ -n "$(left)" ] || [ -n "$(docker ps -q --filter "label=com.docker.stack.namespace=$STACK")" ]; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "error: stack $STACK: services or containers still there ${TIMEOUT}s after 'docker stack rm': $(left | xargs -r docker service inspect --format '{{.Spec.Name}}' | tr '\n' ' ')" >&2
    exit 1
  fi
  sleep 2
done
echo "stack $STACK: removed" >&2
