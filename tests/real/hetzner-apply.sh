#!/usr/bin/env bash
# A Hetzner-shaped environment applied for real: the program (index.ts, machineSource hetzner) through the real
# hcloud provider (1.39.1) against the Hetzner Cloud API emulator, whose servers are real machines
# (tests/hcloud-emulator/machine.sh: the sandbox's Debian 12 systemd image booting the provider's user-data with
# cloud-init, public IPv4 on a network of this test, the private network at Hetzner's addresses with MTU 1450,
# firewalls enforced outside the machines). 1 manager + 1 worker (tests/nightly/hetzner-scale.sh scales workers):
#   - `pulumi up` from empty: both nodes Ready in the Swarm, which runs over the private network; the edge
#     (Traefik, from a registry of this test) answers on the manager's public address;
#   - the firewalls act as Hetzner's, checked from the attacker's side: from the worker, the manager's Swarm port
#     is closed on its public address and open on its private one, and root in the manager cannot lift them;
#   - block volumes (storage.driver hetzner-volumes): the edge's ACME volume is a Hetzner volume attached to the
#     manager in the emulator, a disk at /dev/disk/by-id/scsi-0HC_Volume_<id> in its machine (a loop device of the
#     emulator's file), mounted; the mount script run again changes nothing (no reformat); a file written through
#     the service survives its task being rescheduled;
#   - `pulumi refresh --preview-only --expect-no-changes` clean;
#   - hand changes through the API (a server label changed, a firewall rule edited, a server powered off, the
#     volume detached), each reported by refresh and restored by refresh + up (tests/real/lib/drift.sh);
#   - the emulator restarted on its state file: no drift;
#   - `pulumi destroy`: the emulator holds no resource, no machine container, no firewall table, no volume file and
#     no loop device is left.
# Off on this stack, and why (tests/real/lib/hetzner-sim.sh hz_stack_config): monitoring (HZ_MONITORING=1 turns it
# on: tests/nightly/hetzner-scale.sh checks points from every server; here it would add two image pushes and a
# stack converging on every machine), DNS (no Cloudflare stand-in), backups, Portainer, the GitLab runner; ACME has
# no CA to reach (issuance is tests/real/edge.sh's).
# Needs Docker, the sandbox's machine, registry and Traefik images (sandbox/up.sh builds them once) and root
# (nftables on the host). Ends with "hetzner-apply: N passed, M failed".
set -uo pipefail
# shellcheck source=scripts/lib/pulumi-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/pulumi-env.sh"
cd "$MBIO_ROOT" || exit 1
TEST_NAME=hetzner-apply
# shellcheck source=tests/real/lib/check.sh
. "$MBIO_ROOT/tests/real/lib/check.sh"
# Overridable, so two runs on one host (or a helper's lab) do not share names and addresses.
HZ_PREFIX="${HZ_PREFIX:-hz-apply}" HZ_SUBNET="${HZ_SUBNET:-198.18.7.0/24}"
# shellcheck source=tests/real/lib/hetzner-sim.sh
. "$MBIO_ROOT/tests/real/lib/hetzner-sim.sh"

work="$(mktemp -d)"
finish() {
  trap - EXIT
  if [ "${HETZNER_APPLY_KEEP:-0}" = 1 ]; then
    echo "kept: $work (emulator pid $EMULATOR_PID, machines $HZ_PREFIX-*)"
  else
    hz_down
    rm -rf "$work"
  fi
  report
  exit
}
trap finish EXIT

ensure_docker
ensure_node_modules
ensure_pulumi
must "emulator, registry and stack (tests/real/lib/hetzner-sim.sh)" to "$work/setup.log" hz_up "$work" 1 1
echo "  emulator at $HZ_URL"

t=$SECONDS
must "pulumi up from empty (1 manager + 1 worker)" to "$work/up.log" hz_pulumi up --yes --skip-preview
up_took=$((SECONDS - t))
echo "  pulumi up took ${up_took}s"

# The servers the emulator holds, by name: id, public and private address.
server() { hz_api "servers?name=$1" | jq -r --arg f "$2" '.servers[0] | if $f == "private" then .private_net[0].ip elif $f == "public" then .public_net.ipv4.ip else .id end'; }
mid="$(server staging-manager-1 id)" wid="$(server staging-worker-1 id)"
m_pub="$(server staging-manager-1 public)" m_priv="$(server staging-manager-1 private)" w_priv="$(server staging-worker-1 private)"
echo "  manager: server $mid, $m_pub / $m_priv; worker: server $wid, private $w_priv"
on_m() { hz_on "$mid" "$@"; }
on_w() { hz_on "$wid" "$@"; }

