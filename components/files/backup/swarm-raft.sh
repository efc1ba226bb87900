#!/usr/bin/env bash
# The Swarm's raft state (services, configs, secrets, nodes and the Swarm's CA key), backed up and restored
# as Docker documents it ("Back up the swarm", "Recover from disaster"): the engine of one manager is
# stopped, /var/lib/docker/swarm archived, the engine started again. A copy taken from a running manager
# is not consistent. Run as root on the node itself, over SSH (tools/mbio-restore): a container cannot
# stop its own engine and survive, and no node holds SSH keys to stop a peer's.
#
#   swarm-raft.sh backup [--allow-single-manager]
#       on a Reachable (non-leader) manager whose stop leaves quorum; a one-manager Swarm only with
#       --allow-single-manager (no Swarm management while the engine is down, tasks on it restart).
#   swarm-raft.sh restore [--snapshot ID] [--advertise-addr IP] [--replace-swarm]
#       on a fresh machine with Docker: the latest (or ID) kind=swarm-raft snapshot into
#       /var/lib/docker/swarm, then `docker swarm init --force-new-cluster`; the unlock key, if the
#       Swarm was autolocked, comes from the kind=swarm-unlock-key snapshot of the same backup.
#
# The archive holds the Swarm's root CA key and every node's TLS key: whoever can read its restic repository
# can join a manager to the restored Swarm. So it has a repository of its own (<environment>-raft, password
# raftResticPassword; tools/mbio-restore --stack sets both): the agents' password, on every node, does not
# open it. Env: as lib.sh; AGENT_IMAGE as restore.sh (required for restore: a fresh machine has no agent).
set -euo pipefail
# shellcheck source=components/files/backup/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=components/files/backup/node.sh
source "$(dirname "${BASH_SOURCE[0]}")/node.sh"

cmd="${1:-}"
[ "$#" -gt 0 ] && shift
allow_single=0 snapshot="" advertise="" replace=0
while [ "$#" -gt 0 ]; do
  case "$1" in
    --allow-single-manager) allow_single=1; shift ;;
    --snapshot) snapshot="${2:?--snapshot needs an ID}"; shift 2 ;;
    --advertise-addr) advertise="${2:?--advertise-addr needs an address}"; shift 2 ;;
    --replace-swarm) replace=1; shift ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) fail "unknown argument $1 (see swarm-raft.sh --help)" ;;
  esac
