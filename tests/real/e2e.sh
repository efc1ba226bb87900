#!/usr/bin/env bash
# shellcheck disable=SC2317 # the predicates below run indirectly, through check and wait_for
# End to end with the real Pulumi engine on the local sandbox, one sandbox and one stack for every phase:
#   sandbox up (4 machines, S3 server) → pulumi up (3 managers) → the Swarm as docker sees it →
#   preview and refresh report no drift → hand changes are drift → workers 0 → 1: nothing replaced →
#   the operator's volume restore from a workstation (tests/real/lib/restore-tool.sh) → workers 1 → 0: the
#   node is drained and leaves → raft backup on a Reachable manager → pulumi destroy → sandbox down leaves
#   nothing behind. Nightly, not here (minutes each): a manager machine lost under load
#   (tests/nightly/manager-loss.sh) and the raft backup restored on a fresh machine (tests/nightly/swarm-restore.sh).
# Every step prints its duration; ends with "e2e: N passed, N failed".
set -uo pipefail
# shellcheck source=scripts/lib/local-stack.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/local-stack.sh"

work="$(mktemp -d)"
TEST_NAME=e2e
# shellcheck source=tests/real/lib/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/check.sh"
# shellcheck source=tests/real/lib/restore-tool.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/restore-tool.sh"

on_manager() { machine_ssh "$(machine_ip "${MANAGER_INDEX:-1}")" "$@"; }
node_lines() { on_manager "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'"; }
count() { grep -Ec "$1" <<<"$2"; }

# Services of the stack whose replicas are all running (healthy, for those with a healthcheck).
services_converged() {
  local lines
  lines="$(on_manager "docker service ls --format '{{.Name}} {{.Replicas}}'")" || return 1
  [ -n "$lines" ] && ! awk '{ split($2, r, "/"); if (r[1] != r[2]) bad = 1 } END { exit !bad }' <<<"$lines"
}

finish() {
  printf '\n[e2e] cleaning up\n'
  local_stack_remove "$work/destroy-cleanup.log"
  bash "$MBIO_ROOT/sandbox/down.sh" >/dev/null 2>&1 || true
  rm -rf "$work"
  report
  exit
}

# ---------------------------------------------------------------------------------------------------
must "toolchain (Pulumi CLI and plugins)" ensure_pulumi
echo "  $(pulumi version) (SDK pinned in package.json: $PULUMI_VERSION)"
must "Docker engine and node_modules" bash -c ". '$MBIO_ROOT/scripts/lib/env.sh' && ensure_docker && ensure_node_modules"
pulumi_stack_exists && echo "  a local stack is left from an earlier run: destroying it first"
local_stack_remove "$work/destroy-old.log"
must "sandbox: 4 machines, registry, S3 server, local stack config" local_stack_prepare 4
must "config: 3 managers, 0 workers (the 4th machine waits for the scale-out)" pulumi_local config set mbio-cloud:workers 0

must "pulumi up (empty → ready Swarm)" pulumi_local up "${POLICY_PACK[@]}" --yes --skip-preview

printf '\n[e2e] the Swarm as docker sees it\n'
on_manager docker node ls
nodes="$(node_lines)"
check "3 nodes, all Ready" test "$(count ' Ready' "$nodes")" = 3
check "exactly one Leader" test "$(count 'Leader' "$nodes")" = 1
check "3 managers reachable" test "$(count 'Leader|Reachable' "$nodes")" = 3
check "every node labelled with environment, role and name" test "$(on_manager "docker node ls -q | xargs docker node inspect --format '{{index .Spec.Labels \"mbio.environment\"}}/{{index .Spec.Labels \"mbio.role\"}}/{{index .Spec.Labels \"mbio.name\"}}'" | grep -c '^local/manager/mbio-sandbox-')" = 3
check "platform overlay network local-platform, unencrypted here" test "$(on_manager "docker network inspect local-platform --format '{{.Driver}} {{.Attachable}}'")" = "overlay true"
check "platform services converged (every replica running and healthy)" wait_for "services" 240 services_converged
on_manager "docker service ls"
health="$(on_manager "docker ps --filter label=com.docker.swarm.service.name --format '{{.Names}} {{.Status}}'" )"
echo "$health"
check "a real service with a healthcheck reports healthy" grep -q '(healthy)' <<<"$health"

# shellcheck source=tests/real/lib/secret-leak.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/secret-leak.sh"
secret_leak_checks
# shellcheck source=tests/real/lib/portainer-api.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/portainer-api.sh"
portainer_api_checks

