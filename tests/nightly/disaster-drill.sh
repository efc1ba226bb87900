#!/usr/bin/env bash
# shellcheck disable=SC2317 # predicates run indirectly, through check and must
# The whole-environment disaster drill on the sandbox (issue 12): scripts/disaster-drill.sh local --yes —
# known data and its backup, pulumi destroy, machines wiped, pulumi up, restore with tools/mbio-restore from
# this host, checksums and row counts compared, RTO printed. Nightly: it rebuilds the whole local stack.
set -uo pipefail
TEST_NAME="disaster-drill"
# shellcheck source=tests/nightly/lib/local-up.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/local-up.sh"
finish() {
  nightly_finish
}

drill() { bash "$MBIO_ROOT/scripts/disaster-drill.sh" "$@"; }
refused() { local out; out="$(drill "$@" 2>&1)"; [ $? -eq 2 ] && grep -q "$1\|--yes" <<<"$out" && echo "  refused: $out"; }
check "refuses production" refused production --yes
check "refuses a stack without --yes" refused development
must "local stack: 3 managers, backups to the sandbox S3 server, pulumi up" nightly_stack_up
drilled() { drill local --yes 2>&1 | tee "$work/drill.log"; [ "${PIPESTATUS[0]}" -eq 0 ]; }
must "scripts/disaster-drill.sh local --yes" drilled
check "the drill reports an RTO with identical data" grep -q 'RTO [0-9]* s (destroy → data verified): journal records and database rows identical' "$work/drill.log"
finish
