# shellcheck shell=bash
# A Hetzner-shaped environment on this machine, shared by tests/real/hetzner-apply.sh, tests/nightly/hetzner-scale.sh
# and bench/hetzner-apply.sh: the Hetzner Cloud API emulator (tests/hcloud-emulator/) with real machines
# (machine.sh), a registry of its own for the edge's image, and the project (a copy: `stack init` writes into the
# project directory) with a stack `staging` in a throwaway backend whose hcloud:endpoint is the emulator.
# Not the sandbox singleton: every object is named $HZ_PREFIX… and removed by hz_down.
#   hz_up WORK MANAGERS WORKERS   sets everything up (fails saying what); then hz_pulumi ARGS… runs pulumi
#   hz_api PATH [curl args…]      the emulator's API (token from a 0600 file, never argv)
#   hz_emulator_restart           stops the emulator and starts it again on its state file
#   hz_down                       removes machines, firewall tables, networks, registry, emulator
#   hz_local_up [M W] / hz_local_down   the same environment kept running for a user (scripts/local.sh --hetzner)
#   hz_monitored_hosts           the hosts InfluxDB holds CPU points of from the last 2 minutes (HZ_MONITORING=1)
# Set before sourcing: HZ_PREFIX (names; default hz-apply) and HZ_SUBNET (the public /24; default 198.18.7.0/24,
# a benchmarking range no one routes); HZ_MONITORING=1 deploys the monitoring stack too (InfluxDB and Telegraf
# from images/, pushed to this run's registry; Grafana cannot run here, as on the sandbox).
# shellcheck source=sandbox/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/sandbox/lib.sh"
# shellcheck source=tests/real/lib/emulator.sh
. "$MBIO_ROOT/tests/real/lib/emulator.sh"

HZ_PREFIX="${HZ_PREFIX:-hz-apply}"
HZ_SUBNET="${HZ_SUBNET:-198.18.7.0/24}"
HZ_BASE="${HZ_SUBNET%.*}"
HZ_HOST_IP="$HZ_BASE.1"      # the host, on the public network: the admin address SSH is allowed from
HZ_REGISTRY_IP="$HZ_BASE.250" # outside the addresses the emulator hands out first (.2 on)
HZ_REGISTRY="$HZ_REGISTRY_IP:5000"
HZ_PRIVATE_CIDR="10.213.0.0/16"
HZ_PRIVATE_SUBNET="10.213.1.0/24"
HZ_STACK=staging
HZ_MONITORING="${HZ_MONITORING:-0}"

# The machines machine.sh makes for this emulator (names $HZ_PREFIX-<server id>); HZ_VOLUME_DIR (set by hz_up: the
# emulator's -volume-dir) lets machine.sh cleanup release the loop devices of this run's volumes.
export HZ_MACHINE_PREFIX="$HZ_PREFIX" HZ_PUBLIC_NETWORK="$HZ_PREFIX-public"

hz_api() {
  local path="$1"
  shift
  curl -fsS -H "@$HZ_WORK/auth" -H 'Content-Type: application/json' "$@" "$HZ_URL/$path"
}
hz_pulumi() { (cd "$HZ_WORK/project" && pulumi --non-interactive --stack "$HZ_STACK" "$@"); }

# The emulator with real machines (machine.sh) on the public /24.
hz_emulator_flags=()
# hz_emulator_start [PORT]: a free port unless PORT (the stack's hcloud:endpoint names it once set).
hz_emulator_start() {
  hz_emulator_flags=(-public-ipv4 "$HZ_SUBNET" -machine-hook "$MBIO_ROOT/tests/hcloud-emulator/machine.sh" -volume-dir "$HZ_VOLUME_DIR")
  emulator_start "$HZ_WORK" "${1:-0}" "${hz_emulator_flags[@]}" || return 1
  HZ_URL="$EMULATOR_URL"
}
hz_emulator_restart() {
  emulator_restart "$HZ_WORK" "${hz_emulator_flags[@]}" || return 1
  HZ_URL="$EMULATOR_URL"
}

