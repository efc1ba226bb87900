#!/usr/bin/env bash
# Shared by sandbox/up.sh and sandbox/down.sh: names, addresses and small helpers of the local sandbox.
# Source it; it defines functions and variables and changes nothing.
# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are used by the scripts that source this file

# shellcheck source-path=SCRIPTDIR source=../scripts/lib/env.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/scripts/lib/env.sh"

SANDBOX_DIR="$MBIO_ROOT/sandbox"
STATE_DIR="$SANDBOX_DIR/.state"
STACK_FILE="$MBIO_ROOT/Pulumi.local.yaml"

# Every container, network and volume the sandbox creates carries this label (plus mbio-sandbox.kind);
# down.sh removes by it. Images carry mbio-sandbox.image=KIND instead: an image label is inherited by
# every container run from the image and every image built FROM it, and must not mark other people's
# containers (tests running images/*) as the sandbox's.
LABEL="mbio-sandbox=1"
IMAGE_LABEL="mbio-sandbox.image"
# The sandbox's containers (machines, registry, S3 server): named mbio-sandbox-* and labelled
# mbio-sandbox=1 by whoever ran them. The name excludes containers that merely inherited the label
# from an image.
sandbox_containers() {
  docker ps -a --filter "label=$LABEL" --filter "name=^${MACHINE_PREFIX}" --format '{{.ID}} {{.Names}}'
}
# Which checkout's state a sandbox container was made with (the absolute path of its sandbox/.state): the
# sandbox is one per machine, and a container made from another state (keys, CA, S3 credentials) cannot serve
# this one (sandbox_claim).
OWNER_LABEL="mbio-sandbox.state"
NETWORK="mbio-sandbox"
BRIDGE="mbio-sandbox0"
SUBNET="${SANDBOX_SUBNET:-172.30.0.0/24}"
SUITE="bookworm"
MIRROR="${SANDBOX_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BASE_IMAGE="mbio-sandbox/debian:$SUITE"
MACHINE_REPO="mbio-sandbox/machine"
REGISTRY_REPO="mbio-sandbox/registry"
REGISTRY_NAME="mbio-sandbox-registry"
REGISTRY_PORT=5000
MACHINE_PREFIX="mbio-sandbox-"
# Swarm managers must be odd (1, 3 or 5): 3 from 3 machines on, 1 below that.
MAX_MACHINES=53

# ---- IPv4 arithmetic -------------------------------------------------------------------------------
ip2int() {
  local a b c d
  IFS=. read -r a b c d <<<"$1"
  echo $(((a << 24) | (b << 16) | (c << 8) | d))
}
int2ip() {
  local n=$1
  echo "$(((n >> 24) & 255)).$(((n >> 16) & 255)).$(((n >> 8) & 255)).$((n & 255))"
}
# cidr_range 10.0.0.0/8 -> "first last" as integers.
cidr_range() {
  local ip=${1%/*} bits=${1#*/} n size
  [ "$ip" = "$1" ] && bits=32
  n=$(ip2int "$ip")
  size=$((1 << (32 - bits)))
  echo "$(((n / size) * size)) $(((n / size) * size + size - 1))"
}
cidrs_overlap() {
  local a1 a2 b1 b2
  read -r a1 a2 <<<"$(cidr_range "$1")"
  read -r b1 b2 <<<"$(cidr_range "$2")"
  [ "$a1" -le "$b2" ] && [ "$b1" -le "$a2" ]
}
valid_cidr() {
  [[ "$1" =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})/([0-9]{1,2})$ ]] || return 1
  local i
  for i in 1 2 3 4; do [ "${BASH_REMATCH[$i]}" -le 255 ] || return 1; done
  [ "${BASH_REMATCH[5]}" -ge 16 ] && [ "${BASH_REMATCH[5]}" -le 26 ]
}

# Fixed addresses inside the subnet: .1 gateway (the host), .2 registry, .11.. machines.
subnet_base() { cidr_range "$SUBNET" | cut -d' ' -f1; }
gateway_ip() { int2ip $(($(subnet_base) + 1)); }
registry_ip() { int2ip $(($(subnet_base) + 2)); }
registry_address() { echo "$(registry_ip):$REGISTRY_PORT"; }
machine_name() { echo "$MACHINE_PREFIX$1"; }
machine_ip() { int2ip $(($(subnet_base) + 10 + $1)); }
machine_volume() { echo "$MACHINE_PREFIX$1-docker"; }
# Managers: 3 from 3 machines on, else 1 (a Swarm needs an odd number).
manager_count() { if [ "$1" -ge 3 ]; then echo 3; else echo 1; fi; }

# ---- output -----------------------------------------------------------------------------------------
note() { printf '    %s\n' "$*" >&2; }
warn() { printf '\033[33mwarning:\033[0m %s\n' "$*" >&2; }

