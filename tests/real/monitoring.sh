#!/usr/bin/env bash
# TigMonitoring for real, on the host (no sandbox lock needed; everything on loopback, removed at exit):
#   1. the built slim Telegraf accepts the deployed configs (`telegraf --test`, only inputs it has)
#   2. InfluxDB (Debian's 1.6.7 package) started by the stack's own entrypoint: database, retention policy
#      and users created, auth on, idempotent (started twice)
#   3. the real Telegraf writes into it (host inputs, Docker, Traefik's metrics from a real Traefik, a
#      certificate), the backup agent's metric() writes into it, and EVERY dashboard panel query and EVERY
#      alert rule query runs against it and returns series (listed)
#   4. the Grafana provisioning files have the structure Grafana documents
#   5. bad input: an unknown contact point type is a config error naming the key
# jq programs in single quotes use jq's own $variables:
# shellcheck disable=SC2016
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/env.sh
source "$root/scripts/lib/env.sh"
passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); printf '  ok    %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf '  FAIL  %s\n' "$*"; }
check() { local what="$1" o; shift; if o="$("$@" 2>&1)"; then ok "$what"; else bad "$what: $(head -c 400 <<<"$o")"; fi; }
work="$(mktemp -d /tmp/mbio-monitoring-test.XXXXXX)"
pids=()
container=""
cleanup() { [ -z "$container" ] || docker rm -f "$container" >/dev/null 2>&1; [ -z "${MONITORING_KEEP:-}" ] || { echo "kept $work; influx port $influx_port"; sleep "$MONITORING_KEEP"; }; for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

ensure_node && ensure_node_modules >/dev/null
t0=$(date +%s)
# ---- tools: the slim Telegraf (cached by version) and Debian's InfluxDB 1.6.7 (cached .debs) ----------
telegraf="$(bash "$root/images/telegraf/prepare.sh" | tail -n1)" || { echo "monitoring: 0 passed, 1 failed (telegraf build)"; exit 1; }
influx_root="$MBIO_CACHE/influxdb-deb/root"
if [ ! -x "$influx_root/usr/bin/influxd" ]; then
  mkdir -p "$MBIO_CACHE/influxdb-deb" && (cd "$MBIO_CACHE/influxdb-deb" && apt-get download influxdb influxdb-client >/dev/null 2>&1 && for f in *.deb; do dpkg -x "$f" root; done)
fi
[ -x "$influx_root/usr/bin/influxd" ] || { echo "monitoring: 0 passed, 1 failed (influxdb package)"; exit 1; }
export PATH="$influx_root/usr/bin:$PATH"
# The Traefik the edge's images/traefik builds (cached by version); without it the edge queries are skipped.
traefik="$(find "$MBIO_CACHE/go-bin" -path '*/traefik-v3*/traefik' -type f 2>/dev/null | sort | tail -n1)"
echo "telegraf $("$telegraf" --version | awk '{print $2}') ($(du -m "$telegraf" | cut -f1) MB), influxd $(influxd version 2>/dev/null | awk '{print $2}'), traefik ${traefik:+$("$traefik" version | awk '/^Version/ {print $2}')}"

# ---- render everything from the deployed code -------------------------------------------------------
influx_port="$(free_port)" metrics_port="$(free_port)" web_port="$(free_port)" backend_port="$(free_port)"
(cd "$root" && npx tsc -p tsconfig.json --outDir "$work/js" --noEmit false) || bad "TypeScript compiles"
cp -r "$root/components/files" "$work/js/components/"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=monitoring.local.mbiosphere.test" \
  -days 10 -keyout "$work/cert.key" -out "$work/cert.pem" >/dev/null 2>&1
NODE_PATH="$root/node_modules" node "$work/js/tests/real/monitoring-render.js" "$work/out" "http://127.0.0.1:$influx_port" \
  "${traefik:+http://127.0.0.1:$metrics_port/metrics}" "file://$work/cert.pem" || bad "render provisioning and configs"
rendered="$work/out"

# ---- 1. telegraf --test with the deployed configs --------------------------------------------------
for role in node cluster; do
  # Runs every input once and prints what it gathered; a plugin missing from the build is a config error.
  if NODE_HOSTNAME=test ENVIRONMENT=local INFLUX_PASSWORD=x "$telegraf" --config "$rendered/deployed/etc/telegraf/$role.conf" --test >"$work/test-$role.out" 2>&1; then
    ok "telegraf --test accepts the deployed $role config ($(grep -c '^> ' "$work/test-$role.out") metrics gathered)"
  elif grep -q "undefined but requested\|unknown\|Error loading config" "$work/test-$role.out"; then
    bad "telegraf --test rejects the deployed $role config:"; sed 's/^/        /' "$work/test-$role.out" | head -20
  else
    # Inputs that cannot reach their targets here (tasks.edge_traefik, the edge hosts) fail at gather time,
    # after the config was accepted.
    ok "telegraf --test loads the deployed $role config; unreachable targets here: $(grep -c 'E! ' "$work/test-$role.out") error line(s)"
  fi
done

# ---- 2. InfluxDB through the stack's entrypoint, twice ----------------------------------------------
umask 077
for u in admin writer reader; do head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$work/$u.pw"; done
umask 022
start_influx() {
  env INFLUXDB_PORT="$influx_port" INFLUXDB_HTTP_BIND_ADDRESS="127.0.0.1:$influx_port" INFLUXDB_BIND_ADDRESS="127.0.0.1:$(free_port)" \
    INFLUXDB_META_DIR="$work/influx/meta" INFLUXDB_DATA_DIR="$work/influx/data" INFLUXDB_DATA_WAL_DIR="$work/influx/wal" \
    INFLUXDB_DB=mbio INFLUXDB_RP=platform INFLUXDB_RP_DURATION=30d INFLUXDB_ADMIN_USER=admin INFLUXDB_WRITER_USER=writer INFLUXDB_READER_USER=reader \
    INFLUXDB_ADMIN_PASSWORD_FILE="$work/admin.pw" INFLUXDB_WRITER_PASSWORD_FILE="$work/writer.pw" INFLUXDB_READER_PASSWORD_FILE="$work/reader.pw" \
    READY_FILE="$work/influx.ready" sh "$rendered/deployed/opt/mbio-monitoring/influxdb.sh" >>"$work/influx.log" 2>&1 &
  influx_pid=$!
  pids+=("$influx_pid")
  local i=0
  until [ -f "$work/influx.ready" ] || [ "$i" -ge 120 ]; do sleep 0.5; i=$((i + 1)); done
  [ -f "$work/influx.ready" ]
}
iq() { # user query → JSON (credentials from the environment, never the command line)
  INFLUX_USERNAME="$1" INFLUX_PASSWORD="$(cat "$work/$1.pw")" influx -host 127.0.0.1 -port "$influx_port" -database mbio -format json -execute "$2"
}
# Not through check(): start_influx records the process in this shell.
if start_influx; then ok "InfluxDB entrypoint: first start creates database, retention policy and users, then reports ready"; else bad "InfluxDB first start: $(tail -5 "$work/influx.log")"; fi
kill "$influx_pid"; wait "$influx_pid" 2>/dev/null
rm -f "$work/influx.ready"
if start_influx; then ok "InfluxDB entrypoint: second start on the same data is ready again (idempotent)"; else bad "InfluxDB second start: $(tail -5 "$work/influx.log")"; fi
check "auth on: a query without credentials is refused" bash -c "! influx -host 127.0.0.1 -port $influx_port -execute 'SHOW DATABASES' 2>&1 | grep -q '\"mbio\"\\|mbio'"
rp_default() { local r; r="$(iq admin 'SHOW RETENTION POLICIES ON mbio')"; echo "$r"; grep -q '"platform","720h0m0s","24h0m0s",1,true' <<<"$r"; }
writer_cannot_read() { local r; r="$(iq writer 'SHOW MEASUREMENTS' 2>&1)"; echo "$r"; grep -q 'not authorized' <<<"$r"; }
check "retention policy platform (30d = 720h0m0s) is the default" rp_default
check "the reader cannot write" bash -c "! curl -fsS -u reader:\$(cat $work/reader.pw) -XPOST 'http://127.0.0.1:$influx_port/write?db=mbio' --data-binary 'x v=1'"
check "the writer cannot read" writer_cannot_read

# ---- 3. data: Traefik with real traffic, Telegraf, the backup agent's metric() --------------------------
if [ -n "$traefik" ]; then
  python3 - "$backend_port" >"$work/backend.log" 2>&1 <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 500 if self.path.startswith("/fail") else 200
        self.send_response(code); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
  pids+=($!)
  cat >"$work/dynamic.yaml" <<EOF
http:
  routers:
    demo: { rule: "PathPrefix(\`/\`)", entryPoints: [web], service: demo }
  services:
    demo: { loadBalancer: { servers: [{ url: "http://127.0.0.1:$backend_port" }] } }
EOF
  "$traefik" --entryPoints.web.address="127.0.0.1:$web_port" --entryPoints.metrics.address="127.0.0.1:$metrics_port" \
    --metrics.prometheus.entryPoint=metrics --metrics.prometheus.addServicesLabels=true --providers.file.filename="$work/dynamic.yaml" \
    --log.level=ERROR >"$work/traefik.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 60); do curl -fs -o /dev/null "http://127.0.0.1:$web_port/" && break; sleep 0.5; done
  # Bounded traffic on loopback: 40 good requests and 10 that the backend answers 500.
  for i in $(seq 1 40); do curl -s -o /dev/null "http://127.0.0.1:$web_port/ok/$i"; done
  for i in $(seq 1 10); do curl -s -o /dev/null "http://127.0.0.1:$web_port/fail/$i"; done
fi
# A container of our own for the Docker input to see (the host may run none); removed at exit.
base="mbio-sandbox/debian:bookworm"
if docker image inspect "$base" >/dev/null 2>&1; then
  container="mbio-monitoring-test-$$"
  docker run -d --rm --name "$container" --label mbio.test=monitoring "$base" sleep 300 >/dev/null || container=""
fi
for role in node cluster; do
  sed "s/127.0.0.1:8888/127.0.0.1:$(free_port)/" "$rendered/telegraf-test-$role.conf" >"$work/telegraf-$role.conf"
  NODE_HOSTNAME="$(hostname)" ENVIRONMENT=local INFLUX_PASSWORD_FILE="$work/writer.pw" TELEGRAF_CONFIG="$work/telegraf-$role.conf" \
    PATH="$(dirname "$telegraf"):$PATH" sh "$rendered/deployed/opt/mbio-monitoring/telegraf.sh" >"$work/telegraf-$role.log" 2>&1 &
  pids+=($!)
  [ "$role" != node ] || node_telegraf=$!
done
# The backup agent's own metric() (components/files/backup/lib.sh) with the environment S3Backup gives it.
(
  # shellcheck source=components/files/backup/lib.sh
  source "$root/components/files/backup/lib.sh"
  NODE_NAME="$(hostname)"
  export ENVIRONMENT=local NODE_NAME INFLUX_URL="http://127.0.0.1:$influx_port" INFLUX_DB=mbio INFLUX_RP=platform INFLUX_USER=writer INFLUX_PASSWORD_FILE="$work/writer.pw"
  metric "kind=volume,target=demo_data" "success=1i,errors=0i,duration_seconds=1.5,bytes_added=2048i,bytes_processed=4096i,files_new=1i,files_changed=0i,last_success=$(date +%s)i"
  metric "kind=run,target=all" "success=1i,errors=0i,items=1i,duration_seconds=2"
) 2>"$work/metric.err"
check "backup agent metric() writes to InfluxDB 1.x with no warning" test ! -s "$work/metric.err"
# Samples every 2 s: a second burst of traffic between scrapes gives the counters a difference.
sleep 8
if [ -n "$traefik" ]; then for i in $(seq 1 5); do curl -s -o /dev/null "http://127.0.0.1:$web_port/fail/more$i"; done; fi
sleep 8

# ---- every dashboard panel query and every alert rule query returns series -------------------------
echo "queries (where | range | series returned):"
while IFS=$'\t' read -r where range query; do
  [ -n "$where" ] || continue
  result="$(iq reader "$query" 2>&1)"
  n="$(jq -r '[.results[]?.series[]?] | length' <<<"$result" 2>/dev/null || echo 0)"
  case "$query" in
    *docker_swarm*)
      # gather_services needs a Swarm manager's API: the host engine is not one.
      if [ "$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null)" != true ]; then
        skipped=$((skipped + 1)); printf '  SKIP  %s: needs a Swarm manager (the host engine is not one)\n' "$where"; continue
      fi ;;
    *traefik_*)
      [ -n "$traefik" ] || { skipped=$((skipped + 1)); printf '  SKIP  %s: no Traefik binary in %s/go-bin\n' "$where" "$MBIO_CACHE"; continue; } ;;
  esac
  if [ "${n:-0}" -gt 0 ] 2>/dev/null; then
    ok "$where | ${range}s | $n series"
  else
    bad "$where | ${range}s | no series: $(head -c 300 <<<"$result")"
  fi
