#!/usr/bin/env bash
# Runs on a manager: puts the platform's labels on one Swarm node, only those that differ.
# Env: NODE_ID, LABELS (space-separated key=value pairs).
set -euo pipefail
: "${NODE_ID:?}" "${LABELS:?}"
# While managers join in parallel the Raft membership changes and the control API can refuse for a few
# seconds ("This node is not a swarm manager"): wait for it, bounded, instead of failing the deployment.
for attempt in $(seq 1 30); do
  current="$(docker node inspect "$NODE_ID" --format '{{range $k, $v := .Spec.Labels}}{{$k}}={{$v}} {{end}}' 2>/dev/null)" && break
  [ "$attempt" = 30 ] && { echo "node-labels: error: the manager cannot inspect node $NODE_ID after 60 s; check 'docker node ls' on $(hostname)" >&2; exit 1; }
  sleep 2
done
args=()
for pair in $LABELS; do
  case " $current " in
    *" $pair "*) ;;
    *) args+=(--label-add "$pair") ;;
  esac
done
if [ "${#args[@]}" -eq 0 ]; then
  echo "node-labels: unchanged $NODE_ID" >&2
else
  docker node update "${args[@]}" "$NODE_ID" >/dev/null
  echo "node-labels: changed $NODE_ID (${#args[@]} label(s))" >&2
fi
docker node inspect "$NODE_ID" --format '{{.Description.Hostname}} {{.Spec.Role}} {{.Status.State}}'
