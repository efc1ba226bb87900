#!/usr/bin/env bash
# shellcheck disable=SC2317 # the predicates below run indirectly, through check and wait_for
# The Swarm lifecycle cannot hurt the Swarm, with the real Pulumi engine and the platform's SwarmCluster
# (tests/nightly/swarm-lifecycle/, the cluster alone) on 5 sandbox machines: 3 managers, 1 worker, and
# machine 5 outside the Swarm as a probe for join tokens.
#   (1) replace a worker's and a manager's membership and join (`pulumi up --replace`): sampled every
#       second throughout, both nodes stay Ready/Active with the same node ID and never leave;
#   (2) labels are exact: a label removed from config disappears from every node;
#   (3) swarm.joinTokenRotation 0 → 1 and `pulumi up`: both tokens change, the old worker token is refused
#       by `docker swarm join`, the new one works, members are untouched; it goes through with the worker's
#       machine stopped (a member needs no token: no join re-runs);
#   (4) manager-1's machine stopped: `pulumi up` with a label change lands through another manager;
#   (5) manager-1 rebuilt (its engine out of the Swarm): `pulumi up --replace` of its join joins the live
#       Swarm through another manager, never a second Swarm, and its dead old node is removed;
#   (6) a real removal (workers 1 → 0) still drains the worker, removes it and makes its machine leave;
#   (7) destroy: every other node leaves, the last manager keeps a one-node Swarm.
# Runs under the sandbox lock (flock /work/sandbox.lock); ends with "swarm-lifecycle: N passed, M failed".
set -uo pipefail
# shellcheck source=scripts/lib/pulumi-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/pulumi-env.sh"
# shellcheck source=sandbox/lib.sh
. "$MBIO_ROOT/sandbox/lib.sh"
LAB="$MBIO_ROOT/tests/nightly/swarm-lifecycle"
work="$(mktemp -d)"
export PULUMI_BACKEND_URL="file://$work/state" PULUMI_CONFIG_PASSPHRASE=mbio-swarm-lifecycle
mkdir -p "$work/state"
TEST_NAME=swarm-lifecycle
# shellcheck source=tests/real/lib/check.sh
. "$MBIO_ROOT/tests/real/lib/check.sh"

finish() {
  trap - EXIT
  printf '\n[swarm-lifecycle] cleaning up\n'
  docker start "$(machine_name 1)" >/dev/null 2>&1
  if [ "${SWARM_LIFECYCLE_KEEP:-0}" = 1 ]; then
    echo "kept: sandbox machines, work dir $work (PULUMI_BACKEND_URL=$PULUMI_BACKEND_URL)"
  else
    lab destroy --yes --skip-preview >"$work/destroy.log" 2>&1 || tail -5 "$work/destroy.log"
    bash "$MBIO_ROOT/sandbox/down.sh" >/dev/null 2>&1 || true
    rm -rf "$work"
  fi
  report
  exit
}
trap finish EXIT
# shellcheck source=tests/real/lib/lab-stack.sh
. "$MBIO_ROOT/tests/real/lib/lab-stack.sh"
lab() { lab_pulumi "$LAB" lab "$work" "$@"; }
timed() { # LOG WHAT pulumi-args...: runs `lab ARGS` into LOG, prints its duration
  local f="$1" t=$SECONDS
  shift
  to "$f" lab "$@"
  local rc=$?
  echo "    (pulumi ${1:-} took $((SECONDS - t))s)"
  return $rc
}
m() { machine_ip "$1"; }
on() {
  local i="$1"
  shift
  machine_ssh "$(m "$i")" "$@"
}
on_manager() { on "${MANAGER:-1}" "$@"; }
node_id_of() { on "$1" "docker info --format '{{.Swarm.NodeID}}'"; }
node_field() { on_manager "docker node inspect $1 --format '$2'"; }
label_of() { node_field "$1" "{{index .Spec.Labels \"$2\"}}"; }
urn_of() { lab stack --show-urns 2>/dev/null | grep -o "urn:pulumi:[^ ]*::$1\$" | head -1; }
WAIT_EVERY=2
ready_count() { on_manager "docker node ls --format '{{.Status}} {{.Availability}}'" | grep -c '^Ready Active$'; }
# Object values are stored as JSON strings: the lab program reads them with requireObject (JSON.parse).
set_labels() { lab config set lab:labels "$1" >/dev/null; }

