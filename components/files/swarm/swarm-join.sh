#!/usr/bin/env bash
# Joins this machine to the Swarm with the given role; a node that is already in a Swarm is left as is.
# Prints the node's Swarm ID. Env: MANAGER_ADDR (every manager's private address, space-separated: any
# reachable one will do, so a stopped first manager does not block a join), ADVERTISE_ADDR; LEAVE_FIRST=true
# when the Swarm's managers no longer know this machine's node (it was removed by hand,
# components/dynamic-providers/join.ts): the machine leaves the Swarm it still believes it is in, then joins
# again. The join token on stdin (never on a command line, where `ps` and logs would show it).
# `docker swarm join` takes the token only as an argument, so the join goes to the Engine API instead
# (POST /swarm/join, what the CLI calls): curl reads the JSON body from its stdin over the local socket, and
# jq builds that body from the token on its stdin. Only printf and read, bash builtins, see the token.
set -euo pipefail
: "${MANAGER_ADDR:?}" "${ADVERTISE_ADDR:?}"
IFS= read -r JOIN_TOKEN || true
[ -n "$JOIN_TOKEN" ] || { echo "swarm-join: error: no join token on stdin" >&2; exit 1; }
say() { printf 'swarm-join: %s\n' "$*" >&2; }
for tool in curl jq; do command -v "$tool" >/dev/null || { say "error: $tool is required (cloud-init installs it)"; exit 1; }; done
SOCKET="${DOCKER_SOCKET:-/var/run/docker.sock}"

# Joins through MANAGER ($1); prints the engine's error message and fails when the engine refuses.
join() {
  local response code
  response="$(printf '%s' "$JOIN_TOKEN" |
    jq -Rs --arg listen "$ADVERTISE_ADDR:2377" --arg advertise "$ADVERTISE_ADDR" --arg remote "$1:2377" \
      '{ListenAddr: $listen, AdvertiseAddr: $advertise, RemoteAddrs: [$remote], JoinToken: .}' |
    curl -sS --unix-socket "$SOCKET" -H 'Content-Type: application/json' --data-binary @- \
      -w '\n%{http_code}' http://localhost/swarm/join)" || return 1
  code="${response##*$'\n'}"
  [ "$code" = 200 ] && return 0
  response="$(jq -r '.message? // .' <<<"${response%$'\n'*}" 2>/dev/null || true)"
  say "the engine refused the join ($code): ${response//"$JOIN_TOKEN"/<token>}"
  return 1
}

state="$(docker info --format '{{.Swarm.LocalNodeState}}')"
if [ "${LEAVE_FIRST:-false}" = true ] && [ "$state" != inactive ]; then
  say "the Swarm's managers no longer know node $(docker info --format '{{.Swarm.NodeID}}') (removed by hand): leaving to join again"
  docker swarm leave --force >/dev/null
  state="$(docker info --format '{{.Swarm.LocalNodeState}}')"
fi
if [ "$state" = active ]; then
  say "unchanged: already in the Swarm"
else
  [ "$state" = inactive ] || say "node state was $state; joining again"
  joined=""
  for attempt in 1 2 3 4 5; do
    for manager in $MANAGER_ADDR; do
      [ "$manager" = "$ADVERTISE_ADDR" ] && continue
      say "joining $manager:2377 as $(hostname), advertising $ADVERTISE_ADDR"
      if join "$manager"; then
        joined="$manager"
        break 2
      fi
      # A join the engine answered late (503 under load) may still have gone through: a retry then says
      # "already part of a swarm". The node's own state decides.
      if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = active ]; then
        say "the engine reports this node active in the Swarm after all"
        joined="$manager"
        break 2
      fi
    done
    sleep $((attempt * 2))
  done
  [ -n "$joined" ] || { say "error: could not join any of $MANAGER_ADDR (port 2377); check that 2377/tcp, 7946/tcp+udp and 4789/udp pass on the private network"; exit 1; }
fi
docker info --format '{{.Swarm.NodeID}}'