# A TLS server certificate for NAME at IP, signed by the CA in CA_DIR (ca.crt, ca.key): kept while CRT still
# verifies against that CA and names IP, else issued anew (with KEY). Succeeds when it issued one, fails when
# it kept the existing one.
issue_server_cert() {
  local ca_dir="$1" crt="$2" key="$3" name="$4" ip="$5"
  if [ -f "$crt" ] && [ -f "$key" ] && openssl verify -CAfile "$ca_dir/ca.crt" "$crt" >/dev/null 2>&1 &&
    openssl x509 -in "$crt" -noout -ext subjectAltName | grep -q "IP Address:$ip\b"; then
    return 1
  fi
  mkdir -p "$(dirname "$crt")"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$name" \
    -keyout "$key" -out "$crt.csr" 2>/dev/null
  openssl x509 -req -in "$crt.csr" -CA "$ca_dir/ca.crt" -CAkey "$ca_dir/ca.key" \
    -CAcreateserial -CAserial "$crt.srl" -days 825 -out "$crt" -extfile <(printf '%s\n' \
      "subjectAltName=IP:$ip,DNS:$name,DNS:localhost,IP:127.0.0.1" \
      "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth") 2>/dev/null
  rm -f "$crt.csr"
}

STEP_NO=0
STEP_TOTAL=0
STEP_SUMMARY=()
# step "description" command args...: runs a step, prints its duration and keeps it for the summary.
step() {
  local title=$1 start end
  shift
  STEP_NO=$((STEP_NO + 1))
  log "[$STEP_NO/$STEP_TOTAL] $title"
  start=$(date +%s.%N)
  "$@"
  end=$(date +%s.%N)
  local took
  took=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  note "done in ${took}s"
  STEP_SUMMARY+=("$(printf '%6ss  %s' "$took" "$title")")
}

# ---- docker -----------------------------------------------------------------------------------------
require_docker() {
  if ! (ensure_docker) >&2; then
    die "no Docker engine: install it (apt-get install docker.io) and start it (systemctl start docker, or dockerd &), then run this again"
  fi
}
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
container_exists() { docker container inspect "$1" >/dev/null 2>&1; }
container_running() { [ "$(docker container inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }
# Machines that exist, by index (sorted numerically).
existing_machine_indexes() {
  docker ps -a --filter "label=$LABEL" --filter label=mbio-sandbox.kind=machine \
    --format '{{.Label "mbio-sandbox.index"}}' | sort -n
}

# Builds image directory DIR (its prepare.sh first) FROM the sandbox base as TAG, labelled LABEL; output in LOG.
# Shared by the real tests that build images of their own (tests/real/lib/edge-env.sh, tests/real/lib/hetzner-sim.sh).
build_image_dir() {
  local dir="$1" tag="$2" label="$3" log="$4"
  : >"$log"
  if [ -f "$dir/prepare.sh" ]; then bash "$dir/prepare.sh" >>"$log" 2>&1 || { tail -20 "$log" >&2; return 1; }; fi
  DOCKER_BUILDKIT=0 docker build -q --label "$label" --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$tag" "$dir" >>"$log" 2>&1 || { tail -20 "$log" >&2; return 1; }
}

# ---- ssh -------------------------------------------------------------------------------------------
SSH_KEY="$STATE_DIR/id_ed25519"
# The sandbox's own provisioning runs before a machine's host key is recorded (up.sh writes it into
# Pulumi.local.yaml and .state/known_hosts afterwards): these options serve only that, on its own bridge.
SSH_OPTS=(-i "$SSH_KEY" -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=no
  -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=3)
machine_ssh() {
  local ip=$1
  shift
  # shellcheck disable=SC2029 # the command is meant to be expanded here and run there
  ssh "${SSH_OPTS[@]}" "root@$ip" "$@"
}

# Starts cloud-init's stages inside machine NAME in the background and returns at once, as on a new Hetzner
# server whose sshd answers while user-data still runs. The image's marker that keeps cloud-init from running
# at boot is moved aside meanwhile, so `cloud-init status` says "running" as on a real server. Prints nothing.
cloud_init_background() {
  docker exec "$1" rm -f /etc/cloud/cloud-init.disabled
  docker exec -d "$1" bash -c 'for stage in "init --local" init "modules --mode=config" "modules --mode=final"; do cloud-init $stage; done >/var/log/mbio-sandbox-cloud-init.log 2>&1
    touch /etc/cloud/cloud-init.disabled'
  # Returns once cloud-init's first stage has said so: until then `cloud-init status` still says "disabled"
  # (the boot generator's verdict), and under load a caller asking at once would see that (the cold test run
  # lost this race). At most 30 s.
  local _
  for _ in $(seq 1 60); do
    docker exec "$1" cloud-init status 2>/dev/null | grep -q '^status: disabled' || return 0
    sleep 0.5
  done
  warn "cloud-init did not start within 30 s in $1"
}


# ---- machines ---------------------------------------------------------------------------------------
# The one place a machine container is started (the sandbox's machines, and every real test's own): systemd as
# PID 1 with sshd and Docker, as a server looks to the bootstrap. --privileged fails on these hosts (the VM
# withholds CAP_SYS_RESOURCE), hence every capability but that one. Extra docker-run arguments (network,
# address, volumes, labels, restart policy) go before the image.
#   machine_start NAME IMAGE [docker-run-args...]       runs it and waits until systemd has booted (fails loudly)
#   docker_run_machine NAME IMAGE [docker-run-args...]  runs it only (the sandbox awaits several at once)
docker_run_machine() {
  local name="$1" image="$2"
  shift 2
  docker run -d --name "$name" --hostname "$name" --cap-add=ALL --cap-drop=SYS_RESOURCE \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock "$@" "$image" >/dev/null
}
machine_start() { docker_run_machine "$@" && machine_booted "$1"; }
# systemd of machine NAME reached running (or degraded: a unit failed, named in the warning) within 120 s.
machine_booted() {
  local name="$1" state
  if ! WAIT_EVERY=1 wait_for "systemd in $name" 120 machine_systemd_up "$name"; then
    warn "$name: systemd did not finish booting (state: $(docker exec "$name" systemctl is-system-running 2>/dev/null || echo unknown)); see docker logs $name"
    return 1
  fi
  state="$(docker exec "$name" systemctl is-system-running 2>/dev/null)"
  [ "$state" = running ] || warn "$name: systemd degraded; failed units: $(docker exec "$name" systemctl --failed --no-legend --plain | awk '{print $1}' | xargs)"
}
machine_systemd_up() { case "$(docker exec "$1" systemctl is-system-running 2>/dev/null)" in running | degraded) return 0 ;; *) return 1 ;; esac; }
# The docker group's gid in machine IMAGE: Telegraf reads the engine's socket as that group (monitoring.dockerGid;
# docker stack deploy ignores group_add).
machine_docker_gid() { docker run --rm --entrypoint getent "$1" group docker | cut -d: -f3; }
# The newest machine image sandbox/up.sh built (empty when there is none).
sandbox_machine_image() { docker images --filter "label=$IMAGE_LABEL=machine" --format '{{.Repository}}:{{.Tag}}' "$MACHINE_REPO" | head -n1; }