# ---------------------------------------------------------------------------------------------------
must "toolchain and node_modules" bash -c ". '$MBIO_ROOT/scripts/lib/pulumi-env.sh' && ensure_docker && ensure_node_modules && ensure_pulumi"
must "sandbox: 5 machines" to "$work/sandbox.log" bash "$MBIO_ROOT/sandbox/up.sh" 5
version="$(docker exec "$(machine_name 1)" dpkg-query -W -f='${Version}' docker.io)"
hosts="["
# Each machine's real host key, pinned as every stack pins it (hosts[].hostKey is required).
host_key() { docker exec "$(machine_name "$1")" cut -d' ' -f1-2 /etc/ssh/ssh_host_ed25519_key.pub; }
for i in 1 2 3 4 5; do hosts+="{\"name\":\"$(machine_name "$i")\",\"address\":\"$(m "$i")\",\"privateAddress\":\"$(m "$i")\",\"port\":22,\"user\":\"root\",\"hostKey\":\"$(host_key "$i")\"},"; done
hosts="${hosts%,}]"
# Start from machines outside any Swarm, whatever an earlier run left.
for i in 1 2 3 4 5; do on "$i" "docker swarm leave --force >/dev/null 2>&1 || true"; done
# The lab's stack file is this run's own (its encryption salt belongs to this run's passphrase).
lab_stack_init "$LAB" lab "$work"
lab config set lab:hosts "$hosts" >/dev/null
lab config set lab:managers 3 >/dev/null
lab config set lab:adminCidr "$SUBNET" >/dev/null
lab config set lab:workers 1 >/dev/null
lab config set lab:sshPublicKey "$(cat "$SSH_KEY.pub")" >/dev/null
lab config set lab:dockerEngine "{\"package\":\"docker.io\",\"version\":\"$version\"}" >/dev/null
lab config set --secret lab:sshPrivateKey <"$SSH_KEY" >/dev/null
set_labels '{"lab.case":"one","lab.extra":"x"}'

must "pulumi up: a 3-manager + 1-worker Swarm from nothing (init on manager-1, joins, memberships)" timed "$work/up.log" up --yes --skip-preview
check "4 nodes Ready/Active" test "$(ready_count)" = 4
cluster="$(on 1 "docker info --format '{{.Swarm.Cluster.ID}}'")"
check "every node carries its membership's claim and the configured labels" test "$(on_manager "docker node ls -q | xargs docker node inspect --format '{{index .Spec.Labels \"mbio.membership\"}} {{index .Spec.Labels \"lab.case\"}}'" | grep -Ec '^[0-9a-f-]{36} one$')" = 4
check "no diff right after up (preview --expect-no-changes)" to "$work/p0.log" lab preview --expect-no-changes
check "no drift right after up (refresh --preview-only --expect-no-changes)" to "$work/r0.log" lab refresh --preview-only --expect-no-changes

echo
echo "[swarm-lifecycle] (1) replace the worker's and manager-2's membership and join"
worker_id="$(node_id_of 4)" m2_id="$(node_id_of 2)"
worker_claim="$(label_of "$worker_id" mbio.membership)"
# A sampler on manager-3 records both nodes' state every second while the replace runs.
on 3 "for i in \$(seq 1 300); do docker node inspect $worker_id $m2_id --format '{{.ID}} {{.Status.State}} {{.Spec.Availability}}' 2>&1 | tr '\n' ' '; echo; sleep 1; done" >"$work/samples" 2>&1 &
sampler=$!
args=()
for r in local-swarm-mbio-sandbox-4-membership local-swarm-mbio-sandbox-4-join local-swarm-mbio-sandbox-2-membership local-swarm-mbio-sandbox-2-join; do
  u="$(urn_of "$r")"
  [ -n "$u" ] && args+=(--replace "$u")
