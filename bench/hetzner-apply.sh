#!/usr/bin/env bash
# Hetzner-shaped `pulumi up` from empty (tests/real/lib/hetzner-sim.sh: the program through the real hcloud provider
# onto the emulator's machines) and the share of it spent waiting for machines: from each machine's container start
# (the server's creation) to cloud-init's boot-finished inside it (systemd boot + the provider's user-data),
# counted once where machines overlap. Then destroy. Writes the "Hetzner-shaped apply" section of
# docs/benchmarks.md.
#   bench/hetzner-apply.sh [MANAGERS WORKERS]   default 3 2 (staging's size)
set -euo pipefail
# shellcheck source=scripts/lib/pulumi-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/pulumi-env.sh"
cd "$MBIO_ROOT"
# shellcheck source=bench/lib.sh
. "$MBIO_ROOT/bench/lib.sh"
HZ_PREFIX=hz-bench HZ_SUBNET=198.18.6.0/24
# shellcheck source=tests/real/lib/hetzner-sim.sh
. "$MBIO_ROOT/tests/real/lib/hetzner-sim.sh"

MANAGERS="${1:-3}" WORKERS="${2:-2}"
[[ "$MANAGERS" =~ ^[135]$ ]] || die "MANAGERS must be 1, 3 or 5"
[[ "$WORKERS" =~ ^[0-9]$ ]] || die "WORKERS must be 0 to 9"
work="$(mktemp -d)"
cleanup() { hz_down; rm -rf "$work"; }
trap cleanup EXIT

ensure_docker
ensure_node_modules
ensure_pulumi
hz_up "$work" "$MANAGERS" "$WORKERS" >"$work/setup.log" 2>&1 || { tail -20 "$work/setup.log"; die "setup failed"; }
log "pulumi up from empty: $MANAGERS managers + $WORKERS workers"
start="$(date +%s.%N)"
hz_pulumi up --yes --skip-preview >"$work/up.log" 2>&1 || { tail -30 "$work/up.log"; die "pulumi up failed"; }
end="$(date +%s.%N)"

# Per machine: container start → cloud-init's boot-finished (epoch seconds), then their union.
for id in $(hz_machines); do
  name="$(docker inspect -f '{{.Name}}' "$id")"
  from="$(date -d "$(docker inspect -f '{{.State.StartedAt}}' "$id")" +%s.%N)"
  to="$(docker exec "$id" stat -c %.9Y /var/lib/cloud/instance/boot-finished)"
  echo "$from $to ${name#/}"
done | sort -n >"$work/windows"
read -r total waiting machines < <(awk -v s="$start" -v e="$end" '
  { if ($1 > cur) { sum += $2 - $1; cur = $2 } else if ($2 > cur) { sum += $2 - cur; cur = $2 }; n++ }
  END { printf "%.0f %.0f %d\n", e - s, sum, n }' "$work/windows")
per_machine="$(awk '{ printf "%s%s %.0f s", sep, $3, $2 - $1; sep = ", " }' "$work/windows")"
log "up: ${total}s; machines booting and running cloud-init: ${waiting}s ($machines machines: $per_machine)"

t=$SECONDS
hz_pulumi destroy --yes --skip-preview >"$work/destroy.log" 2>&1 || { tail -30 "$work/destroy.log"; die "pulumi destroy failed"; }
destroy=$((SECONDS - t))

write_bench_section "Hetzner-shaped apply (bench/hetzner-apply.sh)" "$(cat <<EOF
Measured $(date -u +%Y-%m-%d) on $(machine_description), commit $(git rev-parse --short HEAD).
The program with machineSource hetzner through the real hcloud provider onto the Hetzner API emulator's machines
(tests/real/lib/hetzner-sim.sh; docs/sandbox.md), $MANAGERS managers + $WORKERS workers, from an empty project:

| step | seconds |
| --- | --- |
| \`pulumi up\` from empty | $total |
| of which machines booting and running cloud-init (container start → cloud-init boot-finished, overlaps counted once) | $waiting ($((waiting * 100 / total)) %) |
| \`pulumi destroy\` | $destroy |

Per machine, start → boot-finished: $per_machine. Servers are created one after another (each waits for the
previous node to be healthy: components/machines/hetzner.ts), but on a first apply that wait is short (no Swarm
yet: node-healthy.sh has nothing to wait for), so the boots overlap; the table counts their union. The machine
started first boots fastest: the later ones boot while the host is busy with the earlier ones' cloud-init and
the Pulumi engine (2 shared cores). On Hetzner a server's boot takes longer than a container's (a VM, and
cloud-init's apt against a real mirror).
EOF
)"
