#!/usr/bin/env bash
# The Swarm's raft backup restored on a fresh machine (tests/real/lib/restore-tool.sh, `restore_tool_raft full`):
# on the nightly local stack (3 managers), tools/mbio-restore from this host takes the raft backup the way Docker
# documents it (engine stopped on a Reachable manager; twice: idempotent), then restores it on a fresh sandbox
# machine fenced off the old managers (--force-new-cluster): nodes, services, configs and secrets as backed up,
# the fresh machine leads, a second restore has nothing to do, a machine of another Swarm is refused. The default
# run's e2e takes one raft backup only (minutes and a machine less). Ends with "swarm-restore: N passed, M failed".
set -uo pipefail
TEST_NAME="swarm-restore"
# shellcheck source=tests/nightly/lib/local-up.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/local-up.sh"
# shellcheck source=tests/real/lib/restore-tool.sh
. "$MBIO_ROOT/tests/real/lib/restore-tool.sh"
finish() {
  # The fresh machine goes with the sandbox (scripts/local.sh down); a kept stack's next `local_stack_prepare 3`
  # removes it, and its `pulumi up` deploys the backup stack removed here again.
  nightly_finish
}
export MBIO_SSH_OPTIONS="-o LogLevel=ERROR"
must "local stack: 3 managers, backups to the sandbox S3 server, pulumi up" nightly_stack_up
restore_tool_raft full
finish
