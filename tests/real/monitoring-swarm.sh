#!/usr/bin/env bash
# The monitoring stack deployed for real on a private one-machine Swarm (a machine container from the
# sandbox's machine image on a network of our own; no sandbox lock), from the offline-built images
# (images/influxdb, images/telegraf), with the Compose document, configs and secrets TigMonitoring renders,
# through the stack-deploy.sh SwarmStack runs. Proves what the host test cannot: the stack converges
# (healthchecks), InfluxDB's init runs before Telegraf writes, Telegraf reads the Docker socket as
# telegraf:<docker gid>, and the Swarm queries (docker_swarm: services desired vs running) return series.
# Grafana is not deployed (no image offline) — said in the output. Everything is named mbio-monitoring-test*.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=sandbox/lib.sh
. "$root/sandbox/lib.sh"
passed=0 failed=0
ok() { passed=$((passed + 1)); printf '  ok    %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf '  FAIL  %s\n' "$*"; }
P=mbio-monitoring-test
SUBNET_T="${MONITORING_TEST_SUBNET:-172.31.242.0/24}"
IP="${SUBNET_T%.*}.11"
M="$P-1"
work="$(mktemp -d)"
down() {
  docker rm -f "$M" >/dev/null 2>&1 || true
  docker volume rm -f "$M-docker" >/dev/null 2>&1 || true
  docker network rm "$P" >/dev/null 2>&1 || true
  docker rmi "$P/influxdb:test" "$P/telegraf:test" >/dev/null 2>&1 || true
}
trap 'down; rm -rf "$work"' EXIT
mx() { docker exec -i "$M" "$@"; }
t0=$(date +%s)

require_docker
ensure_node_modules >/dev/null
machine_image="$(sandbox_machine_image)"
if ! image_exists "$BASE_IMAGE" || [ -z "$machine_image" ]; then
  echo "monitoring-swarm: the sandbox base and machine images are missing (run sandbox/up.sh once)"
  echo "monitoring-swarm: 0 passed, 1 failed"; exit 1
fi
down
for name in influxdb telegraf; do
  dir="$root/images/$name"
  if [ -f "$dir/prepare.sh" ]; then bash "$dir/prepare.sh" >"$work/prepare-$name.log" 2>&1 || { bad "images/$name/prepare.sh"; cat "$work/prepare-$name.log"; }; fi
  if DOCKER_BUILDKIT=0 docker build -q --label "$P=1" --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$P/$name:test" "$dir" >"$work/build-$name.log" 2>&1; then
    ok "images/$name builds offline from the sandbox base ($(docker image inspect -f '{{.Size}}' "$P/$name:test" | awk '{printf "%d MB", $1/1e6}'))"
  else bad "images/$name build:"; tail -5 "$work/build-$name.log"; fi
done
docker network create --subnet "$SUBNET_T" --label "$P=1" "$P" >/dev/null
docker_run_machine "$M" "$machine_image" --label "$P=1" \
  --network "$P" --ip "$IP" --mount "type=volume,source=$M-docker,target=/var/lib/docker,volume-label=$P=1"
WAIT_EVERY=1 wait_for "docker in $M" 90 mx docker info || bad "docker did not start in $M"
mx docker swarm init --advertise-addr "$IP" >/dev/null 2>&1
mx env NETWORK=local-platform ENCRYPTED=false bash -c "$(cat "$root/components/files/swarm/network.sh")" network.sh >/dev/null 2>&1
docker save "$P/influxdb:test" "$P/telegraf:test" | mx docker load >/dev/null
gid="$(mx getent group docker | cut -d: -f3)"

pw() { head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9'; }
args="$(jq -n --arg i "$P/influxdb:test" --arg t "$P/telegraf:test" --argjson gid "$gid" --arg a "$(pw)" --arg w "$(pw)" --arg r "$(pw)" --arg g "$(pw)" \
  '{images: {influxdb: $i, telegraf: $t}, dockerGid: $gid, networkName: "local-platform",
    passwords: {influxdb_admin_password: $a, influxdb_writer_password: $w, influxdb_reader_password: $r, grafana_admin_password: $g}}')"
(cd "$root" && npx tsc -p tsconfig.json --outDir "$work/js" --noEmit false) || bad "TypeScript compiles"
cp -r "$root/components/files" "$work/js/components/"
NODE_PATH="$root/node_modules" node "$work/js/tests/real/monitoring-stack-render.js" "$args" >"$work/render.json" || bad "render the stack"
n="$(jq '.objects | length' "$work/render.json")"
for i in $(seq 0 $((n - 1))); do
  jq -j ".objects[$i].content" "$work/render.json" | mx env KIND="$(jq -r ".objects[$i].kind" "$work/render.json")" NAME="$(jq -r ".objects[$i].name" "$work/render.json")" \
    LABEL=mbio.component=monitoring bash -c "$(cat "$root/components/files/swarm/swarm-object.sh")" swarm-object.sh 2>/dev/null
done
echo "  note  Grafana is not deployed: its image (AGPL, upstream only) cannot be had offline; monitoring.grafana=false"
t1=$(date +%s)
if jq '.compose' "$work/render.json" | mx env STACK=monitoring TIMEOUT=150 bash -c "$(cat "$root/components/files/swarm/stack-deploy.sh")" stack-deploy.sh >"$work/deploy.log" 2>&1; then
  ok "monitoring stack converges on a Swarm in $(($(date +%s) - t1)) s: $(grep -c '^monitoring_' "$work/deploy.log") services healthy ($(grep '^monitoring_' "$work/deploy.log" | awk '{print $1 " " $2}' | paste -sd, -))"
else
  bad "monitoring stack did not converge:"; tail -15 "$work/deploy.log"
  mx docker service ps --no-trunc monitoring_influxdb monitoring_telegraf monitoring_telegraf-cluster 2>&1 | head -6
  for s in telegraf telegraf-cluster; do mx docker service logs --tail 5 "monitoring_$s" 2>&1; done
fi
# docker stack deploy re-submits every service (its version index moves); what must not change is the tasks.
versions() { mx docker service ps -q --filter desired-state=running monitoring_influxdb monitoring_telegraf monitoring_telegraf-cluster </dev/null | sort | paste -sd' ' -; }
before="$(versions)"
if jq '.compose' "$work/render.json" | mx env STACK=monitoring TIMEOUT=120 bash -c "$(cat "$root/components/files/swarm/stack-deploy.sh")" stack-deploy.sh >"$work/deploy2.log" 2>&1 &&
  [ "$before" = "$(versions)" ]; then
  ok "deploying the same document again restarts no task ($(wc -w <<<"$before") tasks kept)"
else bad "second deploy: $before → $(versions)"; fi

influx_task="$(mx docker ps -q --filter label=com.docker.swarm.service.name=monitoring_influxdb | head -n1)"
reader_pw="$(jq -r '.passwords.influxdb_reader_password' <<<"$args")"
iq() { docker exec "$M" docker exec -e INFLUX_USERNAME=reader -e INFLUX_PASSWORD="$reader_pw" "$influx_task" influx -database mbio -format json -execute "$1" </dev/null; }
logs="$(mx docker service logs monitoring_influxdb 2>&1)"
if grep -q "database mbio (retention platform 30d) and users ready" <<<"$logs"; then ok "InfluxDB init: database, retention policy and users before it reports healthy"; else bad "InfluxDB init log: $(tail -3 <<<"$logs")"; fi
# Samples every 10 s: wait for two rounds.
sleep 25
(cd "$root" && NODE_PATH="$root/node_modules" node "$work/js/tests/real/monitoring-render.js" "$work/out" http://unused "" file:///dev/null) >/dev/null
while IFS=$'\t' read -r where range query; do
  case "$query" in *docker_swarm*|*docker_container_status*|*'"system"'*|*'"cpu"'*) ;; *) continue ;; esac
  n="$(iq "$query" 2>/dev/null | jq -r '[.results[]?.series[]?] | length' 2>/dev/null || echo 0)"
  if [ "${n:-0}" -gt 0 ] 2>/dev/null; then ok "on the Swarm: $where | ${range}s | $n series"; else bad "on the Swarm: $where | no series"; fi
done <"$work/out/queries.tsv"
rule_query="$(awk -F'\t' '$1 ~ /^rule service-below-desired/ {print $3}' "$work/out/queries.tsv")"
raw="$(iq "$rule_query")"
missing="$(jq -c '[.results[].series[]? | {key: .tags.service_name, value: (.values | map(.[1]) | last)}] | from_entries' <<<"$raw")"
if [ -n "$missing" ] && jq -e 'all(.[]; . == 0) and has("monitoring_influxdb") and has("monitoring_telegraf")' <<<"$missing" >/dev/null; then
  ok "service-below-desired reads 0 missing tasks for every service: $missing"; else bad "missing tasks: $missing (raw: $(head -c 600 <<<"$raw"))"; fi
check_user="$(mx docker service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.User}}' monitoring_telegraf)"
if [ "$check_user" = "telegraf:$gid" ]; then ok "Telegraf runs as telegraf:$gid (the docker group of the node)"; else bad "telegraf user $check_user"; fi

echo "monitoring-swarm: took $(($(date +%s) - t0)) s"
echo "monitoring-swarm: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