done <"$rendered/queries.tsv"

# Node down: a host that stops reporting keeps its series with trailing 0 buckets (fill(0)), which the
# node-down rule reads. Stop the node Telegraf and look at 5 s buckets of the rule's query.
kill "$node_telegraf" 2>/dev/null; sleep 12
down_query="$(awk -F'\t' '$1 ~ /^rule node-down/ {print $3}' "$rendered/queries.tsv" | sed 's/time(1m)/time(5s)/')"
last_bucket() { iq reader "$down_query" | jq -e '.results[0].series[0].values | .[-1][1] == 0 and (map(.[1]) | max) > 0'; }
check "node down: a silent host's series ends in 0 buckets (what the node-down rule alerts on)" last_bucket

# The alert threshold on that data: the 10-day certificate is inside the 14-day window.
expiry="$(iq reader 'SELECT min("expiry") FROM "x509_cert"' | jq -r '.results[0].series[0].values[0][1]')"
check "certificate expiry seen by Telegraf (${expiry}s) is below the alert's 14 days" test "${expiry%.*}" -lt $((14 * 86400))

# ---- 4. Grafana provisioning structure (jq programs: $ is jq's, not the shell's) ------------------ -----------------------------------------------------------------
p="$rendered/provisioning"
rules="$p/alerting/rules.json"
check "rules file: apiVersion 1, groups with orgId, name, folder, interval" jq -e '.apiVersion == 1 and (.groups | length > 0) and all(.groups[]; .orgId and .name and .folder and .interval)' "$rules"
check "rules: intervals are multiples of 10 s" jq -e 'all(.groups[]; (.interval | test("^[0-9]+s$")) and ((.interval | rtrimstr("s") | tonumber) % 10 == 0))' "$rules"
check "rules: every rule has uid, title, condition, data, for, labels, annotations, noDataState, execErrState" \
  jq -e 'all(.groups[].rules[]; .uid and .title and .condition and (.data | length > 0) and .for and .labels and .annotations.summary and (.noDataState | IN("OK","Alerting","NoData")) and (.execErrState | IN("OK","Alerting","Error")))' "$rules"
