#!/usr/bin/env bash
# Proves a running sandbox can carry a Swarm, by hand and over SSH like the platform does: swarm init on
# the first machine, joins with --advertise-addr (managers first, then workers, as Pulumi.local.yaml
# says), an unencrypted overlay, a dnsrr service with a healthcheck on every machine, then checks that
# every task answers every other task across machines. Tears the Swarm down afterwards (machines return
# to swarm=inactive) unless --keep.
#
#   sandbox/smoke.sh [--keep] [--limits]
#     --keep     leave the Swarm and the service running
#     --limits   also show the kernel limits: an encrypted overlay and a VIP service pass no traffic
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEEP=0 LIMITS=0
for arg in "$@"; do
  case "$arg" in
    --keep) KEEP=1 ;;
    --limits) LIMITS=1 ;;
    -h | --help) sed -n '2,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$arg'; usage: sandbox/smoke.sh [--keep] [--limits]" ;;
  esac
done
[ -f "$STATE_DIR/machines.json" ] || die "no sandbox: run sandbox/up.sh first"
mapfile -t NAMES < <(jq -r '.[].name' "$STATE_DIR/machines.json")
mapfile -t IPS < <(jq -r '.[].ip' "$STATE_DIR/machines.json")
mapfile -t ROLES < <(jq -r '.[].role' "$STATE_DIR/machines.json")
COUNT=${#IPS[@]}
LEADER=${IPS[0]}
REGISTRY="$(registry_address)"
lead() { machine_ssh "$LEADER" "$@"; }
export DOCKER_BUILDKIT=0

log "smoke image (busybox httpd + curl) in the sandbox registry"
remote="$REGISTRY/mbio-sandbox/smoke:1"
docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" --label "$IMAGE_LABEL=smoke" \
  -t "$remote" "$SANDBOX_DIR/smoke" >/dev/null 2>&1 || die "building sandbox/smoke failed"
digest="$(docker push "$remote" 2>&1 | sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/\1/p')"
[ -n "$digest" ] || die "pushing $remote failed"
IMAGE="$remote@$digest"
note "$IMAGE"

teardown() {
  log "tearing the Swarm down"
  lead 'docker service rm smoke smoke-vip smoke-enc >/dev/null 2>&1; sleep 2; docker network rm smoke smoke-enc >/dev/null 2>&1' || true
  local ip
  for ip in "${IPS[@]}"; do
    machine_ssh "$ip" 'docker swarm leave --force >/dev/null 2>&1; docker network rm docker_gwbridge >/dev/null 2>&1; docker info --format "{{.Name}}: swarm {{.Swarm.LocalNodeState}}"' >&2 || true
  done
}

log "Swarm: init on ${NAMES[0]}, $COUNT node(s)"
state="$(lead docker info --format '{{.Swarm.LocalNodeState}}')"
[ "$state" = inactive ] || die "${NAMES[0]} is already in a Swarm ($state): sandbox/smoke.sh needs a fresh sandbox"
[ "$KEEP" = 1 ] || trap teardown EXIT
lead docker swarm init --advertise-addr "$LEADER" >/dev/null
manager_token="$(lead docker swarm join-token -q manager)"
worker_token="$(lead docker swarm join-token -q worker)"
for i in $(seq 1 $((COUNT - 1))); do
  token=$worker_token
  [ "${ROLES[$i]}" = manager ] && token=$manager_token
  # The platform's own join script, token on stdin: `docker swarm join --token` would put it in two argvs.
  machine_ssh "${IPS[$i]}" 'cat >/tmp/swarm-join.sh' <"$MBIO_ROOT/components/files/swarm/swarm-join.sh"
  machine_ssh "${IPS[$i]}" "MANAGER_ADDR=$LEADER ADVERTISE_ADDR=${IPS[$i]} bash /tmp/swarm-join.sh" <<<"$token" >/dev/null
  note "${NAMES[$i]} joined as ${ROLES[$i]}"
done
lead "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'" | sed 's/^/    /' >&2
ready="$(lead docker node ls --format '{{.Status}}' | grep -c Ready)"
[ "$ready" = "$COUNT" ] || die "only $ready of $COUNT nodes are Ready"

log "unencrypted overlay 'smoke' and a dnsrr service with a healthcheck on every node"
lead docker network create --driver overlay --attachable smoke >/dev/null
lead docker service create --detach --name smoke --network smoke --endpoint-mode dnsrr \
  --mode global --hostname "'{{.Node.Hostname}}'" \
  --health-cmd "'curl -fsS http://127.0.0.1/ >/dev/null'" --health-interval 2s --health-retries 3 \
  "$IMAGE" >/dev/null
deadline=$(($(date +%s) + 120))
until [ "$(lead "docker service ps smoke --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running'")" = "$COUNT" ]; do
  [ "$(date +%s)" -lt "$deadline" ] || { lead docker service ps --no-trunc smoke >&2; die "the smoke service did not run on all $COUNT nodes within 120 s"; }
  sleep 2
done
# Healthy on every machine (the healthcheck runs inside each machine's engine).
for i in $(seq 0 $((COUNT - 1))); do
  deadline=$(($(date +%s) + 60))
  until [[ "$(machine_ssh "${IPS[$i]}" "docker ps --filter label=com.docker.swarm.service.name=smoke --format '{{.Status}}'")" == *"(healthy)"* ]]; do
    [ "$(date +%s)" -lt "$deadline" ] || die "the smoke task on ${NAMES[$i]} did not become healthy within 60 s"
    sleep 1
  done
done
note "smoke: $COUNT task(s) running and healthy"

log "overlay traffic between machines"
fail=0
for i in $(seq 0 $((COUNT - 1))); do
  # From the task on machine i: resolve tasks.smoke and fetch every task's hostname.
  # shellcheck disable=SC2016 # expands on the machine
  answers="$(machine_ssh "${IPS[$i]}" 'c=$(docker ps -q --filter label=com.docker.swarm.service.name=smoke); for ip in $(docker exec "$c" getent ahostsv4 tasks.smoke | cut -d" " -f1 | sort -u); do printf "%s=%s " "$ip" "$(docker exec "$c" curl -fsS --max-time 3 "http://$ip/" || echo FAILED)"; done')"
  got="$(tr ' ' '\n' <<<"$answers" | grep -c '=mbio-sandbox-' || true)"
  note "${NAMES[$i]} -> $answers"
  [ "$got" = "$COUNT" ] || fail=1
done
[ "$fail" = 0 ] || die "some tasks could not reach each other over the overlay"
note "every task reached all $COUNT tasks over the overlay"

if [ "$LIMITS" = 1 ]; then
  log "kernel limits (expected to fail here)"
  lead docker network create --driver overlay --opt encrypted --attachable smoke-enc >/dev/null
  lead docker service create --detach --name smoke-enc --network smoke-enc --endpoint-mode dnsrr --mode global \
    --hostname "'{{.Node.Hostname}}'" "$IMAGE" >/dev/null
  lead docker service create --detach --name smoke-vip --network smoke --replicas 1 "$IMAGE" >/dev/null
  sleep 15
  # shellcheck disable=SC2016 # expands on the machine
  note "encrypted overlay: $(lead 'c=$(docker ps -q --filter label=com.docker.swarm.service.name=smoke-enc); for ip in $(docker exec "$c" getent ahostsv4 tasks.smoke-enc | cut -d" " -f1 | sort -u); do printf "%s=%s " "$ip" "$(docker exec "$c" curl -sS --max-time 3 "http://$ip/" 2>/dev/null || echo no-answer)"; done')"
  # shellcheck disable=SC2016 # expands on the machine
  note "VIP service: $(lead 'c=$(docker ps -q --filter label=com.docker.swarm.service.name=smoke); docker exec "$c" curl -sS --max-time 3 http://smoke-vip/ 2>/dev/null || echo "no answer from the VIP $(docker exec "$c" getent ahostsv4 smoke-vip | head -n1 | cut -d" " -f1)"')"
fi

if [ "$KEEP" = 1 ]; then
  log "smoke passed; the Swarm stays up (--keep)"
else
  log "smoke passed"
fi
