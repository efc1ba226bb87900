#!/usr/bin/env bash
# Drift by hand, shared by tests/real/swarm-drift.sh and tests/real/e2e.sh: hand changes with the docker CLI
# on a manager, then `pulumi refresh --preview-only --expect-no-changes` must fail and the drift report name
# every changed object; `pulumi refresh` + `pulumi up` must put each back; the next refresh and preview report
# nothing. The caller defines: check, drift_pulumi (pulumi for its stack), drift_on_manager (a command on a
# manager), DRIFT_STACK (name in reports), work (a scratch directory).
#
# Cases are registered with drift_add and run together by drift_run: one round of five Pulumi operations for
# all of them instead of five per case (on the full program each operation takes 10–30 s). Each case keeps
# its own checks (named in the report, restored), so a case that is not detected or not repaired still fails
# on its own. drift_case runs a single case as a round of its own.
# shellcheck shell=bash

DRIFT_LABELS=() DRIFT_EXPECT=() DRIFT_RESTORED=() DRIFT_CMDS=()

drift_log() {
  local f="$1"
  shift
  "$@" >"$f" 2>&1 || { tail -25 "$f" | sed 's/^/    | /'; return 1; }
}

drift_refresh_fails() { ! drift_pulumi refresh --preview-only --expect-no-changes --diff >"$1" 2>&1; }

# drift_add LABEL EXPECTED_TEXT RESTORED_FUNCTION -- docker command...  (the function checks the repair)
drift_add() {
  DRIFT_LABELS+=("$1") DRIFT_EXPECT+=("$2") DRIFT_RESTORED+=("$3")
  shift 4
  # Kept quoted and evaluated at run time, so each word of the command arrives as it was given.
  DRIFT_CMDS+=("$(printf '%q ' "$@")")
}

# drift_run: makes every registered change, then one refresh/up round checks them all; clears the list.
drift_run() {
  : "${work:?}" "${DRIFT_STACK:?}"
  local i label round
  round="$(IFS=; echo "${DRIFT_LABELS[*]}")"
  for i in "${!DRIFT_LABELS[@]}"; do
    printf '\n[drift] (%s) by hand: %s\n' "${DRIFT_LABELS[$i]}" "${DRIFT_CMDS[$i]}"
    eval "drift_on_manager ${DRIFT_CMDS[$i]}" >/dev/null 2>&1
  done
  # The Swarm applies detached updates asynchronously; the refresh must see them.
  sleep 2
  check "($round) refresh --expect-no-changes fails" drift_refresh_fails "$work/$round-refresh.log"
  node "$MBIO_ROOT/scripts/lib/drift-report.js" "$DRIFT_STACK" <"$work/$round-refresh.log" >"$work/$round-report.txt"
  sed 's/^/    /' "$work/$round-report.txt"
  for i in "${!DRIFT_LABELS[@]}"; do
    check "(${DRIFT_LABELS[$i]}) drift report names ${DRIFT_EXPECT[$i]}" grep -qF "${DRIFT_EXPECT[$i]}" "$work/$round-report.txt"
  done
  check "($round) pulumi refresh records the live state" drift_log "$work/$round-refresh-real.log" drift_pulumi refresh --yes --skip-preview
  check "($round) pulumi up" drift_log "$work/$round-up.log" drift_pulumi up --yes --skip-preview
  for i in "${!DRIFT_LABELS[@]}"; do
    label="${DRIFT_LABELS[$i]}"
    check "($label) pulumi up restored it" "${DRIFT_RESTORED[$i]}"
  done
  check "($round) afterwards refresh reports no changes" drift_log "$work/$round-r2.log" drift_pulumi refresh --preview-only --expect-no-changes
  check "($round) afterwards preview reports no changes" drift_log "$work/$round-p2.log" drift_pulumi preview --expect-no-changes
  DRIFT_LABELS=() DRIFT_EXPECT=() DRIFT_RESTORED=() DRIFT_CMDS=()
}

# drift_case LABEL EXPECTED_TEXT RESTORED_FUNCTION -- docker command...: one case, one round.
drift_case() {
  drift_add "$@"
  drift_run
}
