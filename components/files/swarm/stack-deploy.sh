#!/usr/bin/env bash
# Deploys the Compose document read from stdin as Swarm stack $STACK, then waits until every service's
# rolling update (if this deploy started one) has completed and all its tasks run (a task with a healthcheck
# only counts once healthy). Counting running tasks alone is not enough: right after `docker stack deploy`
# the *old* tasks still satisfy it, so each service's UpdateStatus is read too, and an update that Swarm
# rolled back or paused (a bad image, a failing healthcheck) fails the deploy naming the service.
# Re-running with the same document changes nothing: docker only updates services whose spec changed.
# Env: STACK (required), TIMEOUT seconds (default 300).
set -euo pipefail
: "${STACK:?STACK must name the stack}"
TIMEOUT="${TIMEOUT:-300}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/stack.json"

services() { docker service ls --filter "label=com.docker.stack.namespace=$STACK" --format '{{.Name}}'; }
# A service's update: "<name> <started-at>|<state>|<message>", or "<name> ||" when it never had one.
update_status() {
  services | xargs -r docker service inspect --format \
    '{{.Spec.Name}} {{if .UpdateStatus}}{{.UpdateStatus.StartedAt}}|{{.UpdateStatus.State}}|{{.UpdateStatus.Message}}{{else}}||{{end}}'
}
# The update each service had before this deploy: only an update started by this deploy (another StartedAt)
# decides it, so a service rolled back by an earlier deploy and left unchanged now does not fail this one.
declare -A before=()
while read -r name status; do before[$name]="${status%%|*}"; done < <(update_status)

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
done < <(services | xargs -r docker service inspect --format '{{.Spec.Name}} {{index .Spec.Labels "com.docker.stack.image"}} {{.Spec.TaskTemplate.ContainerSpec.Image}}')

deadline=$(( $(date +%s) + TIMEOUT ))
# The orchestrator records a new update a moment after the spec changed: converged counts only when two
# polls in a row (3 s apart) find nothing pending, so the old tasks of a not-yet-started update do not pass.
settled=0
while :; do
  pending=""
  while read -r name status; do
    started="${status%%|*}"
    rest="${status#*|}"
    state="${rest%%|*}"
    message="${rest#*|}"
    if [ -z "$started" ] || [ "$started" = "${before[$name]:-}" ]; then continue; fi
    case "$state" in
      updating | rollback_started) pending="$pending $name(update $state)" ;;
      paused | rollback_paused | rollback_completed)
        # The tasks first, the verdict last: the provider's error quotes the last lines of stderr.
        docker service ps "$name" --no-trunc --format '{{.Name}} {{.Node}} {{.CurrentState}} {{.Error}}' 2>/dev/null | head -3 >&2 || true
        echo "next: 'docker service ps $name --no-trunc' and 'docker service logs $name' on a manager" >&2
        verdict="the new spec is not running"
        [ "$state" = rollback_completed ] && verdict="Swarm rolled it back to its previous spec"
        echo "error: stack $STACK: the update of service $name failed ($state: $message); $verdict" >&2
        exit 1
        ;;
    esac
  done < <(update_status)
  while read -r name replicas; do
    running="${replicas%%/*}"
    wanted="${replicas#*/}"
    wanted="${wanted%% *}"
    [ "$running" = "$wanted" ] || pending="$pending $name($replicas)"
  done < <(docker stack services "$STACK" --format '{{.Name}} {{.Replicas}}')
  if [ -z "$pending" ] && [ "$settled" = 0 ]; then
    settled=1
    sleep 3
    continue
  fi
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
  settled=0
  echo "waiting for:$pending" >&2
  sleep 3
done
