#!/usr/bin/env bash
# The emulator's machines: what makes a Hetzner server a real machine (docs/sandbox.md, "Hetzner API emulator").
# The emulator (-machine-hook) runs this after every change of a server, network or firewall, with the wanted
# state of one server as JSON on stdin (never in argv: the user-data holds the server's host key):
#
#   machine.sh apply          {"id","name","status","public_ipv4","ssh_keys":[…],"user_data","networks":[{"id","ip",
#                              "ip_range"}],"firewall":null|[rules],"volumes":[{"id","file"}]}   creates, starts,
#                              stops, attaches networks and volumes, filters
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
# Volumes act as Hetzner's: the volume's file (the emulator's -volume-dir) becomes a loop device on the host, and
# the attached machine sees it as a Hetzner guest does: a disk /dev/sdX and udev's link
# /dev/disk/by-id/scsi-0HC_Volume_<id> -> ../../sdX (a container has no udev: the node and link are made here; the
# machine's device cgroup admits loop devices, b 7:*). Detached: node and link go, the loop is released (lazily,
# if the machine still has it mounted: unlike Hetzner, where the guest then gets I/O errors, the old mount keeps
# working on the same file). A node is made again after every start of the machine (/dev is new each boot).
#
# Environment: HZ_MACHINE_PREFIX (default hz), HZ_PUBLIC_NETWORK (required for apply), HZ_MACHINE_IMAGE
# (default: the newest image sandbox/up.sh built), HZ_MACHINE_ARGS (extra docker-run arguments, e.g. a
# registry CA mount; word-split), HZ_VOLUME_DIR (the emulator's -volume-dir: cleanup also releases loop devices of
# files there). Logs to stderr; the emulator writes them into its log.
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

# The volumes: a loop device per attached volume's file on the host, its node and by-id link in the machine.
volume_link_dir=/dev/disk/by-id
volume_link() { echo "$volume_link_dir/scsi-0HC_Volume_$1"; }
# The loop device of FILE (the first, if several), or nothing.
loop_of() { losetup -n -O NAME -j "$1" | head -n1; }
# Releases a loop device given as MAJOR:MINOR if it loops one of the emulator's volume files (never another's).
release_loop() {
  local loop file
  loop="/dev/$(basename "$(readlink "/sys/dev/block/$1" 2>/dev/null)")"
  [ -b "$loop" ] || return 0
  case "$(losetup -n -O BACK-FILE "$loop" 2>/dev/null)" in */volume-*.img) losetup -d "$loop" && say "released $loop" ;; esac
}
# The volumes linked in machine NAME: "ID MAJOR:MINOR" each (device numbers in decimal).
machine_volumes() {
  docker exec "$1" sh -c 'for l in '"$volume_link_dir"'/scsi-0HC_Volume_*; do [ -b "$l" ] || continue; printf "%s %d:%d\n" "${l##*_}" "0x$(stat -L -c %t "$l")" "0x$(stat -L -c %T "$l")"; done' 2>/dev/null
}
attach_volumes() {
  local name="$1" spec="$2" id file loop dev made want=" " have_id have_dev
  while read -r id file; do
    [ -n "$id" ] || continue
    want+="$id "
    [ -f "$file" ] || { say "$name: volume $id has no file $file"; return 1; }
    loop="$(loop_of "$file")"
    [ -n "$loop" ] || loop="$(losetup -f --show "$file")"
    dev="$(cat "/sys/block/${loop#/dev/}/dev")"
    # In the machine: nothing if the link already names this device; else the first free sdX, as the kernel
    # names a new SCSI disk (sda is the root disk on Hetzner), and the link udev would make.
    made="$(docker exec -i "$name" sh -s -- "$(volume_link "$id")" "${dev%:*}" "${dev#*:}" <<'SH'
link="$1" major="$2" minor="$3"
if [ -b "$link" ] && [ "$(stat -L -c '%t:%T' "$link")" = "$(printf '%x:%x' "$major" "$minor")" ]; then exit 0; fi
[ -L "$link" ] && rm -f "$(readlink -f "$link")" "$link"
for letter in b c d e f g h i j k l m n o p q r; do [ -e "/dev/sd$letter" ] || break; done
mknod "/dev/sd$letter" b "$major" "$minor"
mkdir -p "$(dirname "$link")"
ln -sfn "../../sd$letter" "$link"
echo "/dev/sd$letter"
SH
    )" || return 1
    [ -z "$made" ] || say "$name: volume $id attached as $made ($loop)"
  done < <(jq -r '.volumes[]? | "\(.id) \(.file)"' <<<"$spec")
  while read -r have_id have_dev; do
    [ -n "$have_id" ] || continue
    [[ "$want" == *" $have_id "* ]] && continue
    docker exec "$name" sh -c 'l="$1"; rm -f "$(readlink -f "$l")" "$l"' sh "$(volume_link "$have_id")"
    release_loop "$have_dev"
    say "$name: volume $have_id detached"
  done < <(machine_volumes "$name")
}
# Removes machine NAME, then releases its volumes' loop devices (free once its mounts are gone with it).
remove_machine() {
  local name="$1" devs dev
  devs="$(container_running "$name" && machine_volumes "$name" | cut -d' ' -f2)"
  docker rm -f -v "$name" >/dev/null
  for dev in $devs; do release_loop "$dev"; done
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
    # /var/lib/docker on a volume of its own (anonymous: removed with the machine, docker rm -v), as the sandbox's
    # machines: on the container's overlay root the machine's engine falls back to vfs, whose container roots are
    # mode 0700, and an image's non-root user (Telegraf's) cannot even stat /bin/sh.
    docker_run_machine "$name" "$image" --hostname "$(jq -r '.name' <<<"$spec")" --label "$label" --label "hz-server=$id" \
      --network "$HZ_PUBLIC_NETWORK" --ip "$public_ip" --device-cgroup-rule 'b 7:* rmw' \
      -v /var/lib/docker "${args[@]}"
    say "$name: started at $public_ip"
    connect_networks "$name" "$spec"
    attach_volumes "$name" "$spec"
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
  attach_volumes "$name" "$spec"
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
  remove_machine "$name"
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
  local id loop file
  for id in $(docker ps -aq --filter "label=$label"); do remove_machine "$id"; done
  if [ -n "${HZ_VOLUME_DIR:-}" ]; then
    while read -r loop file; do
      case "$file" in "$HZ_VOLUME_DIR"/volume-*.img) losetup -d "$loop" ;; esac
    done < <(losetup -n -l -O NAME,BACK-FILE)
  fi
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