# The registry: the sandbox's registry image with a certificate from a CA of this run; the machines trust that CA
# (machine.sh mounts it, HZ_MACHINE_ARGS), the host pushes through a loopback port (Docker skips verification
# for loopback registries).
# An image the sandbox built (REPO), else one of this run's own built from DIR (a fresh machine, where
# sandbox/up.sh runs beside this test: scripts/test.sh builds only the base and machine images first).
hz_image() {
  local repo="$1" dir="$2" name="$3" image
  image="$(docker images --format '{{.Repository}}:{{.Tag}}' "$repo" | head -n1)"
  if [ -z "$image" ]; then
    image="$HZ_PREFIX/$name:local"
    build_image_dir "$dir" "$image" "hz-image=$HZ_PREFIX" "$HZ_WORK/build-$name.log" >&2 || return 1
  fi
  echo "$image"
}
hz_registry() {
  local image
  image="$(hz_image "$REGISTRY_REPO" "$SANDBOX_DIR/registry" registry)" || return 1
  mkdir -p "$HZ_WORK/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$HZ_PREFIX CA" \
    -keyout "$HZ_WORK/tls/ca.key" -out "$HZ_WORK/tls/ca.crt" 2>/dev/null
  issue_server_cert "$HZ_WORK/tls" "$HZ_WORK/tls/registry.crt" "$HZ_WORK/tls/registry.key" "$HZ_PREFIX-registry" "$HZ_REGISTRY_IP"
  docker run -d --name "$HZ_PREFIX-registry" --label "hz-machine=$HZ_PREFIX" --network "$HZ_PUBLIC_NETWORK" --ip "$HZ_REGISTRY_IP" \
    -p 127.0.0.1::5000 -v "$HZ_WORK/tls:/etc/docker/registry/tls:ro" "$image" >/dev/null || return 1
  HZ_REGISTRY_PORT="$(docker port "$HZ_PREFIX-registry" 5000/tcp | head -n1 | sed 's/.*://')"
  export HZ_MACHINE_ARGS="--mount type=bind,source=$HZ_WORK/tls/ca.crt,target=/etc/docker/certs.d/$HZ_REGISTRY/ca.crt,readonly"
  WAIT_EVERY=1 wait_for "the registry" 30 curl -fsS --cacert "$HZ_WORK/tls/ca.crt" --resolve "$HZ_PREFIX-registry:$HZ_REGISTRY_PORT:127.0.0.1" "https://$HZ_PREFIX-registry:$HZ_REGISTRY_PORT/v2/"
}
# Pushes local image SRC as NAME:TAG; prints the reference the machines pull (by digest).
hz_push() {
  local src="$1" dst="127.0.0.1:$HZ_REGISTRY_PORT/$2" digest log="$HZ_WORK/push-${2%%:*}.log"
  docker tag "$src" "$dst" || return 1
  docker push "$dst" >"$log" 2>&1 || { tail -5 "$log" >&2; return 1; }
  digest="$(sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/\1/p' "$log" | tail -n1)"
  docker rmi "$dst" >/dev/null
  [ -n "$digest" ] && echo "$HZ_REGISTRY/$2@$digest"
}

