#!/usr/bin/env bash
# The disaster drill for a whole environment (docs/disaster-recovery.md, "Rebuild a whole environment"):
#   known application data (stack `drill`: the journal's volume, a PostgreSQL database) → backup by the
#   deployed backup agent → `pulumi destroy` (machines gone; in the sandbox also wiped) → `pulumi up` →
#   the documented restore from this workstation (tools/mbio-restore) → checksums and row counts compared.
# Prints the RTO: from the destroy to the data verified. Run it regularly against development.
#
#   scripts/disaster-drill.sh STACK --yes [--identity FILE]
#
# STACK: development, staging or local (the sandbox). production is refused. --yes: the stack is destroyed
# and rebuilt; nothing else runs on it meanwhile. Needs pulumi, ssh, jq; the stack must back up
# (mbio-cloud:backup.enabled) and pin the drill's images (mbio-cloud:images.journal, .drill-postgres: built
# from images/ by the image pipeline, or by sandbox/up.sh). MBIO_SSH_OPTIONS: extra ssh options.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" # pulumi (and tools/mbio-restore's pulumi) read the stack from the project directory
# shellcheck source=scripts/lib/drill-app.sh
. "$ROOT/scripts/lib/drill-app.sh"

usage() { sed -n '2,14s/^# \{0,1\}//p' "$0"; }
stack="" yes=0 identity=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --yes) yes=1; shift ;;
    --identity) identity="${2:?--identity needs a key file}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "error: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) [ -z "$stack" ] || { echo "error: one stack only" >&2; exit 2; }; stack="$1"; shift ;;
  esac
done
[ -n "$stack" ] || { usage >&2; exit 2; }
case "$stack" in
  production) echo "error: the disaster drill destroys the stack it runs on: never production (run it against development)" >&2; exit 2 ;;
  development | staging | local) ;;
  *) echo "error: stack '$stack' is not development, staging or local" >&2; exit 2 ;;
esac
[ "$yes" = 1 ] || { echo "error: this destroys and rebuilds stack $stack; pass --yes to go ahead" >&2; exit 2; }

if [ "$stack" = local ]; then
  # shellcheck source=scripts/lib/local-stack.sh
  . "$ROOT/scripts/lib/local-stack.sh"
  identity="${identity:-$SSH_KEY}"
  MBIO_SSH_OPTIONS="${MBIO_SSH_OPTIONS:--o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR}"
fi
export MBIO_SSH_OPTIONS="${MBIO_SSH_OPTIONS:-}"
pl() { (cd "$ROOT" && pulumi --non-interactive "$@" --stack "$stack"); }
say() { printf '[disaster-drill %s] %s\n' "$(date -u +%T)" "$*"; }
die() { printf '[disaster-drill] error: %s\n' "$*" >&2; exit 1; }
ssh_opts=(-o BatchMode=yes -o ConnectTimeout=10)
[ -z "$identity" ] || ssh_opts+=(-i "$identity" -o IdentitiesOnly=yes)
read -ra extra <<<"$MBIO_SSH_OPTIONS"
ssh_opts+=("${extra[@]}")
user="$(pl config get mbio-cloud:sshUser 2>/dev/null || echo root)"
# shellcheck disable=SC2029 # commands are composed here on purpose and run on the node
on() { local host="$1"; shift; ssh "${ssh_opts[@]}" "$user@$host" "$@"; }
restore_tool() { "$ROOT/tools/mbio-restore" --stack "$stack" ${identity:+--identity "$identity"} --ssh "$user@$node_ip" "$@"; }

# ---- preflight: what the drill needs, named before anything changes -------------------------------------
[ "$(pl config get mbio-cloud:backup 2>/dev/null | jq -r .enabled)" = true ] || die "Pulumi.$stack.yaml: mbio-cloud:backup.enabled is not true: nothing would be backed up"
images="$(pl config get mbio-cloud:images)"
journal_image="$(jq -r '.journal // empty' <<<"$images")"
pg_image="$(jq -r '."drill-postgres" // empty' <<<"$images")"
[ -n "$journal_image" ] || die "Pulumi.$stack.yaml: mbio-cloud:images.journal is missing (the image of images/journal, pinned by digest)"
[ -n "$pg_image" ] || die "Pulumi.$stack.yaml: mbio-cloud:images.drill-postgres is missing (the image of images/drill-postgres, pinned by digest)"
endpoint_mode="$(pl config get mbio-cloud:swarm | jq -r .endpointMode)"

