#!/usr/bin/env bash
# Runs on a manager: removes the Swarm network $NETWORK. Gone already: nothing to do. Still in use: waits up
# to 60 s (a stack removed just before leaves its tasks' endpoints for a moment), then fails naming the
# services attached, so a destroy never reports success while the network stays.
# Env: NETWORK.
set -euo pipefail
: "${NETWORK:?}"
for _ in $(seq 1 20); do
  docker network inspect "$NETWORK" >/dev/null 2>&1 || { echo "network $NETWORK: absent" >&2; exit 0; }
  if docker network rm "$NETWORK" >/dev/null 2>"${TMPDIR:-/tmp}/network-rm.$$"; then
    rm -f "${TMPDIR:-/tmp}/network-rm.$$"
    echo "network $NETWORK: removed" >&2
    exit 0
  fi
  sleep 3
done
users="$(docker service ls -q | xargs -r docker service inspect --format '{{.Spec.Name}} {{range .Spec.TaskTemplate.Networks}}{{.Target}} {{end}}' |
  awk -v id="$(docker network inspect "$NETWORK" --format '{{.ID}}')" -v name="$NETWORK" '{ for (i = 2; i <= NF; i++) if ($i == id || $i == name) print $1 }' | sort -u | tr '\n' ' ')"
echo "error: network $NETWORK could not be removed: $(cat "${TMPDIR:-/tmp}/network-rm.$$")${users:+ (services attached: $users)}" >&2
rm -f "${TMPDIR:-/tmp}/network-rm.$$"
exit 1
