#!/usr/bin/env bash
# Repository-wide jobs, run by the single maintenance task on a manager (never by every node: prune
# takes an exclusive lock).
#   maintain.sh init     create the repository if the bucket has none (idempotent; never creates buckets)
#   maintain.sh forget   apply retention (RETENTION_DAILY/WEEKLY/MONTHLY) per snapshot group, then prune
#   maintain.sh check    restic check, reading CHECK_READ_DATA_SUBSET of the pack files (default 5%)
# The Swarm's raft state is not backed up here: a consistent copy needs the engine stopped, which a task
# cannot do to its own node (swarm-raft.sh, run over SSH by tools/mbio-restore swarm-backup). Its archive
# goes to a repository of its own (RAFT_RESTIC_REPOSITORY, password in RAFT_RESTIC_PASSWORD_FILE: only this
# task, on a manager, has it): each job runs on the main repository, then on that one.
set -euo pipefail
# shellcheck source=components/files/backup/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -n "${RAFT_RESTIC_REPOSITORY:-}" ] && [ -z "${MBIO_REPOSITORY_PASS:-}" ]; then
  rc=0
  MBIO_REPOSITORY_PASS=main bash "${BASH_SOURCE[0]}" "$@" || rc=$?
  MBIO_REPOSITORY_PASS=raft RESTIC_REPOSITORY="$RAFT_RESTIC_REPOSITORY" RESTIC_PASSWORD_FILE="${RAFT_RESTIC_PASSWORD_FILE:?RAFT_RESTIC_PASSWORD_FILE must go with RAFT_RESTIC_REPOSITORY}" \
    bash "${BASH_SOURCE[0]}" "$@" || rc=$?
  exit "$rc"
fi

job="${1:-}"
start=$(date +%s)
target=repository
[ "${MBIO_REPOSITORY_PASS:-}" != raft ] || target=raft-repository
finish() {
  local ok="$1"
  metric "kind=$job,target=$target" "success=${ok}i,errors=$((1 - ok))i,duration_seconds=$(( $(date +%s) - start ))$([ "$ok" = 1 ] && printf ',last_success=%si' "$(date +%s)")"
}

case "$job" in
  init)
    load_credentials
    check_bucket
    if restic cat config >/dev/null 2>&1; then info "repository $RESTIC_REPOSITORY exists"; exit 0; fi
    # Only a missing config means "no repository": a wrong password must never lead to a second init.
    err="$(restic cat config 2>&1 >/dev/null || true)"
    if ! grep -qE "Is there a repository at the following location|unable to open config file|does not exist" <<<"$err"; then
      fail "cannot tell whether $RESTIC_REPOSITORY exists: $err"
    fi
    info "initialising repository $RESTIC_REPOSITORY"
    restic init
    ;;
  forget)
    open_repository
    info "retention: daily ${RETENTION_DAILY:-7}, weekly ${RETENTION_WEEKLY:-4}, monthly ${RETENTION_MONTHLY:-6}; then prune"
    # Grouped by host and tags, so each volume and each database keeps its own history.
    if with_lock_retry restic forget --group-by host,tags \
      --keep-daily "${RETENTION_DAILY:-7}" --keep-weekly "${RETENTION_WEEKLY:-4}" --keep-monthly "${RETENTION_MONTHLY:-6}" \
      --prune; then finish 1; else finish 0; exit 1; fi
    ;;
  check)
    open_repository
    info "checking repository structure and ${CHECK_READ_DATA_SUBSET:-5%} of the data"
    if with_lock_retry restic check --read-data-subset "${CHECK_READ_DATA_SUBSET:-5%}"; then finish 1; else
      finish 0
      fail "restic check found problems in $RESTIC_REPOSITORY: run 'restic check --read-data' and follow docs/disaster-recovery.md"
    fi
    ;;
  *) fail "usage: maintain.sh init|forget|check (the raft backup is tools/mbio-restore swarm-backup)" ;;
esac