# ---- one sandbox per machine ---------------------------------------------------------------------------
# Removes every container, network and volume labelled mbio-sandbox (the images stay cached). Prints each.
sandbox_remove_objects() {
  local id name
  while read -r id name; do
    [ -n "$id" ] || continue
    docker rm -f -v "$id" >/dev/null && note "removed container $name"
  done < <(sandbox_containers)
  while read -r id name; do
    [ -n "$id" ] || continue
    docker network rm "$id" >/dev/null && note "removed network $name"
  done < <(docker network ls --filter "label=$LABEL" --format '{{.ID}} {{.Name}}')
  while read -r name; do
    [ -n "$name" ] || continue
    docker volume rm -f "$name" >/dev/null && note "removed volume $name"
  done < <(docker volume ls -q --filter "label=$LABEL")
}

# The sandbox's containers that belong to another state than this checkout's: "NAME OWNER" each, OWNER "-"
# when the container predates the owner label and this checkout has no state yet (a fresh clone).
sandbox_foreign() {
  local name owner
  while read -r name owner; do
    [ -n "$name" ] || continue
    [ "$owner" = "$STATE_DIR" ] && continue
    if [ -z "$owner" ]; then
      # Made before containers carried their owner: this checkout's own if it has a sandbox state.
      [ -f "$STATE_DIR/machines.json" ] && continue
      owner=-
    fi
    echo "$name $owner"
  done < <(docker ps -a --filter "label=$LABEL" --filter "name=^${MACHINE_PREFIX}" --format "{{.Names}} {{.Label \"$OWNER_LABEL\"}}")
}

# Before the sandbox is (re)built: a sandbox made from another checkout's state is either still that
# checkout's (its state directory exists: refuse, saying what to run) or left by a checkout that is gone
# (removed here, so this one starts clean: reusing it failed with the old S3 keys, XAdminUserNotFound, and a
# Pebble restarting forever without its certificate directory).
sandbox_claim() {
  local foreign name owner others=""
  foreign="$(sandbox_foreign)"
  [ -n "$foreign" ] || return 0
  while read -r name owner; do
    if [ "$owner" != - ] && [ -d "$owner" ]; then
      die "the sandbox on this machine belongs to another checkout ($name was made with $owner): run 'bash ${owner%/sandbox/.state}/sandbox/down.sh' (or delete that checkout), then run this again"
    fi
    others+="$name "
  done <<<"$foreign"
  warn "removing a sandbox left by a checkout that no longer exists (${others% }): its keys, CA and S3 credentials are not this checkout's"
  sandbox_remove_objects
}