done
[ "$(id -u)" = 0 ] || fail "swarm-raft.sh stops and starts the Docker engine: run it as root"
require_docker
root="$(docker info -f '{{.DockerRootDir}}')"
work="$(umask 077 && mktemp -d /var/tmp/mbio-swarm-raft.XXXXXX)"
engine_stopped=0
cleanup() {
  # Never leave the engine down, whatever failed.
  if [ "$engine_stopped" = 1 ]; then systemctl start docker.socket docker || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

stop_engine() { engine_stopped=1; systemctl stop docker.socket docker; }
start_engine() {
  systemctl start docker.socket docker
  engine_stopped=0
  local deadline=$((SECONDS + 60))
  until docker info >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the Docker engine did not come back within 60 s: journalctl -u docker"
    sleep 1
  done
}
unlock_if_locked() {
  local key="$1"
  [ "$(swarm_state)" = locked ] || return 0
  [ -n "$key" ] || fail "the Swarm on $(hostname) is locked and no unlock key was found: docker swarm unlock"
  printf '%s\n' "$key" | docker swarm unlock >/dev/null || fail "docker swarm unlock refused the saved key"
  info "Swarm unlocked"
}

case "$cmd" in
  backup)
    [ "$(swarm_state)" != locked ] || fail "the Swarm on $(hostname) is locked: unlock it first (docker swarm unlock)"
    is_manager || fail "$(hostname) is not a Swarm manager: run the raft backup on a manager (docker node ls on a manager lists them)"
    find_agent_image
    use_helper_tools
    open_repository
    managers="$(docker node ls --filter role=manager --format '{{.Self}} {{.Hostname}} {{.Status}} {{.ManagerStatus}}')"
    total="$(wc -l <<<"$managers")"
    reachable="$(awk '$3 == "Ready" && ($4 == "Leader" || $4 == "Reachable")' <<<"$managers" | wc -l)"
    quorum=$((total / 2 + 1))
    self="$(awk '$1 == "true" { print $4 }' <<<"$managers")"
    info "managers: $total, reachable: $reachable, quorum: $quorum; this one ($(hostname)) is $self"
    if [ "$total" -eq 1 ]; then
      [ "$allow_single" = 1 ] || fail "$(hostname) is the only manager: stopping its engine stops Swarm management and its tasks for the archive's duration; add --allow-single-manager to accept that"
    else
      [ "$self" != Leader ] || fail "$(hostname) is the leader: run the backup on a Reachable manager ($(awk '$4 == "Reachable" { printf "%s ", $2 }' <<<"$managers"))"
      [ $((reachable - 1)) -ge "$quorum" ] || fail "stopping $(hostname) would lose quorum ($reachable of $total managers reachable, $quorum needed): repair the Swarm first; nothing was changed"
    fi
    key="$(docker swarm unlock-key -q 2>/dev/null || true)"
    t0=$SECONDS
    info "stopping the Docker engine on $(hostname)"
    stop_engine
    tar -C "$root" -czf "$work/swarm.tar.gz" swarm
    start_engine
    outage=$((SECONDS - t0))
    info "engine down for ${outage} s; archive $(du -h "$work/swarm.tar.gz" | cut -f1)"
    unlock_if_locked "$key"
    # Ready too: until its heartbeat arrives the node counts as unreachable for the next quorum check. On a
    # loaded host the restarted manager has needed more than 2 minutes to catch up with the raft log and
    # re-register (a test run beside a compile: 18 s down, not back after 120 s): the wait is generous, says
    # where the node stands every 30 s, and on a timeout tells what it saw and what to do.
    wait_s="${RAFT_REJOIN_TIMEOUT:-300}"
    deadline=$((SECONDS + wait_s)) next_note=$((SECONDS + 30))
    self_status() { docker node ls --filter role=manager --format '{{.Self}} {{.Status}} {{.ManagerStatus}}' 2>/dev/null | awk '$1 == "true" { print $2, $3 }'; }
    until [[ "$(self_status)" =~ ^Ready\ (Leader|Reachable)$ ]]; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        docker node ls >&2 || true
        fail "$(hostname) did not rejoin the managers within ${wait_s} s after the engine start (its view: '$(self_status)'; swarm: $(docker info -f '{{.Swarm.LocalNodeState}} {{.Swarm.Error}}' 2>&1)). The archive is not stored. Quorum holds without it; check 'journalctl -u docker' here and 'docker node ls' on the leader, then run the backup again"
      fi
      if [ "$SECONDS" -ge "$next_note" ]; then
        info "waiting for $(hostname) to rejoin the managers ($((SECONDS - t0)) s; its view: '$(self_status)')"
        next_note=$((SECONDS + 30))
      fi
      sleep 2
    done
    info "$(hostname) is Ready and a reachable manager again after $((SECONDS - t0)) s"
    # The key goes in a snapshot of its own, tagged with this archive's time, so a restore takes the pair.
    tag="raft=$(date -u +%Y%m%dT%H%M%SZ)"
    HELPER_STDIN=1 backup_item "kind=swarm-raft,target=$NODE_NAME" helper_run -- \
      restic backup --json --stdin --stdin-filename swarm.tar.gz --tag kind=swarm-raft --tag "$tag" --tag "env=$ENVIRONMENT" --host "$NODE_NAME" \
      <"$work/swarm.tar.gz" || fail "restic could not store the raft archive"
    if [ -n "$key" ]; then
      printf '%s\n' "$key" | HELPER_STDIN=1 backup_item "kind=swarm-unlock-key,target=$NODE_NAME" helper_run -- \
        restic backup --json --stdin --stdin-filename unlock-key --tag kind=swarm-unlock-key --tag "$tag" --tag "env=$ENVIRONMENT" --host "$NODE_NAME" \
        || fail "restic could not store the unlock key"
    else
      info "the Swarm is not autolocked (no unlock key to save)"
    fi
    info "raft backup of $(hostname) done: engine down ${outage} s, total $((SECONDS - t0)) s"
    ;;

  restore)
    [ -n "${AGENT_IMAGE:-}" ] || fail "AGENT_IMAGE is not set: a fresh machine has no backup agent to take it from (tools/mbio-restore --stack sets it from images.backup-agent)"
    use_helper_tools
    state="$(swarm_state)"
    marker="$root/swarm/mbio-restored-from"
    if [ "$state" != inactive ] && [ -f "$marker" ] && { [ -z "$snapshot" ] || [[ "$(cat "$marker")" == "$snapshot"* ]]; }; then
      info "$(hostname) already runs the Swarm restored from snapshot $(cut -c1-8 "$marker"); nothing to do"
      exit 0
    fi
    if [ "$state" != inactive ] && [ "$replace" = 0 ]; then
      fail "$(hostname) is already in a Swarm (state: $state): restoring replaces it; pass --replace-swarm only on the machine meant to become the recovered Swarm's first manager"
    fi
    open_repository
    json="$(restic snapshots --json --tag kind=swarm-raft)" || fail "cannot list snapshots"
    snap="$(jq -c --arg id "$snapshot" '[.[] | select($id == "" or (.id | startswith($id)))] | sort_by(.time) | last // empty' <<<"$json")"
    [ -n "$snap" ] || fail "no raft snapshot${snapshot:+ $snapshot} in $RESTIC_REPOSITORY (kind=swarm-raft): take one with 'swarm-raft.sh backup' on a manager"
    id="$(jq -r .id <<<"$snap")"
    tag="$(jq -r '[.tags[] | select(startswith("raft="))][0] // ""' <<<"$snap")"
    info "raft snapshot ${id:0:8} of $(jq -r .hostname <<<"$snap") at $(jq -r .time <<<"$snap")"
    restic dump "$id" swarm.tar.gz >"$work/swarm.tar.gz" || fail "cannot read snapshot ${id:0:8}; nothing was changed"
    tar -tzf "$work/swarm.tar.gz" swarm/raft >/dev/null 2>&1 || fail "snapshot ${id:0:8} holds no swarm/raft directory; nothing was changed"
    key=""
    if [ -n "$tag" ]; then
      kid="$(restic snapshots --json --tag "kind=swarm-unlock-key,$tag" | jq -r 'last.id // empty')"
      [ -z "$kid" ] || key="$(restic dump "$kid" unlock-key)"
    fi
    t0=$SECONDS
    if [ "$state" != inactive ]; then
      info "leaving the current Swarm of $(hostname) (--replace-swarm)"
      docker swarm leave --force >/dev/null
    fi
    # The archive's node listens on the old machine's address; on a new machine that bind fails and the
    # manager never starts, so the addresses are rewritten before the engine reads them.
    old_addr="$(tar -xzOf "$work/swarm.tar.gz" swarm/docker-state.json | jq -r '.AdvertiseAddr | sub(":[0-9]+$"; "")')"
    if [ -z "$advertise" ]; then
      ip -o addr show | awk '{ sub("/.*", "", $4); print $4 }' | grep -qxF "$old_addr" \
        || fail "the raft archive's manager advertised $old_addr, which is not an address of $(hostname): pass --advertise-addr <this machine's private IP>; nothing was changed"
      advertise="$old_addr"
    fi
    stop_engine
    [ ! -d "$root/swarm" ] || mv "$root/swarm" "$root/swarm.pre-restore-$(date -u +%Y%m%d%H%M%S)"
    tar -C "$root" -xzf "$work/swarm.tar.gz"
    jq -c --arg a "$advertise" '.RemoteAddr = "" | .LocalAddr = "" | .AdvertiseAddr = ($a + ":2377") | .ListenAddr = ($a + ":2377")' \
      "$root/swarm/docker-state.json" >"$work/state.json"
    cat "$work/state.json" >"$root/swarm/docker-state.json"
    start_engine
    unlock_if_locked "$key"
    docker swarm init --force-new-cluster --advertise-addr "$advertise" >/dev/null \
      || fail "docker swarm init --force-new-cluster failed: journalctl -u docker"
    printf '%s\n' "$id" >"$marker"
    info "Swarm restored from ${id:0:8} in $((SECONDS - t0)) s: $(docker node ls -q | wc -l) nodes, $(docker service ls -q | wc -l) services, $(docker config ls -q | wc -l) configs, $(docker secret ls -q | wc -l) secrets"
    info "next: join new managers and workers (docker swarm join-token manager|worker) and remove the old nodes that stay Down (docker node rm)"
    ;;

  *) fail "usage: swarm-raft.sh backup|restore (see --help)" ;;
esac
