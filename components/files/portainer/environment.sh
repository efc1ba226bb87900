#!/usr/bin/env bash
# Portainer's environment for this Swarm (components/dynamic-providers/portainer-environment.ts), run on a
# manager by runOnManager (set -euo pipefail and the manager guard come first).
#   env    MODE=apply|read|delete  SERVICE (the server's Swarm service, portainer_portainer)  NETWORK (an overlay the
#          server is on and a container of this node too: the platform network, where Traefik runs on every
#          manager)  ENV_NAME  AGENT_URL (tcp://tasks.<agent stack>_agent:9001)  TIMEOUT (seconds)
#   stdin  line 1: the admin password; line 2: the previous one (empty unless it is being rotated)
#   stdout one JSON object: {id, name, url, type, status, created, admin, passwordChanged} (id 0: no environment)
#
# How it reaches the server: over HTTP at the server task's address on NETWORK, from inside the network
# namespace of a container of this node on that network (nsenter; the host's own curl). No port is published
# and no TLS is skipped: the traffic stays on the Swarm's overlay. Secrets go to curl on stdin or through a
# config on a file descriptor, never on a command line.
#
# apply: waits for the API, creates the admin from the password if the server has none (the server normally
# made it from its --admin-password-file), logs in (with the previous password when the current one is refused
# and one was given, then changes it), and creates the agent environment only if none has AGENT_URL: run
# twice, the second run changes nothing (created: false). read: the same login, no change at all.
case "${MODE:-}" in apply | read | delete) ;; *) echo "MODE must be apply, read or delete" >&2; exit 2 ;; esac
: "${SERVICE:?}" "${NETWORK:?}" "${ENV_NAME:?}" "${AGENT_URL:?}" "${TIMEOUT:=300}"
IFS= read -r PASSWORD || true
IFS= read -r OLD_PASSWORD || true
[ -n "$PASSWORD" ] || { echo "the admin password (stdin, line 1) is empty" >&2; exit 2; }
deadline=$((SECONDS + TIMEOUT))
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
chmod 700 "$tmp"

