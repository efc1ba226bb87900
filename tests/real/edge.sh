#!/usr/bin/env bash
# Real test of the edge: the edge and demo stacks exactly as components/edge.ts and components/demo-service.ts
# build them, on a private one-machine Swarm (tests/real/lib/edge-env.sh; no sandbox lock), with the offline
# Traefik v3.7.13 build and a local Pebble as the ACME server (http-01 validated against Traefik for real).
# Proves: HTTP redirects to HTTPS; the demo service is served over HTTPS with a certificate Pebble issued;
# security headers; the dashboard refuses without (and with wrong) credentials and answers with them;
# Prometheus metrics at http://tasks.edge_traefik:8082/metrics over the platform network; access log on stdout.
set -euo pipefail
# shellcheck source=tests/real/lib/edge-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/edge-env.sh"

TEST_NAME=edge
# shellcheck source=tests/real/lib/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/check.sh"
trap edge_env_down EXIT
start=$SECONDS
edge_env_up
log "edge test: stacks converged in $((SECONDS - start)) s; checking"

demo="whoami.$ET_NS" dash="traefik.$ET_NS"
et_pebble_root >"$ET_TMP/pebble-root.pem"

# Traefik asks Pebble for the certificate on the first TLS request for a name; allow it to arrive.
https_ok() {
  local i
  for i in $(seq 1 45); do
    et_curl "$demo" -fsS --cacert "$ET_TMP/pebble-root.pem" "https://$demo/" -o "$ET_TMP/demo.html" 2>"$ET_TMP/curl.err" && return 0
    sleep 2
  done
  cat "$ET_TMP/curl.err" >&2
  return 1
}
check "https://$demo answers with a certificate that verifies against Pebble's root" https_ok
check "the demo page is served through the edge" grep -q "mbio-cloud demo service" "$ET_TMP/demo.html"
issuer() { echo | openssl s_client -connect "$ET_IP:443" -servername "$demo" 2>/dev/null | openssl x509 -noout -issuer; }
check "the certificate was issued by Pebble ($(issuer | sed 's/^issuer=//'))" bash -c "[[ '$(issuer)' == *Pebble* ]]"
redirect="$(et_curl "$demo" -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://$demo/health")"
# Permanent: 301 for GET/HEAD, 308 for other methods (Traefik's RedirectScheme).
check "http://$demo/health redirects to HTTPS ($redirect)" test "$redirect" = "301 https://$demo/health"
et_curl "$demo" -sS -D "$ET_TMP/headers" -o /dev/null --cacert "$ET_TMP/pebble-root.pem" "https://$demo/"
check "security headers (HSTS, nosniff, frame deny)" bash -c "grep -qi '^strict-transport-security: max-age=31536000' '$ET_TMP/headers' && grep -qi '^x-content-type-options: nosniff' '$ET_TMP/headers' && grep -qi '^x-frame-options: DENY' '$ET_TMP/headers'"

code() { et_curl "$dash" -s -o /dev/null -w '%{http_code}' --cacert "$ET_TMP/pebble-root.pem" "$@" "https://$dash/api/overview"; }
dash_ready() { local i; for i in $(seq 1 45); do [ "$(code)" != 000 ] && return 0; sleep 2; done; return 1; }
dash_ready || true
check "dashboard API without credentials: 401" test "$(code)" = 401
check "dashboard API with a wrong password: 401" test "$(code -u "admin:wrong-$ET_PASSWORD")" = 401
check "dashboard API with the admin password: 200" test "$(code -u "admin:$ET_PASSWORD")" = 200
et_curl "$dash" -s --cacert "$ET_TMP/pebble-root.pem" -u "admin:$ET_PASSWORD" "https://$dash/api/http/routers" >"$ET_TMP/routers.json"
check "routers from the swarm provider: whoami@swarm and edge-dashboard@swarm with TLS resolver acme" \
  bash -c "jq -e '[.[] | select(.provider == \"swarm\" and .tls.certResolver == \"acme\") | .name] | contains([\"whoami@swarm\", \"edge-dashboard@swarm\"])' '$ET_TMP/routers.json' >/dev/null"

# What Telegraf scrapes: over the platform network, by the tasks.<service> name.
et_exec docker run --rm --network "$ET_NETWORK" --entrypoint wget "$ET_DEMO_IMAGE" -q -O - "http://tasks.edge_traefik:8082/metrics" >"$ET_TMP/metrics" 2>&1 || true
check "Prometheus metrics at http://tasks.edge_traefik:8082/metrics ($(grep -c '^traefik_' "$ET_TMP/metrics" || true) series)" \
  grep -q 'traefik_router_requests_total{.*router="whoami@swarm"' "$ET_TMP/metrics"
et_exec docker service logs --raw edge_traefik 2>/dev/null >"$ET_TMP/traefik.log" || true
check "access log on stdout (JSON lines with the demo host)" grep -q "\"RequestHost\":\"$demo\"" "$ET_TMP/traefik.log"
check "every service converged healthy (stack-deploy.sh waits for it)" bash -c "grep -q 'stack edge converged' '$ET_TMP/deploy-edge.log' && grep -q 'stack demo converged' '$ET_TMP/deploy-demo.log'"

log "edge test took $((SECONDS - start)) s"
echo "edge: $passed passed, $failed failed"
[ "$failed" = 0 ]
