#!/usr/bin/env bash
# shellcheck disable=SC2317 # predicates run indirectly, through check and wait_for
# A manager machine lost under load (issue 12): a bounded writer on this host sends numbered records through
# the edge (Traefik on the first manager, loopback-side sandbox addresses only) to the journal service
# (images/journal: appends to its named volume, answers "ok N" only after fsync); the machine running the
# journal is killed (docker stop --time 0: SIGKILL at once, power loss without a shutdown). Then: quorum holds, the service recovers, and every
# acknowledged record is still on a disk. Prints writes acknowledged, lost and the recovery time.
#
# With the `local` volume driver the volume does not follow the task: the rescheduled task starts on a new,
# empty volume of its new node; the records acknowledged before the loss stay on the lost machine's volume
# and are read there once it is back (hetzner-csi cluster volumes move with the task; docs/storage.md).
set -uo pipefail
TEST_NAME="manager-loss"
# shellcheck source=tests/nightly/lib/local-up.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/local-up.sh"
# shellcheck source=scripts/lib/drill-app.sh
. "$MBIO_ROOT/scripts/lib/drill-app.sh"
MAX_WRITES=20000 # the writer's hard bound, whatever happens

on_manager() { machine_ssh "$(machine_ip "${MANAGER_INDEX:-1}")" "$@"; }
WAIT_EVERY=2
finish() {
  [ -z "${writer_pid:-}" ] || { touch "$work/stop"; wait "$writer_pid" 2>/dev/null; }
  [ -z "${victim:-}" ] || docker start "$victim" >/dev/null 2>&1
  MANAGER_INDEX=1 on_manager "docker stack rm $DRILL_STACK" >/dev/null 2>&1
  sleep 5
  for i in 1 2 3; do machine_ssh "$(machine_ip "$i")" "docker volume rm -f ${DRILL_STACK}_data" >/dev/null 2>&1; done
  nightly_finish
}

