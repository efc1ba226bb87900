# shellcheck shell=bash
# shellcheck disable=SC2317 # the predicates below run indirectly, through check
# The operator's restore path, as an operator runs it from a workstation (tools/mbio-restore), in two phases of
# tests/real/e2e.sh's one sandbox and stack (no second sandbox and `pulumi up` of its own):
#   restore_tool_volumes  (3 managers + 1 worker) data in a labelled volume on the worker → backup by the
#                         deployed agent → volume destroyed → mbio-restore from this host → sha256 of every file
#                         identical (twice: in place over the restored volume too) → each missing prerequisite
#                         named (wrong password, unreachable repository, no SSH, not a manager, the leader, no
#                         agent on a worker)
#   restore_tool_raft quick|full
#                         raft backup the way Docker documents it (engine stopped on a Reachable manager, back
#                         to Reachable, quorum intact) → no backup stack named. `full` (the nightly
#                         tests/nightly/swarm-restore.sh: minutes, and a machine more) also a second backup
#                         (idempotent) and the Swarm restored from it on a fresh machine (--force-new-cluster):
#                         nodes, services, configs and secrets as before. Destructive: runs last, before the
#                         stack is destroyed.
# The caller (e2e.sh, swarm-restore.sh) has sourced scripts/lib/local-stack.sh and tests/real/lib/check.sh and
# set work.
: "${work:?set work (a scratch directory) before sourcing tests/real/lib/restore-tool.sh}"

rt_tool() { "$MBIO_ROOT/tools/mbio-restore" --identity "$SSH_KEY" "$@"; }
rt_on() { machine_ssh "$(machine_ip "$1")" "${@:2}"; }
# `rt_tool` must fail and its output must name the cause.
fails_with() {
  local pattern="$1" out
  shift
  if out="$("$@" 2>&1)"; then echo "    unexpectedly succeeded"; return 1; fi
  grep -qE "$pattern" <<<"$out" || { echo "    expected /$pattern/, got:"; tail -n3 <<<"$out" | sed 's/^/      /'; return 1; }
  echo "    $(grep -E "$pattern" <<<"$out" | head -n1 | cut -c1-200)"
}
agent_image() { rt_on "$1" "docker ps -q --filter label=com.docker.swarm.service.name=backup_agent | head -n1 | xargs -r docker inspect -f '{{.Config.Image}}'"; }
# sha256 of every file (and the target of every symlink), relative paths, sorted.
volume_sums() { rt_on "$1" "docker run --rm -v $2:/d:ro --entrypoint bash $RT_IMAGE -c 'cd /d && { find . -type f -exec sha256sum {} +; find . -type l -printf \"%l  %p\n\"; } | sort -k2'"; }
swarm_objects() { rt_on "$1" "docker node ls --format '{{.ID}}' | sort | tr '\n' ' '; echo; for k in service config secret; do docker \$k ls --format '{{.Name}}' | sort | tr '\n' ' '; echo; done"; }
# The Leader's index, as the Swarm sees it now.
leader_index() { rt_on 1 "docker node ls --filter role=manager --format '{{.Hostname}} {{.ManagerStatus}}'" | awk '$2 == "Leader" { sub("mbio-sandbox-", "", $1); print $1 }'; }

