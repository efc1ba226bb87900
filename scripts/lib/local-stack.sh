#!/usr/bin/env bash
# The `local` stack on the sandbox: shared by scripts/local.sh (the main job) and tests/real/e2e.sh.
# Source it; it defines functions only.
# shellcheck shell=bash
# shellcheck source=scripts/lib/pulumi-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/pulumi-env.sh"
# shellcheck source=sandbox/lib.sh
. "$MBIO_ROOT/sandbox/lib.sh"

LOCAL_STACK=local
# Every preview and up of the local stack runs the policy pack (policy/, docs/security.md): a mandatory
# violation stops it before anything changes.
# shellcheck disable=SC2034 # used by the scripts that source this file
POLICY_PACK=(--policy-pack "$MBIO_ROOT/policy")

# Pulumi on the local stack, from the project directory, never prompting.
pulumi_local() { (cd "$MBIO_ROOT" && pulumi --non-interactive "$@" --stack "$LOCAL_STACK"); }

# IDs of the sandbox machine containers: when they change, the stack's state describes machines that
# no longer exist (remote commands cannot be refreshed), so the state is started afresh.
machine_fingerprint() { docker ps -aq --filter "label=$LABEL" --filter "name=^${MACHINE_PREFIX}[0-9]+$" | sort | tr '\n' ' '; }

