# shellcheck shell=bash
# The nightly drills' local stack: 3 sandbox machines (3 managers), `pulumi up`; reused when it is up already,
# so the drills can run one after another on one stack (NIGHTLY_KEEP_STACK=1 keeps it at the end).
# A drill sets TEST_NAME, sources this file (check/must/report, a work directory $work) and ends through its
# finish(), which calls nightly_finish after its own clean-up.
# shellcheck source=scripts/lib/local-stack.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../scripts/lib/local-stack.sh"
# shellcheck source=tests/real/lib/check.sh
. "$MBIO_ROOT/tests/real/lib/check.sh"
work="$(mktemp -d)"
# An interrupted drill counts as failed and still cleans up.
trap 'failed=$((failed + 1)); finish' INT TERM

nightly_stack_up() {
  local_stack_prepare 3 && pulumi_local up --yes --skip-preview
}
nightly_stack_down() {
  [ "${NIGHTLY_KEEP_STACK:-}" = 1 ] && { echo "  NIGHTLY_KEEP_STACK=1: the local stack stays up"; return 0; }
  bash "$MBIO_ROOT/scripts/local.sh" down >/dev/null 2>&1 || true
}
nightly_finish() {
  nightly_stack_down
  rm -rf "$work"
  report
  exit
}
# The first manager that answers, as a machine index (the drills stop managers).
answering_manager() {
  local i
  for i in 1 2 3; do
    machine_ssh "$(machine_ip "$i")" "docker node ls -q" >/dev/null 2>&1 && { echo "$i"; return 0; }
  done
  return 1
}
