#!/usr/bin/env bash
# Real test of the control plane: Portainer CE 2.21.4 built offline from the upstream sources
# (scripts/portainer-build.sh → images/portainer, images/portainer-agent), deployed as components/control-plane.ts
# renders it (tests/real/lib/render-edge.mjs) on a private one-machine Swarm behind the edge
# (tests/real/lib/edge-env.sh: Traefik with a certificate from a local Pebble), the admin password from a Swarm
# secret. Through the edge, over verified TLS, Portainer's API: the admin login works, a wrong password and a
# wrong user are refused, the Swarm environment (the agent) is listed with its node, the platform's services
# and stacks are visible; the server runs unprivileged. Then headless Chromium (Debian's chromium, driven by
# the pinned playwright-core of tools/playwright-core) loads the UI, logs in, finds the node count on the home
# page and saves a screenshot into a temporary directory (printed; nothing tracked is written).
#
# The Portainer build takes 30–60 min the first time (more than the default run's cold budget): while it is not
# cached this test says so and skips with 0 checks; it starts no build of its own (no test leaves a process
# behind). The main job (scripts/local.sh) starts the build in the background; `--nightly` builds it first.
# The environment is created as the PortainerEnvironment resource creates it: components/files/portainer/
# environment.sh run on the manager (the password on stdin), twice: the second run must change nothing.
# shellcheck disable=SC2016,SC2317 # $names in single quotes are jq's; functions run through check/must/trap
set -euo pipefail
TEST_NAME=portainer
# shellcheck source=tests/real/lib/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/../real/lib/check.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../real" && pwd)"
root="$(cd "$here/../.." && pwd)"

if ! bash "$root/scripts/portainer-build.sh" --check; then
  echo "portainer: SKIPPED — the Portainer $(bash "$root/scripts/portainer-build.sh" --version) images are not built on this machine;"
  echo "  build them with 'bash scripts/portainer-build.sh' (30–60 min the first time; bash scripts/local.sh starts it in"
  echo "  the background, bash scripts/test.sh --nightly builds it first), then run this test again"
  echo "$TEST_NAME: $passed passed, $failed failed"
  exit 0
fi

# A private Swarm of this test's own (named portainer-test*, on its own network), not the sandbox singleton.
export ET_PREFIX="${ET_PREFIX:-portainer-test}" ET_SUBNET="${ET_SUBNET:-172.31.246.0/24}"
PT_VERSION="$(bash "$root/scripts/portainer-build.sh" --version)"
PT_SERVER_IMAGE="$ET_PREFIX/portainer:$PT_VERSION"
PT_AGENT_IMAGE="$ET_PREFIX/portainer-agent:$PT_VERSION"
ET_EXTRA_IMAGES="$(jq -cn --arg s "$PT_SERVER_IMAGE" --arg a "$PT_AGENT_IMAGE" '{portainer: $s, "portainer-agent": $a}')"
export ET_EXTRA_IMAGES
# shellcheck source=tests/real/lib/edge-env.sh
. "$here/lib/edge-env.sh"
SHOTS="$(mktemp -d "${TMPDIR:-/tmp}/portainer-ui.XXXXXX")"

cleanup() {
  edge_env_down
  docker rmi "$PT_SERVER_IMAGE" "$PT_AGENT_IMAGE" >/dev/null 2>&1 || true
}
# Called by `must` when a step the rest depends on failed, and at the end.
finish() {
  local rc=0
  trap - EXIT
  cleanup
  report || rc=1
  exit "$rc"
}
# edge-env.sh's set-up stops the script with `die` when something is missing: still clean up and count it.
stopped() {
  local rc=$?
  cleanup
  fail "the test stopped early (exit $rc; see above)"
  report || true
  exit "$rc"
}
trap stopped EXIT

host="portainer.$ET_NS"
api() { et_curl "$host" -sS --cacert "$ET_TMP/pebble-root.pem" "$@"; }

build_images() {
  et_build portainer "$PT_SERVER_IMAGE" && et_build portainer-agent "$PT_AGENT_IMAGE" &&
    docker save "$PT_SERVER_IMAGE" "$PT_AGENT_IMAGE" | et_exec docker load >/dev/null
}
env_up() { edge_env_up && et_pebble_root >"$ET_TMP/pebble-root.pem"; }
# The agents' stack first, converged; then the server's (components/control-plane.ts).
deploy_control_plane() {
  jq '."portainer-agent"' "$ET_TMP/render.json" | to "$ET_TMP/deploy-portainer-agent.log" et_deploy portainer-agent 300 &&
    jq '.portainer' "$ET_TMP/render.json" | to "$ET_TMP/deploy-portainer.log" et_deploy portainer 300
}
# The environment, as swarm:PortainerEnvironment creates it (its script, the password on stdin); prints its JSON.
portainer_environment() {
  printf '%s\n\n' "$ET_PASSWORD" | et_exec env MODE=apply SERVICE=portainer_portainer NETWORK="$ET_NETWORK" ENV_NAME=local \
    AGENT_URL=tcp://tasks.portainer-agent_agent:9001 TIMEOUT=180 bash -c "$(cat "$root/components/files/portainer/environment.sh")" environment.sh
}
environment_created() { portainer_environment >"$ET_TMP/env-1.json" && jq -e '.id > 0 and .created' "$ET_TMP/env-1.json" >/dev/null; }
environment_kept() { portainer_environment >"$ET_TMP/env-2.json" && jq -e --argjson id "$(jq .id "$ET_TMP/env-1.json")" '.id == $id and (.created | not)' "$ET_TMP/env-2.json" >/dev/null; }

