#!/usr/bin/env bash
# The emulator's machines: what makes a Hetzner server a real machine (docs/sandbox.md, "Hetzner API emulator").
# The emulator (-machine-hook) runs this after every change of a server, network or firewall, with the wanted
# state of one server as JSON on stdin (never in argv: the user-data holds the server's host key):
#
#   machine.sh apply          {"id","name","status","public_ipv4","ssh_keys":[…],"user_data","networks":[{"id","ip",
#                              "ip_range"}],"firewall":null|[rules]}   creates, starts, stops, attaches, filters
#   machine.sh reboot ID      restarts the machine of server ID (reboot/reset actions)
#   machine.sh remove ID      removes the machine of server ID (server deleted)
#   machine.sh network-remove ID   removes the docker network of Hetzner network ID (network deleted)
#   machine.sh cleanup        removes every machine and network of this prefix (a test's trap)
#
# A machine is a sandbox machine (sandbox/lib.sh docker_run_machine: the same Debian 12 systemd image), named
# $HZ_MACHINE_PREFIX-<id>, with hostname = server name, its public IPv4 on $HZ_PUBLIC_NETWORK (a docker network
# the caller made, whose subnet is the emulator's -public-ipv4), and one internal docker network per Hetzner
# network (MTU 1450 as Hetzner's, subnet = the network's range, gateway its first address) at the server's private
# IP. At its first start cloud-init boots the user-data the provider sent, from a NoCloud seed (meta-data: the
# server's name and the project's SSH keys, as Hetzner's metadata service gives them).
# Firewalls act as Hetzner's: inbound to the public address only, enforced outside the machine with nftables in
# the host's namespace (hooks forward and output, matched on the machine's public IPv4). Not in the machine's
# own namespace (nsenter -n): its root has CAP_NET_ADMIN there (Docker runs inside) and could delete them.
# With no firewall applied, everything passes; with one or more, only what a rule allows (plus replies).
#
# Environment: HZ_MACHINE_PREFIX (default hz), HZ_PUBLIC_NETWORK (required for apply), HZ_MACHINE_IMAGE
# (default: the newest image sandbox/up.sh built), HZ_MACHINE_ARGS (extra docker-run arguments, e.g. a
# registry CA mount; word-split). Logs to stderr; the emulator writes them into its log.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=sandbox/lib.sh
. "$here/../../sandbox/lib.sh"

prefix="${HZ_MACHINE_PREFIX:-hz}"
label="hz-machine=$prefix"
machine() { echo "$prefix-$1"; }
net_name() { echo "$prefix-net-$1"; }
say() { printf 'machine.sh: %s\n' "$*" >&2; }

# The first address of a range: Hetzner's gateway of a network.
first_addr() { int2ip $(($(cidr_range "$1" | cut -d' ' -f1) + 1)); }

ensure_network() {
  local id="$1" range="$2" name
  name="$(net_name "$id")"
  docker network inspect "$name" >/dev/null 2>&1 && return 0
  # Internal: Hetzner's private networks reach no internet by themselves either.
  docker network create --internal --label "$label" -o com.docker.network.driver.mtu=1450 \
    --subnet "$range" --gateway "$(first_addr "$range")" "$name" >/dev/null
  say "network $name ($range, MTU 1450)"
}

# The table holding a machine's firewall, in the host's namespace (the machine's root cannot reach it).
fw_table() { echo "hz_fw_${prefix//[^a-zA-Z0-9]/_}_$1"; }

# nft rules for Hetzner firewall rules (JSON array on stdin): inbound only, to the public address only (the
# private networks are other addresses, so they pass, as on Hetzner). Hooked where every packet to the machine
# passes on the host: forward (from other machines and networks; bridged packets pass it too, docker sets
# bridge-nf-call-iptables) and output (from the host itself). IPv4 only: the machines have no public IPv6.
nft_rules() {
  local table="$1" ip="$2"
  jq -r --arg t "$table" --arg ip "$ip" '
    def ports: if .port == null or .port == "any" then "" else " dport " + .port end;
    def rule: . as $r | [.source_ips[] | select(test(":") | not)] | select(length > 0)
      | "ip daddr " + $ip + " ip saddr { " + join(", ") + " }"
        + (if $r.protocol == "icmp" then " meta l4proto icmp"
           elif $r.protocol == "tcp" or $r.protocol == "udp" then " " + $r.protocol + ($r | ports)
           else " meta l4proto " + $r.protocol end) + " accept";
    [.[] | select(.direction == "in") | rule] as $rules
    | "table inet " + $t + " {",
      (("forward", "output") as $hook
        | "  chain " + $hook + " {",
          "    type filter hook " + $hook + " priority -10; policy accept;",
          "    ip daddr != " + $ip + " accept",
          "    ct state established,related accept",
          ($rules[] | "    " + .),
          "    drop",
          "  }"),
      "}"'
}

# Sets the firewall of server ID at PUBLIC_IP: FIREWALL is the JSON of the rules, or "null" (none applied).
# One nft transaction: the old table goes and the new one comes at once (no moment unfiltered).
apply_firewall() {
  local id="$1" public_ip="$2" firewall="$3" table
  table="$(fw_table "$id")"
  {
    if nft list table inet "$table" >/dev/null 2>&1; then echo "delete table inet $table"; fi
    [ "$firewall" = null ] || nft_rules "$table" "$public_ip" <<<"$firewall"
  } | nft -f -
}
remove_firewall() {
  local table
  table="$(fw_table "$1")"
  if nft list table inet "$table" >/dev/null 2>&1; then nft delete table inet "$table"; fi
}

