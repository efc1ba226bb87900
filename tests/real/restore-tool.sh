#!/usr/bin/env bash
# shellcheck disable=SC2317 # the predicates below run indirectly, through check
# The operator's restore path on the local sandbox, as an operator runs it from a workstation:
#   local stack up (4 machines: 3 managers, 1 worker) → data in a labelled volume on the worker → backup by
#   the deployed agent → volume destroyed → tools/mbio-restore from this host → sha256 of every file
#   identical (twice: in place over the restored volume too) → each missing prerequisite named
#   (wrong password, unreachable repository, no Swarm, no agent on a worker, not a manager, the leader,
#   no backup stack) → raft backup the way Docker documents it (engine stopped on a Reachable manager)
#   → the Swarm restored from it on a fresh machine (--force-new-cluster): nodes, services, configs and
#   secrets as before → teardown.
# Ends with "restore-tool: N passed, M failed". Run under the sandbox lock.
set -uo pipefail
# shellcheck source=scripts/lib/local-stack.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/local-stack.sh"

work="$(mktemp -d)"
export MBIO_SSH_OPTIONS="-o LogLevel=ERROR"
TEST_NAME=restore-tool
# shellcheck source=tests/real/lib/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/check.sh"
finish() {
  printf '\n[restore-tool] cleaning up\n'
  local_stack_remove "$work/destroy.log"
  bash "$MBIO_ROOT/sandbox/down.sh" >/dev/null 2>&1 || true
  rm -rf "$work"
  report
  exit
}

tool() { "$MBIO_ROOT/tools/mbio-restore" --identity "$SSH_KEY" "$@"; }
on() { machine_ssh "$(machine_ip "$1")" "${@:2}"; }
# `tool` must fail and its output must name the cause.
fails_with() {
  local pattern="$1" out
  shift
  if out="$("$@" 2>&1)"; then echo "    unexpectedly succeeded"; return 1; fi
  grep -qE "$pattern" <<<"$out" || { echo "    expected /$pattern/, got:"; tail -n3 <<<"$out" | sed 's/^/      /'; return 1; }
  echo "    $(grep -E "$pattern" <<<"$out" | head -n1 | cut -c1-200)"
}
timed() { local t=$SECONDS; "$@"; local rc=$?; echo "    took $((SECONDS - t)) s"; return "$rc"; }

agent_image() { on "$1" "docker ps -q --filter label=com.docker.swarm.service.name=backup_agent | head -n1 | xargs -r docker inspect -f '{{.Config.Image}}'"; }
# sha256 of every file (and the target of every symlink), relative paths, sorted.
volume_sums() { on "$1" "docker run --rm -v $2:/d:ro --entrypoint bash $IMAGE -c 'cd /d && { find . -type f -exec sha256sum {} +; find . -type l -printf \"%l  %p\n\"; } | sort -k2'"; }
swarm_objects() { on "$1" "docker node ls --format '{{.ID}}' | sort | tr '\n' ' '; echo; for k in service config secret; do docker \$k ls --format '{{.Name}}' | sort | tr '\n' ' '; echo; done"; }

# ---------------------------------------------------------------------------------------------------
must "toolchain and Docker" bash -c ". '$MBIO_ROOT/scripts/lib/pulumi-env.sh' && ensure_pulumi && ensure_docker && ensure_node_modules"
ensure_pulumi >/dev/null
local_stack_remove "$work/destroy-old.log"
must "sandbox: 4 machines, S3 server, local stack config" local_stack_prepare 4
must "config: 3 managers, 1 worker" pulumi_local config set mbio-cloud:workers 1
must "pulumi up" pulumi_local up --yes --skip-preview
W=4
IMAGE="$(agent_image $W)"
check "the backup agent runs on the worker mbio-sandbox-$W" test -n "$IMAGE"
no_restic() { ! on "$W" "command -v restic" >/dev/null; }
check "the worker has no restic of its own (the reported failure's cause)" no_restic
# Leader and a Reachable manager, as the Swarm sees them now.
L="$(on 1 "docker node ls --filter role=manager --format '{{.Hostname}} {{.ManagerStatus}}'" | awk '$2 == "Leader" { sub("mbio-sandbox-", "", $1); print $1 }')"
R=1
[ "$R" != "$L" ] || R=2
echo "    leader mbio-sandbox-$L, raft backups from mbio-sandbox-$R"