check "rules: condition refId exists in data" jq -e 'all(.groups[].rules[]; .condition as $c | [.data[].refId] | index($c) != null)' "$rules"
check "rules: expressions refer to refIds of the same rule" jq -e 'all(.groups[].rules[]; [.data[].refId] as $ids | all(.data[] | select(.datasourceUid == "__expr__") | .model.expression | [scan("[A-Z]")] | .[]; . as $r | $ids | index($r) != null))' "$rules"
check "rules: every query has refId, datasourceUid and relativeTimeRange.from > to" jq -e 'all(.groups[].rules[].data[]; .refId and .datasourceUid and (.relativeTimeRange.from > .relativeTimeRange.to) and .model.refId == .refId)' "$rules"
check "rules: unique uids (at most 40 characters) and titles" jq -e '[.groups[].rules[]] | (map(.uid) | unique | length) == length and (map(.title) | unique | length) == length and all(.[]; .uid | length <= 40)' "$rules"
check "rules: datasource queries use the provisioned datasource uid" jq -e --arg ds "$(jq -r '.datasources[0].uid' "$p/datasources/influxdb.yaml")" 'all(.groups[].rules[].data[]; .datasourceUid == "__expr__" or .datasourceUid == $ds)' "$rules"
check "rules: the seven alerts exist" jq -e '[.groups[].rules[].uid] | sort == (["backup-stale","certificate-expiring","disk-full","edge-5xx-ratio","memory-high","node-down","service-below-desired"])' "$rules"
check "datasource: apiVersion 1, influxdb, fixed uid, password from a file, no secret inline" \
  jq -e '.apiVersion == 1 and (.datasources[0] | .type == "influxdb" and .uid == "mbio-influxdb" and .access == "proxy" and .database and .user and (.secureJsonData.password | startswith("$__file{")))' "$p/datasources/influxdb.yaml"
