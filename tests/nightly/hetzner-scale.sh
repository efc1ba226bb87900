#!/usr/bin/env bash
# Scaling a Hetzner-shaped environment (tests/real/lib/hetzner-sim.sh: the program through the real hcloud provider
# onto the emulator's machines): 1 manager + 1 worker, then workers 1 → 2 (a new server boots its user-data and
# joins the Swarm over the private network) → 1 (the removed server leaves the Swarm, the emulator and the host:
# no machine, no firewall table), refresh clean after each step, then destroy leaves nothing. Monitoring runs on this
# stack (HZ_MONITORING=1): InfluxDB receives CPU points from every server, the new one included after scale-out.
# Ends with "hetzner-scale: N passed, M failed".
set -uo pipefail
# shellcheck source=scripts/lib/pulumi-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/pulumi-env.sh"
cd "$MBIO_ROOT" || exit 1
TEST_NAME=hetzner-scale
# shellcheck source=tests/real/lib/check.sh
. "$MBIO_ROOT/tests/real/lib/check.sh"
HZ_PREFIX=hz-scale HZ_SUBNET=198.18.8.0/24 HZ_MONITORING=1
# shellcheck source=tests/real/lib/hetzner-sim.sh
. "$MBIO_ROOT/tests/real/lib/hetzner-sim.sh"

work="$(mktemp -d)"
finish() {
  trap - EXIT
  if [ "${HETZNER_SCALE_KEEP:-0}" = 1 ]; then echo "kept: $work"; else hz_down; rm -rf "$work"; fi
  report
  exit
}
trap finish EXIT

ensure_docker
ensure_node_modules
ensure_pulumi
must "emulator, registry and stack (tests/real/lib/hetzner-sim.sh)" to "$work/setup.log" hz_up "$work" 1 1
must "pulumi up from empty (1 manager + 1 worker)" to "$work/up-1.log" hz_pulumi up --yes --skip-preview
mid="$(hz_api 'servers?name=staging-manager-1' | jq -r '.servers[0].id')"
ready_nodes() { [ "$(hz_on "$mid" docker node ls --format '{{.Hostname}} {{.Status}}' | grep -c ' Ready$')" = "$1" ]; }
servers() { [ "$(hz_api servers | jq -r '.meta.pagination.total_entries')" = "$1" ]; }
two_and_two() { servers 2 && wait_for "2 Ready nodes" 60 ready_nodes 2; }
check "2 servers, 2 Ready nodes" two_and_two
# Telegraf's host tag is the node's hostname, which is the server's name (machine.sh --hostname).
monitored() { [ "$(hz_monitored_hosts | paste -sd' ')" = "$1" ]; }
check "InfluxDB receives points from every server" wait_for "points from both servers" 180 monitored "staging-manager-1 staging-worker-1"

hz_pulumi config set mbio-cloud:workers 2 >/dev/null
t=$SECONDS
check "workers 1 → 2: pulumi up" to "$work/up-2.log" hz_pulumi up --yes --skip-preview
echo "  scale-out took $((SECONDS - t))s"
w2="$(hz_api 'servers?name=staging-worker-2' | jq -r '.servers[0].id // empty')"
check "the emulator holds staging-worker-2" test -n "$w2"
check "its machine runs" container_running "$HZ_PREFIX-$w2"
check "3 nodes Ready" wait_for "3 Ready nodes" 60 ready_nodes 3
check "staging-worker-2 joined over the private network" bash -c "[ \"\$(docker exec $HZ_PREFIX-$w2 docker info --format '{{.Swarm.NodeAddr}}')\" = \"\$(curl -fsS -H @$work/auth $HZ_URL/servers/$w2 | jq -r '.server.private_net[0].ip')\" ]"
check "InfluxDB receives points from staging-worker-2 too" wait_for "points from three servers" 180 monitored "staging-manager-1 staging-worker-1 staging-worker-2"
check "refresh clean after scale-out" to "$work/r-2.log" hz_pulumi refresh --preview-only --expect-no-changes

hz_pulumi config set mbio-cloud:workers 1 >/dev/null
t=$SECONDS
check "workers 2 → 1: pulumi up" to "$work/up-3.log" hz_pulumi up --yes --skip-preview
echo "  scale-in took $((SECONDS - t))s"
check "staging-worker-2 is gone from the Swarm" bash -c "! docker exec $HZ_PREFIX-$mid docker node ls --format '{{.Hostname}}' | grep -qx staging-worker-2"
check "2 nodes Ready" ready_nodes 2
check "staging-worker-2 is gone from the emulator" bash -c "[ \"\$(curl -fsS -H @$work/auth '$HZ_URL/servers?name=staging-worker-2' | jq '.servers | length')\" = 0 ]"
check "its machine is gone" bash -c "! docker container inspect $HZ_PREFIX-$w2 >/dev/null 2>&1"
check "its firewall table is gone" bash -c "! nft list tables | grep -qw 'hz_fw_${HZ_PREFIX//-/_}_$w2'"
check "refresh clean after scale-in" to "$work/r-3.log" hz_pulumi refresh --preview-only --expect-no-changes

check "pulumi destroy" to "$work/destroy.log" hz_pulumi destroy --yes --skip-preview
check "the emulator holds no server" servers 0
check "no machine container is left" bash -c "[ -z \"\$(docker ps -aq --filter label=hz-machine=$HZ_PREFIX --filter label=hz-server)\" ]"
