# shellcheck shell=bash
# The nightly drills' local stack: 3 sandbox machines (3 managers), `pulumi up`; reused when it is up already,
# so the drills can run one after another on one stack (NIGHTLY_KEEP_STACK=1 keeps it at the end).
# shellcheck source=scripts/lib/local-stack.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../../scripts/lib/local-stack.sh"

nightly_stack_up() {
  local_stack_prepare 3 && pulumi_local up --yes --skip-preview
}
nightly_stack_down() {
  [ "${NIGHTLY_KEEP_STACK:-}" = 1 ] && { echo "  NIGHTLY_KEEP_STACK=1: the local stack stays up"; return 0; }
  bash "$MBIO_ROOT/scripts/local.sh" down >/dev/null 2>&1 || true
}
# The first manager that answers, as a machine index (the drills stop managers).
answering_manager() {
  local i
  for i in 1 2 3; do
    machine_ssh "$(machine_ip "$i")" "docker node ls -q" >/dev/null 2>&1 && { echo "$i"; return 0; }
  done
  return 1
}
