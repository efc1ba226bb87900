#!/usr/bin/env bash
# Runs on a manager: puts the platform's labels on one Swarm node, only those that differ.
# Env: NODE_ID, LABELS (space-separated key=value pairs).
set -euo pipefail
: "${NODE_ID:?}" "${LABELS:?}"

apply_labels() {
  local current pair args=()
  current="$(docker node inspect "$NODE_ID" --format '{{range $k, $v := .Spec.Labels}}{{$k}}={{$v}} {{end}}')" || return 1
  for pair in $LABELS; do
    case " $current " in
      *" $pair "*) ;;
      *) args+=(--label-add "$pair") ;;
    esac
  done
  if [ "${#args[@]}" -eq 0 ]; then
    echo "node-labels: unchanged $NODE_ID" >&2
    return 0
  fi
  docker node update "${args[@]}" "$NODE_ID" >/dev/null || return 1
  echo "node-labels: changed $NODE_ID (${#args[@]} label(s))" >&2
}

# While managers join in parallel the Raft membership changes and the control API refuses for a few
# seconds ("This node is not a swarm manager"); parallel node updates meet "update out of sequence".
# Both pass: retry the whole inspect-and-update, bounded, instead of failing the deployment.
for attempt in $(seq 1 30); do
  apply_labels && break
  [ "$attempt" = 30 ] && { echo "node-labels: error: could not label node $NODE_ID within 60 s; check 'docker node ls' on $(hostname)" >&2; exit 1; }
  sleep 2
done
docker node inspect "$NODE_ID" --format '{{.Description.Hostname}} {{.Spec.Role}} {{.Status.State}}'