must "local stack: 3 managers, pulumi up" nightly_stack_up
ns="$(pulumi_local stack output dnsNamespace)"
host="journal.$ns"
edge_ip="$(machine_ip 1)"
image="$(pulumi_local config get mbio-cloud:images | jq -r '.journal // empty')"
must "the journal image is in the stack config (mbio-cloud:images.journal, built by sandbox/up.sh)" test -n "$image"
bash "$MBIO_ROOT/sandbox/pebble.sh" root >"$work/root.pem"
# The first manager's Traefik holds the certificates (docs/edge.md): the journal runs on the other managers.
constraints='["node.role == manager", "node.hostname != mbio-sandbox-1"]'
deploy() { drill_app_compose "$image" "" local-platform "$host" dnsrr "$constraints" | drill_run_script machine_ssh "$edge_ip" "$MBIO_ROOT/components/files/swarm/stack-deploy.sh" STACK="$DRILL_STACK" TIMEOUT=180; }
must "deploy the journal (stack $DRILL_STACK, volume ${DRILL_STACK}_data)" deploy
edge() { curl -s --max-time 3 --cacert "$work/root.pem" --resolve "$host:443:$edge_ip" "$@"; }
routed() { [ "$(edge -o /dev/null -w '%{http_code}' "https://$host/health")" = 200 ]; }
must "the edge routes https://$host/ (certificate from Pebble)" wait_for "route" 120 routed

victim="$(on_manager "docker service ps ${DRILL_STACK}_journal --filter desired-state=running --format '{{.Node}}'" | head -1)"
must "the journal runs on a manager other than mbio-sandbox-1" test -n "$victim" -a "$victim" != mbio-sandbox-1

# The writer: one record at a time, each acknowledged ("ok N") or not; never more than MAX_WRITES.
# Each line: N, the time the request was sent, the time the answer came.
writer() {
  local n=0 r sent
  while [ ! -e "$work/stop" ] && [ "$n" -lt "$MAX_WRITES" ]; do
    n=$((n + 1))
    sent="$(date +%s.%N)"
    r="$(edge -X POST "https://$host/append?n=$n" 2>/dev/null)"
    if [ "$r" = "ok $n" ]; then echo "$n $sent $(date +%s.%N)" >>"$work/acked"; else echo "$n $sent $(date +%s.%N) ${r:-no answer}" >>"$work/unacked"; fi
  done
}
: >"$work/acked"
: >"$work/unacked"
writer &
writer_pid=$!
sleep 15
before_kill="$(wc -l <"$work/acked")"
echo "  $before_kill records acknowledged before the loss; killing $victim (runs: $(on_manager "docker node ps $victim --filter desired-state=running --format '{{.Name}}'" | tr '\n' ' '))"
t_kill="$(date +%s.%N)"
docker stop --time 0 "$victim" >/dev/null

# Quorum: the first manager keeps answering and sees a Leader, every 2 s while the journal is away.
victim_down() { [ "$(on_manager "docker node inspect $victim --format '{{.Status.State}}'")" = down ]; }
# Recovered: a write sent after the first failed one (sent after the kill) is acknowledged. A request in
# flight at the kill may still be answered: it does not count.
first_failure() { awk -v t="$t_kill" '$2 > t { print $1; exit }' "$work/unacked"; }
acked_since_kill() {
  local f
  f="$(first_failure)"
  [ -n "$f" ] && awk -v f="$f" '$1 > f { found = 1 } END { exit !found }' "$work/acked"
}
quorum_samples=0 quorum_misses=0
deadline=$((SECONDS + 180))
until acked_since_kill || [ "$SECONDS" -ge "$deadline" ]; do
  quorum_samples=$((quorum_samples + 1))
  on_manager "docker node ls --format '{{.ManagerStatus}}'" 2>/dev/null | grep -q Leader || quorum_misses=$((quorum_misses + 1))
  sleep 2
done
check "quorum held: the Swarm answered with a Leader at every sample ($quorum_samples samples, $quorum_misses without)" test "$quorum_misses" -eq 0
check "the Swarm sees $victim down" wait_for "$victim down" 60 victim_down
check "the journal recovered: records acknowledged again after the loss" acked_since_kill
first_after="$(awk -v f="$(first_failure)" '$1 > f { print $3; exit }' "$work/acked")"
recovery="$(awk -v a="$t_kill" -v b="${first_after:-$t_kill}" 'BEGIN { printf "%.1f", b - a }')"
new_node="$(on_manager "docker service ps ${DRILL_STACK}_journal --filter desired-state=running --format '{{.Node}} {{.CurrentState}}'" | awk '/Running/ { print $1; exit }')"
echo "  recovered in ${recovery}s on $new_node"
sleep 15
touch "$work/stop"
wait "$writer_pid"
writer_pid=""

edge "https://$host/records" >"$work/records-new" || true
docker start "$victim" >/dev/null
victim_ready() { [ "$(on_manager "docker node inspect $victim --format '{{.Status.State}}'")" = ready ]; }
check "$victim rejoins as Ready" wait_for "$victim ready" 180 victim_ready
victim_idx="${victim##*-}"
machine_ssh "$(machine_ip "$victim_idx")" "docker run --rm -v ${DRILL_STACK}_data:/data --entrypoint cat '$image' /data/journal.log" >"$work/records-old" 2>/dev/null || true
cut -d' ' -f1 "$work/records-new" "$work/records-old" | sort -n -u >"$work/on-disk"
cut -d' ' -f1 "$work/acked" | sort -n -u >"$work/acked-ids"
acked="$(wc -l <"$work/acked-ids")"
unacked="$(wc -l <"$work/unacked")"
lost="$(comm -23 <(sort "$work/acked-ids") <(sort "$work/on-disk") | wc -l)"
old="$(wc -l <"$work/records-old")"
new="$(wc -l <"$work/records-new")"
echo "  writes: $((acked + unacked)) sent, $acked acknowledged, $unacked not acknowledged (failed or timed out while the journal was away)"
echo "  on disk: $old on $victim's volume (written before the loss), $new on $new_node's volume (after); acknowledged but lost: $lost"
echo "  recovery time (kill → first acknowledged write): ${recovery}s"
check "every acknowledged write is on a disk (lost: $lost)" test "$lost" -eq 0
check "local driver, as documented: the rescheduled task started on a new, empty volume (its first record is after the loss)" \
  test "$(head -1 "$work/records-new" | cut -d' ' -f1)" -gt "$before_kill"
finish