nodes_ready() { [ "$(on_m docker node ls --format '{{.Status}}' | grep -c '^Ready$')" = 2 ]; }
check "both nodes Ready in the Swarm" wait_for "2 Ready nodes" 60 nodes_ready
swarm_private() {
  [ "$(on_m docker info --format '{{.Swarm.NodeAddr}}')" = "$m_priv" ] &&
    [ "$(on_w docker info --format '{{.Swarm.NodeAddr}}')" = "$w_priv" ] &&
    on_w docker info --format '{{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}' | grep -q "^$m_priv:2377"
}
check "the Swarm runs over the private network ($m_priv, $w_priv)" swarm_private
check "the private interface has Hetzner's MTU 1450" bash -c "docker exec $HZ_PREFIX-$mid ip -o addr show | awk '/$m_priv/{print \$2}' | xargs -I{} docker exec $HZ_PREFIX-$mid cat /sys/class/net/{}/mtu | grep -qx 1450"
check "cloud-init ran the provider's user-data (mbio-harden installed and run)" on_m test -x /usr/local/sbin/mbio-harden
edge_answers() { curl -sk -o /dev/null --max-time 5 -w '%{http_code}' "https://$m_pub/" | grep -q '^[1-5][0-9][0-9]$'; }
check "the edge answers HTTPS on the manager's public address" wait_for "Traefik on $m_pub:443" 90 edge_answers

# Block volumes (before the firewall checks below flush the manager's rules, Docker's port mappings with them):
# the edge's ACME store on a Hetzner volume of the manager (storage.driver hetzner-volumes).
vol_dir=/mnt/mbio-volumes/edge_acme
vid="$(hz_api 'volumes?name=staging-manager-1-edge-acme' | jq -r '.volumes[0].id')"
vol_dev="/dev/disk/by-id/scsi-0HC_Volume_$vid"
echo "  edge_acme: volume $vid, $vol_dev"
vol_attached() { [ "$(hz_api "volumes/$vid" | jq -r '.volume.server')" = "$mid" ]; }
vol_in_machine() { on_m test -b "$vol_dev" && losetup -n -O BACK-FILE -j "$HZ_VOLUME_DIR/volume-$vid.img" | grep -q .; }
vol_mounted() { [ "$(on_m findmnt -n -o SOURCE --mountpoint "$vol_dir")" = "$(on_m readlink -f "$vol_dev")" ]; }
check "the volume is attached to the manager in the emulator" vol_attached
check "the volume is a disk at $vol_dev in the manager (a loop device of the emulator's file)" vol_in_machine
vol_ext4() { [ "$(on_m findmnt -n -o FSTYPE --mountpoint "$vol_dir")" = ext4 ]; }
check "the volume is mounted at $vol_dir (ext4)" vol_ext4
# The service's task container on the manager, and a file written through it.
edge_task() { on_m docker ps -q --filter label=com.docker.swarm.service.name=edge_traefik | head -n1; }
marker="hzv-$RANDOM-$RANDOM"
written() {
  local c
  c="$(edge_task)" && [ -n "$c" ] && on_m docker exec "$c" sh -c "echo $marker >/data/volume-proof" &&
    [ "$(on_m cat "$vol_dir/data/volume-proof")" = "$marker" ]
}
check "a file written through the edge's /data lands on the volume" written
# The mount script again, as an update would run it: nothing formatted, nothing mounted twice, the file still there.
mount_again() {
  on_m env ACTION=mount VOLUME_ID="$vid" MOUNT_DIR="$vol_dir" bash -s <components/files/storage/hetzner-volume-mount.sh >"$work/mount-again.log" 2>&1 &&
    ! grep -q 'formatted\|mounted volume' "$work/mount-again.log" &&
    [ "$(on_m findmnt -n --mountpoint "$vol_dir" | wc -l)" = 1 ] && [ "$(on_m cat "$vol_dir/data/volume-proof")" = "$marker" ]
}
check "the mount script run again changes nothing (no reformat, one mount, the data kept)" mount_again
# Rescheduled by killing its container: Swarm replaces the task (restart on failure). Not `service update
# --force`: on this engine the global edge with host-mode ports fails that update with "host-mode port already in
# use" (the scheduler still counts the stopping task's port) and rolls back.
old_task="$(edge_task)"
must "the edge's task killed (Swarm reschedules it)" on_m docker rm -f "$old_task"
survived() { local c; c="$(edge_task)" && [ -n "$c" ] && [ "$c" != "$old_task" ] && [ "$(on_m docker exec "$c" cat /data/volume-proof)" = "$marker" ]; }
check "the new task reads the file written through the old one" wait_for "the edge's new task" 60 survived

