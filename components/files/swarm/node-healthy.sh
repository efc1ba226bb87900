#!/usr/bin/env bash
# Runs on a node after its server changed (Hetzner resize: power off, new type, power on) and before the next
# node's server may change: waits until this node's engine runs and it is back in the Swarm; on a manager also
# until every manager is reachable, so the next resize never costs the Swarm its quorum. A node that has no
# engine or no Swarm yet (first boot) has nothing to wait for.
# Env: ROLE (manager|worker), TIMEOUT (seconds, default 600).
set -euo pipefail
: "${ROLE:?}"
TIMEOUT="${TIMEOUT:-600}"
say() { printf 'node-healthy: %s %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }

if ! command -v docker >/dev/null || ! systemctl is-enabled docker >/dev/null 2>&1; then
  say "no Docker Engine yet (first boot): nothing to wait for"
  exit 0
fi
if [ ! -s /var/lib/docker/swarm/state.json ]; then
  say "not in a Swarm yet: nothing to wait for"
  exit 0
fi

healthy() {
  [ "$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" = active ] || return 1
  [ "$ROLE" = manager ] || return 0
  local states
  [ "$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null)" = true ] || return 1
  states="$(docker node ls --filter role=manager --format '{{.Status}} {{.ManagerStatus}}' 2>/dev/null)" || return 1
  [ -n "$states" ] && ! grep -qvE '^Ready (Leader|Reachable)$' <<<"$states"
}
for i in $(seq 1 "$TIMEOUT"); do
  if healthy; then
    say "$(hostname) healthy ($ROLE)"
    exit 0
  fi
  [ "$i" = "$TIMEOUT" ] || sleep 1
done
say "error: $(hostname) not healthy within $TIMEOUT s: 'docker info' and 'docker node ls' on it tell why"
exit 1