done
check "the four URNs to replace were found" test "${#args[@]}" = 8
check "pulumi up --replace (2 memberships, 2 joins) succeeds" timed "$work/replace.log" up --yes --skip-preview "${args[@]}"
kill "$sampler" 2>/dev/null
wait "$sampler" 2>/dev/null
samples="$(grep -c . "$work/samples")"
echo "    $samples samples during the replace"
check "replaced: 4 replacements in the plan" grep -Eq '4 replaced' "$work/replace.log"
check "throughout the replace, both nodes were in the Swarm, ready and active in every sample" bash -c "[ $samples -gt 3 ] && ! grep -v \"^$worker_id ready active $m2_id ready active *\$\" '$work/samples' | grep -q ."
check "the worker keeps its node ID (it never left)" test "$(node_id_of 4)" = "$worker_id"
check "manager-2 keeps its node ID and is still a manager" test "$(node_id_of 2) $(node_field "$m2_id" '{{.Spec.Role}}')" = "$m2_id manager"
check "the worker carries the new membership's claim" bash -c "[ -n '$(label_of "$worker_id" mbio.membership)' ] && [ '$(label_of "$worker_id" mbio.membership)' != '$worker_claim' ]"
check "4 nodes Ready/Active after the replace" test "$(ready_count)" = 4

echo
echo "[swarm-lifecycle] (2) exact labels: lab.extra removed from config"
set_labels '{"lab.case":"one"}'
check "pulumi up without lab.extra" timed "$work/labels.log" up --yes --skip-preview
check "lab.extra is gone from every node" test "$(on_manager "docker node ls -q | xargs docker node inspect --format '{{index .Spec.Labels \"lab.extra\"}}'" | grep -c .)" = 0
check "lab.case is still on every node" test "$(on_manager "docker node ls -q | xargs docker node inspect --format '{{index .Spec.Labels \"lab.case\"}}'" | grep -c '^one$')" = 4

echo
echo "[swarm-lifecycle] (3) join-token rotation as config"
old_worker="$(on 1 'docker swarm join-token -q worker')" old_manager="$(on 1 'docker swarm join-token -q manager')"
ids_before="$(on_manager "docker node ls -q" | sort)"
lab config set lab:joinTokenRotation 1 >/dev/null
# A member needs no token: the rotation must not touch the joins, so it goes through with a node down.
docker stop "$(machine_name 4)" >/dev/null
check "pulumi up with swarm.joinTokenRotation 1, the worker's machine stopped" timed "$work/rotate.log" up --yes --skip-preview
check "the rotation re-ran no join" bash -c "! grep -E 'join +updated|-join.*updated' '$work/rotate.log'"
docker start "$(machine_name 4)" >/dev/null
four_ready() { [ "$(ready_count)" = 4 ]; }
wait_for "the worker to be Ready again" 180 four_ready
new_worker="$(on 1 'docker swarm join-token -q worker')"
check "the worker token changed" bash -c "[ -n '$new_worker' ] && [ '$new_worker' != '$old_worker' ]"
check "the manager token changed" test "$(on 1 'docker swarm join-token -q manager')" != "$old_manager"
check "members untouched: same node IDs, 4 Ready/Active" bash -c "[ '$(on_manager "docker node ls -q" | sort | tr '\n' ' ')' = '$(tr '\n' ' ' <<<"$ids_before")' ] && [ $(ready_count) = 4 ]"
on 5 "timeout 90 docker swarm join --token '$old_worker' $(m 2):2377" >"$work/join-old.log" 2>&1
echo "    old token: $(tail -1 "$work/join-old.log")"
check "the old worker token is refused by docker swarm join" grep -qi "join token" "$work/join-old.log"
check "the probe machine stayed outside the Swarm" test "$(on 5 "docker info --format '{{.Swarm.LocalNodeState}}'")" = inactive
check "the new worker token is accepted" on 5 "timeout 90 docker swarm join --token '$new_worker' $(m 2):2377 >/dev/null"
probe_id="$(node_id_of 5)"
on 5 "docker swarm leave --force >/dev/null"
probe_down() { [ "$(node_field "$probe_id" '{{.Status.State}}')" = down ]; }
wait_for "the probe's node to go down" 60 probe_down
on_manager "docker node rm --force $probe_id >/dev/null"
check "a second up rotates nothing (preview: no changes)" to "$work/p1.log" lab preview --expect-no-changes