# ---------------------------------------------------------------------------------------------------
printf '\n[e2e] one backup and restore through the deployed backup services\n'
# The same scripts, Swarm configs and secrets the schedule would use, started now instead of at 02:15.
node2() { machine_ssh "$(machine_ip 2)" "$@"; }
task_on() { machine_ssh "$(machine_ip "$1")" "docker ps -q --filter label=com.docker.swarm.service.name=$2 | head -1"; }
image="$(pulumi_local config get mbio-cloud:images | jq -r '."backup-agent"')"
sums="cd /d && sha256sum blob note"
node2 "docker volume create --label mbio.backup=true e2e-data >/dev/null && docker run --rm -v e2e-data:/d --entrypoint sh '$image' -c 'head -c 4194304 /dev/urandom >/d/blob; echo e2e >/d/note'"
before="$(node2 "docker run --rm -v e2e-data:/d --entrypoint sh '$image' -c '$sums'")"
agent="$(task_on 2 backup_agent)"
check "the agent task on mbio-sandbox-2 backs up its labelled volume" node2 "docker exec $agent /opt/mbio-backup/agent.sh run backup"
listing="$(node2 "docker exec $agent bash /opt/mbio-backup/restore.sh snapshots --volume e2e-data")"
echo "$listing" | tail -3
check "restore.sh snapshots lists the e2e-data snapshot" grep -q 'e2e-data' <<<"$listing"
# The Swarm raft backup is taken over SSH with the engine stopped (tools/mbio-restore swarm-backup), not by
# the maintenance task: restore_tool_raft below takes one (tests/real/lib/restore-tool.sh); tests/nightly/swarm-restore.sh restores it on a fresh machine.
node2 "docker volume rm e2e-data >/dev/null"
check "restore.sh volume recreates the destroyed volume from the snapshot" node2 "docker exec $agent bash /opt/mbio-backup/restore.sh volume e2e-data --host mbio-sandbox-2"
after="$(node2 "docker run --rm -v e2e-data:/d --entrypoint sh '$image' -c '$sums'" 2>&1)"
check "restored content is identical (sha256 of every file)" test "$before" = "$after"

must "pulumi preview --expect-no-changes" pulumi_local preview "${POLICY_PACK[@]}" --expect-no-changes --diff
must "pulumi refresh --preview-only --expect-no-changes" pulumi_local refresh --preview-only --expect-no-changes

# ---------------------------------------------------------------------------------------------------
# Drift by hand on a manager (issue 8): every change must fail the refresh check, be named, and be undone
# by refresh + up; the five are made together and checked in one round (tests/real/lib/drift.sh).
# shellcheck source=tests/real/lib/drift.sh
. "$MBIO_ROOT/tests/real/lib/drift.sh"
DRIFT_STACK=local
drift_pulumi() { pulumi_local "$@"; }
drift_on_manager() { on_manager "$@"; }
m2_id="$(on_manager "docker node ls --filter name=mbio-sandbox-2 -q")"
agent_image="$(on_manager "docker service inspect backup_maintenance --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}'")"
maintenance() { on_manager "docker service inspect backup_maintenance --format '$1'"; }
node2_spec() { on_manager "docker node inspect $m2_id --format '$1'"; }
one_replica() { [ "$(maintenance '{{.Spec.Mode.Replicated.Replicas}}')" = 1 ]; }
pinned_image() { [ "$(maintenance '{{.Spec.TaskTemplate.ContainerSpec.Image}}')" = "$agent_image" ]; }
node2_active() { [ "$(node2_spec '{{.Spec.Availability}}')" = active ]; }
node2_role_label() { [ "$(node2_spec '{{index .Spec.Labels "mbio.role"}}')" = manager ]; }
on_platform() { maintenance '{{json .Spec.TaskTemplate.Networks}}' | grep -q Target; }
drift_add a "services.backup_maintenance.replicas" one_replica -- docker service scale --detach backup_maintenance=0
drift_add b "services.backup_maintenance.image" pinned_image -- docker service update --detach --no-resolve-image --image "${agent_image%@*}" backup_maintenance
drift_add c "availability" node2_active -- docker node update --availability drain "$m2_id"
drift_add d "labels.mbio.role" node2_role_label -- docker node update --label-add mbio.role=tampered "$m2_id"
drift_add e "services.backup_maintenance.networks" on_platform -- docker service update --detach --network-rm local-platform backup_maintenance
# The round runs after the scale-out below: its sixth case removes the new worker's node by hand.

# ---------------------------------------------------------------------------------------------------
must "config: workers 0 → 1" pulumi_local config set mbio-cloud:workers 1
pulumi_local preview "${POLICY_PACK[@]}" --json >"$work/scale.json" 2>"$work/scale.err"
ops="$(jq -r '[.steps[]? | .op] | group_by(.) | map("\(.[0])=\(length)") | join(" ")' "$work/scale.json")"
echo "  scale-out plan: $ops"
check "scale-out creates resources" grep -q 'create=' <<<"$ops"
check "scale-out replaces and deletes nothing" test -z "$(grep -Eo 'replace[^ ]*|delete[^ ]*' <<<"$ops")"
must "pulumi up (scale out)" pulumi_local up "${POLICY_PACK[@]}" --yes --skip-preview
nodes="$(node_lines)"
check "4 nodes Ready after scale-out" test "$(count ' Ready' "$nodes")" = 4
check "the new node is a worker labelled as one" test "$(on_manager "docker node inspect mbio-sandbox-4 --format '{{.Spec.Role}} {{index .Spec.Labels \"mbio.role\"}}'")" = "worker worker"
check "global backup agent runs on the new worker too" wait_for "services" 180 services_converged