seed_cloud_init() {
  local name="$1" spec="$2"
  docker exec "$name" mkdir -p /var/lib/cloud/seed/nocloud
  jq -r '.user_data' <<<"$spec" | docker exec -i "$name" sh -c 'umask 077; cat >/var/lib/cloud/seed/nocloud/user-data'
  jq -r '"instance-id: hz-\(.id)", "local-hostname: \(.name)", "public-keys:", (.ssh_keys[] | "  - \(.)")' <<<"$spec" |
    docker exec -i "$name" sh -c 'cat >/var/lib/cloud/seed/nocloud/meta-data'
}

connect_networks() {
  local name="$1" spec="$2" id ip range want have n
  want=" "
  while read -r id ip range; do
    [ -n "$id" ] || continue
    want+="$(net_name "$id") "
    ensure_network "$id" "$range"
    if ! docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$name" | grep -qw -- "$(net_name "$id")"; then
      docker network connect --ip "$ip" "$(net_name "$id")" "$name"
      say "$name: attached to $(net_name "$id") at $ip"
    fi
  done < <(jq -r '.networks[] | "\(.id) \(.ip) \(.ip_range)"' <<<"$spec")
  have="$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$name")"
  for n in $have; do
    case "$n" in "$prefix"-net-*) [[ "$want" == *" $n "* ]] || { docker network disconnect "$n" "$name"; say "$name: detached from $n"; } ;; esac
  done
}

cmd_apply() {
  local spec id name status public_ip image args=()
  spec="$(cat)"
  id="$(jq -r '.id' <<<"$spec")" status="$(jq -r '.status' <<<"$spec")" public_ip="$(jq -r '.public_ipv4' <<<"$spec")"
  name="$(machine "$id")"
  if ! container_exists "$name"; then
    [ "$status" = running ] || return 0 # created powered off: the machine comes with its first power-on
    : "${HZ_PUBLIC_NETWORK:?HZ_PUBLIC_NETWORK names the docker network of the public addresses}"
    image="${HZ_MACHINE_IMAGE:-$(sandbox_machine_image)}"
    [ -n "$image" ] || { say "no machine image: run sandbox/up.sh once (it builds $MACHINE_REPO)"; return 1; }
    # shellcheck disable=SC2206 # HZ_MACHINE_ARGS is a list of docker-run arguments
    args=(${HZ_MACHINE_ARGS:-})
    # The firewall first: the machine is never reachable unfiltered.
    apply_firewall "$id" "$public_ip" "$(jq -c '.firewall' <<<"$spec")"
    docker_run_machine "$name" "$image" --hostname "$(jq -r '.name' <<<"$spec")" --label "$label" --label "hz-server=$id" \
      --network "$HZ_PUBLIC_NETWORK" --ip "$public_ip" "${args[@]}"
    say "$name: started at $public_ip"
    connect_networks "$name" "$spec"
    machine_booted "$name"
    seed_cloud_init "$name" "$spec"
    cloud_init_background "$name"
    say "$name: cloud-init runs the user-data"
    return 0
  fi
  if [ "$status" = running ] && ! container_running "$name"; then
    docker start "$name" >/dev/null
    say "$name: powered on"
  elif [ "$status" != running ] && container_running "$name"; then
    docker stop -t 10 "$name" >/dev/null
    say "$name: powered off"
    return 0
  fi
  apply_firewall "$id" "$public_ip" "$(jq -c '.firewall' <<<"$spec")"
  container_running "$name" || return 0
  connect_networks "$name" "$spec"
}

cmd_reboot() {
  local name
  name="$(machine "$1")"
  container_running "$name" || return 0
  docker restart -t 10 "$name" >/dev/null
  say "$name: rebooted"
}

cmd_remove() {
  local name
  name="$(machine "$1")"
  remove_firewall "$1"
  container_exists "$name" || return 0
  docker rm -f -v "$name" >/dev/null
  say "$name: removed"
}

cmd_network_remove() {
  local name
  name="$(net_name "$1")"
  docker network inspect "$name" >/dev/null 2>&1 || return 0
  docker network rm "$name" >/dev/null
  say "network $name removed"
}

cmd_cleanup() {
  local id
  for id in $(docker ps -aq --filter "label=$label"); do docker rm -f -v "$id" >/dev/null; done
  for id in $(docker network ls -q --filter "label=$label"); do docker network rm "$id" >/dev/null; done
  for id in $(nft list tables 2>/dev/null | awk -v p="$(fw_table '')" '$2 == "inet" && index($3, p) == 1 {print $3}'); do nft delete table inet "$id"; done
}

case "${1:-}" in
  apply) cmd_apply ;;
  reboot) cmd_reboot "$2" ;;
  remove) cmd_remove "$2" ;;
  network-remove) cmd_network_remove "$2" ;;
  cleanup) cmd_cleanup ;;
  *) echo "usage: machine.sh apply|reboot ID|remove ID|network-remove ID|cleanup (see the header)" >&2; exit 2 ;;
esac