printf '\n[restore-tool] volume: data, backup by the deployed agent, destroy, restore from the workstation\n'
must "data written into the labelled volume rt_data on the worker" on $W "docker volume rm -f rt_data >/dev/null; docker volume create --label mbio.backup=true rt_data >/dev/null && docker run --rm -v rt_data:/d --entrypoint bash $IMAGE -c 'mkdir -p /d/deep/er && head -c 8000000 /dev/urandom >/d/big.bin && for i in \$(seq 1 50); do head -c \$((i * 997)) /dev/urandom >/d/deep/f\$i; done && echo hello >/d/deep/er/x.txt && ln -s big.bin /d/link'"
volume_sums $W rt_data >"$work/before"
echo "    $(wc -l <"$work/before") entries"
must "backup through the deployed agent (docker exec backup_agent … agent.sh run backup)" on $W "docker exec \$(docker ps -q --filter label=com.docker.swarm.service.name=backup_agent | head -n1) bash /opt/mbio-backup/agent.sh run backup"
must "volume rt_data destroyed" on $W "docker volume rm rt_data >/dev/null"
t=$SECONDS
must "tools/mbio-restore --stack local --ssh root@<worker> volume rt_data" tool --stack local --ssh "root@$(machine_ip $W)" volume rt_data
restore_s=$((SECONDS - t))
volume_sums $W rt_data >"$work/after"
check "sha256 of every file identical after the restore (${restore_s} s)" cmp -s "$work/before" "$work/after"
check "the restored volume keeps its backup label" test "$(on $W "docker volume inspect -f '{{index .Labels \"mbio.backup\"}}' rt_data")" = true
must "second run: in place over the restored volume" tool --stack local --ssh "root@$(machine_ip $W)" volume rt_data
volume_sums $W rt_data >"$work/again"
check "sha256 of every file still identical after the second run" cmp -s "$work/before" "$work/again"

