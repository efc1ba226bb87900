#!/usr/bin/env bash
# The Swarm provider against a real Swarm with the real Pulumi engine, on one lab machine of its own (the
# sandbox's machine image, not the sandbox singleton: no lock needed). After `pulumi up`, each hand change
# an operator could make with the docker CLI must fail `pulumi refresh --preview-only --expect-no-changes`
# and be named by scripts/drift.sh; `pulumi refresh` + `pulumi up` put it back; the next refresh and preview
# report no changes:
#   (a) scale the service  (b) change its image tag  (c) drain the node  (d) change a node label
#   (e) remove the service's platform-network attachment  (f) remove its Swarm config from the service
#   (g) delete a Swarm config and (h) a Swarm secret made through the Docker provider (components/swarm-objects.ts)
# The Docker provider's objects: the state holds no secret value (tests/real/lib/secret-leak.sh's scan); a
# config changed while the first listed manager is down is applied through the next one; a refresh while
# no manager is reachable fails and keeps the secret in state (docker.Secret's read drops it on any
# inspect error: docs/security.md); on a machine without the provider's SSH files a plain refresh fails
# saying to run `pulumi refresh --run-program`, which works.
# Then the failure paths: a bad image makes `pulumi up` fail naming the service, and Swarm rolled it back
# (stack-deploy.sh reads UpdateStatus); a Swarm re-initialised by hand is reported by refresh; a node removed
# by hand is joined again by refresh + up; destroy fails loudly on a network it could not remove.
# Ends with "swarm-drift: N passed, M failed".
set -uo pipefail
# shellcheck source=scripts/lib/pulumi-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/pulumi-env.sh"
LAB="$MBIO_ROOT/tests/real/swarm-drift"
NAME="${SWARM_DRIFT_MACHINE:-mbio-drift-lab-m1}"
TAG=mbio-sandbox/debian:bookworm
work="$(mktemp -d)"
export PULUMI_BACKEND_URL="file://$work/state" PULUMI_CONFIG_PASSPHRASE=mbio-drift-lab
mkdir -p "$work/state"
TEST_NAME=swarm-drift
# shellcheck source=tests/real/lib/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/check.sh"
# shellcheck source=tests/real/lib/lab-machine.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lab-machine.sh"
finish() {
  if [ "${SWARM_DRIFT_KEEP:-0}" = 1 ]; then echo "kept: machine $NAME, work dir $work (PULUMI_BACKEND_URL=$PULUMI_BACKEND_URL)"; echo "swarm-drift: $passed passed, $failed failed"; exit; fi
  docker rm -f "$NAME" >/dev/null 2>&1
  docker volume rm "$NAME" >/dev/null 2>&1
  rm -rf "$work" "$HOME/.cache/mbio-cloud/docker-ssh/mbio-swarm-drift-lab"
  report
  exit
}
trap finish EXIT
# shellcheck source=tests/real/lib/lab-stack.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lab-stack.sh"
lab() { lab_pulumi "$LAB" lab "$work" "$@"; }
on_m1() { docker exec -i "$NAME" "$@"; }

ensure_docker
ensure_node_modules
ensure_pulumi
lab_machine "$NAME" "$work" -v "$NAME:/var/lib/docker" || { failed=1; exit; }
ip="$LAB_IP"
on_m1 docker swarm init --advertise-addr "$ip" >/dev/null 2>&1 || on_m1 docker info --format '{{.Swarm.LocalNodeState}}'
docker save "$TAG" | on_m1 docker load -q >/dev/null
for t in 1 2; do on_m1 docker tag "$TAG" "lab/worker:$t"; done
printf 'lab\n' | on_m1 docker config create lab-motd-1 - >/dev/null
node_id="$(on_m1 docker info --format '{{.Swarm.NodeID}}')"