must "edge environment: one-machine Swarm, Traefik, Pebble (tests/real/lib/edge-env.sh)" env_up
must "images $PT_SERVER_IMAGE and $PT_AGENT_IMAGE built FROM the sandbox base and loaded" build_images
must "stacks portainer-agent, then portainer (as components/control-plane.ts renders them) converged, every task healthy" deploy_control_plane
must "the environment created through the API (components/files/portainer/environment.sh)" environment_created
check "run again, it changes nothing (same environment, created: false)" environment_kept

# Traefik routes only to a task its health probe (/api/system/status) found answering.
status_ok() { [ "$(api -o /dev/null -w '%{http_code}' "https://$host/api/system/status")" = 200 ]; }
check "https://$host/api/system/status answers 200 through the edge with a certificate Pebble issued" wait_for "Portainer behind the edge" 180 status_ok
api "https://$host/api/system/status" >"$ET_TMP/status.json" 2>/dev/null || true
check "the server reports version $PT_VERSION ($(jq -r '.Version // "?"' "$ET_TMP/status.json"))" \
  test "$(jq -r '.Version // ""' "$ET_TMP/status.json")" = "$PT_VERSION"

# Logins: the JSON body is built from the environment and read from stdin (no password on a command line).
login() { # user password → HTTP code; the body in $ET_TMP/auth.json
  PT_USER="$1" PT_PASSWORD="$2" jq -n '{username: env.PT_USER, password: env.PT_PASSWORD}' |
    api -o "$ET_TMP/auth.json" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @- "https://$host/api/auth"
}
code="$(login admin "$ET_PASSWORD")"
jwt="$(jq -r '.jwt // empty' "$ET_TMP/auth.json" 2>/dev/null || true)"
admin_ok() { [ "$code" = 200 ] && [ -n "$jwt" ]; }
check "login as admin with the password of the Swarm secret: $code, a token" admin_ok
code="$(login admin "wrong-$ET_PASSWORD")"
check "login with a wrong password refused ($code, no token)" bash -c "[ '$code' = 422 ] && ! jq -e '.jwt' '$ET_TMP/auth.json' >/dev/null"
code="$(login operator "$ET_PASSWORD")"
check "login as an unknown user refused ($code)" test "$code" = 422
code="$(api -o /dev/null -w '%{http_code}' "https://$host/api/endpoints")"
check "the API without a token refuses ($code)" test "$code" = 401

# The token goes to curl in a header file (0600 in the test's temporary directory), not on its command line.
umask 077
printf 'Authorization: Bearer %s\n' "$jwt" >"$ET_TMP/auth.header"
authed() { api -H "@$ET_TMP/auth.header" "$@"; }
# The environment environment.sh created (tcp://tasks.portainer-agent_agent:9001); its first snapshot follows.
snapshotted() {
  authed -f "https://$host/api/endpoints" >"$ET_TMP/endpoints.json" &&
    jq -e 'length == 1 and (.[0].Snapshots | length) > 0' "$ET_TMP/endpoints.json" >/dev/null
}
wait_for "the environment's first snapshot" 120 snapshotted || true
endpoint="$(jq -r '.[0].Id // empty' "$ET_TMP/endpoints.json" 2>/dev/null || true)"
if [ -z "$endpoint" ]; then
  echo "  no environment: the server's log (tasks, restarts, fatal errors):"
  et_exec docker service ps --no-trunc portainer_portainer 2>&1 | sed 's/^/    | /'
  et_exec docker service logs --raw portainer_portainer 2>&1 | grep -E -i 'fatal|environment|admin|agent|ping' | tail -n 20 | sed 's/^/    | /'
fi
check "one environment: the agent at tcp://tasks.portainer-agent_agent:9001 ($(jq -c '[.[] | {Name, Type, URL, Status}]' "$ET_TMP/endpoints.json" 2>/dev/null))" \
  jq -e 'length == 1 and .[0].Type == 2 and .[0].URL == "tcp://tasks.portainer-agent_agent:9001" and .[0].Status == 1' "$ET_TMP/endpoints.json"
check "its snapshot: a Swarm of 1 node ($(jq -c '.[0].Snapshots[0] | {Swarm, NodeCount, ServiceCount, StackCount, DockerVersion}' "$ET_TMP/endpoints.json" 2>/dev/null))" \
  jq -e '.[0].Snapshots[0].Swarm == true and .[0].Snapshots[0].NodeCount == 1' "$ET_TMP/endpoints.json"

authed "https://$host/api/endpoints/$endpoint/docker/nodes" >"$ET_TMP/nodes.json" 2>/dev/null || true
check "the Swarm's nodes through the agent: $(jq -r '[.[] | "\(.Description.Hostname) \(.Spec.Role) \(.Status.State)"] | join(", ")' "$ET_TMP/nodes.json" 2>/dev/null)" \
  jq -e --arg n "$ET_MACHINE" 'length == 1 and .[0].Description.Hostname == $n and .[0].Spec.Role == "manager" and .[0].Status.State == "ready"' "$ET_TMP/nodes.json"
authed "https://$host/api/endpoints/$endpoint/docker/services" >"$ET_TMP/services.json" 2>/dev/null || true
want_services='["demo_whoami","edge_traefik","portainer-agent_agent","portainer_portainer"]'
check "the platform's services are visible: $(jq -r '[.[].Spec.Name] | sort | join(" ")' "$ET_TMP/services.json" 2>/dev/null)" \
  jq -e --argjson w "$want_services" '[.[].Spec.Name] | contains($w)' "$ET_TMP/services.json"
# Stacks deployed outside Portainer (by Pulumi here) are the services' com.docker.stack.namespace labels: the
# UI lists them as "limited" stacks.
check "and their stacks: $(jq -r '[.[].Spec.Labels["com.docker.stack.namespace"] // empty] | unique | join(" ")' "$ET_TMP/services.json" 2>/dev/null)" \
  jq -e '[.[].Spec.Labels["com.docker.stack.namespace"] // empty] | unique == ["demo", "edge", "portainer", "portainer-agent"]' "$ET_TMP/services.json"

server_task="$(et_exec docker ps -q --filter label=com.docker.swarm.service.name=portainer_portainer | head -n1)"
uid="$(et_exec docker exec "$server_task" id -u 2>/dev/null || true)"
check "the server runs unprivileged (uid $uid) and reads the admin password secret" test "$uid" = 10001

# ---- the UI in headless Chromium -----------------------------------------------------------------------
ui() {
  ensure_apt_packages chromium
  local tool spki out
  # shellcheck source=scripts/lib/npm-tool.sh
  . "$root/scripts/lib/npm-tool.sh"
  tool="$(dirname "$(dirname "$(ensure_npm_tool playwright-core)")")"
  spki="$(echo | openssl s_client -connect "$ET_IP:443" -servername "$host" -CAfile "$ET_TMP/pebble-root.pem" -verify_return_error 2>/dev/null |
    openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)"
  [ -n "$spki" ] || { echo "  the edge's certificate for $host does not verify against Pebble's root"; return 1; }
  out="$(PW_TOOL_DIR="$tool" PORTAINER_PASSWORD="$ET_PASSWORD" timeout 240 node "$here/lib/portainer-ui.mjs" "$(jq -cn \
    --arg url "https://$host/" --arg host "$host" --arg ip "$ET_IP" --arg spki "$spki" --arg shot "$SHOTS/portainer-home.png" \
    --arg profile "$SHOTS/chromium-profile" --arg exe "$(command -v chromium)" \
    '{url: $url, host: $host, ip: $ip, spki: $spki, nodes: 1, screenshot: $shot, profile: $profile, chromium: $exe}')" 2>"$ET_TMP/ui.err")" ||
    { tail -n 20 "$ET_TMP/ui.err" | sed 's/^/    | /'; }
  rm -rf "$SHOTS/chromium-profile"
  printf '%s\n' "${out:-{\}}" >"$ET_TMP/ui.json"
}
must "headless Chromium ($(chromium --version 2>/dev/null || echo 'chromium, installed now')) ran the UI check" ui
check "the UI loads through the edge (the login form)" jq -e '.loaded' "$ET_TMP/ui.json"
check "logging in as admin in the UI reaches the home page" jq -e '.loggedIn' "$ET_TMP/ui.json"
check "the home page shows the Swarm's node count ($(jq -r '.nodeText // .error // "nothing"' "$ET_TMP/ui.json"))" \
  jq -e '.nodeText == "1 node"' "$ET_TMP/ui.json"
check "screenshot saved: $SHOTS/portainer-home.png" test -s "$SHOTS/portainer-home.png"
echo "  screenshot (kept, outside the repository): $SHOTS/portainer-home.png"
finish
