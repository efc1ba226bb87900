#!/usr/bin/env bash
# Shared by backup.sh, maintain.sh, restore.sh and agent.sh: repository access, helper containers,
# metrics, logging. Sourced, never run.
#
# Environment (all scripts):
#   RESTIC_REPOSITORY        s3:<endpoint>/<bucket>/<environment>
#   RESTIC_PASSWORD[_FILE]   repository password (a Swarm secret file in the service)
#   AWS_ACCESS_KEY_ID[_FILE], AWS_SECRET_ACCESS_KEY[_FILE], AWS_DEFAULT_REGION
#   AGENT_IMAGE              image of helper containers that mount volumes (the backup-agent image)
#   HELPER_NETWORK           network of helper containers (default host: reaches S3 wherever the node does)
#   NODE_NAME                restic --host of snapshots (default: hostname)
#   ENVIRONMENT              environment name, a metrics tag
#   INFLUX_URL, INFLUX_BUCKET, INFLUX_ORG, INFLUX_TOKEN[_FILE]   InfluxDB 2 write API (optional)
#   INFLUX_URL, INFLUX_DB, INFLUX_RP, INFLUX_USER, INFLUX_PASSWORD[_FILE]   InfluxDB 1.x write API (optional;
#                            used when INFLUX_DB is set: the monitoring stack's InfluxDB)
#   METRICS_FILE             also append line protocol here (optional)
# shellcheck shell=bash

MBIO_BACKUP_STATE="${MBIO_BACKUP_STATE:-/var/lib/mbio-backup}"
HELPER_NETWORK="${HELPER_NETWORK:-host}"
NODE_NAME="${NODE_NAME:-$(hostname)}"
ENVIRONMENT="${ENVIRONMENT:-unknown}"

ts() { date -u +%H:%M:%S; }
info() { printf '%s %s\n' "$(ts)" "$*" >&2; }
fail() { printf '%s error: %s\n' "$(ts)" "$*" >&2; exit 1; }

# Secrets arrive as files (Swarm secrets) or plain variables (an operator's shell); files win.
load_secret() {
  local var="$1" file_var="${1}_FILE"
  if [ -n "${!file_var:-}" ]; then
    [ -r "${!file_var}" ] || fail "$file_var points to ${!file_var}, which is not readable"
    printf -v "$var" '%s' "$(cat "${!file_var}")"
  fi
  [ -n "${!var:-}" ] || fail "$var (or ${var}_FILE) is not set"
  export "${var?}"
}

load_credentials() {
  [ -n "${RESTIC_REPOSITORY:-}" ] || fail "RESTIC_REPOSITORY is not set (s3:<endpoint>/<bucket>/<environment>)"
  load_secret RESTIC_PASSWORD
  load_secret AWS_ACCESS_KEY_ID
  load_secret AWS_SECRET_ACCESS_KEY
  unset RESTIC_PASSWORD_FILE AWS_ACCESS_KEY_ID_FILE AWS_SECRET_ACCESS_KEY_FILE
  export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
}

