#!/usr/bin/env bash
# Entrypoint of the backup services: turns the schedules into a crontab and runs cron in the foreground,
# so a job's output lands in `docker service logs`.
#   agent.sh                 AGENT_ROLE=node: backup.sh at BACKUP_SCHEDULE (global service, every node)
#                            AGENT_ROLE=maintenance: maintain.sh init once, then forget at PRUNE_SCHEDULE,
#                            check at CHECK_SCHEDULE (one task on a manager)
#   agent.sh run JOB [ARGS]  runs one job now, never two at once, and records its status
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=components/files/backup/lib.sh
source "$here/lib.sh"

if [ "${1:-}" = run ]; then
  shift
  job="$1"; shift
  mkdir -p "$MBIO_BACKUP_STATE"
  exec 9>"$MBIO_BACKUP_STATE/lock"
  if ! flock -n 9; then info "job $job skipped: the previous job is still running"; exit 0; fi
  info "job $job started"
  case "$job" in
    backup) script="$here/backup.sh" ;;
    *) script="$here/maintain.sh"; set -- "$job" "$@" ;;
  esac
  if bash "$script" "$@"; then
    echo "ok $job $(date -u +%FT%TZ)" >"$MBIO_BACKUP_STATE/last-status"
    info "job $job finished"
  else
    echo "failed $job $(date -u +%FT%TZ)" >"$MBIO_BACKUP_STATE/last-status"
    info "job $job FAILED"
    exit 1
  fi
  exit 0
fi

role="${AGENT_ROLE:-node}"
mkdir -p "$MBIO_BACKUP_STATE"
# cron starts jobs with an empty environment: hand them the service's (secrets stay files).
env_file="$MBIO_BACKUP_STATE/env"
export -p | grep -E ' (RESTIC_|AWS_|AGENT_|HELPER_|NODE_NAME|ENVIRONMENT|INFLUX_|METRICS_|RETENTION_|CHECK_|BACKUP_|MBIO_)' >"$env_file" || true
job_line() { printf '%s root . %q; bash %q run %s >/proc/1/fd/1 2>/proc/1/fd/2\n' "$1" "$env_file" "$here/agent.sh" "$2"; }
{
  echo "SHELL=/bin/bash"
  if [ "$role" = maintenance ]; then
    job_line "${PRUNE_SCHEDULE:-15 5 * * *}" forget
    job_line "${CHECK_SCHEDULE:-45 4 * * 0}" check
  else
    job_line "${BACKUP_SCHEDULE:-15 2 * * *}" backup
  fi
} >/etc/cron.d/mbio-backup
chmod 0644 /etc/cron.d/mbio-backup
info "backup agent ($role) on $NODE_NAME, schedule:"
sed -n 's/ root .* run / → /p' /etc/cron.d/mbio-backup >&2

if [ "$role" = maintenance ]; then
  # A fresh environment has no repository yet; later starts find it and change nothing.
  bash "$here/agent.sh" run init || info "repository not ready yet; backups will fail until it is (see the error above)"
fi
exec cron -f