restore_tool_volumes() {
  export MBIO_SSH_OPTIONS="-o LogLevel=ERROR"
  W=4
  RT_IMAGE="$(agent_image $W)"
  check "the backup agent runs on the worker mbio-sandbox-$W" test -n "$RT_IMAGE"
  no_restic() { ! rt_on "$W" "command -v restic" >/dev/null; }
  check "the worker has no restic of its own (the reported failure's cause)" no_restic
  L="$(leader_index)"
  printf '\n[e2e: restore-tool] volume: data, backup by the deployed agent, destroy, restore from the workstation\n'
  must "data written into the labelled volume rt_data on the worker" rt_on $W "docker volume rm -f rt_data >/dev/null; docker volume create --label mbio.backup=true rt_data >/dev/null && docker run --rm -v rt_data:/d --entrypoint bash $RT_IMAGE -c 'mkdir -p /d/deep/er && head -c 8000000 /dev/urandom >/d/big.bin && for i in \$(seq 1 50); do head -c \$((i * 997)) /dev/urandom >/d/deep/f\$i; done && echo hello >/d/deep/er/x.txt && ln -s big.bin /d/link'"
  volume_sums $W rt_data >"$work/before"
  echo "    $(wc -l <"$work/before") entries"
  must "backup through the deployed agent (docker exec backup_agent … agent.sh run backup)" rt_on $W "docker exec \$(docker ps -q --filter label=com.docker.swarm.service.name=backup_agent | head -n1) bash /opt/mbio-backup/agent.sh run backup"
  must "volume rt_data destroyed" rt_on $W "docker volume rm rt_data >/dev/null"
  t=$SECONDS
  must "tools/mbio-restore --stack local --ssh root@<worker> volume rt_data" rt_tool --stack local --ssh "root@$(machine_ip $W)" volume rt_data
  restore_s=$((SECONDS - t))
  volume_sums $W rt_data >"$work/after"
  check "sha256 of every file identical after the restore (${restore_s} s)" cmp -s "$work/before" "$work/after"
  check "the restored volume keeps its backup label" test "$(rt_on $W "docker volume inspect -f '{{index .Labels \"mbio.backup\"}}' rt_data")" = true
  must "second run: in place over the restored volume" rt_tool --stack local --ssh "root@$(machine_ip $W)" volume rt_data
  volume_sums $W rt_data >"$work/again"
  check "sha256 of every file still identical after the second run" cmp -s "$work/before" "$work/again"

  printf '\n[e2e: restore-tool] missing prerequisites are named\n'
  repo="$(pulumi_local config get mbio-cloud:backup | jq -r '"s3:" + (.s3.endpoint | rtrimstr("/")) + "/" + .s3.bucket + "/local"')"
  # shellcheck disable=SC1090,SC1091
  . "$STATE_DIR/s3.env"
  plain() { env MBIO_KNOWN_HOSTS="$STATE_DIR/known_hosts" RESTIC_REPOSITORY="$1" RESTIC_PASSWORD="$2" AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$S3_SECRET_ACCESS_KEY" "$MBIO_ROOT/tools/mbio-restore" --identity "$SSH_KEY" --ssh "root@$(machine_ip "$3")" "${@:4}"; }
  check "wrong password" fails_with "password does not open" plain "$repo" not-the-password $W snapshots
  check "repository unreachable" fails_with "cannot reach the S3 endpoint" plain "s3:http://127.0.0.1:1/mbio-cloud-local-backups/local" x $W snapshots
  check "SSH login refused" fails_with "cannot log in to" rt_tool --stack local --ssh "root@127.0.0.1:1" snapshots
  check "not a manager (raft backup on the worker)" fails_with "is not a Swarm manager" rt_tool --stack local --ssh "root@$(machine_ip $W)" swarm-backup
  check "the leader is refused for the raft backup" fails_with "is the leader" rt_tool --stack local --ssh "root@$(machine_ip "$L")" swarm-backup
  rt_on "$L" "docker service update -q --detach=false --constraint-add node.role==manager backup_agent" >/dev/null 2>&1
  agent_gone() { [ -z "$(agent_image "$W")" ]; }
  check "the agent task left the worker (placement constraint)" wait_for "the agent task to leave mbio-sandbox-$W" 80 agent_gone
  check "no agent on a worker" fails_with "no backup agent task runs on mbio-sandbox-$W, and a worker" rt_tool --stack local --ssh "root@$(machine_ip $W)" snapshots
  rt_on "$L" "docker service update -q --detach=false --constraint-rm node.role==manager backup_agent" >/dev/null 2>&1

}

restore_tool_raft() {
  local full="${1:?quick or full}" fresh fences
  L="$(leader_index)"
  R=1
  [ "$R" != "$L" ] || R=2
  echo "    leader mbio-sandbox-$L, raft backups from mbio-sandbox-$R"
  printf '\n[%s: restore-tool] raft: backup as Docker documents it%s\n' "$TEST_NAME" "$([ "$full" = full ] && echo ', restore on a fresh machine')"
  t=$SECONDS
  must "swarm-backup on the Reachable manager mbio-sandbox-$R" rt_tool --stack local --ssh "root@$(machine_ip "$R")" swarm-backup
  raft_backup_s=$((SECONDS - t))
  managers_up() { [ "$(rt_on "$L" "docker node ls --format '{{.Status}} {{.ManagerStatus}}'" | grep -cE '^Ready (Leader|Reachable)$')" = 3 ]; }
  check "mbio-sandbox-$R is a Reachable manager again, quorum intact" managers_up
  if [ "$full" = full ]; then
    must "second swarm-backup (idempotent)" rt_tool --stack local --ssh "root@$(machine_ip "$R")" swarm-backup
    swarm_objects "$L" >"$work/objects-before"
    # The machine after the stack's last one: a sandbox machine with Docker, in no Swarm.
    fresh=$(($(existing_machine_indexes | tail -n1) + 1))
    must "a fresh machine mbio-sandbox-$fresh (Docker, not in a Swarm)" env SANDBOX_S3_ENDPOINT="$(bash "$MBIO_ROOT/sandbox/s3.sh" endpoint)" bash "$MBIO_ROOT/sandbox/up.sh" "$fresh"
    # The old managers are lost in a disaster; here they run, so the fresh machine must not reach them.
    fences="$(for i in $(seq 1 $((fresh - 1))); do printf 'iptables -I OUTPUT -d %s -p tcp --dport 2377 -j REJECT; ' "$(machine_ip "$i")"; done)"
    rt_on "$fresh" "$fences"
    check "restore without --advertise-addr names the foreign address" fails_with "pass --advertise-addr" env MBIO_KNOWN_HOSTS="$STATE_DIR/known_hosts" "$MBIO_ROOT/tools/mbio-restore" --identity "$SSH_KEY" --stack local --ssh "root@$(machine_ip "$fresh")" swarm-restore
    t=$SECONDS
    must "swarm-restore on mbio-sandbox-$fresh (--force-new-cluster)" env MBIO_KNOWN_HOSTS="$STATE_DIR/known_hosts" "$MBIO_ROOT/tools/mbio-restore" --identity "$SSH_KEY" --stack local --ssh "root@$(machine_ip "$fresh")" swarm-restore --advertise-addr "$(machine_ip "$fresh")"
    raft_restore_s=$((SECONDS - t))
    swarm_objects "$fresh" >"$work/objects-after"
    check "nodes, services, configs and secrets of the restored Swarm as backed up" cmp -s "$work/objects-before" "$work/objects-after"
    check "mbio-sandbox-$fresh leads the restored Swarm" test "$(rt_on "$fresh" "docker node ls --filter role=manager --format '{{.Self}} {{.ManagerStatus}}' | grep '^true'")" = "true Leader"
    check "second swarm-restore: nothing to do" bash -c "MBIO_KNOWN_HOSTS='$STATE_DIR/known_hosts' '$MBIO_ROOT/tools/mbio-restore' --identity '$SSH_KEY' --stack local --ssh root@$(machine_ip "$fresh") swarm-restore --advertise-addr $(machine_ip "$fresh") 2>&1 | grep -q 'nothing to do'"
    check "swarm-restore refuses a machine already in another Swarm" fails_with "already in a Swarm" rt_tool --stack local --ssh "root@$(machine_ip 3)" swarm-restore --advertise-addr "$(machine_ip 3)"
    printf '\n  figures: raft backup %s s; raft restore %s s\n' "$raft_backup_s" "$raft_restore_s"
  else
    printf '  figures: volume restore %s s (8 MB, 52 files); raft backup %s s (its restore: tests/nightly/swarm-restore.sh)\n' "${restore_s:-?}" "$raft_backup_s"
  fi
  rt_on "$L" "docker stack rm backup && for i in \$(seq 1 30); do [ -z \"\$(docker ps -q --filter label=com.docker.swarm.service.name=backup_agent)\" ] && break; sleep 1; done" >/dev/null 2>&1
  check "no backup stack" fails_with "has no backup stack" rt_tool --stack local --ssh "root@$(machine_ip "$L")" snapshots
}