check "dashboard provider: apiVersion 1, type file, path under provisioning" jq -e '.apiVersion == 1 and all(.providers[]; .type == "file" and (.options.path | startswith("/etc/grafana/provisioning/dashboards")))' "$p/dashboards/mbio-cloud.yaml"
check "dashboards: unique uids and titles, every panel queries the datasource by uid" bash -c "jq -s -e '(map(.uid) | unique | length) == length and (map(.title) | unique | length) == length and all(.[].panels[] | select(.type != \"row\"); (.targets | length > 0) and all(.targets[]; .datasource.uid == \"mbio-influxdb\" and .rawQuery == true and (.query | length > 0)))' $p/dashboards/json/*.json"
check "contact points: apiVersion 1, webhook has url, email has addresses, policy routes to the receiver" \
  jq -e '.apiVersion == 1 and all(.contactPoints[].receivers[]; (.type == "webhook" and .settings.url) or (.type == "email" and .settings.addresses)) and (.policies[0].receiver == .contactPoints[0].name)' "$p/alerting/contact-points.json"

# ---- 5. bad input ------------------------------------------------------------------------------------------
msg="$(NODE_PATH="$root/node_modules" node -e '
const { monitoringSchema } = require(process.argv[1] + "/components/config/monitoring.js");
const r = monitoringSchema.safeParse({ contactPoints: [{ name: "pager", type: "pagerduty" }] });
console.log(r.success ? "accepted" : r.error.issues.map((i) => i.path.join(".") + ": " + i.message).join("; "));' "$work/js" 2>&1)"
check "unknown contact point type refused naming the key: $msg" grep -q "contactPoints.0.type: is not a contact point type .* webhook, email" <<<"$msg"

echo "monitoring: took $(($(date +%s) - t0)) s"
echo "monitoring: $passed passed, $failed failed ($skipped skipped)"
[ "$failed" -eq 0 ]