node_facts() {
  nodes="$(pl stack output nodes --json)"
  node_name="$(jq -r '[.[] | select(.role == "manager")][0].name' <<<"$nodes")"
  node_ip="$(jq -r '[.[] | select(.role == "manager")][0].publicIp' <<<"$nodes")"
  network="$(pl stack output networkName)"
  namespace="$(pl stack output dnsNamespace)"
  if [ -z "$node_ip" ] || [ "$node_ip" = null ]; then die "stack $stack has no manager in its outputs: is it up?"; fi
}
# The drill's stack, pinned to the first manager: a `local` volume is found on the same node after the rebuild.
deploy_app() {
  drill_app_compose "$journal_image" "$pg_image" "$network" "journal.$namespace" "$endpoint_mode" "[\"node.labels.mbio.name == $node_name\"]" |
    jq --argjson r "$1" '.services.journal.deploy.replicas = $r' |
    drill_run_script on "$node_ip" "$ROOT/components/files/swarm/stack-deploy.sh" STACK="$DRILL_STACK" TIMEOUT=240 >/dev/null
}
task() { on "$node_ip" "docker ps -q --filter label=com.docker.swarm.service.name=$1 | head -1"; }
psql_app() { on "$node_ip" "docker exec -i $(task "${DRILL_STACK}_db") psql -X -U app -d shop -Atc $(printf '%q' "$1")"; }
fingerprint() {
  local j
  j="$(task "${DRILL_STACK}_journal")"
  printf 'journal %s %s\n' "$(on "$node_ip" "docker exec $j sh -c 'wc -l </data/journal.log'")" "$(on "$node_ip" "docker exec $j sha256sum /data/journal.log" | cut -d' ' -f1)"
  printf 'orders %s %s\n' "$(psql_app 'SELECT count(*) FROM orders')" "$(psql_app "SELECT md5(string_agg(id || ':' || item || ':' || qty, ',' ORDER BY id)) FROM orders")"
}

# ---- 1. known data, backed up ------------------------------------------------------------------------
node_facts
say "stack $stack: drill data on $node_name ($node_ip)"
deploy_app 1
j="$(task "${DRILL_STACK}_journal")"
on "$node_ip" "docker exec $j sh -c 'for n in \$(seq 1 500); do wget -q -O /dev/null --post-data= \"http://127.0.0.1:8080/append?n=\$n\" || exit 1; done'"
on "$node_ip" "docker exec -i $(task "${DRILL_STACK}_db") psql -X -q -U app -d postgres -c 'DROP DATABASE IF EXISTS shop' -c 'CREATE DATABASE shop'"
psql_app "CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL, qty int NOT NULL); INSERT INTO orders SELECT g, 'item-' || g, g % 7 + 1 FROM generate_series(1, 10000) g" >/dev/null
before="$(fingerprint)"
grep -qE '^orders 10000 [0-9a-f]{32}$' <<<"$before" || die "the database fingerprint is incomplete: $before"
say "written: $(tr '\n' ';' <<<"$before")"
agent="$(task backup_agent)"
[ -n "$agent" ] || die "no backup_agent task on $node_name: is the backup stack deployed?"
on "$node_ip" "docker exec $agent /opt/mbio-backup/agent.sh run backup" >/dev/null
restore_tool snapshots --volume "${DRILL_STACK}_data" | tail -2
restore_tool snapshots --database drill-db | tail -2

# ---- 2. the disaster: everything goes ----------------------------------------------------------------
t0=$(date +%s)
say "pulumi destroy --stack $stack"
pl destroy --yes --skip-preview >"${TMPDIR:-/tmp}/disaster-drill-destroy.log" 2>&1 || { grep -iE 'error' "${TMPDIR:-/tmp}/disaster-drill-destroy.log" | head -20; die "pulumi destroy failed (log above)"; }
if [ "$stack" = local ]; then
  # A destroyed Hetzner server is gone with its disks; a sandbox machine is wiped the same way here.
  while read -r id; do docker rm -f -v "$id" >/dev/null; done < <(docker ps -aq --filter "label=$LABEL" --filter label=mbio-sandbox.kind=machine)
  docker volume ls -q --filter "label=$LABEL" --filter label=mbio-sandbox.kind=machine | xargs -r docker volume rm >/dev/null
  say "sandbox machines wiped (containers and their /var/lib/docker volumes)"
fi
t_destroyed=$(date +%s)

# ---- 3. rebuild and restore, the documented way ------------------------------------------------------
say "pulumi up --stack $stack"
if [ "$stack" = local ]; then
  local_stack_prepare 3 >"${TMPDIR:-/tmp}/disaster-drill-prepare.log" 2>&1 || { tail -20 "${TMPDIR:-/tmp}/disaster-drill-prepare.log"; die "sandbox machines did not come back (log above)"; }
fi
pl up --yes --skip-preview >"${TMPDIR:-/tmp}/disaster-drill-up.log" 2>&1 || { grep -iE 'error' "${TMPDIR:-/tmp}/disaster-drill-up.log" | head -20; die "pulumi up failed (log above)"; }
t_up=$(date +%s)
node_facts
# Application stacks first, services with volumes scaled to 0; the database runs (empty) for its restore.
deploy_app 0
restore_tool volume "${DRILL_STACK}_data" --host "$node_name"
restore_tool database drill-db --host "$node_name" --drop-previous
deploy_app 1
after="$(fingerprint)"
t1=$(date +%s)
say "restored: $(tr '\n' ';' <<<"$after")"

on "$node_ip" "docker stack rm $DRILL_STACK" >/dev/null
rto=$((t1 - t0))
say "destroy $((t_destroyed - t0)) s, rebuild (pulumi up) $((t_up - t_destroyed)) s, restore and verify $((t1 - t_up)) s"
if [ "$before" = "$after" ]; then
  say "RTO $rto s (destroy → data verified): journal records and database rows identical"
else
  printf 'before:\n%s\nafter:\n%s\n' "$before" "$after" >&2
  die "restored data differs (RTO would have been $rto s)"
fi
