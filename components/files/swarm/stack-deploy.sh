#!/usr/bin/env bash
# Deploys the Compose document read from stdin as Swarm stack $STACK, then waits until every service has
# all its tasks running (a task with a healthcheck only counts once healthy). Re-running with the same
# document changes nothing: docker only updates services whose spec changed.
# Env: STACK (required), TIMEOUT seconds (default 300).
set -euo pipefail
: "${STACK:?STACK must name the stack}"
TIMEOUT="${TIMEOUT:-300}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/stack.json"

echo "deploying stack $STACK" >&2
# --with-registry-auth: the manager's registry login (registry-login.sh) travels to the nodes that pull.
docker stack deploy --prune --with-registry-auth --resolve-image never --compose-file "$work/stack.json" "$STACK" >&2
# `docker stack deploy` keeps a service's running image when the document's image equals the stack's
# com.docker.stack.image label, so an image changed by hand (`docker service update --image`) would stay.
# Put the document's image back explicitly.
while read -r svc want have; do
  if [ -n "$want" ] && [ "$want" != "$have" ]; then
    echo "restoring image of $svc: $have -> $want" >&2
    docker service update --quiet --detach --with-registry-auth --image "$want" "$svc" >/dev/null
  fi
done < <(docker service ls --filter "label=com.docker.stack.namespace=$STACK" --format '{{.Name}}' |
  xargs -r docker service inspect --format '{{.Spec.Name}} {{index .Spec.Labels "com.docker.stack.image"}} {{.Spec.TaskTemplate.ContainerSpec.Image}}')

deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
  pending=""
  while read -r name replicas; do
    running="${replicas%%/*}"
    wanted="${replicas#*/}"
    wanted="${wanted%% *}"
    [ "$running" = "$wanted" ] || pending="$pending $name($replicas)"
  done < <(docker stack services "$STACK" --format '{{.Name}} {{.Replicas}}')
  if [ -z "$pending" ]; then
    echo "stack $STACK converged" >&2
    docker stack services "$STACK" --format '{{.Name}} {{.Replicas}} {{.Image}}'
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "error: stack $STACK did not converge within ${TIMEOUT}s; waiting on:$pending" >&2
    docker stack ps "$STACK" --no-trunc --filter desired-state=running --format '{{.Name}} {{.Node}} {{.CurrentState}} {{.Error}}' >&2 || true
    echo "next: inspect with 'docker service ps <service> --no-trunc' and 'docker service logs <service>' on a manager" >&2
    exit 1
  fi
  echo "waiting for:$pending" >&2
  sleep 3
done
