#!/usr/bin/env bash
# Runs on a manager, around one node's engine change (the rolling upgrade, components/dynamic-providers/engine.ts):
#   ACTION=drain    drain NODE_ID and wait until none of its tasks runs any more;
#   ACTION=activate wait until NODE_ID is Ready again and every manager is reachable (quorum whole), then
#                   make it active. Both are safe to repeat. Prints the UTC time each step finished.
# Env: ACTION (drain|activate), NODE_ID, TIMEOUT (seconds per wait, default 300).
set -euo pipefail
: "${ACTION:?}" "${NODE_ID:?}"
TIMEOUT="${TIMEOUT:-300}"
say() { printf 'engine-rollout: %s %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
waited() { # waited CONDITION-FUNCTION DESCRIPTION
  local i
  for i in $(seq 1 "$TIMEOUT"); do
    "$1" && return 0
    [ "$i" = "$TIMEOUT" ] || sleep 1
  done
  say "error: node $NODE_ID: $2 not reached within $TIMEOUT s; see 'docker node ls' and 'docker node ps $NODE_ID' on $(hostname)"
  exit 1
}

no_running_tasks() { [ -z "$(docker node ps "$NODE_ID" --filter desired-state=running --format '{{.ID}}' 2>/dev/null)" ]; }
node_ready() { [ "$(docker node inspect "$NODE_ID" --format '{{.Status.State}}' 2>/dev/null)" = ready ]; }
# Every manager answers (Leader or Reachable): with all of them up, the next node may go.
quorum_whole() {
  local states
  states="$(docker node ls --filter role=manager --format '{{.ManagerStatus}}' 2>/dev/null)" || return 1
  [ -n "$states" ] && ! grep -qvE '^(Leader|Reachable)$' <<<"$states"
}

case "$ACTION" in
  drain)
    [ "$(docker node inspect "$NODE_ID" --format '{{.Spec.Availability}}')" = drain ] || docker node update --availability drain "$NODE_ID" >/dev/null
    waited no_running_tasks "no running task"
    say "drained $NODE_ID"
    ;;
  activate)
    waited node_ready "status ready"
    waited quorum_whole "every manager reachable"
    [ "$(docker node inspect "$NODE_ID" --format '{{.Spec.Availability}}')" = active ] || docker node update --availability active "$NODE_ID" >/dev/null
    say "active $NODE_ID ($(docker node ls --filter role=manager --format '{{.Hostname}}={{.ManagerStatus}}' | tr '\n' ' '))"
    ;;
  *) echo "engine-rollout: ACTION must be drain or activate, not $ACTION" >&2; exit 2 ;;
esac