lab_stack_init "$LAB" lab "$work"
lab config set lab:host "$ip" >/dev/null
lab config set lab:port 22 >/dev/null
lab config set lab:nodeId "$node_id" >/dev/null
lab config set lab:image lab/worker:1 >/dev/null
lab config set --secret lab:sshPrivateKey <"$work/key" >/dev/null
# The pinned host key, read inside the machine (not over the network it pins).
lab config set lab:hostKey "$(on_m1 cut -d' ' -f1-2 /etc/ssh/ssh_host_ed25519_key.pub)" >/dev/null
lab config set lab:downManagerPort 2200 >/dev/null
lab config set lab:note "first note" >/dev/null
(umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$work/secret-values")
lab config set --secret lab:token "$(cat "$work/secret-values")" >/dev/null

t=$SECONDS
check "pulumi up: network, membership, stack on a real Swarm" to "$work/up.log" lab up --yes --skip-preview || exit
echo "  pulumi up took $((SECONDS - t))s"
svc() { docker exec "$NAME" docker service inspect lab_worker --format "$1"; }
svc '{{.ID}}' >"$work/first-id"
check "no drift right after up (refresh --preview-only --expect-no-changes)" to "$work/r0.log" lab refresh --preview-only --expect-no-changes
check "no diff right after up (preview --expect-no-changes)" to "$work/p0.log" lab preview --expect-no-changes
check "state holds no private key in plain text" bash -c "! grep -rq 'OPENSSH PRIVATE' '$work/state'"
# shellcheck source=tests/real/lib/secret-leak.sh
. "$MBIO_ROOT/tests/real/lib/secret-leak.sh"
lab stack export >"$work/state.json"
check "docker.Secret: the state export holds the secret in no form (value, hashes, base64)" test "$(secret_leak_scan "$work/state.json")" = 0
ssh_dir="$HOME/.cache/mbio-cloud/docker-ssh/mbio-swarm-drift-lab"
ssh_files_safe() {
  [ "$(stat -c %a "$ssh_dir/key" "$ssh_dir/known_hosts" | sort -u)" = 600 ] &&
    ! jq -e '.deployment.resources[] | select(.type == "pulumi:providers:docker") | .inputs | tostring | test("PRIVATE|StrictHostKeyChecking=no")' "$work/state.json" >/dev/null
}
check "the Docker provider's key and known_hosts files are 0600; its sshOpts hold no key and no unpinned host" ssh_files_safe
note_name="$(lab stack output noteName)" token_name="$(lab stack output tokenName)"

# shellcheck source=tests/real/lib/drift.sh
. "$MBIO_ROOT/tests/real/lib/drift.sh"
DRIFT_STACK=lab
drift_pulumi() { lab "$@"; }
drift_on_manager() { on_m1 "$@"; }
lab_spec() { docker exec "$NAME" docker service inspect lab_worker --format "$1"; }
node_spec() { docker exec "$NAME" docker node inspect self --format "$1"; }
two_replicas() { [ "$(lab_spec '{{.Spec.Mode.Replicated.Replicas}}')" = 2 ]; }
first_image() { [ "$(lab_spec '{{.Spec.TaskTemplate.ContainerSpec.Image}}')" = lab/worker:1 ]; }
node_active() { [ "$(node_spec '{{.Spec.Availability}}')" = active ]; }
labels_exact() { [ "$(node_spec '{{index .Spec.Labels "mbio.role"}}/{{index .Spec.Labels "tampered"}}')" = "manager/" ]; }
on_platform() { lab_spec '{{json .Spec.TaskTemplate.Networks}}' | grep -q Target; }
has_config() { lab_spec '{{json .Spec.TaskTemplate.ContainerSpec.Configs}}' | grep -q lab-motd-1; }
drift_add a "services.lab_worker.replicas" two_replicas -- docker service scale --detach lab_worker=0
drift_add b "services.lab_worker.image" first_image -- docker service update --detach --image lab/worker:2 lab_worker
drift_add c "lab-m1-membership (pulumi-nodejs:dynamic/swarm:Node) availability" node_active -- docker node update --availability drain "$node_id"
drift_add d "labels.mbio.role" labels_exact -- docker node update --label-add mbio.role=tampered --label-add tampered=yes "$node_id"
drift_add e "services.lab_worker.networks" on_platform -- docker service update --detach --network-rm lab-platform lab_worker
drift_add f "services.lab_worker.configs" has_config -- docker service update --detach --config-rm lab-motd-1 lab_worker
# A Swarm object in use cannot be removed: the hand change takes it off the service first.
has_note() { on_m1 docker config inspect "$note_name" >/dev/null && lab_spec '{{json .Spec.TaskTemplate.ContainerSpec.Configs}}' | grep -q "$note_name"; }
has_token() { on_m1 docker secret inspect "$token_name" >/dev/null && lab_spec '{{json .Spec.TaskTemplate.ContainerSpec.Secrets}}' | grep -q "$token_name"; }
drift_add g "lab-note (docker:index/serviceConfig:ServiceConfig) is gone" has_note -- sh -c "docker service update --detach --config-rm $note_name lab_worker && docker config rm $note_name"
drift_add h "lab-token (docker:index/secret:Secret) is gone" has_token -- sh -c "docker service update --detach --secret-rm $token_name lab_worker && docker secret rm $token_name"
# All six in one refresh/up round (tests/real/lib/drift.sh): each is still named and checked on its own.
drift_run
check "the service never got a new ID (updated in place, never replaced)" test -s "$work/first-id" -a "$(svc '{{.ID}}')" = "$(cat "$work/first-id")"

# Failover: the first listed manager (lab:downManagerPort) is down; a changed config goes through the next.
lab config set lab:note "second note" >/dev/null
check "failover: a changed config is applied with the first listed manager down" to "$work/failover.log" lab up --yes --skip-preview
new_note="$(lab stack output noteName)"
check "failover: the service mounts the new config, the old one is deleted" bash -c "[ '$new_note' != '$note_name' ] && docker exec $NAME docker service inspect lab_worker --format '{{json .Spec.TaskTemplate.ContainerSpec.Configs}}' | grep -q '$new_note' && ! docker exec $NAME docker config inspect '$note_name' >/dev/null 2>&1"

# No manager reachable (sshd stopped): a refresh of the secret must fail, and the secret stay in state.
secret_urn="$(jq -r '.deployment.resources[] | select(.type == "docker:index/secret:Secret") | .urn' "$work/state.json")"
on_m1 sh -c 'systemctl stop ssh.socket 2>/dev/null; systemctl stop ssh' >/dev/null 2>&1
unreachable_refresh() { ! lab refresh --yes --skip-preview --target "$secret_urn" >"$work/unreachable.log" 2>&1; }
check "unreachable managers: pulumi refresh of the secret fails" unreachable_refresh
check "unreachable managers: the error says no manager was reachable" grep -q "no Swarm manager reachable" "$work/unreachable.log"
secret_in_state() { lab stack export | jq -e --arg u "$secret_urn" '.deployment.resources[] | select(.urn == $u)' >/dev/null; }
check "unreachable managers: the secret is still in state" secret_in_state
on_m1 systemctl start ssh >/dev/null 2>&1
check "managers back: refresh reports no changes" to "$work/back.log" lab refresh --preview-only --expect-no-changes

# A machine that never ran the program (the Docker provider's SSH files are written by it): a plain refresh,
# which does not run the program, fails saying what to run; with --run-program it works (scripts/drift.sh).
mv "$ssh_dir" "$work/ssh-dir-moved"
no_files_refresh() { ! lab refresh --preview-only >"$work/no-files.log" 2>&1; }
check "no Docker SSH files on this machine: pulumi refresh fails" no_files_refresh
check "no Docker SSH files: the error says to run pulumi refresh --run-program" grep -q "run pulumi refresh --run-program" "$work/no-files.log"
check "no Docker SSH files: pulumi refresh --run-program writes them and reports no changes" to "$work/run-program.log" lab refresh --run-program --preview-only --expect-no-changes

# A bad image: the old tasks keep running == replicas, so only UpdateStatus tells that the update failed.
lab config set lab:image lab/worker:missing >/dev/null
# Through lab(): the stack file is the work directory's (a bare `pulumi up` in $LAB wrote one into the tree).
bad_up() { ! lab up --yes --skip-preview >"$work/bad.log" 2>&1; }
check "bad image: pulumi up fails" bad_up
check "bad image: the error names the service and the rollback" grep -q "service lab_worker failed (rollback_completed" "$work/bad.log"
check "bad image: Swarm runs the previous image again" first_image
lab config set lab:image lab/worker:1 >/dev/null
check "bad image: afterwards preview reports no changes" to "$work/bad-p.log" lab preview --expect-no-changes

# A network in use by a service outside the program: destroy must fail naming it (it swallowed this before).
on_m1 docker service create --detach --quiet --name lab-squatter --network lab-platform lab/worker:1 sleep infinity >/dev/null
busy_destroy() { ! lab destroy --yes --skip-preview >"$work/destroy-busy.log" 2>&1; }
check "destroy with the network in use fails" busy_destroy
check "the failed destroy names the network and the service using it" grep -q "network lab-platform could not be removed.*lab-squatter" "$work/destroy-busy.log"
on_m1 docker service rm lab-squatter >/dev/null
check "pulumi destroy" to "$work/destroy.log" lab destroy --yes --skip-preview
check "pulumi destroy removes the stack and keeps the node in its Swarm" bash -c "[ -z \"\$(docker exec $NAME docker service ls -q)\" ] && docker exec $NAME docker node inspect self >/dev/null"