# The stack's configuration: staging's shape (machineSource hetzner, private network, firewalls, placement
# groups) with what this machine can run: the sandbox machines' engine (docker.io, no IPVS, no IPsec: unencrypted
# dnsrr overlays, host-mode ports, as the sandbox), Hetzner volumes for the stateful named volumes (storage.driver
# hetzner-volumes: the emulator's volumes are loop devices in the machines; the CSI plugin needs Docker ≥ 26), no
# backups, monitoring only with HZ_MONITORING=1 (two more images to build and push, and its stack to converge on
# every machine), no DNS, no Portainer, ACME over http (no CA reachable: Traefik serves its default certificate;
# issuance is tests/real/edge.sh's). IMAGES: the `images` map's entries (role: reference, comma-separated).
hz_stack_config() {
  local managers="$1" workers="$2" images="$3" engine monitoring="{ enabled: false }"
  engine="$(docker run --rm --entrypoint cat "$HZ_IMAGE" /etc/mbio-sandbox-docker-version)"
  [ "$HZ_MONITORING" != 1 ] || monitoring="{ grafana: false, dockerGid: $(machine_docker_gid "$HZ_IMAGE") }"
  cat >>"$HZ_WORK/project/Pulumi.$HZ_STACK.yaml" <<EOF
config:
  hcloud:endpoint: $HZ_URL
  mbio-cloud:domain: mbiosphere.test
  mbio-cloud:machineSource: hetzner
  mbio-cloud:location: fsn1
  mbio-cloud:osImage: debian-12
  mbio-cloud:serverTypes: { manager: cx22, worker: cx22 }
  mbio-cloud:managers: $managers
  mbio-cloud:workers: $workers
  mbio-cloud:ciNodes: 0
  mbio-cloud:privateNetwork: { cidr: $HZ_PRIVATE_CIDR, subnet: $HZ_PRIVATE_SUBNET }
  mbio-cloud:adminCidrs: [ "$HZ_HOST_IP/32" ]
  mbio-cloud:sshPublicKeys: [ "$(cat "$HZ_WORK/id_ed25519.pub")" ]
  mbio-cloud:dockerEngine: { package: docker.io, version: "$engine" }
  mbio-cloud:swarm: { overlayEncrypted: false, endpointMode: dnsrr, publishMode: host, overlayMtu: 1400 }
  mbio-cloud:storage: { driver: hetzner-volumes, hetznerVolumes: { defaultSizeGb: 10 } }
  mbio-cloud:monitoring: $monitoring
  mbio-cloud:backup: { enabled: false }
  mbio-cloud:gitlab: { enabled: false }
  mbio-cloud:images: { $images }
  mbio-cloud:edge: { acme: { challenge: http } }
  mbio-cloud:dns: { provider: none }
  mbio-cloud:controlPlane: { enabled: false }
EOF
}

hz_up() {
  HZ_WORK="$1"
  local managers="$2" workers="$3" traefik
  export HZ_VOLUME_DIR="$HZ_WORK/volumes"
  HZ_IMAGE="$(sandbox_machine_image)"
  [ -n "$HZ_IMAGE" ] || { echo "no sandbox machine image: run sandbox/up.sh once"; return 1; }
  export HZ_MACHINE_IMAGE="$HZ_IMAGE"
  command -v nft >/dev/null || ensure_apt_packages nftables
  command -v jq >/dev/null || ensure_apt_packages jq
  hz_down_objects
  docker network create --label "hz-machine=$HZ_PREFIX" --subnet "$HZ_SUBNET" --gateway "$HZ_HOST_IP" "$HZ_PUBLIC_NETWORK" >/dev/null || return 1
  export PULUMI_BACKEND_URL="file://$HZ_WORK/state" PULUMI_CONFIG_PASSPHRASE="$HZ_PREFIX-lab"
  mkdir -p "$HZ_WORK/state" "$HZ_WORK/project"
  emulator_token "$HZ_WORK"
  ssh-keygen -q -t ed25519 -N '' -C "$HZ_PREFIX-throwaway" -f "$HZ_WORK/id_ed25519" <<<y >/dev/null
  hz_registry || return 1
  traefik="$(hz_image mbio-sandbox/traefik "$MBIO_ROOT/images/traefik" traefik)" || return 1
  traefik="$(hz_push "$traefik" "traefik:$(cat "$MBIO_ROOT/images/traefik/VERSION")")" || return 1
  local images="traefik: \"$traefik\"" name ref
  if [ "$HZ_MONITORING" = 1 ]; then
    for name in influxdb telegraf; do
      ref="$(hz_image "mbio-sandbox/$name" "$MBIO_ROOT/images/$name" "$name")" || return 1
      ref="$(hz_push "$ref" "$name:$(cat "$MBIO_ROOT/images/$name/VERSION")")" || return 1
      images+=", $name: \"$ref\""
    done
  fi
  hz_emulator_start || return 1
  cp -r "$MBIO_ROOT"/{index.ts,components,package.json,tsconfig.json,Pulumi.yaml} "$HZ_WORK/project/"
  ln -s "$MBIO_ROOT/node_modules" "$HZ_WORK/project/node_modules"
  (cd "$HZ_WORK/project" && pulumi --non-interactive stack init "$HZ_STACK" >/dev/null) || return 1
  hz_stack_config "$managers" "$workers" "$images"
  hz_pulumi config set --secret mbio-cloud:sshPrivateKey <"$HZ_WORK/id_ed25519" >/dev/null
  hz_pulumi config set --secret hcloud:token <"$HZ_WORK/token" >/dev/null
  printf '%s' "$HZ_PREFIX-$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n')" | hz_pulumi config set --secret mbio-cloud:adminPassword >/dev/null
  [ "$HZ_MONITORING" = 1 ] || return 0
  local key
  # In 0600 files of the run (hz_monitored_hosts reads as the reader user), to Pulumi through stdin.
  for key in influxdbAdminPassword influxdbWriterPassword influxdbReaderPassword grafanaAdminPassword; do
    (umask 077 && od -An -N18 -tx1 /dev/urandom | tr -d ' \n' >"$HZ_WORK/$key")
    hz_pulumi config set --secret "mbio-cloud:$key" <"$HZ_WORK/$key" >/dev/null
  done
}