# The firewalls, from the attacker's side (the worker is another tenant's server on the public network as far as
# the manager's public address goes).
port_open() { on_w timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
port_closed() { ! port_open "$@"; }
check "from the worker: the manager's Swarm port is closed on its public address" port_closed "$m_pub" 2377
check "from the worker: the manager's Swarm port is open on its private address" port_open "$m_priv" 2377
on_m nft flush ruleset >/dev/null 2>&1
on_m iptables -P INPUT ACCEPT >/dev/null 2>&1
check "root in the manager flushing its own rules does not open its public Swarm port" port_closed "$m_pub" 2377
# The keys themselves, not their PEM header: the dynamic providers' serialized code (host-keys.ts) holds the header.
no_plain_keys() {
  local k
  for k in "$(sed -n 2p "$work/id_ed25519")" "$(on_m sed -n 2p /etc/ssh/ssh_host_ed25519_key)"; do
    [ -n "$k" ] && ! grep -rqF -- "$k" "$work/state" || return 1
  done
}
check "state holds neither the deploy key nor the manager's host key in plain text" no_plain_keys

check "no drift right after up (refresh --preview-only --expect-no-changes)" to "$work/r0.log" hz_pulumi refresh --preview-only --expect-no-changes
check "no diff right after up (preview --expect-no-changes)" to "$work/p0.log" hz_pulumi preview --expect-no-changes

# Hand changes through the API, as someone in Hetzner's console would make them.
# shellcheck source=tests/real/lib/drift.sh
. "$MBIO_ROOT/tests/real/lib/drift.sh"
DRIFT_STACK="$HZ_STACK"
drift_pulumi() { hz_pulumi "$@"; }
# drift.sh runs its commands on a manager; here they are API calls.
drift_on_manager() { "$@"; }
fw_base="$(hz_api 'firewalls?name=staging-base' | jq -r '.firewalls[0].id')"
api_label() { hz_api "servers/$wid" -X PUT -d '{"labels":{"role":"worker","environment":"staging","managed-by":"someone-else"}}'; }
api_rule() {
  hz_api "firewalls/$fw_base" | jq '{rules: [.firewall.rules[] | if .port == "22" then .source_ips = ["0.0.0.0/0"] else . end]}' |
    hz_api "firewalls/$fw_base/actions/set_rules" -X POST -d @-
}
api_poweroff() { hz_api "servers/$wid/actions/poweroff" -X POST -d '{}'; }
label_back() { [ "$(hz_api "servers/$wid" | jq -r '.server.labels["managed-by"]')" = pulumi ]; }
rule_back() { [ "$(hz_api "firewalls/$fw_base" | jq -c '[.firewall.rules[] | select(.port == "22") | .source_ips]')" = "[[\"$HZ_HOST_IP/32\"]]" ]; }
powered_back() {
  [ "$(hz_api "servers/$wid" | jq -r '.server.status')" = running ] &&
    [ "$(docker inspect -f '{{.State.Running}}' "$HZ_PREFIX-$wid")" = true ] &&
    wait_for "the worker Ready again" 90 nodes_ready
}
drift_add "label" "managed-by" label_back -- api_label
drift_add "firewall rule" "rules" rule_back -- api_rule
api_detach() { hz_api "volumes/$vid/actions/detach" -X POST -d '{}'; }
volume_back() { vol_attached && vol_in_machine && vol_mounted && [ "$(on_m cat "$vol_dir/data/volume-proof")" = "$marker" ]; }
drift_add "power off" "status" powered_back -- api_poweroff
drift_add "volume detached" "edge-acme-attachment (hcloud:index/volumeAttachment:VolumeAttachment) is gone" volume_back -- api_detach
drift_run
check "the edited rule is enforced again: the worker is not admitted to the manager's SSH over its public address" port_closed "$m_pub" 22

must "the emulator restarts on its state file" hz_emulator_restart
check "after the restart: refresh reports no changes" to "$work/r-restart.log" hz_pulumi refresh --preview-only --expect-no-changes
check "after the restart: both nodes still Ready" nodes_ready

t=$SECONDS
check "pulumi destroy" to "$work/destroy.log" hz_pulumi destroy --yes --skip-preview
echo "  pulumi destroy took $((SECONDS - t))s"
empty() {
  local kind
  for kind in servers networks firewalls ssh_keys placement_groups volumes; do
    [ "$(hz_api "$kind" | jq -r '.meta.pagination.total_entries')" = 0 ] || { echo "emulator still holds $kind"; return 1; }
  done
}
check "the emulator holds no resource" empty
check "no machine container is left" bash -c "[ -z \"\$(docker ps -aq --filter label=hz-machine=$HZ_PREFIX --filter label=hz-server)\" ]"
check "no firewall table is left on the host" bash -c "! nft list tables | grep -q 'hz_fw_${HZ_PREFIX//-/_}_'"
check "no volume file is left" bash -c "! ls '$HZ_VOLUME_DIR'/volume-*.img 2>/dev/null | grep -q ."
check "no loop device of this run is left" bash -c "! losetup -n -l -O BACK-FILE | grep -qF '$HZ_VOLUME_DIR/'"
