#!/usr/bin/env bash
# Runs on a manager: removes the Swarm network $NETWORK. Gone already: nothing to do. In use by a service (one
# the program does not own: its own services are removed before their network): fails at once naming it, so a
# destroy never reports success while the network stays. In use by no service: a stack removed just before
# leaves its tasks' endpoints for a moment; waits for them up to 60 s, then fails.
# Env: NETWORK.
set -euo pipefail
: "${NETWORK:?}"
err="$(mktemp)"
trap 'rm -f "$err"' EXIT
# Services whose spec attaches the network (by ID or name), space-separated.
attached() {
  docker service ls -q | xargs -r docker service inspect --format '{{.Spec.Name}} {{range .Spec.TaskTemplate.Networks}}{{.Target}} {{end}}' |
    awk -v id="$(docker network inspect "$NETWORK" --format '{{.ID}}')" -v name="$NETWORK" '{ for (i = 2; i <= NF; i++) if ($i == id || $i == name) print $1 }' | sort -u | tr '\n' ' '
}
users=
for _ in $(seq 1 20); do
  docker network inspect "$NETWORK" >/dev/null 2>&1 || { echo "network $NETWORK: absent" >&2; exit 0; }
  if docker network rm "$NETWORK" >/dev/null 2>"$err"; then
    echo "network $NETWORK: removed" >&2
    exit 0
  fi
  users="$(attached)"
  [ -z "$users" ] || break
  sleep 3
done
echo "error: network $NETWORK could not be removed: $(cat "$err")${users:+ (services attached: $users)}" >&2
exit 1