# s3:<scheme>://<host>/<bucket>/<prefix> → its parts.
repo_endpoint() { local r="${RESTIC_REPOSITORY#s3:}"; printf '%s' "${r%%://*}://$(printf '%s' "${r#*://}" | cut -d/ -f1)"; }
repo_bucket() { local r="${RESTIC_REPOSITORY#s3:}"; printf '%s' "${r#*://}" | cut -d/ -f2; }

# restic retries an unreachable endpoint for many minutes and creates missing buckets on init; a signed
# HEAD on the bucket first turns both into one clear sentence within seconds.
check_bucket() {
  local endpoint bucket code
  endpoint="$(repo_endpoint)"
  bucket="$(repo_bucket)"
  case "$RESTIC_REPOSITORY" in s3:http://* | s3:https://*) ;; *) return 0 ;; esac
  # SigV4 for S3 needs x-amz-content-sha256 (AWS and versitygw refuse a request without it; curl 7.88
  # does not add it): the SHA-256 of the empty body of this HEAD.
  # The keys reach curl as a config on stdin (-K -), never on its command line (ps, /proc/*/cmdline).
  code="$(printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" | curl -K - -sS -o /dev/null -w '%{http_code}' --max-time 15 -I \
    --aws-sigv4 "aws:amz:${AWS_DEFAULT_REGION}:s3" \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    "$endpoint/$bucket/" 2>/dev/null)" || code="000"
  case "$code" in
    200) return 0 ;;
    000) fail "cannot reach the S3 endpoint $endpoint (connection refused, DNS or timeout); nothing was changed" ;;
    404) fail "bucket $bucket does not exist at $endpoint; create it (backups never create buckets) — nothing was changed" ;;
    403) fail "S3 refused access to bucket $bucket at $endpoint (HTTP 403): check backupS3AccessKeyId/backupS3SecretAccessKey — nothing was changed" ;;
    *) fail "S3 endpoint $endpoint answered HTTP $code for bucket $bucket; nothing was changed" ;;
  esac
}

# Runs restic and rewrites its most common fatal errors into what the operator should do.
restic_checked() {
  local err rc=0
  err="$(mktemp)"
  restic "$@" 2> >(tee "$err" >&2) || rc=$?
  wait 2>/dev/null || true
  if [ "$rc" -ne 0 ]; then
    if grep -q "wrong password" "$err"; then
      rm -f "$err"; fail "the repository password does not open $RESTIC_REPOSITORY (wrong resticPassword); nothing was changed"
    elif grep -qE "Is there a repository at the following location|unable to open config file" "$err"; then
      rm -f "$err"; fail "no restic repository at $RESTIC_REPOSITORY; initialise it with maintain.sh init; nothing was changed"
    fi
  fi
  rm -f "$err"
  return "$rc"
}

# Opens the repository (fails clearly on bad bucket, keys or password) without changing it.
open_repository() {
  load_credentials
  check_bucket
  restic_checked cat config >/dev/null || fail "cannot open the restic repository $RESTIC_REPOSITORY"
}

# A helper container of the agent image with the given mounts, running restic with the secrets fed on
# stdin ahead of any data, so they never appear in a container's config. Usage:
#   helper_restic [docker run options…] -- restic arguments…     (stdin: data for --stdin, if any)
HELPER_PRELUDE='IFS= read -r RESTIC_PASSWORD; IFS= read -r AWS_ACCESS_KEY_ID; IFS= read -r AWS_SECRET_ACCESS_KEY; export RESTIC_PASSWORD AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; exec "$@"'
helper_run() {
  local opts=()
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do opts+=("$1"); shift; done
  shift
  [ -n "${AGENT_IMAGE:-}" ] || fail "AGENT_IMAGE is not set (the backup-agent image that runs restic next to a volume)"
  {
    printf '%s\n%s\n%s\n' "$RESTIC_PASSWORD" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"
    if [ "${HELPER_STDIN:-0}" = 1 ]; then cat; fi
  } | docker run --rm -i --network "$HELPER_NETWORK" --label mbio.backup.helper=true \
      -e RESTIC_REPOSITORY -e AWS_DEFAULT_REGION -e RESTIC_CACHE_DIR=/tmp/restic-cache \
      "${opts[@]}" --entrypoint bash "$AGENT_IMAGE" -c "$HELPER_PRELUDE" helper "$@"
}

