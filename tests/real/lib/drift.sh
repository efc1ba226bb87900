#!/usr/bin/env bash
# One drift case, shared by tests/real/swarm-drift.sh and tests/real/e2e.sh: a hand change with the docker
# CLI on a manager, then `pulumi refresh --preview-only --expect-no-changes` must fail and the drift report
# name the object; `pulumi refresh` + `pulumi up` must put it back; the next refresh and preview report
# nothing. The caller defines: check, drift_pulumi (pulumi for its stack), drift_on_manager (a command on a
# manager), DRIFT_STACK (name in reports), work (a scratch directory).
# shellcheck shell=bash

drift_log() {
  local f="$1"
  shift
  "$@" >"$f" 2>&1 || { tail -25 "$f" | sed 's/^/    | /'; return 1; }
}

drift_refresh_fails() { ! drift_pulumi refresh --preview-only --expect-no-changes --diff >"$1" 2>&1; }

# drift_case LABEL EXPECTED_TEXT RESTORED_FUNCTION -- docker command...  (the function checks the repair)
drift_case() {
  local label="$1" expect="$2" restored="$3"
  : "${work:?}" "${DRIFT_STACK:?}"
  shift 4
  printf '\n[drift] (%s) by hand: %s\n' "$label" "$*"
  drift_on_manager "$@" >/dev/null 2>&1
  sleep 2
  check "($label) refresh --expect-no-changes fails" drift_refresh_fails "$work/$label-refresh.log"
  node "$MBIO_ROOT/scripts/lib/drift-report.js" "$DRIFT_STACK" <"$work/$label-refresh.log" >"$work/$label-report.txt"
  sed 's/^/    /' "$work/$label-report.txt"
  check "($label) drift report names $expect" grep -qF "$expect" "$work/$label-report.txt"
  check "($label) pulumi refresh records the live state" drift_log "$work/$label-refresh-real.log" drift_pulumi refresh --yes --skip-preview
  check "($label) pulumi up" drift_log "$work/$label-up.log" drift_pulumi up --yes --skip-preview
  check "($label) pulumi up restored it" "$restored"
  check "($label) afterwards refresh reports no changes" drift_log "$work/$label-r2.log" drift_pulumi refresh --preview-only --expect-no-changes
  check "($label) afterwards preview reports no changes" drift_log "$work/$label-p2.log" drift_pulumi preview --expect-no-changes
}
