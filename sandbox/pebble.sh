#!/usr/bin/env bash
# The sandbox's ACME server (Pebble), so the edge gets its certificates through the same ACME resolver
# path as production, from a CA of our own. A container on the sandbox network at .4; its listener
# certificate is issued by the sandbox CA (sandbox/.state/tls/ca.crt), which the local stack's
# edge.acme.caCertificate trusts. Pebble makes a new issuing root at every start: `root` fetches it.
# Idempotent; sandbox/down.sh removes it with everything else labelled mbio-sandbox.
#   sandbox/pebble.sh up      build/start it; prints the ACME directory URL
#   sandbox/pebble.sh root    print Pebble's current issuing root (PEM) — the CA to trust for the edge
#   sandbox/pebble.sh url     print the ACME directory URL (no side effects)
# Env (tests/real/edge.sh runs its own): PEBBLE_NAME, PEBBLE_NETWORK, PEBBLE_IP, PEBBLE_TARGET_IP,
#   PEBBLE_CA_DIR (ca.crt + ca.key that issue the listener certificate), PEBBLE_LABEL.
set -euo pipefail
# shellcheck source=sandbox/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PEBBLE_NAME="${PEBBLE_NAME:-${MACHINE_PREFIX}pebble}"
PEBBLE_NETWORK="${PEBBLE_NETWORK:-$NETWORK}"
PEBBLE_IP="${PEBBLE_IP:-$(int2ip $(($(subnet_base) + 4)))}"
PEBBLE_TARGET_IP="${PEBBLE_TARGET_IP:-$(machine_ip 1)}"
PEBBLE_CA_DIR="${PEBBLE_CA_DIR:-$STATE_DIR/tls}"
PEBBLE_LABEL="${PEBBLE_LABEL:-$LABEL}"
PEBBLE_CERTS="$PEBBLE_CA_DIR/pebble-$PEBBLE_NAME"

url() { echo "https://$PEBBLE_IP:14000/dir"; }

issue_listener_cert() {
  issue_server_cert "$PEBBLE_CA_DIR" "$PEBBLE_CERTS/cert.pem" "$PEBBLE_CERTS/key.pem" "$PEBBLE_NAME" "$PEBBLE_IP" || true
  # Read by the container's user; the key only protects a test CA's listener.
  chmod 644 "$PEBBLE_CERTS/cert.pem" "$PEBBLE_CERTS/key.pem"
}

up() {
  require_docker
  docker network inspect "$PEBBLE_NETWORK" >/dev/null 2>&1 || die "network $PEBBLE_NETWORK does not exist; run sandbox/up.sh first"
  { [ -f "$PEBBLE_CA_DIR/ca.crt" ] && [ -f "$PEBBLE_CA_DIR/ca.key" ]; } || die "no CA in $PEBBLE_CA_DIR (ca.crt, ca.key); run sandbox/up.sh first"
  bash "$SANDBOX_DIR/pebble/prepare.sh" >&2
  local image
  image="mbio-sandbox/pebble:$(tr -d '[:space:]' <"$SANDBOX_DIR/pebble/VERSION")-$( (cat "$SANDBOX_DIR/pebble/Dockerfile" "$SANDBOX_DIR/pebble/entrypoint.sh"; docker image inspect -f '{{.Id}}' "$BASE_IMAGE") | sha256sum | cut -c1-8)"
  if ! image_exists "$image"; then
    DOCKER_BUILDKIT=0 docker build -q --label "$IMAGE_LABEL=pebble" --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$image" "$SANDBOX_DIR/pebble" >/dev/null ||
      die "building $image failed"
  fi
  issue_listener_cert
  if container_exists "$PEBBLE_NAME" && [ "$(docker container inspect -f '{{.Config.Image}} {{index .Config.Env 0}}' "$PEBBLE_NAME")" != "$image PEBBLE_TARGET_IP=$PEBBLE_TARGET_IP" ]; then
    docker rm -f "$PEBBLE_NAME" >/dev/null
  fi
  if ! container_exists "$PEBBLE_NAME"; then
    docker run -d --name "$PEBBLE_NAME" --hostname "$PEBBLE_NAME" --label "$PEBBLE_LABEL" --label "$OWNER_LABEL=$STATE_DIR" --restart unless-stopped \
      -e "PEBBLE_TARGET_IP=$PEBBLE_TARGET_IP" --network "$PEBBLE_NETWORK" --ip "$PEBBLE_IP" \
      -v "$PEBBLE_CERTS:/certs:ro" "$image" >/dev/null
  fi
  container_running "$PEBBLE_NAME" || docker start "$PEBBLE_NAME" >/dev/null
  local i
  for i in $(seq 1 60); do
    curl -fsS --max-time 2 --cacert "$PEBBLE_CA_DIR/ca.crt" "$(url)" >/dev/null 2>&1 && break
    [ "$i" = 60 ] && die "Pebble did not answer at $(url); see 'docker logs $PEBBLE_NAME'"
    sleep 0.5
  done
  url
}

root() { curl -fsS --max-time 5 --cacert "$PEBBLE_CA_DIR/ca.crt" "https://$PEBBLE_IP:15000/roots/0"; }

case "${1:-}" in
  up) up ;;
  root) root ;;
  url) url ;;
  *) die "usage: sandbox/pebble.sh up | root | url" ;;
esac
