#!/usr/bin/env bash
# Host firewall of a Swarm node (nftables, table inet mbio_firewall), the second layer behind the Hetzner
# firewall, which filters only the public interface. Inbound is dropped unless listed:
#   SSH 22/tcp                    from ADMIN_CIDRS only
#   Swarm 7946/tcp+udp, 4789/udp  from PRIVATE_CIDR (every node); 2377/tcp too on managers (MANAGER=true)
#                                 (PRIVATE_CIDR: one CIDR or several, space-separated: existing hosts
#                                 admit exactly the stack's hosts, each as a /32)
#   PRIVATE_PORTS                 extra "port/proto" entries from PRIVATE_CIDR (e.g. a storage driver's)
#   80/tcp, 443/tcp               from anywhere on edge nodes (EDGE=true)
# Loopback, replies, ICMP and traffic from the containers' own bridges are always accepted. Docker's own
# tables (iptables-nft) are left alone: this table never flushes the ruleset. A systemd unit reloads it at
# boot before Docker starts. Idempotent: a second run with the same input reports "unchanged".
# The cloud metadata service (169.254.169.254) serves the server's user-data, which holds its SSH host
# private key on Hetzner: containers never reach it (forwarded traffic to it is dropped, and so is traffic
# to it arriving from any interface but loopback), and on the host only root does (cloud-init runs as root).
# Containers never reach the Docker API ports or the Swarm control plane (2377) of any node either: Swarm
# answers TLS there without a client certificate (joining nodes), and only hosts need it.
# The rules live in this table, not in Docker's chains, so a dockerd restart never removes them.
# Env: PRIVATE_CIDR (required, space-separated), ADMIN_CIDRS (required, space-separated), MANAGER, EDGE (true|false),
#      PRIVATE_PORTS (optional, space-separated, e.g. "8282/tcp 16995/tcp").
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
say() { printf 'firewall: %s\n' "$*"; }
die() { printf 'firewall: error: %s\n' "$*" >&2; exit 1; }

: "${PRIVATE_CIDR:?PRIVATE_CIDR is required (the private network, e.g. 10.10.0.0/16)}"
: "${ADMIN_CIDRS:?ADMIN_CIDRS is required (mbio-cloud:adminCidrs, space-separated)}"
MANAGER="${MANAGER:-false}"
EDGE="${EDGE:-false}"
PRIVATE_PORTS="${PRIVATE_PORTS:-}"
cidr_re='^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$'
private=()
for c in $PRIVATE_CIDR; do
  [[ "$c" =~ $cidr_re ]] || die "PRIVATE_CIDR entry '$c' is not an IPv4 CIDR"
  private+=("$c")
done
[ "${#private[@]}" -gt 0 ] || die "PRIVATE_CIDR lists no CIDR"
admin=()
for c in $ADMIN_CIDRS; do
  [[ "$c" =~ $cidr_re ]] || die "ADMIN_CIDRS entry '$c' is not an IPv4 CIDR"
  [ "$c" != 0.0.0.0/0 ] || die "ADMIN_CIDRS must not contain 0.0.0.0/0: SSH is never open to the world"
  admin+=("$c")
done
[ "${#admin[@]}" -gt 0 ] || die "ADMIN_CIDRS lists no CIDR"

tcp=(7946)
udp=(7946 4789)
[ "$MANAGER" = true ] && tcp=(2377 "${tcp[@]}")
for p in $PRIVATE_PORTS; do
  [[ "$p" =~ ^([0-9]{1,5})/(tcp|udp)$ ]] || die "PRIVATE_PORTS entry '$p' is not port/tcp or port/udp"
  if [ "${BASH_REMATCH[2]}" = tcp ]; then tcp+=("${BASH_REMATCH[1]}"); else udp+=("${BASH_REMATCH[1]}"); fi
done
join() { local IFS=,; echo "$*"; }
# Hetzner's (and most clouds') metadata service: it serves user-data, which holds the host key.
METADATA=169.254.169.254

if ! command -v nft >/dev/null; then
  say "installing nftables"
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends nftables >/dev/null
fi

edge_rule="# not an edge node: no web ports"
[ "$EDGE" = true ] && edge_rule="tcp dport { 80, 443 } accept comment \"edge: HTTP, HTTPS\""
# "table …; delete table …; table … { }" replaces the table atomically and works when it does not exist yet.
rules="# Managed by mbio-cloud (firewall.sh). Docker's tables are not touched.
table inet mbio_firewall
delete table inet mbio_firewall
table inet mbio_firewall {
  chain input {
    type filter hook input priority filter; policy drop;
    ip daddr $METADATA iif != lo drop comment \"metadata service: not from containers\"
    ct state established,related accept
    ct state invalid drop
    iif lo accept
    iifname { \"docker0\", \"docker_gwbridge\" } accept comment \"containers to their host\"
    iifname \"br-*\" accept comment \"containers on user bridges\"
    meta l4proto { icmp, ipv6-icmp } accept
    ip saddr { $(join "${admin[@]}") } tcp dport 22 accept comment \"SSH from admin networks\"
    ip saddr { $(join "${private[@]}") } tcp dport { $(join "${tcp[@]}") } accept comment \"Swarm from the private network\"
    ip saddr { $(join "${private[@]}") } udp dport { $(join "${udp[@]}") } accept comment \"Swarm gossip and VXLAN from the private network\"
    $edge_rule
  }
  chain forward {
    type filter hook forward priority filter - 1; policy accept;
    ip daddr $METADATA drop comment \"metadata service: not from containers\"
    ip daddr { $(join "${private[@]}") } tcp dport { 2375, 2376, 2377 } drop comment \"Docker and Swarm APIs of the nodes: hosts only, never containers\"
  }
  chain output {
    type filter hook output priority filter; policy accept;
    ip daddr $METADATA meta skuid != 0 drop comment \"metadata service: root only\"
  }
}"
unit="[Unit]
Description=mbio-cloud host firewall (nftables table inet mbio_firewall)
Before=network-pre.target docker.service
Wants=network-pre.target
DefaultDependencies=no

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/nft -f /etc/mbio/firewall.nft

[Install]
WantedBy=multi-user.target"

changed=0
write() { # path content: writes only when different
  if [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; then return 1; fi
  mkdir -p "$(dirname "$1")"
  printf '%s\n' "$2" >"$1.mbio-new" && chmod 600 "$1.mbio-new" && mv "$1.mbio-new" "$1"
  say "changed $1"
  changed=$((changed + 1))
}
nft -c -f - <<<"$rules" || die "the generated ruleset does not parse (see above)"
write /etc/mbio/firewall.nft "$rules" || true
if write /etc/systemd/system/mbio-firewall.service "$unit"; then chmod 644 /etc/systemd/system/mbio-firewall.service; systemctl daemon-reload; fi
systemctl is-enabled --quiet mbio-firewall.service 2>/dev/null || { systemctl enable mbio-firewall.service >/dev/null 2>&1; say "changed mbio-firewall.service enabled"; changed=$((changed + 1)); }

# Loaded when the file changed or the live table differs from it (e.g. someone flushed the ruleset).
live="$(nft list table inet mbio_firewall 2>/dev/null | grep -c . || true)"
if [ "$changed" -gt 0 ] || [ "$live" = 0 ]; then
  nft -f /etc/mbio/firewall.nft
  say "changed rules loaded (SSH from ${admin[*]}; private ${private[*]} tcp ${tcp[*]} udp ${udp[*]}; edge $EDGE)"
  changed=$((changed + 1))
else
  say "unchanged rules"
fi
say "done, $changed change(s)"