printf '\n[restore-tool] missing prerequisites are named\n'
repo="$(pulumi_local config get mbio-cloud:backup | jq -r '"s3:" + (.s3.endpoint | rtrimstr("/")) + "/" + .s3.bucket + "/local"')"
# shellcheck disable=SC1090,SC1091
. "$STATE_DIR/s3.env"
plain() { env MBIO_KNOWN_HOSTS="$STATE_DIR/known_hosts" RESTIC_REPOSITORY="$1" RESTIC_PASSWORD="$2" AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$S3_SECRET_ACCESS_KEY" "$MBIO_ROOT/tools/mbio-restore" --identity "$SSH_KEY" --ssh "root@$(machine_ip "$3")" "${@:4}"; }
check "wrong password" fails_with "password does not open" plain "$repo" not-the-password $W snapshots
check "repository unreachable" fails_with "cannot reach the S3 endpoint" plain "s3:http://127.0.0.1:1/mbio-cloud-local-backups/local" x $W snapshots
check "SSH login refused" fails_with "cannot log in to" tool --stack local --ssh "root@127.0.0.1:1" snapshots
check "not a manager (raft backup on the worker)" fails_with "is not a Swarm manager" tool --stack local --ssh "root@$(machine_ip $W)" swarm-backup
check "the leader is refused for the raft backup" fails_with "is the leader" tool --stack local --ssh "root@$(machine_ip "$L")" swarm-backup
on "$L" "docker service update -q --detach=false --constraint-add node.role==manager backup_agent" >/dev/null 2>&1
agent_gone() { [ -z "$(agent_image $W)" ]; }
for _ in $(seq 1 40); do agent_gone && break; sleep 2; done
check "the agent task left the worker (placement constraint)" agent_gone
check "no agent on a worker" fails_with "no backup agent task runs on mbio-sandbox-$W, and a worker" tool --stack local --ssh "root@$(machine_ip $W)" snapshots
on "$L" "docker service update -q --detach=false --constraint-rm node.role==manager backup_agent" >/dev/null 2>&1

printf '\n[restore-tool] raft: backup as Docker documents it, restore on a fresh machine\n'
t=$SECONDS
must "swarm-backup on the Reachable manager mbio-sandbox-$R" tool --stack local --ssh "root@$(machine_ip "$R")" swarm-backup
raft_backup_s=$((SECONDS - t))
managers_up() { [ "$(on "$L" "docker node ls --format '{{.Status}} {{.ManagerStatus}}'" | grep -cE '^Ready (Leader|Reachable)$')" = 3 ]; }
check "mbio-sandbox-$R is a Reachable manager again, quorum intact" managers_up
must "second swarm-backup (idempotent)" tool --stack local --ssh "root@$(machine_ip "$R")" swarm-backup
swarm_objects "$L" >"$work/objects-before"
must "a fresh machine mbio-sandbox-5 (Docker, not in a Swarm)" env SANDBOX_S3_ENDPOINT="$(bash "$MBIO_ROOT/sandbox/s3.sh" endpoint)" bash "$MBIO_ROOT/sandbox/up.sh" 5
# The old managers are lost in a disaster; here they run, so the fresh machine must not reach them.
on 5 "for i in 1 2 3 4; do iptables -I OUTPUT -d 172.30.0.1\$i -p tcp --dport 2377 -j REJECT; done"
check "restore without --advertise-addr names the foreign address" fails_with "pass --advertise-addr" env MBIO_KNOWN_HOSTS="$STATE_DIR/known_hosts" "$MBIO_ROOT/tools/mbio-restore" --identity "$SSH_KEY" --stack local --ssh "root@$(machine_ip 5)" swarm-restore
t=$SECONDS
must "swarm-restore on mbio-sandbox-5 (--force-new-cluster)" env MBIO_KNOWN_HOSTS="$STATE_DIR/known_hosts" "$MBIO_ROOT/tools/mbio-restore" --identity "$SSH_KEY" --stack local --ssh "root@$(machine_ip 5)" swarm-restore --advertise-addr "$(machine_ip 5)"
raft_restore_s=$((SECONDS - t))
swarm_objects 5 >"$work/objects-after"
check "nodes, services, configs and secrets of the restored Swarm as backed up" cmp -s "$work/objects-before" "$work/objects-after"
check "mbio-sandbox-5 leads the restored Swarm" test "$(on 5 "docker node ls --filter role=manager --format '{{.Self}} {{.ManagerStatus}}' | grep '^true'")" = "true Leader"
check "second swarm-restore: nothing to do" bash -c "MBIO_KNOWN_HOSTS='$STATE_DIR/known_hosts' '$MBIO_ROOT/tools/mbio-restore' --identity '$SSH_KEY' --stack local --ssh root@$(machine_ip 5) swarm-restore --advertise-addr $(machine_ip 5) 2>&1 | grep -q 'nothing to do'"
check "swarm-restore refuses a machine already in another Swarm" fails_with "already in a Swarm" tool --stack local --ssh "root@$(machine_ip 3)" swarm-restore --advertise-addr "$(machine_ip 3)"
on "$L" "docker stack rm backup && for i in \$(seq 1 30); do [ -z \"\$(docker ps -q --filter label=com.docker.swarm.service.name=backup_agent)\" ] && break; sleep 1; done" >/dev/null 2>&1
check "no backup stack" fails_with "has no backup stack" tool --stack local --ssh "root@$(machine_ip "$L")" snapshots

printf '\n  figures: volume restore %s s (8 MB, 52 files); raft backup %s s; raft restore %s s\n' "$restore_s" "$raft_backup_s" "$raft_restore_s"
finish