echo
echo "[swarm-lifecycle] (4) manager-1's machine stopped; pulumi up with a label change"
m1_id="$(node_id_of 1)"
docker stop "$(machine_name 1)" >/dev/null
MANAGER=2
m1_down() { [ "$(node_field "$m1_id" '{{.Status.State}}')" = down ]; }
wait_for "manager-1 to show down" 90 m1_down
set_labels '{"lab.case":"two"}'
check "pulumi up with manager-1 stopped succeeds" timed "$work/down-up.log" up --yes --skip-preview
check "the new label landed on every node, manager-1's too" test "$(on_manager "docker node ls -q | xargs docker node inspect --format '{{index .Spec.Labels \"lab.case\"}}'" | grep -c '^two$')" = 4
check "pulumi refresh with manager-1 stopped reads through the others" to "$work/down-refresh.log" lab refresh --yes --skip-preview
docker start "$(machine_name 1)" >/dev/null
all_ready() { [ "$(ready_count)" = 4 ]; }
wait_for "manager-1 back Ready" 180 all_ready
check "manager-1 back: no diff (preview --expect-no-changes)" to "$work/p2.log" lab preview --expect-no-changes

echo
echo "[swarm-lifecycle] (5) manager-1 rebuilt: it joins the live Swarm, never a second one"
m1_old="$(node_id_of 1)"
# A rebuilt machine at the same address: its engine holds no Swarm; its old node stays behind, Down.
on 1 "docker swarm leave --force >/dev/null"
m1_gone() { [ "$(node_field "$m1_old" '{{.Status.State}}')" = down ]; }
wait_for "manager-1's old node to show down" 90 m1_gone
check "pulumi up --replace of manager-1's join" timed "$work/rebuild.log" up --yes --skip-preview --replace "$(urn_of local-swarm-mbio-sandbox-1-join)"
check "manager-1 is back in the same Swarm (cluster ID unchanged)" test "$(on 1 "docker info --format '{{.Swarm.Cluster.ID}}'")" = "$cluster"
check "manager-1 is a manager again, with a new node ID" bash -c "[ '$(node_field "$(node_id_of 1)" '{{.Spec.Role}}')' = manager ] && [ '$(node_id_of 1)' != '$m1_old' ]"
# (The cluster ID above is the proof that no second Swarm was initialised: the join went through another manager.)
wait_for "4 nodes Ready" 60 all_ready
check "the old membership's delete removed manager-1's dead node; the rebuilt machine stayed in" test "$(on_manager "docker node ls -q" | grep -c "^$m1_old") $(on 1 "docker info --format '{{.Swarm.LocalNodeState}}'")" = "0 active"
check "4 nodes Ready/Active, 3 reachable managers" test "$(ready_count) $(on_manager "docker node ls --format '{{.ManagerStatus}}'" | grep -Ec 'Leader|Reachable')" = "4 3"
MANAGER=1

echo
echo "[swarm-lifecycle] (6) a real removal: workers 1 → 0"
lab config set lab:workers 0 >/dev/null
check "pulumi up with workers 0" timed "$work/scale-in.log" up --yes --skip-preview
check "the worker's node is gone from the Swarm" test "$(on_manager "docker node ls -q" | grep -c "^$worker_id")" = 0
check "the worker's machine left the Swarm" test "$(on 4 "docker info --format '{{.Swarm.LocalNodeState}}'")" = inactive
check "3 managers remain Ready/Active" test "$(ready_count)" = 3

echo
echo "[swarm-lifecycle] (7) pulumi destroy"
check "pulumi destroy" timed "$work/destroy.log" destroy --yes --skip-preview
check "managers 2 and 3 left the Swarm" test "$(for i in 2 3; do on "$i" "docker info --format '{{.Swarm.LocalNodeState}}'"; done | sort -u)" = inactive
check "the last manager keeps a one-node Swarm (never removed: it holds the Swarm)" test "$(on 1 "docker node ls -q | wc -l") $(on 1 "docker info --format '{{.Swarm.Cluster.ID}}'")" = "1 $cluster"
