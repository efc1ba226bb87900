#!/usr/bin/env bash
# The `local` stack on the sandbox: shared by scripts/local.sh (the main job) and tests/real/e2e.sh.
# Source it; it defines functions only.
# shellcheck shell=bash
# shellcheck source=scripts/lib/pulumi-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/pulumi-env.sh"
# shellcheck source=sandbox/lib.sh
. "$MBIO_ROOT/sandbox/lib.sh"

LOCAL_STACK=local

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
  if pulumi_stack_exists && [ "$before" != "$(machine_fingerprint)" ]; then
    log "sandbox machines were recreated: the local stack's state describes the old ones; starting it afresh"
    (cd "$MBIO_ROOT" && pulumi --non-interactive stack rm --force --yes --preserve-config "$LOCAL_STACK" >/dev/null)
  fi
  pulumi_stack_exists || (cd "$MBIO_ROOT" && pulumi --non-interactive stack init "$LOCAL_STACK" >/dev/null)
  pulumi_local config set --secret mbio-cloud:sshPrivateKey <"$SSH_KEY" >/dev/null
  [ -f "$STATE_DIR/restic-password" ] || (umask 077 && head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$STATE_DIR/restic-password")
  pulumi_local config set --secret mbio-cloud:resticPassword <"$STATE_DIR/restic-password" >/dev/null
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

# What runs where: every node with its role and address, and the tasks running on it.
print_placement() {
  local manager
  manager="$(machine_ip 1)"
  printf '\nWhat runs where (the Swarm as seen from %s):\n' "$manager"
  machine_ssh "$manager" bash -s <"$MBIO_ROOT/components/files/swarm/placement.sh"
}