# Brings up N sandbox machines and the local stack's config and secrets.
local_stack_prepare() {
  local n="$1"
  ensure_docker
  ensure_node_modules
  ensure_pulumi
  local before
  before="$(machine_fingerprint)"
  # The local stack backs up like staging and production: to the sandbox's own S3 server.
  SANDBOX_S3_ENDPOINT="$(bash "$MBIO_ROOT/sandbox/s3.sh" endpoint)" bash "$MBIO_ROOT/sandbox/up.sh" "$n"
  bash "$MBIO_ROOT/sandbox/s3.sh" up >/dev/null
  # The edge's ACME server (certificates for *.local.mbiosphere.test).
  bash "$MBIO_ROOT/sandbox/pebble.sh" up >/dev/null
  if pulumi_stack_exists && [ "$before" != "$(machine_fingerprint)" ]; then
    log "sandbox machines were recreated: the local stack's state describes the old ones; starting it afresh"
    (cd "$MBIO_ROOT" && pulumi --non-interactive stack rm --force --yes --preserve-config "$LOCAL_STACK" >/dev/null)
  fi
  pulumi_stack_exists || (cd "$MBIO_ROOT" && pulumi --non-interactive stack init "$LOCAL_STACK" >/dev/null)
  pulumi_local config set --secret mbio-cloud:sshPrivateKey <"$SSH_KEY" >/dev/null
  [ -f "$STATE_DIR/restic-password" ] || (umask 077 && head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$STATE_DIR/restic-password")
  pulumi_local config set --secret mbio-cloud:resticPassword <"$STATE_DIR/restic-password" >/dev/null
  [ -f "$STATE_DIR/raft-restic-password" ] || (umask 077 && head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$STATE_DIR/raft-restic-password")
  pulumi_local config set --secret mbio-cloud:raftResticPassword <"$STATE_DIR/raft-restic-password" >/dev/null
  # The admin UIs' password (edge dashboard user admin, Portainer admin), generated once, kept in the state dir.
  [ -f "$STATE_DIR/admin-password" ] || (umask 077 && head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$STATE_DIR/admin-password")
  pulumi_local config set --secret mbio-cloud:adminPassword <"$STATE_DIR/admin-password" >/dev/null
  local key value
  # Monitoring passwords: made once per sandbox, kept in its state directory (mode 600).
  for key in influxdbAdminPassword influxdbWriterPassword influxdbReaderPassword grafanaAdminPassword; do
    [ -f "$STATE_DIR/$key" ] || (umask 077 && head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$STATE_DIR/$key")
    pulumi_local config set --secret "mbio-cloud:$key" <"$STATE_DIR/$key" >/dev/null
  done
  while IFS='=' read -r key value; do
    case "$key" in
      S3_ACCESS_KEY_ID) printf '%s' "$value" | pulumi_local config set --secret mbio-cloud:backupS3AccessKeyId >/dev/null ;;
      S3_SECRET_ACCESS_KEY) printf '%s' "$value" | pulumi_local config set --secret mbio-cloud:backupS3SecretAccessKey >/dev/null ;;
    esac
  done <"$STATE_DIR/s3.env"
  log "local stack ready: $(grep -c 'name: mbio-sandbox-' "$STACK_FILE") machine(s) in $STACK_FILE"
}

pulumi_stack_exists() { (cd "$MBIO_ROOT" && pulumi --non-interactive stack ls --json 2>/dev/null) | grep -q "\"name\": \"$LOCAL_STACK\""; }

# A test's clean slate: destroys the local stack left by an earlier run (output to LOG) and removes it.
# Best effort: a stack whose machines are gone cannot be destroyed and is removed all the same.
local_stack_remove() {
  pulumi_stack_exists || return 0
  pulumi_local destroy --yes --skip-preview >"${1:-/dev/null}" 2>&1 || true
  (cd "$MBIO_ROOT" && pulumi --non-interactive stack rm --force --yes "$LOCAL_STACK" >/dev/null 2>&1)
}

# What runs where: every node with its role and address, and the tasks running on it.
print_placement() {
  local manager
  manager="$(machine_ip 1)"
  printf '\nWhat runs where (the Swarm as seen from %s):\n' "$manager"
  machine_ssh "$manager" bash -s <"$MBIO_ROOT/components/files/swarm/placement.sh"
}

# What a person opens first: the edge's URLs, how to reach them from this host, the CA to trust, where the
# credentials are. Each URL is tried once through the edge, so the list says what answers right now.
print_access() {
  local ns ip root="$STATE_DIR/tls/pebble-root.pem" outputs
  ns="$(pulumi_local stack output dnsNamespace 2>/dev/null || echo "local.mbiosphere.test")"
  ip="$(machine_ip 1)"
  bash "$MBIO_ROOT/sandbox/pebble.sh" root >"$root" 2>/dev/null || rm -f "$root"
  outputs="$(pulumi_local stack output --json 2>/dev/null || echo '{}')"
  status() {
    local host=$1 path=$2 code
    [ -f "$root" ] || { echo "(Pebble's root unavailable)"; return; }
    # The first request for a name makes Traefik order its certificate from Pebble: give it a moment.
    for _ in $(seq 1 15); do
      code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$root" --resolve "$host:443:$ip" "https://$host$path" 2>/dev/null || true)"
      [ "$code" = 000 ] || break
      sleep 3
    done
    case "$code" in
      200) echo "answers 200" ;;
      401) echo "answers 401 until you log in" ;;
      404 | 000 | "") echo "not answering (HTTP ${code:-none}): not deployed on this stack?" ;;
      *) echo "answers $code" ;;
    esac
  }
  printf '\nOpen first (the edge on %s; Traefik on every manager):\n' "$ip"
  printf '  %-15s https://traefik.%s/dashboard/   %s\n' "edge dashboard" "$ns" "$(status "traefik.$ns" /api/overview)"
  printf '  %-15s https://whoami.%s/   %s\n' "demo service" "$ns" "$(status "whoami.$ns" /health)"
  printf '  %-15s https://monitoring.%s/   %s\n' "Grafana" "$ns" "$(status "monitoring.$ns" /api/health)"
  if [[ "$(jq -r '.portainerUrl // ""' <<<"$outputs")" == https://* ]]; then
    printf '  %-15s https://portainer.%s/   %s\n' "Portainer" "$ns" "$(status "portainer.$ns" /api/system/status)"
  else
    if bash "$MBIO_ROOT/scripts/portainer-build.sh" --check; then
      printf '  %-15s built but not deployed on this stack (mbio-cloud:controlPlane in Pulumi.local.yaml)\n' "Portainer"
    else
      printf '  %-15s its images are building in the background (log: %s): run bash scripts/local.sh again once\n' "Portainer" "$MBIO_CACHE/logs/portainer-build.log"
      printf '  %-15s bash scripts/portainer-build.sh --check passes (30–60 min the first time)\n' ""
    fi
  fi
  printf '\nFrom this host:\n'
  printf '  CA to trust    %s (Pebble'"'"'s issuing root, new at each Pebble start: bash sandbox/pebble.sh root)\n' "${root#"$MBIO_ROOT"/}"
  printf '  curl           curl --cacert %s --resolve whoami.%s:443:%s https://whoami.%s/\n' "${root#"$MBIO_ROOT"/}" "$ns" "$ip" "$ns"
  printf '  /etc/hosts     %s traefik.%s whoami.%s monitoring.%s portainer.%s\n' "$ip" "$ns" "$ns" "$ns" "$ns"
  printf '  credentials    user admin, password in sandbox/.state/admin-password (edge dashboard, Portainer);\n'
  printf '                 Grafana'"'"'s admin: see docs/monitoring.md\n'
}
