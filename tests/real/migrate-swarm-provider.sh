#!/usr/bin/env bash
# scripts/migrate-swarm-provider.sh with the real Pulumi engine, on one lab machine of its own (the sandbox's
# machine image, not the sandbox singleton: no lock needed). Two stacks deploy remote commands shaped like a
# pre-provider stack's Swarm steps, each delete leaving a marker file; then the program drops them:
#   control: without the migration, `pulumi up` runs the old deletes (markers appear: what the migration
#            prevents — on a real stack, drain + remove of every node and the first manager leaving);
#   migrated: after the migration, `pulumi up` runs none of them, keeps the join (updated, no delete) and
#            the unrelated `-cluster-init`; a second migration has nothing to do.
# Ends with "migrate-swarm-provider: N passed, M failed".
set -uo pipefail
# shellcheck source=scripts/lib/pulumi-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/pulumi-env.sh"
LAB="$MBIO_ROOT/tests/real/migrate-swarm-provider"
NAME=mbio-migrate-lab-m1
work="$(mktemp -d)"
export PULUMI_BACKEND_URL="file://$work/state" PULUMI_CONFIG_PASSPHRASE=mbio-migrate-lab
mkdir -p "$work/state"
TEST_NAME=migrate-swarm-provider
# shellcheck source=tests/real/lib/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/check.sh"
# shellcheck source=tests/real/lib/lab-machine.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lab-machine.sh"
finish() {
  trap - EXIT
  docker rm -f "$NAME" >/dev/null 2>&1
  rm -rf "$work"
  report
  exit
}
trap finish EXIT
# shellcheck source=tests/real/lib/lab-stack.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lab-stack.sh"
lab() { local s="$1"; shift; lab_pulumi "$LAB" "$s" "$work" "$@"; }
markers() { docker exec "$NAME" sh -c "ls /tmp/migrate-lab/ 2>/dev/null | sort | tr '\n' ' '"; }

ensure_docker
ensure_node_modules
ensure_pulumi
lab_machine "$NAME" "$work" || { failed=1; exit; }
ip="$LAB_IP"

for s in control migrated; do
  # The stack files are this run's own (their encryption salt belongs to this run's passphrase).
  lab_stack_init "$LAB" "$s" "$work"
  lab "$s" config set lab:host "$ip" >/dev/null
  lab "$s" config set lab:phase old >/dev/null
  lab "$s" config set --secret lab:sshPrivateKey <"$work/key" >/dev/null
  check "$s: pulumi up of the pre-provider shape (6 remote commands)" to "$work/$s-old.log" lab "$s" up --yes --skip-preview
  lab "$s" config set lab:phase new >/dev/null
done

echo "control: the new program without the migration"
docker exec "$NAME" rm -rf /tmp/migrate-lab
check "control: pulumi up" to "$work/control-new.log" lab control up --yes --skip-preview
check "control: the old deletes ran (init, membership, network, deploy): what the migration prevents" test "$(markers)" = "deleted-deploy deleted-init deleted-membership deleted-network "

echo "migrated: scripts/migrate-swarm-provider.sh, then the new program"
docker exec "$NAME" rm -rf /tmp/migrate-lab
check "migration forgets exactly the 4 pre-provider Swarm commands" to "$work/migrate.log" env MIGRATE_PROJECT_DIR="$LAB" bash "$MBIO_ROOT/scripts/migrate-swarm-provider.sh" migrated
check "migration log names the 4 and not the join or -cluster-init" bash -c "[ \$(grep -c 'forgetting' '$work/migrate.log') = 4 ] && ! grep -Eq 'forgetting .*(join|cluster-init)' '$work/migrate.log'"
check "migrated: pulumi up" to "$work/migrated-new.log" lab migrated up --yes --skip-preview
check "migrated: no old delete ran on the machine" test -z "$(markers)"
check "migrated: the join was updated in place, the -cluster-init kept" bash -c "lab() { (cd '$LAB' && pulumi --non-interactive --stack migrated \"\$@\"); }; [ \$(lab stack --show-urns | grep -Ec 'Command::lab-(swarm-m1-join|storage-cluster-init)\$') = 2 ] && [ \$(lab stack --show-urns | grep -c 'remote:Command::') = 2 ]"
check "migrated: a second migration has nothing to do" bash -c "MIGRATE_PROJECT_DIR='$LAB' bash '$MBIO_ROOT/scripts/migrate-swarm-provider.sh' migrated 2>&1 | grep -q 'nothing to migrate'"
check "migrated: no changes left (preview --expect-no-changes)" to "$work/migrated-p.log" lab migrated preview --expect-no-changes
for s in control migrated; do lab "$s" destroy --yes --skip-preview >/dev/null 2>&1; done
