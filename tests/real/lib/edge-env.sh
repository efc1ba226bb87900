#!/usr/bin/env bash
# A private one-machine Swarm for the edge's real test and benchmark (no sandbox lock needed): a machine
# container from the sandbox's machine image on a network of our own, the offline images (Traefik, demo)
# loaded into it, Pebble beside it, and the edge and demo stacks as components/edge.ts and
# components/demo-service.ts build them, deployed with the same stack-deploy.sh SwarmStack runs.
# Source it; call edge_env_up, then edge_env_down (a trap does it). Everything is named mbio-edge-test*.
# shellcheck shell=bash
# shellcheck source=sandbox/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/sandbox/lib.sh"

ET_PREFIX="${ET_PREFIX:-mbio-edge-test}"
ET_LABEL="$ET_PREFIX=1"
ET_NET="$ET_PREFIX"
ET_SUBNET="${ET_SUBNET:-172.31.241.0/24}"
ET_BASE="${ET_SUBNET%.*}"
ET_IP="$ET_BASE.11"
ET_PEBBLE_IP="$ET_BASE.4"
ET_MACHINE="$ET_PREFIX-1"
ET_ENV=local
ET_NS="local.mbiosphere.test"
ET_NETWORK="local-platform"
ET_PASSWORD="edge-test-$(head -c 9 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
ET_TMP="$(mktemp -d)"
ET_TRAEFIK_IMAGE="$ET_PREFIX/traefik:$(cat "$MBIO_ROOT/images/traefik/VERSION")"
ET_DEMO_IMAGE="$ET_PREFIX/demo:$(cat "$MBIO_ROOT/images/demo/VERSION")"
# More images for the renderer (a JSON object; tests/real/portainer.sh adds portainer and portainer-agent,
# which adds the control plane to render.json).
ET_EXTRA_IMAGES="${ET_EXTRA_IMAGES:-"{}"}"
# A jq filter applied to the demo stack before each deploy (the benchmark's counter-check removes the safeguards).
ET_DEMO_FILTER="${ET_DEMO_FILTER:-.}"

et_exec() { docker exec -i "$ET_MACHINE" "$@"; }

# Builds an images/NAME directory FROM the sandbox base (its prepare.sh first, as sandbox/up.sh does).
et_build() {
  build_image_dir "$MBIO_ROOT/images/$1" "$2" "$ET_LABEL" "$ET_TMP/build-$1.log" || die "building images/$1 failed"
}

# Creates a Swarm config or secret inside the machine with the platform's own script.
et_object() {
  local kind=$1 name=$2 content=$3
  printf '%s' "$content" | et_exec env KIND="$kind" NAME="$name" LABEL=mbio.component=edge \
    bash -c "$(cat "$MBIO_ROOT/components/files/swarm/swarm-object.sh")" swarm-object.sh
}

# Deploys the compose JSON on stdin as stack $1 with the script SwarmStack runs (waits for convergence).
et_deploy() {
  et_exec env STACK="$1" TIMEOUT="${2:-240}" bash -c "$(cat "$MBIO_ROOT/components/files/swarm/stack-deploy.sh")" stack-deploy.sh
}

# Renders the stacks for release $1 into $ET_TMP/render.json.
et_render() {
  local ca
  ca="$(cat "$ET_TMP/ca/ca.crt")"
  node "$MBIO_ROOT/tests/real/lib/render-edge.mjs" "$(jq -n --arg ca "$ca" --arg pw "$ET_PASSWORD" --arg rel "$1" --argjson extra "$ET_EXTRA_IMAGES" \
    --arg t "$ET_TRAEFIK_IMAGE" --arg d "$ET_DEMO_IMAGE" --arg ns "$ET_NS" --arg net "$ET_NETWORK" --arg pebble "https://$ET_PEBBLE_IP:14000/dir" \
    '{environment: "local", namespace: $ns, networkName: $net, publishMode: "host", endpointMode: "dnsrr",
      images: ({traefik: $t, demo: $d} + $extra), adminPassword: $pw, release: $rel, replicas: 2,
      edge: {acme: {challenge: "http", caServer: $pebble, caCertificate: $ca}}}')" >"$ET_TMP/render.json"
}

edge_env_down() {
  docker rm -f "$ET_MACHINE" "$ET_PREFIX-pebble" >/dev/null 2>&1 || true
  docker volume rm -f "$ET_MACHINE-docker" >/dev/null 2>&1 || true
  docker network rm "$ET_NET" >/dev/null 2>&1 || true
  docker rmi "$ET_TRAEFIK_IMAGE" "$ET_DEMO_IMAGE" >/dev/null 2>&1 || true
  rm -rf "$ET_TMP"
}

