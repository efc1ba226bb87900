#!/usr/bin/env bash
# Runs on a manager: makes one Swarm node exactly as configured — role, availability and labels (labels not
# in LABELS are removed) — changing only what differs. Prints the node as `docker node inspect` JSON.
# Env: NODE_ID, ROLE (manager|worker), AVAILABILITY (active|pause|drain), LABELS (space-separated key=value).
set -euo pipefail
: "${NODE_ID:?}" "${ROLE:?}" "${AVAILABILITY:?}"
LABELS="${LABELS:-}"

apply() {
  local current pair key args=()
  current="$(docker node inspect "$NODE_ID" --format '{{range $k, $v := .Spec.Labels}}{{$k}}={{$v}} {{end}}')" || return 1
  for pair in $LABELS; do
    case " $current " in *" $pair "*) ;; *) args+=(--label-add "$pair") ;; esac
  done
  for pair in $current; do
    key="${pair%%=*}"
    case " $LABELS " in *" $key="*) ;; *) args+=(--label-rm "$key") ;; esac
  done
  [ "$(docker node inspect "$NODE_ID" --format '{{.Spec.Availability}}')" = "$AVAILABILITY" ] || args+=(--availability "$AVAILABILITY")
  [ "$(docker node inspect "$NODE_ID" --format '{{.Spec.Role}}')" = "$ROLE" ] || args+=(--role "$ROLE")
  if [ "${#args[@]}" -eq 0 ]; then
    echo "node-apply: unchanged $NODE_ID" >&2
    return 0
  fi
  docker node update "${args[@]}" "$NODE_ID" >/dev/null || return 1
  echo "node-apply: changed $NODE_ID (${args[*]})" >&2
}

# While managers join in parallel the Raft membership changes and the control API refuses for a few
# seconds; parallel node updates meet "update out of sequence". Both pass: retry, bounded.
for attempt in $(seq 1 30); do
  apply && break
  [ "$attempt" = 30 ] && { echo "node-apply: error: could not update node $NODE_ID within 60 s; check 'docker node ls' on $(hostname)" >&2; exit 1; }
  sleep 2
done
docker node inspect "$NODE_ID"