# The server task's address on NETWORK (whichever node runs it) and a local container on NETWORK to speak from.
server=""
pid=""
while :; do
  task="$(docker service ps -q --filter desired-state=running "$SERVICE" 2>/dev/null | head -n1 || true)"
  if [ -z "$task" ] && [ "$MODE" != apply ]; then
    # No server to ask (between tasks, or its stack is gone: the Stack resource reports that): nothing known.
    echo '{"unreachable": true, "id": 0, "name": "", "url": "", "type": 0, "status": 0, "created": false, "admin": "unknown", "passwordChanged": false}'
    exit 0
  fi
  if [ -n "$task" ]; then
    server="$(docker inspect --format "{{range .NetworksAttachments}}{{if eq .Network.Spec.Name \"$NETWORK\"}}{{range .Addresses}}{{.}} {{end}}{{end}}{{end}}" "$task" 2>/dev/null | awk '{print $1}' | cut -d/ -f1 || true)"
  fi
  local_container="$(docker ps -q --filter "network=$NETWORK" | head -n1 || true)"
  [ -z "$local_container" ] || pid="$(docker inspect --format '{{.State.Pid}}' "$local_container" 2>/dev/null || true)"
  [ -z "$server" ] || [ -z "$pid" ] || [ "$pid" = 0 ] || break
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "after ${TIMEOUT}s: no running task of $SERVICE with an address on $NETWORK ('${server}'), or no container of $(hostname) on $NETWORK to reach it from" >&2
    exit 1
  fi
  sleep 3
done
base="http://$server:9000/api"

# api METHOD PATH [curl options…]: the body into $tmp/body, the HTTP status on stdout (000 when unreachable).
api() {
  local method=$1 path=$2
  shift 2
  nsenter -t "$pid" -n curl -sS --max-time 20 -o "$tmp/body" -w '%{http_code}' -X "$method" "$@" "$base$path" 2>"$tmp/err" || true
}
# authed METHOD PATH [curl options…]: as api, with the session's token through a config on a file descriptor.
authed() {
  local method=$1 path=$2
  shift 2
  api "$method" "$path" -K <(printf 'header = "Authorization: Bearer %s"\n' "$JWT") "$@"
}
credentials() { jq -cn --arg u admin --arg p "$1" '{username: $u, password: $p}'; }

until [ "$(api GET /system/status)" = 200 ]; do
  [ "$SECONDS" -lt "$deadline" ] || { echo "Portainer at $base did not answer /api/system/status within ${TIMEOUT}s: $(cat "$tmp/err")" >&2; exit 1; }
  sleep 3
done

admin=existing
code="$(api GET /users/admin/check)"
if [ "$code" = 404 ]; then
  [ "$MODE" = apply ] || { echo "Portainer at $base has no admin user yet (pulumi up creates it)" >&2; exit 1; }
  code="$(jq -cn --arg u admin --arg p "$PASSWORD" '{Username: $u, Password: $p}' | api POST /users/admin/init -H 'Content-Type: application/json' --data-binary @-)"
  [ "$code" = 200 ] || { echo "creating the admin user failed: HTTP $code: $(head -c 300 "$tmp/body")" >&2; exit 1; }
  admin=created
elif [ "$code" != 204 ]; then
  echo "GET /api/users/admin/check: HTTP $code: $(head -c 300 "$tmp/body")" >&2
  exit 1
fi

login() { credentials "$1" | api POST /auth -H 'Content-Type: application/json' --data-binary @-; }
changed=false
code="$(login "$PASSWORD")"
if [ "$code" != 200 ] && [ -n "$OLD_PASSWORD" ] && [ "$MODE" = apply ]; then
  # A rotation: the server still has the previous password (its --admin-password-file acts only on an empty database).
  code="$(login "$OLD_PASSWORD")"
  [ "$code" = 200 ] || { echo "login as admin failed with the current and the previous password: HTTP $code" >&2; exit 1; }
  JWT="$(jq -r .jwt "$tmp/body")"
  [ "$(authed GET /users/me)" = 200 ] || { echo "GET /api/users/me failed: $(head -c 300 "$tmp/body")" >&2; exit 1; }
  uid="$(jq -r .Id "$tmp/body")"
  code="$(jq -cn --arg o "$OLD_PASSWORD" --arg n "$PASSWORD" '{Password: $o, NewPassword: $n}' | authed PUT "/users/$uid/passwd" -H 'Content-Type: application/json' --data-binary @-)"
  [ "$code" = 204 ] || [ "$code" = 200 ] || { echo "changing the admin password failed: HTTP $code: $(head -c 300 "$tmp/body")" >&2; exit 1; }
  changed=true
  code="$(login "$PASSWORD")"
fi
[ "$code" = 200 ] || { echo "login as admin failed: HTTP $code: $(head -c 300 "$tmp/body")" >&2; exit 1; }
JWT="$(jq -r .jwt "$tmp/body")"

find_environment() {
  local code
  code="$(authed GET /endpoints)"
  [ "$code" = 200 ] || { echo "GET /api/endpoints: HTTP $code: $(head -c 300 "$tmp/body")" >&2; exit 1; }
  jq -c --arg url "$AGENT_URL" '[.[] | select(.URL == $url)] | first // empty | {id: .Id, name: .Name, url: .URL, type: .Type, status: .Status}' "$tmp/body"
}

created=false
found="$(find_environment)"
if [ -n "$found" ] && [ "$MODE" = delete ]; then
  code="$(authed DELETE "/endpoints/$(jq -r .id <<<"$found")")"
  [ "$code" = 204 ] || [ "$code" = 404 ] || { echo "deleting the environment $AGENT_URL failed: HTTP $code: $(head -c 300 "$tmp/body")" >&2; exit 1; }
  found=""
fi
if [ -z "$found" ] && [ "$MODE" = apply ]; then
  # The server asks the agents for their version while creating it: retried until they answer.
  while :; do
    code="$(authed POST /endpoints -F "Name=$ENV_NAME" -F EndpointCreationType=2 -F "URL=$AGENT_URL" -F TLS=true -F TLSSkipVerify=true -F TLSSkipClientVerify=true)"
    [ "$code" != 200 ] || break
    [ "$SECONDS" -lt "$deadline" ] || { echo "creating the environment $AGENT_URL failed: HTTP $code: $(head -c 300 "$tmp/body")" >&2; exit 1; }
    sleep 5
  done
  created=true
  found="$(find_environment)"
fi
[ -n "$found" ] || found='{"id": 0, "name": "", "url": "", "type": 0, "status": 0}'
jq -cn --argjson e "$found" --argjson created "$created" --arg admin "$admin" --argjson changed "$changed" \
  '$e + {created: $created, admin: $admin, passwordChanged: $changed}'