edge_env_up() {
  require_docker
  ensure_node_modules >/dev/null
  image_exists "$BASE_IMAGE" || die "the sandbox base image $BASE_IMAGE is missing: run sandbox/up.sh once (it builds it)"
  local machine_image
  machine_image="$(sandbox_machine_image)"
  [ -n "$machine_image" ] || die "no sandbox machine image ($MACHINE_REPO): run sandbox/up.sh once (it builds it)"
  edge_env_down
  ET_TMP="$(mktemp -d)"
  local name subnet
  while read -r name subnet; do
    cidrs_overlap "$ET_SUBNET" "$subnet" && die "subnet $ET_SUBNET is used by Docker network $name: set ET_SUBNET to a free /24"
  done < <(docker network ls -q | xargs -r docker network inspect -f '{{.Name}}{{range .IPAM.Config}} {{.Subnet}}{{end}}' | awk 'NF > 1 {print $1, $2}')
  log "edge test: images (Traefik offline build, demo), machine $ET_MACHINE at $ET_IP, Pebble at $ET_PEBBLE_IP"
  et_build traefik "$ET_TRAEFIK_IMAGE"
  et_build demo "$ET_DEMO_IMAGE"
  docker network create --subnet "$ET_SUBNET" --label "$ET_LABEL" "$ET_NET" >/dev/null
  docker_run_machine "$ET_MACHINE" "$machine_image" --label "$ET_LABEL" \
    --network "$ET_NET" --ip "$ET_IP" --mount "type=volume,source=$ET_MACHINE-docker,target=/var/lib/docker,volume-label=$ET_LABEL"
  local i
  WAIT_EVERY=1 wait_for "docker in $ET_MACHINE" 90 et_exec docker info || die "docker did not start in $ET_MACHINE"
  et_exec docker swarm init --advertise-addr "$ET_IP" >/dev/null 2>&1
  et_exec docker node update --label-add "mbio.environment=$ET_ENV" "$ET_MACHINE" >/dev/null 2>&1
  et_exec env NETWORK="$ET_NETWORK" ENCRYPTED=false bash -c "$(cat "$MBIO_ROOT/components/files/swarm/network.sh")" network.sh 2>/dev/null
  docker save "$ET_TRAEFIK_IMAGE" "$ET_DEMO_IMAGE" | et_exec docker load >/dev/null
  mkdir -p "$ET_TMP/ca"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/O=mbio-cloud edge test/CN=edge test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$ET_TMP/ca/ca.key" -out "$ET_TMP/ca/ca.crt" 2>/dev/null
  PEBBLE_NAME="$ET_PREFIX-pebble" PEBBLE_NETWORK="$ET_NET" PEBBLE_IP="$ET_PEBBLE_IP" PEBBLE_TARGET_IP="$ET_IP" \
    PEBBLE_CA_DIR="$ET_TMP/ca" PEBBLE_LABEL="$ET_LABEL" bash "$SANDBOX_DIR/pebble.sh" up >/dev/null
  et_render 1
  local n kind oname content
  n="$(jq '.objects | length' "$ET_TMP/render.json")"
  for i in $(seq 0 $((n - 1))); do
    kind="$(jq -r ".objects[$i].kind" "$ET_TMP/render.json")" oname="$(jq -r ".objects[$i].name" "$ET_TMP/render.json")"
    content="$(jq -r ".objects[$i].content" "$ET_TMP/render.json")"
    et_object "$kind" "$oname" "$content"$'\n' 2>/dev/null
  done
  jq '.edge' "$ET_TMP/render.json" | et_deploy edge >"$ET_TMP/deploy-edge.log" 2>&1 || { cat "$ET_TMP/deploy-edge.log" >&2; die "edge stack did not converge"; }
  jq '.demo' "$ET_TMP/render.json" | jq "$ET_DEMO_FILTER" | et_deploy demo >"$ET_TMP/deploy-demo.log" 2>&1 || { cat "$ET_TMP/deploy-demo.log" >&2; die "demo stack did not converge"; }
}

# The issuing root of Pebble (new at each Pebble start): the CA a client trusts for the edge's certificates.
et_pebble_root() { curl -fsS --max-time 5 --cacert "$ET_TMP/ca/ca.crt" "https://$ET_PEBBLE_IP:15000/roots/0"; }

# curl to a host name of the namespace, resolved to the machine.
et_curl() {
  local host=$1
  shift
  curl --max-time 10 --resolve "$host:80:$ET_IP" --resolve "$host:443:$ET_IP" "$@"
}