# The hosts (Telegraf's host tag: the node's hostname, the server's name) InfluxDB holds CPU points of from the
# last 2 minutes, one per line, sorted: asked on the first manager's machine, inside the InfluxDB task, as the
# reader user (its password from a 0600 file, through the task's environment of that one exec, never argv).
hz_monitored_hosts() {
  local mid task
  mid="$(hz_api "servers?name=$HZ_STACK-manager-1" | jq -r '.servers[0].id')"
  task="$(hz_on "$mid" docker ps -q --filter label=com.docker.swarm.service.name=monitoring_influxdb | head -n1)"
  [ -n "$task" ] || return 1
  # shellcheck disable=SC2016 # expanded by the machine's shell
  hz_on "$mid" sh -c 'INFLUX_PASSWORD="$(cat)" exec docker exec -e INFLUX_USERNAME=reader -e INFLUX_PASSWORD "$1" influx -database mbio -format json -execute "SELECT count(usage_idle) FROM cpu WHERE time > now() - 2m AND cpu = '\''cpu-total'\'' GROUP BY host"' sh "$task" <"$HZ_WORK/influxdbReaderPassword" |
    jq -r '[.results[]?.series[]? | select(.values[0][1] > 0) | .tags.host] | sort | .[]'
}

hz_down_objects() {
  "$MBIO_ROOT/tests/hcloud-emulator/machine.sh" cleanup
}
hz_down() {
  emulator_stop
  hz_down_objects
}

# What is left of this run: machine containers, firewall tables (none after a destroy).
hz_machines() { docker ps -aq --filter "label=hz-machine=$HZ_PREFIX" --filter label=hz-server; }
hz_on() { docker exec -i "$HZ_PREFIX-$1" "${@:2}"; }

# ---- kept running for a user: scripts/local.sh --hetzner (docs/sandbox.md, "A Hetzner environment on a laptop") ----
# Everything lives in HZ_LOCAL_DIR (the emulator's state, volumes and token, the Pulumi backend, the project copy);
# the emulator runs in the background, its pid in HZ_LOCAL_DIR/emulator.pid, until hz_local_down.
HZ_LOCAL_DIR="${HZ_LOCAL_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/mbio-cloud/$HZ_PREFIX}"

