#!/usr/bin/env bash
# Runs on a manager: puts the platform's labels on one Swarm node, only those that differ.
# Env: NODE_ID, LABELS (space-separated key=value pairs).
set -euo pipefail
: "${NODE_ID:?}" "${LABELS:?}"
current="$(docker node inspect "$NODE_ID" --format '{{range $k, $v := .Spec.Labels}}{{$k}}={{$v}} {{end}}')"
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