# Metrics: one InfluxDB line per item and run. Fields are what dashboards and alerts need: when the
# last success was, how long it took, how much it added, whether it failed.
metric() {
  local tags="$1" fields="$2" line
  line="mbio_backup,environment=${ENVIRONMENT},node=${NODE_NAME},${tags} ${fields} $(date +%s)"
  if [ -n "${METRICS_FILE:-}" ]; then printf '%s\n' "$line" >>"$METRICS_FILE"; fi
  if [ -n "${INFLUX_URL:-}" ] && [ -n "${INFLUX_DB:-}" ]; then
    local password="${INFLUX_PASSWORD:-}"
    if [ -n "${INFLUX_PASSWORD_FILE:-}" ] && [ -r "$INFLUX_PASSWORD_FILE" ]; then password="$(cat "$INFLUX_PASSWORD_FILE")"; fi
    # The credentials reach curl through a config on a file descriptor, never its command line.
    curl -fsS --max-time 10 -XPOST -K <(printf 'user = "%s:%s"\n' "${INFLUX_USER:-}" "$password") \
      "${INFLUX_URL%/}/write?db=${INFLUX_DB}&rp=${INFLUX_RP:-}&precision=s" --data-binary "$line" >/dev/null \
      || info "warning: could not write metrics to $INFLUX_URL (the backup itself is unaffected)"
  elif [ -n "${INFLUX_URL:-}" ]; then
    local token="${INFLUX_TOKEN:-}"
    if [ -n "${INFLUX_TOKEN_FILE:-}" ] && [ -r "$INFLUX_TOKEN_FILE" ]; then token="$(cat "$INFLUX_TOKEN_FILE")"; fi
    curl -fsS --max-time 10 -XPOST -K <(printf 'header = "Authorization: Token %s"\n' "$token") \
      "${INFLUX_URL%/}/api/v2/write?bucket=${INFLUX_BUCKET:-backup}&org=${INFLUX_ORG:-mbio}&precision=s" \
      --data-binary "$line" >/dev/null \
      || info "warning: could not write metrics to $INFLUX_URL (the backup itself is unaffected)"
  fi
}

# Runs restic backup (args after the first) and records a metric for it; the restic JSON summary gives
# bytes added, which is what proves incremental backups stay small.
#   backup_item "kind=volume,target=NAME" runner… restic backup … --json
backup_item() {
  local tags="$1"; shift
  local start out rc=0 added=0 files_new=0 files_changed=0 processed=0
  start=$(date +%s.%N)
  out="$(mktemp)"
  "$@" >"$out" || rc=$?
  local summary
  summary="$(grep '"message_type":"summary"' "$out" | tail -n1 || true)"
  rm -f "$out"
  if [ -n "$summary" ]; then
    added="$(jq -r '.data_added' <<<"$summary")"
    files_new="$(jq -r '.files_new' <<<"$summary")"
    files_changed="$(jq -r '.files_changed' <<<"$summary")"
    processed="$(jq -r '.total_bytes_processed' <<<"$summary")"
  fi
  local duration
  duration="$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.3f", e - s }')"
  if [ "$rc" -eq 0 ] && [ -n "$summary" ]; then
    metric "$tags" "success=1i,errors=0i,duration_seconds=${duration},bytes_added=${added}i,bytes_processed=${processed}i,files_new=${files_new}i,files_changed=${files_changed}i,last_success=$(date +%s)i"
    info "  done in ${duration}s: ${processed} bytes read, ${added} bytes added (${files_new} new, ${files_changed} changed files)"
    return 0
  fi
  metric "$tags" "success=0i,errors=1i,duration_seconds=${duration}"
  info "  FAILED after ${duration}s (restic exit $rc)"
  return 1
}

# Retries an operation while another node holds the repository lock (restic 0.14 has no --retry-lock).
with_lock_retry() {
  local attempt err rc
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    err="$(mktemp)"
    rc=0
    "$@" 2> >(tee "$err" >&2) || rc=$?
    wait 2>/dev/null || true
    if [ "$rc" -eq 0 ] || ! grep -q "repository is already locked" "$err"; then rm -f "$err"; return "$rc"; fi
    rm -f "$err"
    info "repository locked by another node; retrying in 30 s (attempt $attempt/10)"
    sleep 30
  done
  return "$rc"
}