# (f) A node removed from the Swarm by hand (issue 19): its join reads the node back, so refresh reports the
# join and the membership gone, and up joins the machine again (it leaves the Swarm it still believes it is
# in first) under a new node id.
w4_id="$(on_manager "docker node inspect mbio-sandbox-4 --format '{{.ID}}'")"
worker_back() { [ "$(on_manager "docker node inspect mbio-sandbox-4 --format '{{.Status.State}} {{.Spec.Availability}} {{.Spec.Role}} {{index .Spec.Labels \"mbio.role\"}}'")" = "ready active worker worker" ]; }
rejoined() { wait_for "mbio-sandbox-4 ready again" 90 worker_back && [ "$(on_manager "docker node inspect mbio-sandbox-4 --format '{{.ID}}'")" != "$w4_id" ]; }
drift_add f "mbio-sandbox-4-join" rejoined -- docker node rm --force "$w4_id"
drift_run
check "(f) the refresh reported the removed node's membership gone too" grep -qF "mbio-sandbox-4-membership" "$work/abcdef-report.txt"

# ---------------------------------------------------------------------------------------------------
restore_tool_volumes

# ---------------------------------------------------------------------------------------------------
must "config: workers 1 → 0 (scale in)" pulumi_local config set mbio-cloud:workers 0
pulumi_local preview "${POLICY_PACK[@]}" --json >"$work/scale-in.json" 2>"$work/scale-in.err"
ops="$(jq -r '[.steps[]? | .op] | group_by(.) | map("\(.[0])=\(length)") | join(" ")' "$work/scale-in.json")"
echo "  scale-in plan: $ops"
check "scale-in deletes only the worker's resources (4) and replaces nothing" test "$(jq -r '[.steps[]? | select(.op == "delete" or .op == "replace") | .urn | select(test("mbio-sandbox-4") | not)] | length' "$work/scale-in.json")" = 0
must "pulumi up (scale in: drain, remove, leave)" pulumi_local up "${POLICY_PACK[@]}" --yes --skip-preview
check "the Swarm has 3 nodes again; mbio-sandbox-4 is gone from it" test "$(on_manager "docker node ls --format '{{.Hostname}}'" | sort | tr '\n' ' ')" = "mbio-sandbox-1 mbio-sandbox-2 mbio-sandbox-3 "
check "mbio-sandbox-4 left the Swarm" test "$(machine_ssh "$(machine_ip 4)" "docker info --format '{{.Swarm.LocalNodeState}}'")" = inactive
check "no task is left on mbio-sandbox-4" test -z "$(machine_ssh "$(machine_ip 4)" "docker ps -q --filter label=com.docker.swarm.service.name")"

# ---------------------------------------------------------------------------------------------------
# Destructive (a manager's engine stopped, the backup stack removed by hand): last before the destroy.
restore_tool_raft quick

# ---------------------------------------------------------------------------------------------------
must "pulumi destroy" pulumi_local destroy --yes --skip-preview
# The first manager keeps its Swarm, now of one node: the Swarm resource has no delete and the first
# manager's membership never removes it (docs/architecture.md); every other machine has left.
left="$(for i in 2 3 4; do machine_ssh "$(machine_ip "$i")" "docker info --format '{{.Swarm.LocalNodeState}}'"; done | sort -u | tr '\n' ' ')"
check "after destroy every machine that joined has left the Swarm (states: $left)" test "$left" = "inactive "
check "after destroy the first manager's Swarm has no other node" test "$(machine_ssh "$(machine_ip 1)" "docker node ls -q 2>/dev/null | wc -l")" -le 1
(cd "$MBIO_ROOT" && pulumi --non-interactive stack rm --force --yes "$LOCAL_STACK" >/dev/null 2>&1)
must "sandbox down" bash "$MBIO_ROOT/sandbox/down.sh"
check "no container, network or volume of the sandbox is left" test -z "$(docker ps -aq --filter label=mbio-sandbox=1; docker network ls -q --filter label=mbio-sandbox=1; docker volume ls -q --filter label=mbio-sandbox=1)"
check "no bridge interface of the sandbox is left" bash -c "! ip link show mbio-sandbox0 >/dev/null 2>&1"
check "no firewall rule of the sandbox is left" bash -c "! iptables-save 2>/dev/null | grep -q mbio-sandbox0"
finish