hz_local_up() {
  local managers="${1:-3}" workers="${2:-2}" id name pub
  [ ! -e "$HZ_LOCAL_DIR/emulator.pid" ] || die "already up ($HZ_LOCAL_DIR): bash scripts/local.sh --hetzner down first"
  ensure_docker
  ensure_node_modules
  ensure_pulumi
  rm -rf "$HZ_LOCAL_DIR"
  mkdir -p "$HZ_LOCAL_DIR"
  log "emulator, machines' network, registry and stack $HZ_STACK in $HZ_LOCAL_DIR"
  hz_up "$HZ_LOCAL_DIR" "$managers" "$workers" >"$HZ_LOCAL_DIR/setup.log" 2>&1 || { tail -20 "$HZ_LOCAL_DIR/setup.log" >&2; hz_down; die "setup failed (log: $HZ_LOCAL_DIR/setup.log)"; }
  echo "$EMULATOR_PID" >"$HZ_LOCAL_DIR/emulator.pid"
  log "pulumi up --stack $HZ_STACK ($managers managers, $workers workers, through the real hcloud provider)"
  hz_pulumi up --yes --skip-preview || die "pulumi up failed; run it again, or remove everything: bash scripts/local.sh --hetzner down"
  log "Hetzner API emulator: $HZ_URL (token: $HZ_LOCAL_DIR/token)"
  while read -r id name pub; do
    log "  server $name (id $id): $pub, machine container $HZ_PREFIX-$id (docker exec -it $HZ_PREFIX-$id bash)"
  done < <(hz_api servers | jq -r '.servers[] | "\(.id) \(.name) \(.public_net.ipv4.ip)"')
  hz_api volumes | jq -r '.volumes[] | "  volume \(.name) (id \(.id), \(.size) GB) on server \(.server)"' | while read -r line; do log "$line"; done
  pub="$(hz_api "servers?name=$HZ_STACK-manager-1" | jq -r '.servers[0].public_net.ipv4.ip')"
  log "the edge: curl -k https://$pub/ (Traefik's default certificate: no ACME CA here)"
  log "pulumi on it: export PULUMI_BACKEND_URL=file://$HZ_LOCAL_DIR/state PULUMI_CONFIG_PASSPHRASE=$HZ_PREFIX-lab; cd $HZ_LOCAL_DIR/project && pulumi --stack $HZ_STACK preview"
  log "remove it: bash scripts/local.sh --hetzner down"
}

hz_local_down() {
  local port
  if [ ! -d "$HZ_LOCAL_DIR/state" ]; then
    hz_down_objects
    rm -rf "$HZ_LOCAL_DIR"
    return 0
  fi
  HZ_WORK="$HZ_LOCAL_DIR" HZ_VOLUME_DIR="$HZ_LOCAL_DIR/volumes"
  export HZ_VOLUME_DIR PULUMI_BACKEND_URL="file://$HZ_LOCAL_DIR/state" PULUMI_CONFIG_PASSPHRASE="$HZ_PREFIX-lab"
  HZ_URL="$(hz_pulumi config get hcloud:endpoint 2>/dev/null)"
  EMULATOR_PID="$(cat "$HZ_LOCAL_DIR/emulator.pid" 2>/dev/null || true)"
  if [ -n "$HZ_URL" ] && ! { [ -n "$EMULATOR_PID" ] && kill -0 "$EMULATOR_PID" 2>/dev/null; }; then
    # Gone (a reboot, a closed terminal): back on its state file and port, so destroy can reach it.
    port="${HZ_URL#http://127.0.0.1:}"
    EMULATOR_URL="$HZ_URL"
    hz_emulator_start "${port%/v1}" || log "the emulator does not start again; removing the machines without destroy"
  fi
  log "pulumi destroy --stack $HZ_STACK"
  hz_pulumi destroy --yes --skip-preview || log "destroy failed; removing the machines anyway (their state goes with them)"
  hz_down
  rm -rf "$HZ_LOCAL_DIR"
}
