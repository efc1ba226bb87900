# shellcheck shell=bash
# The control plane's quick API case for tests/real/e2e.sh (issue 21): with the local stack up and Portainer
# deployed, through the edge (Traefik on the first manager, the certificate verified against Pebble's root),
#   the UI answers 200; without a token the API refuses (401); a wrong password and an unknown user are
#   refused (Portainer answers 422, "Invalid credentials"); the admin of the stack's secret logs in; the
#   environment PortainerEnvironment created (tcp://tasks.portainer-agent_agent:9001, agent type 2) is up and
#   shows, through the agents, every Swarm node and the platform's services and stacks.
# The secret-leak check (tests/real/lib/secret-leak.sh) covers Portainer's admin password (a config secret)
# and its agent secret (GeneratedSecret); e2e's refresh covers the environment's drift.
# Needs: pulumi_local, machine_ssh, machine_ip, check/ok/fail (tests/real/lib/check.sh), $STATE_DIR, $work.
# Usage: portainer_api_checks
# shellcheck disable=SC2154,SC2317 # $work belongs to the test that sources this file; checks run through check

portainer_api_checks() {
  printf '\n[e2e] the control plane: Portainer through the edge\n'
  local ns ip host root body jwt env_id nodes services stacks
  if [[ "$(pulumi_local stack output portainerUrl 2>/dev/null || true)" != https://* ]]; then
    echo "  Portainer is not deployed on this stack (its images are not built: bash scripts/portainer-build.sh --check): skipped"
    return 0
  fi
  ns="$(pulumi_local stack output dnsNamespace)"
  ip="$(machine_ip 1)" host="portainer.$ns" root="$work/pebble-root.pem" body="$work/portainer-body"
  bash "$MBIO_ROOT/sandbox/pebble.sh" root >"$root"
  # pt_call METHOD PATH [curl options…]: the HTTP status; the body in $body.
  pt_call() {
    local method=$1 path=$2
    shift 2
    curl -s -o "$body" -w '%{http_code}' --max-time 20 --cacert "$root" --resolve "$host:443:$ip" -X "$method" "$@" "https://$host$path" || true
  }
  pt_login() { jq -cn --arg u "$1" --rawfile p "$2" '{username: $u, password: ($p | rtrimstr("\n"))}' | pt_call POST /api/auth -H 'Content-Type: application/json' --data-binary @-; }
  pt_authed() { local m=$1 p=$2; shift 2; pt_call "$m" "$p" -K <(printf 'header = "Authorization: Bearer %s"\n' "$jwt") "$@"; }

  pt_ui() { [ "$(pt_call GET /)" = 200 ] && grep -qi portainer "$body"; }
  check "the UI answers 200 over verified TLS (https://$host/)" pt_ui
  check "the API without a token is refused (401)" test "$(pt_call GET /api/endpoints)" = 401
  (umask 077 && printf 'not-the-password-%s' "$RANDOM" >"$work/portainer-wrong")
  check "a wrong password is refused (422)" test "$(pt_login admin "$work/portainer-wrong")" = 422
  check "an unknown user is refused (422)" test "$(pt_login intruder "$STATE_DIR/admin-password")" = 422
  rm -f "$work/portainer-wrong"
  check "the admin logs in with the stack's password" test "$(pt_login admin "$STATE_DIR/admin-password")" = 200
  jwt="$(jq -r '.jwt // empty' "$body" 2>/dev/null)"
  [ -n "$jwt" ] || { fail "no token from the admin's login: the other Portainer checks are skipped"; return 0; }
  pt_authed GET /api/endpoints >/dev/null
  env_id="$(jq -r '[.[] | select(.URL == "tcp://tasks.portainer-agent_agent:9001" and .Type == 2 and .Status == 1)] | first | .Id // empty' "$body")"
  check "one environment: the agents (tcp://tasks.portainer-agent_agent:9001, type 2), up" test -n "$env_id"
  [ -n "$env_id" ] || return 0
  nodes="$(machine_ssh "$ip" "docker node ls -q | wc -l" | tr -d '[:space:]')"
  pt_authed GET "/api/endpoints/$env_id/docker/nodes" >/dev/null
  check "it shows every Swarm node ($nodes)" test "$(jq length "$body")" = "$nodes"
  pt_authed GET "/api/endpoints/$env_id/docker/services" >/dev/null
  services="$(jq -r '.[].Spec.Name' "$body" | sort | tr '\n' ' ')"
  echo "  services seen through Portainer: $services"
  pt_has_all() { local w; for w in "${@:2}"; do tr ' ' '\n' <<<"$1" | grep -qx -- "$w" || return 1; done; }
  check "it shows the platform's services (edge_traefik, portainer_portainer, portainer-agent_agent)" pt_has_all "$services" edge_traefik portainer_portainer portainer-agent_agent
  stacks="$(jq -r '.[].Spec.Labels["com.docker.stack.namespace"] // empty' "$body" | sort -u | tr '\n' ' ')"
  check "it shows the platform's stacks (edge, portainer, portainer-agent: $stacks)" pt_has_all "$stacks" edge portainer portainer-agent
}
