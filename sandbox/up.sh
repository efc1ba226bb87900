#!/usr/bin/env bash
# Brings up the local multi-machine sandbox: N systemd containers that look like Hetzner servers
# (sshd, Debian's docker.io, cloud-init), a TLS registry holding the images built from images/*/, and
# Pulumi.local.yaml describing them as machineSource: existing. Idempotent: running it again converges
# (starts what is stopped, adds or removes machines to reach N, rebuilds nothing that is current).
#
#   sandbox/up.sh [N]          N machines (default 3, or $SANDBOX_MACHINES)
#   sandbox/up.sh --images     only the base and machine images (what real tests' own machines need)
#
# Env: SANDBOX_SUBNET (default 172.30.0.0/24), SANDBOX_S3_ENDPOINT (enables backups to that S3 endpoint),
#      SANDBOX_CLOUD_INIT=background (start cloud-init and return at once, as a new Hetzner server does),
#      SANDBOX_REFRESH_BASE=1 (re-debootstrap the base image), SANDBOX_RECREATE=1 (recreate machines
#      whose image is outdated), SANDBOX_DEBIAN_MIRROR.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
case "${1:-}" in -h | --help) usage; exit 0 ;; esac
[ $# -le 1 ] || die "too many arguments; usage: sandbox/up.sh [N]"
IMAGES_ONLY=0
if [ "${1:-}" = --images ]; then IMAGES_ONLY=1; shift; fi

N="${1:-${SANDBOX_MACHINES:-3}}"
if ! [[ "$N" =~ ^[0-9]+$ ]] || [ "$((10#$N))" -lt 1 ] || [ "$((10#$N))" -gt "$MAX_MACHINES" ]; then
  die "the number of machines must be a whole number from 1 to $MAX_MACHINES (got '$N'); usage: sandbox/up.sh [N] or SANDBOX_MACHINES=N"
fi
N=$((10#$N))
valid_cidr "$SUBNET" || die "SANDBOX_SUBNET=$SUBNET is not an IPv4 CIDR from /16 to /26 such as 172.30.0.0/24"
[ $(($(subnet_base) + 10 + N)) -lt $(($(cidr_range "$SUBNET" | cut -d' ' -f2))) ] ||
  die "SANDBOX_SUBNET=$SUBNET is too small for $N machines (they use .11 to .$((10 + N)))"

if [ -n "${SANDBOX_S3_ENDPOINT:-}" ] && ! [[ "$SANDBOX_S3_ENDPOINT" =~ ^https?://[^[:space:]/]+/?$ ]]; then
  die "SANDBOX_S3_ENDPOINT=$SANDBOX_S3_ENDPOINT is not an http(s) URL of an S3 endpoint such as http://172.30.0.5:9000"
fi
MANAGERS=$(manager_count "$N")
WORKERS=$((N - MANAGERS))
REGISTRY="$(registry_address)"
USER_DATA="$MBIO_ROOT/components/files/cloud-init/user-data.yaml"
# The renderer the Pulumi program uses too (resolves '# @include FILE'); the raw file when there is none.
USER_DATA_RENDER="$MBIO_ROOT/components/files/cloud-init/render.sh"
LOG_DIR="$STATE_DIR/logs"
TLS_DIR="$STATE_DIR/tls"
REGISTRY_TLS_DIR="$STATE_DIR/registry-tls" # mounted into the registry: its certificate, key and the CA
HOST_CERTS_DIR="/etc/docker/certs.d/$REGISTRY"
export DOCKER_BUILDKIT=0 # the host may have no buildx; the legacy builder is enough for these images

# Runs a command with its output in a log file; on failure shows the end of the log and stops.
logged() {
  local logfile=$1
  shift
  if ! "$@" >"$logfile" 2>&1; then
    tail -n 30 "$logfile" >&2
    die "'$*' failed; full log: $logfile"
  fi
}

# A content hash of a directory plus the base image ID: rebuild an image only when either changed.
dir_hash() {
  { tar -C "$1" -c --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner . ; docker image inspect -f '{{.Id}}' "$BASE_IMAGE"; } |
    sha256sum | cut -c1-12
}

# ---- base image -------------------------------------------------------------------------------------
ensure_base_image() {
  if image_exists "$BASE_IMAGE" && [ "${SANDBOX_REFRESH_BASE:-0}" != 1 ] &&
    [ "$(docker image inspect -f '{{index .Config.Labels "'"$IMAGE_LABEL"'"}}' "$BASE_IMAGE")" = base ]; then
    note "reusing $BASE_IMAGE (Debian package lists of $(docker image inspect -f '{{index .Config.Labels "mbio-sandbox.debian-date"}}' "$BASE_IMAGE"); SANDBOX_REFRESH_BASE=1 rebuilds it)"
    return 0
  fi
  ensure_apt_packages debootstrap
  mkdir -p "$MBIO_CACHE"
  local dir
  dir="$(mktemp -d "$MBIO_CACHE/sandbox-rootfs.XXXXXX")"
  CLEANUP_DIRS+=("$dir")
  note "debootstrap --variant=minbase $SUITE from $MIRROR (log: $LOG_DIR/debootstrap.log)"
  logged "$LOG_DIR/debootstrap.log" as_root debootstrap --variant=minbase "$SUITE" "$dir" "$MIRROR"
  # Same apt sources as a Debian 12 server: the suite, its updates and security.
  as_root rm -f "$dir/etc/apt/sources.list" "$dir/etc/hostname" "$dir/etc/resolv.conf"
  as_root tee "$dir/etc/apt/sources.list.d/debian.sources" >/dev/null <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  as_root find "$dir/var/cache/apt/archives" -name '*.deb' -delete
  local date
  date="$(sed -n 's/^Date: //p' "$dir"/var/lib/apt/lists/*_InRelease | head -n1)"
  as_root tar -C "$dir" -c . | docker import \
    --change "LABEL $IMAGE_LABEL=base" \
    --change "LABEL mbio-sandbox.debian-date=\"$date\"" --change 'CMD ["/bin/bash"]' \
    - "$BASE_IMAGE" >/dev/null
  as_root rm -rf "$dir"
  note "imported $BASE_IMAGE (Debian $SUITE, package lists of $date)"
}

# ---- images the sandbox itself runs -----------------------------------------------------------------
# build_local_image KIND REPO DIR: builds DIR as REPO:<content hash> unless that tag exists; prints the tag.
build_local_image() {
  local kind=$1 repo=$2 dir=$3 tag
  tag="$repo:$(dir_hash "$dir")"
  if image_exists "$tag"; then
    note "reusing $tag" >&2
  else
    note "building $tag from ${dir#"$MBIO_ROOT"/} (log: $LOG_DIR/$kind-build.log)"
    logged "$LOG_DIR/$kind-build.log" docker build --build-arg "BASE_IMAGE=$BASE_IMAGE" \
      --label "$IMAGE_LABEL=$kind" -t "$tag" "$dir"
  fi
  # Superseded builds of this kind that no container uses are dropped.
  local old
  for old in $(docker images --filter "label=$IMAGE_LABEL=$kind" --format '{{.Repository}}:{{.Tag}}' "$repo"); do
    if [ "$old" != "$tag" ] && docker rmi "$old" >/dev/null 2>&1; then note "removed superseded image $old"; fi
  done
  BUILT_TAG="$tag"
}

ensure_machine_image() {
  build_local_image machine "$MACHINE_REPO" "$SANDBOX_DIR/machine"
  MACHINE_IMAGE="$BUILT_TAG"
  DOCKER_VERSION="$(docker run --rm --entrypoint dpkg-query "$MACHINE_IMAGE" -W -f='${Version}' docker.io)"
  note "machine image $MACHINE_IMAGE: docker.io $DOCKER_VERSION"
}

# ---- network ---------------------------------------------------------------------------------------
ensure_network() {
  if docker network inspect "$NETWORK" >/dev/null 2>&1; then
    local have_subnet have_label
    have_subnet="$(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$NETWORK")"
    have_label="$(docker network inspect -f '{{index .Labels "mbio-sandbox"}}' "$NETWORK")"
    [ "$have_label" = 1 ] ||
      die "a Docker network named $NETWORK exists that the sandbox did not create: remove it (docker network rm $NETWORK) and run again"
    [ "$have_subnet" = "$SUBNET" ] ||
      die "network $NETWORK exists with subnet $have_subnet, not $SUBNET: run sandbox/down.sh first, or set SANDBOX_SUBNET=$have_subnet"
    note "reusing network $NETWORK ($SUBNET, bridge $BRIDGE)"
    return 0
  fi
  # The subnet must be free: no Docker network and no host route or address may overlap it.
  local name subnet
  while read -r name subnet; do
    [ -n "$subnet" ] || continue
    cidrs_overlap "$SUBNET" "$subnet" &&
      die "subnet $SUBNET is in use by Docker network '$name' ($subnet): set SANDBOX_SUBNET to a free range (e.g. SANDBOX_SUBNET=172.31.250.0/24) or remove that network"
  done < <(docker network ls -q | xargs -r docker network inspect -f '{{.Name}}{{range .IPAM.Config}} {{.Subnet}}{{end}}' |
    awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^[0-9.]+\/[0-9]+$/) print $1, $i }')
  local dest line
  while read -r line; do
    dest="${line%% *}"
    [[ "$dest" =~ ^[0-9.]+(/[0-9]+)?$ ]] || continue
    cidrs_overlap "$SUBNET" "$dest" &&
      die "subnet $SUBNET is in use on this host (route: $line): set SANDBOX_SUBNET to a free range (e.g. SANDBOX_SUBNET=172.31.250.0/24)"
  done < <(ip -4 route show table all | grep -v -e '^local ' -e '^broadcast ' || true)
  docker network create --driver bridge --subnet "$SUBNET" --gateway "$(gateway_ip)" \
    -o "com.docker.network.bridge.name=$BRIDGE" --label "$LABEL" --label mbio-sandbox.kind=network \
    "$NETWORK" >/dev/null
  note "created network $NETWORK ($SUBNET, gateway $(gateway_ip), bridge $BRIDGE)"
}

# ---- ssh key and CA ---------------------------------------------------------------------------------
ensure_credentials() {
  mkdir -p "$STATE_DIR" "$TLS_DIR"
  chmod 700 "$STATE_DIR"
  if [ ! -f "$SSH_KEY" ]; then
    ssh-keygen -q -t ed25519 -N '' -C "mbio-sandbox@$(hostname)" -f "$SSH_KEY"
    note "generated SSH key $SSH_KEY"
  else
    note "reusing SSH key $SSH_KEY"
  fi
  SSH_PUBLIC_KEY="$(cat "$SSH_KEY.pub")"
  if [ ! -f "$TLS_DIR/ca.crt" ] || [ ! -f "$TLS_DIR/ca.key" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
      -subj "/O=mbio-cloud sandbox/CN=mbio-sandbox CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.crt" 2>/dev/null
    note "generated the sandbox CA $TLS_DIR/ca.crt"
  fi
  # The registry's certificate names its address; reissue it when that changed or the CA is new.
  local crt="$REGISTRY_TLS_DIR/registry.crt" key="$REGISTRY_TLS_DIR/registry.key"
  if issue_server_cert "$TLS_DIR" "$crt" "$key" "$REGISTRY_NAME" "$(registry_ip)" ||
    ! cmp -s "$TLS_DIR/ca.crt" "$REGISTRY_TLS_DIR/ca.crt"; then
    cp "$TLS_DIR/ca.crt" "$REGISTRY_TLS_DIR/ca.crt"
    REGISTRY_CERT_CHANGED=1
    note "issued registry certificate for $REGISTRY"
  else
    note "reusing registry certificate for $REGISTRY"
  fi
  chmod 600 "$TLS_DIR/ca.key" "$key"
}

# ---- registry --------------------------------------------------------------------------------------
ensure_registry() {
  build_local_image registry "$REGISTRY_REPO" "$SANDBOX_DIR/registry"
  # The registry's storage is a cache, like the built images: content-addressed, so a sandbox brought up again
  # (or from another clone) pushes only manifests instead of every layer again (~100 s of each fresh sandbox,
  # measured; sandbox/down.sh keeps it, `rm -rf` it to start empty).
  local image="$BUILT_TAG" storage="$MBIO_CACHE/sandbox-registry"
  if container_exists "$REGISTRY_NAME" && [ "$(docker inspect -f '{{.Config.Image}}' "$REGISTRY_NAME")" != "$image" ]; then
    docker rm -f "$REGISTRY_NAME" >/dev/null
    note "replaced $REGISTRY_NAME: its image changed (its storage stays)"
  fi
  # A registry started from another checkout serves that checkout's certificate, which this CA does not sign;
  # one from an older up.sh kept its storage in a volume.
  mount_of() { docker inspect -f "{{range .Mounts}}{{if eq .Destination \"$1\"}}{{.Source}}{{end}}{{end}}" "$REGISTRY_NAME"; }
  if container_exists "$REGISTRY_NAME" &&
    { [ "$(mount_of /etc/docker/registry/tls)" != "$REGISTRY_TLS_DIR" ] || [ "$(mount_of /var/lib/docker-registry)" != "$storage" ]; }; then
    docker rm -f "$REGISTRY_NAME" >/dev/null
    note "replaced $REGISTRY_NAME: it served another checkout's certificate or storage"
  fi
  mkdir -p "$storage" && chmod 700 "$storage"
  if ! container_exists "$REGISTRY_NAME"; then
    docker run -d --name "$REGISTRY_NAME" --hostname "$REGISTRY_NAME" --restart unless-stopped \
      --label "$LABEL" --label mbio-sandbox.kind=registry --label "$OWNER_LABEL=$STATE_DIR" \
      --network "$NETWORK" --ip "$(registry_ip)" -v "$storage:/var/lib/docker-registry" \
      -v "$REGISTRY_TLS_DIR:/etc/docker/registry/tls:ro" "$image" >/dev/null
    note "created $REGISTRY_NAME at $REGISTRY"
  elif ! container_running "$REGISTRY_NAME"; then
    docker start "$REGISTRY_NAME" >/dev/null
    note "started $REGISTRY_NAME"
  elif [ "${REGISTRY_CERT_CHANGED:-0}" = 1 ]; then
    docker restart "$REGISTRY_NAME" >/dev/null
    note "restarted $REGISTRY_NAME for its new certificate"
  else
    note "$REGISTRY_NAME running at $REGISTRY"
  fi
  # The host's engine trusts the sandbox CA for this registry only (certs.d; no daemon restart).
  if ! cmp -s "$TLS_DIR/ca.crt" "$HOST_CERTS_DIR/ca.crt" 2>/dev/null; then
    as_root install -D -m 644 "$TLS_DIR/ca.crt" "$HOST_CERTS_DIR/ca.crt"
    echo "created by mbio-cloud sandbox/up.sh; removed by sandbox/down.sh" | as_root tee "$HOST_CERTS_DIR/mbio-sandbox.marker" >/dev/null
    note "host docker trusts $REGISTRY ($HOST_CERTS_DIR/ca.crt)"
  fi
  local i
  for i in $(seq 1 60); do
    curl -fsS --max-time 2 --cacert "$TLS_DIR/ca.crt" "https://$REGISTRY/v2/" >/dev/null 2>&1 && {
      note "registry answers at https://$REGISTRY/v2/"
      touch "$STATE_DIR/registry.ready"
      return 0
    }
    sleep 0.5
  done
  docker logs --tail 20 "$REGISTRY_NAME" >&2 || true
  die "the registry did not answer at https://$REGISTRY/v2/ within 30 s (docker logs $REGISTRY_NAME)"
}

# ---- machines --------------------------------------------------------------------------------------
ensure_machines() {
  local idx
  # Converge down: machines beyond N go, with their Docker volumes.
  for idx in $(existing_machine_indexes); do
    if [ "$idx" -gt "$N" ]; then
      docker rm -f "$(machine_name "$idx")" >/dev/null
      docker volume rm -f "$(machine_volume "$idx")" >/dev/null 2>&1 || true
      note "removed $(machine_name "$idx") (only $N wanted)"
    fi
  done
  local i name ip volume have_ip have_image
  for i in $(seq 1 "$N"); do
    name="$(machine_name "$i")" ip="$(machine_ip "$i")" volume="$(machine_volume "$i")"
    if container_exists "$name"; then
      have_ip="$(docker inspect -f '{{with index .NetworkSettings.Networks "'"$NETWORK"'"}}{{.IPAMConfig.IPv4Address}}{{end}}' "$name" 2>/dev/null || true)"
      have_image="$(docker inspect -f '{{.Config.Image}}' "$name")"
      if [ "$have_ip" != "$ip" ]; then
        die "$name exists but is not at $ip on $NETWORK: run sandbox/down.sh, then sandbox/up.sh"
      fi
      if [ "$have_image" != "$MACHINE_IMAGE" ]; then
        if [ "${SANDBOX_RECREATE:-0}" = 1 ]; then
          docker rm -f "$name" >/dev/null
          docker volume rm -f "$volume" >/dev/null 2>&1 || true
          note "$name: recreating with $MACHINE_IMAGE (SANDBOX_RECREATE=1)"
        else
          warn "$name runs $have_image, not the current $MACHINE_IMAGE: SANDBOX_RECREATE=1 sandbox/up.sh recreates it (its Swarm state is lost)"
        fi
      fi
    fi
    if container_exists "$name"; then
      # Like servers after a reboot, machines come back when the host's Docker engine restarts.
      [ "$(docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' "$name")" = unless-stopped ] ||
        docker update --restart unless-stopped "$name" >/dev/null
      if container_running "$name"; then
        note "$name ($ip): running"
        continue
      elif docker start "$name" >/dev/null 2>"$LOG_DIR/start-$name.log"; then
        note "$name ($ip): started"
        continue
      fi
      # E.g. after the host's dockerd restarted under it: "task ... already exists". Recreate it on the
      # same volume.
      warn "$name did not start ($(tail -n1 "$LOG_DIR/start-$name.log")): recreating it"
      docker rm -f "$name" >/dev/null
    fi
    docker volume inspect "$volume" >/dev/null 2>&1 ||
      docker volume create --label "$LABEL" --label mbio-sandbox.kind=machine --label "mbio-sandbox.index=$i" "$volume" >/dev/null
    # Boot is awaited in configure_machines, for all machines at once.
    docker_run_machine "$name" "$MACHINE_IMAGE" --restart unless-stopped \
      --label "$LABEL" --label mbio-sandbox.kind=machine --label "mbio-sandbox.index=$i" --label "$OWNER_LABEL=$STATE_DIR" \
      --network "$NETWORK" --ip "$ip" -v "$volume:/var/lib/docker"
    note "$name ($ip): created"
  done
}

# Inside a machine: root's key and the registry CA, without touching what cloud-init or the platform wrote.
# shellcheck disable=SC2016 # runs inside the machine
MACHINE_SETUP='set -eu
pub="$1" registry="$2" ca="$3"
install -d -m 700 /root/.ssh
touch /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys
grep -qxF "$pub" /root/.ssh/authorized_keys || printf "%s\n" "$pub" >>/root/.ssh/authorized_keys
install -d "/etc/docker/certs.d/$registry"
printf "%s\n" "$ca" | cmp -s - "/etc/docker/certs.d/$registry/ca.crt" || printf "%s\n" "$ca" >"/etc/docker/certs.d/$registry/ca.crt"
'

configure_machines() {
  local i name ca
  ca="$(cat "$TLS_DIR/ca.crt")"
  for i in $(seq 1 "$N"); do
    name="$(machine_name "$i")"
    machine_booted "$name" || die "$name did not boot"
    note "$name: systemd up"
    docker exec "$name" bash -c "$MACHINE_SETUP" - "$SSH_PUBLIC_KEY" "$REGISTRY" "$ca"
  done
}

wait_for_ssh() {
  local i ip
  for i in $(seq 1 "$N"); do
    ip="$(machine_ip "$i")"
    WAIT_EVERY=1 wait_for "sshd on $(machine_name "$i")" 60 machine_ssh "$ip" true ||
      die "sshd on $(machine_name "$i") ($ip) does not accept the sandbox key after 60 s; check: docker exec $(machine_name "$i") systemctl status ssh"
  done
  note "sshd accepts $SSH_KEY as root on all $N machines"
}

# ---- cloud-init ------------------------------------------------------------------------------------
# Modules whose failure stops sandbox/up.sh; others are reported and tolerated (e.g. locale on minbase).
ESSENTIAL_MODULES="${SANDBOX_CLOUD_INIT_ESSENTIAL:-write_files users_groups ssh}"

# Runs cloud-init's stages inside one machine from the NoCloud seed; prints "failed module" lines.
# shellcheck disable=SC2016 # runs inside the machine
CLOUD_INIT_RUN='set -u
seed=/var/lib/cloud/seed/nocloud
start=$(wc -l </var/log/cloud-init.log 2>/dev/null || echo 0)
for stage in "init --local" "init" "modules --mode=config" "modules --mode=final"; do
  echo "### cloud-init $stage"
  cloud-init $stage 2>&1
  echo "### exit $?"
done
grep -q NoCloud /var/lib/cloud/instance/datasource 2>/dev/null || echo "FATAL datasource: $(cat /var/lib/cloud/instance/datasource 2>/dev/null || echo none)"
tail -n +"$((start + 1))" /var/log/cloud-init.log | sed -n "s/.*Running module \([a-z_-]*\) .* failed.*/FAILED \1/p" | tr - _ | sort -u
'

cloud_init_machine() {
  local i=$1 name ip sha seed="$STATE_DIR/cloud-init"
  name="$(machine_name "$i")" ip="$(machine_ip "$i")"
  sha="$(cat "$seed/user-data" "$seed/meta-data.in" | sha256sum | cut -c1-16)"
  if [ "$(docker exec "$name" cat /var/lib/mbio-sandbox/cloud-init.sha 2>/dev/null || true)" = "$sha" ]; then
    echo "$name: cloud-init already applied (user-data unchanged)"
    return 0
  fi
  # A changed user-data is a new instance: clear cloud-init's cache and semaphores (within one boot it
  # would otherwise reuse the cached datasource) so every module runs again, as on a new server.
  docker exec "$name" sh -c '[ ! -e /var/lib/cloud/instance ] || cloud-init clean' >/dev/null
  docker exec "$name" mkdir -p /var/lib/cloud/seed/nocloud /var/lib/mbio-sandbox
  docker cp -q "$seed/user-data" "$name:/var/lib/cloud/seed/nocloud/user-data"
  sed -e "s/@NAME@/$name/g" -e "s/@INSTANCE@/$name-$sha/g" "$seed/meta-data.in" |
    docker exec -i "$name" tee /var/lib/cloud/seed/nocloud/meta-data >/dev/null
  local out="$LOG_DIR/cloud-init-$name.log" failed essential="" other="" m
  if [ "${SANDBOX_CLOUD_INIT:-wait}" = background ]; then
    # As on a new Hetzner server: cloud-init still runs (package_update, harden.sh) while sshd answers and
    # Pulumi starts its bootstrap; the bootstrap's first-boot step must wait for it (swarm-cluster.ts).
    cloud_init_background "$name"
    docker exec "$name" sh -c "echo $sha >/var/lib/mbio-sandbox/cloud-init.sha"
    echo "$name: cloud-init started in the background (SANDBOX_CLOUD_INIT=background; log in the machine: /var/log/mbio-sandbox-cloud-init.log)"
    return 0
  fi
  docker exec "$name" bash -c "$CLOUD_INIT_RUN" >"$out" 2>&1 || true
  if grep -q '^FATAL' "$out"; then
    echo "$name: cloud-init did not read the NoCloud seed ($(sed -n 's/^FATAL //p' "$out")); log: $out"
    return 1
  fi
  failed="$(sed -n 's/^FAILED //p' "$out" | xargs)"
  for m in $failed; do
    if [[ " $ESSENTIAL_MODULES " == *" $m "* ]]; then essential+=" $m"; else other+=" $m"; fi
  done
  if [ -n "$essential" ]; then
    echo "$name: essential cloud-init module(s) failed:$essential; log: $out (and /var/log/cloud-init.log in the machine)"
    return 1
  fi
  docker exec "$name" sh -c "echo $sha >/var/lib/mbio-sandbox/cloud-init.sha"
  local units
  units="$(docker exec "$name" systemctl --failed --no-legend --plain | awk '{print $1}' | xargs)"
  if [ -n "$other" ]; then
    echo "$name: cloud-init applied; non-essential module(s) failed:$other (log: $out)${units:+; failed units: $units}"
  else
    echo "$name: cloud-init applied, all modules succeeded${units:+; failed units: $units}"
  fi
  # Hardening must leave the platform's way in open.
  machine_ssh "$ip" true || { echo "$name: sshd no longer accepts the sandbox key after cloud-init"; return 1; }
}

run_cloud_init() {
  if [ ! -f "$USER_DATA" ]; then
    note "components/files/cloud-init/user-data.yaml does not exist yet: skipping cloud-init"
    note "(sandbox/up.sh applies it to every machine as soon as the file exists)"
    return 0
  fi
  local seed="$STATE_DIR/cloud-init"
  mkdir -p "$seed"
  if [ -f "$USER_DATA_RENDER" ]; then
    bash "$USER_DATA_RENDER" >"$seed/user-data.new" || die "components/files/cloud-init/render.sh failed"
    mv "$seed/user-data.new" "$seed/user-data"
    note "user-data rendered by components/files/cloud-init/render.sh ($(wc -c <"$seed/user-data") bytes)"
  else
    cp "$USER_DATA" "$seed/user-data"
  fi
  # What Hetzner's metadata service provides: instance id, hostname, the project's SSH keys.
  printf '%s\n' "instance-id: @INSTANCE@" "local-hostname: @NAME@" "public-keys:" "  - $SSH_PUBLIC_KEY" >"$seed/meta-data.in"
  local i pids=() failed=0
  for i in $(seq 1 "$N"); do
    cloud_init_machine "$i" >"$LOG_DIR/cloud-init-$i.status" 2>&1 &
    pids+=($!)
  done
  for i in $(seq 1 "$N"); do
    wait "${pids[$((i - 1))]}" || failed=1
    note "$(cat "$LOG_DIR/cloud-init-$i.status")"
  done
  [ "$failed" = 0 ] || die "cloud-init failed on a machine (see above); fix components/files/cloud-init/user-data.yaml and run sandbox/up.sh again"
}

# ---- service images --------------------------------------------------------------------------------
# Checks images/*/ up front (bad names and versions fail before anything is built) and lists
# "name version dir" in IMAGE_PLAN.
plan_images() {
  IMAGE_PLAN=()
  local dockerfile dir name version
  shopt -s nullglob
  local dockerfiles=("$MBIO_ROOT"/images/*/Dockerfile)
  shopt -u nullglob
  for dockerfile in "${dockerfiles[@]}"; do
    dir="$(dirname "$dockerfile")" name="$(basename "$dir")"
    [[ "$name" =~ ^[a-z0-9][a-z0-9._-]*$ ]] || die "images/$name: directory names are image names: lowercase letters, digits, . _ -"
    [ -f "$dir/VERSION" ] || die "images/$name/VERSION is missing: put the image's version (e.g. 1.0.0) in it"
    version="$(tr -d '[:space:]' <"$dir/VERSION")"
    if ! [[ "$version" =~ ^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$ ]] || [ "$version" = latest ]; then
      die "images/$name/VERSION is '$version': it must be a version tag such as 1.0.0 (never latest)"
    fi
    # An image whose host build is long (images/portainer*: 30–60 min cold) has a ready.sh: until it says that
    # build is cached, the image is left out (said plainly) instead of holding up the sandbox.
    local why
    if [ -f "$dir/ready.sh" ] && ! why="$(bash "$dir/ready.sh" 2>&1)"; then
      note "images/$name left out for now: $why"
      continue
    fi
    IMAGE_PLAN+=("$name $version $dir")
  done
}

# The background job: builds every planned image as soon as the base exists, pushes each once the
# registry answers (up.sh touches $REGISTRY_READY), writes "name=reference" lines to $IMAGE_REFS_FILE.
images_job() {
  local entry name version dir tag remote digest t0
  : >"$IMAGE_REFS_FILE"
  for entry in "${IMAGE_PLAN[@]}"; do
    read -r name version dir <<<"$entry"
    tag="mbio-sandbox/$name:$version"
    t0=$(date +%s)
    if [ -f "$dir/prepare.sh" ]; then logged "$LOG_DIR/image-$name-prepare.log" bash "$dir/prepare.sh"; fi
    # The image pipeline's own build (scripts/build-image.sh): the sandbox deploys what CI publishes.
    logged "$LOG_DIR/image-$name.log" env BASE_IMAGE="$BASE_IMAGE" bash "$MBIO_ROOT/scripts/build-image.sh" "$name" "$tag" \
      --label "$IMAGE_LABEL=service"
    note "built $tag in $(($(date +%s) - t0))s"
  done
  local waited=0
  until [ -f "$REGISTRY_READY" ]; do
    [ "$waited" -lt 1200 ] || die "the registry was not ready within 10 min"
    sleep 0.5
    waited=$((waited + 1))
  done
  for entry in "${IMAGE_PLAN[@]}"; do
    read -r name version dir <<<"$entry"
    tag="mbio-sandbox/$name:$version" remote="$REGISTRY/mbio/$name:$version"
    t0=$(date +%s)
    docker tag "$tag" "$remote"
    logged "$LOG_DIR/push-$name.log" docker push "$remote"
    digest="$(sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/\1/p' "$LOG_DIR/push-$name.log" | tail -n1)"
    [ -n "$digest" ] || die "could not read the digest of $remote from the push output ($LOG_DIR/push-$name.log)"
    echo "$name=$remote@$digest" >>"$IMAGE_REFS_FILE"
    note "pushed $remote@$digest in $(($(date +%s) - t0))s"
  done
}

start_images() {
  plan_images
  IMAGE_REFS_FILE="$STATE_DIR/images.refs" REGISTRY_READY="$STATE_DIR/registry.ready"
  rm -f "$REGISTRY_READY"
  if [ "${#IMAGE_PLAN[@]}" -eq 0 ]; then
    note "no images/*/Dockerfile yet: nothing to build"
    return 0
  fi
  images_job >"$LOG_DIR/images.out" 2>&1 &
  IMAGES_PID=$!
  note "building ${#IMAGE_PLAN[@]} image(s) in the background: ${IMAGE_PLAN[*]%% *} (log: $LOG_DIR/images.out)"
}

wait_images() {
  IMAGE_REFS=()
  [ -n "${IMAGES_PID:-}" ] || { note "no images/*/Dockerfile: the images map stays empty"; return 0; }
  local rc=0
  wait "$IMAGES_PID" || rc=$?
  IMAGES_PID=""
  sed 's/^/  /' "$LOG_DIR/images.out" >&2
  [ "$rc" = 0 ] || die "building or pushing images/* failed (see above)"
  mapfile -t IMAGE_REFS <"$IMAGE_REFS_FILE"
}

# ---- Pulumi.local.yaml and machines.json ------------------------------------------------------------
yaml_str() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

machine_host_key() {
  local key
  key="$(docker exec "$(machine_name "$1")" cat /etc/ssh/ssh_host_ed25519_key.pub | awk '{print $1" "$2}')"
  [[ "$key" =~ ^ssh-ed25519\ [A-Za-z0-9+/]{68}$ ]] || die "$(machine_name "$1") has no ed25519 host key (/etc/ssh/ssh_host_ed25519_key.pub)"
  printf '%s' "$key"
}

write_stack_config() {
  local gen="$STATE_DIR/Pulumi.local.generated.yaml" i ref
  # The engine actually installed on the machines is the one the platform must pin.
  DOCKER_VERSION="$(docker exec "$(machine_name 1)" dpkg-query -W -f='${Version}' docker.io)"
  {
    cat <<EOF
# The local sandbox stack, generated by sandbox/up.sh ($N machines) — do not edit by hand: run
# sandbox/up.sh again instead. Secrets are added with pulumi config set --secret (kept on regeneration).
config:
  mbio-cloud:domain: mbiosphere.test
  mbio-cloud:machineSource: existing
  mbio-cloud:managers: $MANAGERS
  mbio-cloud:workers: $WORKERS
  # No CI node: the sandbox runs no GitLab runner (the CI-node placement is proven by tests/real/trust-boundaries.sh).
  mbio-cloud:ciNodes: 0
  mbio-cloud:hosts:
EOF
    # Each machine's real ed25519 host key: Pulumi pins it (cloud-init keeps it: ssh_deletekeys false).
    for i in $(seq 1 "$N"); do
      printf '    - { name: %s, address: %s, privateAddress: %s, port: 22, user: root, hostKey: "%s" }\n' \
        "$(machine_name "$i")" "$(machine_ip "$i")" "$(machine_ip "$i")" "$(machine_host_key "$i")"
    done
    cat <<EOF
  mbio-cloud:sshPublicKeys:
    - $(yaml_str "$SSH_PUBLIC_KEY")
  mbio-cloud:adminCidrs:
    - $SUBNET
  # The Debian package installed on the sandbox machines, exact version (dpkg-query).
  mbio-cloud:dockerEngine:
    package: docker.io
    version: $(yaml_str "$DOCKER_VERSION")
  # The sandbox kernel has no IPVS (Swarm VIPs and the ingress routing mesh pass no traffic) and IPsec
  # (encrypted) overlays pass no traffic: unencrypted overlays, DNS round-robin, host-mode ports.
  mbio-cloud:swarm:
    overlayEncrypted: false
    endpointMode: dnsrr
    publishMode: host
  mbio-cloud:storage:
    driver: local
  # Grafana (AGPL) cannot be built here and no registry serves its image offline: the monitoring stack runs
  # without it (and says so); its dashboards and alert rules are still generated and validated.
  mbio-cloud:monitoring:
    grafana: false
    # Telegraf reads the Docker socket as this group (docker stack deploy ignores group_add).
    dockerGid: $(machine_docker_gid "$MACHINE_IMAGE")
  # Images built from images/*/ and pushed to the sandbox registry $REGISTRY (role: reference).
EOF
    if [ "${#IMAGE_REFS[@]}" -eq 0 ]; then
      echo "  mbio-cloud:images: {}"
    else
      echo "  mbio-cloud:images:"
      for ref in "${IMAGE_REFS[@]}"; do printf '    %s: %s\n' "${ref%%=*}" "$(yaml_str "${ref#*=}")"; done
    fi
    echo "  # ---- backup: the sandbox S3 server; SANDBOX_S3_ENDPOINT=http(s)://HOST:PORT sandbox/up.sh enables it ----"
    if [ -n "${SANDBOX_S3_ENDPOINT:-}" ]; then
      cat <<EOF
  mbio-cloud:backup:
    enabled: true
    s3:
      endpoint: $(yaml_str "$SANDBOX_S3_ENDPOINT")
      bucket: mbio-cloud-local-backups
EOF
    else
      echo "  mbio-cloud:backup: { enabled: false }"
    fi
    write_edge_config
  } >"$gen"
  ensure_node
  [ -f "$MBIO_ROOT/node_modules/yaml/package.json" ] || ensure_node_modules
  local result
  result="$(node "$SANDBOX_DIR/stack-config.mjs" "$gen" "$STACK_FILE")" ||
    die "the generated config does not pass the program's validator (see above); $gen has it"
  note "wrote $STACK_FILE (validated with components/config/load.ts)"
  local kept missing
  kept="$(jq -r '.kept | join(", ")' <<<"$result")"
  missing="$(jq -r '.missingSecrets | join(", ")' <<<"$result")"
  [ -z "$kept" ] || note "kept from the previous file: $kept"
  [ -z "$missing" ] || note "still to set as secrets (pulumi config set --secret mbio-cloud:KEY --stack local): $missing"

  for i in $(seq 1 "$N"); do
    jq -n --arg name "$(machine_name "$i")" --arg ip "$(machine_ip "$i")" \
      --arg role "$([ "$i" -le "$MANAGERS" ] && echo manager || echo worker)" '{name: $name, ip: $ip, role: $role}'
  done | jq -s '.' >"$STATE_DIR/machines.json.tmp"
  mv "$STATE_DIR/machines.json.tmp" "$STATE_DIR/machines.json"
  # A ssh_config for people: ssh -F sandbox/.state/ssh_config mbio-sandbox-1, checking the pinned host keys.
  for i in $(seq 1 "$N"); do printf '%s %s\n' "$(machine_ip "$i")" "$(machine_host_key "$i")"; done >"$STATE_DIR/known_hosts"
  for i in $(seq 1 "$N"); do
    printf 'Host %s\n  HostName %s\n  User root\n  IdentityFile %s\n  IdentitiesOnly yes\n  StrictHostKeyChecking yes\n  UserKnownHostsFile %s\n  LogLevel ERROR\n' \
      "$(machine_name "$i")" "$(machine_ip "$i")" "$SSH_KEY" "$STATE_DIR/known_hosts"
  done >"$STATE_DIR/ssh_config"
  note "wrote sandbox/.state/machines.json and sandbox/.state/ssh_config"
}

# The edge's part of Pulumi.local.yaml: certificates from the sandbox's Pebble (sandbox/pebble.sh, http-01
# against Traefik), no DNS provider (names resolve with curl --resolve or /etc/hosts), the demo service, and
# Portainer once its images are in the registry (ensure_portainer_images); until then it is off, said plainly.
write_edge_config() {
  cat <<EOF
  # ---- edge: certificates from the sandbox's ACME server (Pebble), trusted through the sandbox CA ----
  mbio-cloud:edge:
    acme:
      challenge: http
      caServer: $(yaml_str "https://$(int2ip $(($(subnet_base) + 4))):14000/dir")
      caCertificate: |
$(sed 's/^/        /' "$TLS_DIR/ca.crt")
  mbio-cloud:dns: { provider: none }
EOF
  if printf '%s\n' "${IMAGE_REFS[@]}" | grep -q '^demo='; then echo "  mbio-cloud:demo: { enabled: true, replicas: 2 }"; fi
  if [ -n "${PORTAINER_REFS:-}" ]; then
    echo "  mbio-cloud:controlPlane: { enabled: true }"
  else
    echo "  # Portainer's images are not built yet (bash scripts/portainer-build.sh; scripts/local.sh starts it in the"
    echo "  # background): sandbox/up.sh enables the control plane once they are."
    echo "  mbio-cloud:controlPlane: { enabled: false }"
  fi
}

# Portainer CE 2.21.4, the version staging and production name: built from its upstream sources
# (scripts/portainer-build.sh → images/portainer, images/portainer-agent, pushed with the other images/*), or,
# on a machine with internet, upstream's own images pinned by digest (SANDBOX_PORTAINER_IMAGE and
# SANDBOX_PORTAINER_AGENT_IMAGE, pulled and pushed to the sandbox registry). Never another program in its place.
ensure_portainer_images() {
  PORTAINER_REFS=""
  if [ -z "${SANDBOX_PORTAINER_IMAGE:-}" ] || [ -z "${SANDBOX_PORTAINER_AGENT_IMAGE:-}" ]; then
    if printf '%s\n' "${IMAGE_REFS[@]}" | grep -q '^portainer=' && printf '%s\n' "${IMAGE_REFS[@]}" | grep -q '^portainer-agent='; then
      note "Portainer $(tr -d '[:space:]' <"$MBIO_ROOT/images/portainer/VERSION") built from its upstream sources and pushed"
      PORTAINER_REFS=1
    else
      note "Portainer left out for now: its images are not built yet (bash scripts/portainer-build.sh --check; log: $MBIO_CACHE/logs/portainer-build.log)"
    fi
    return 0
  fi
  local role ref remote digest refs=()
  for role in portainer portainer-agent; do
    ref="$SANDBOX_PORTAINER_IMAGE"
    [ "$role" = portainer ] || ref="$SANDBOX_PORTAINER_AGENT_IMAGE"
    [[ "$ref" =~ ^[a-z0-9./-]+:[A-Za-z0-9._-]+@sha256:[a-f0-9]{64}$ ]] || die "the $role image '$ref' must be pinned as name:version@sha256:<digest>"
    if ! docker pull -q "$ref" >/dev/null 2>&1; then
      note "Portainer skipped: $ref cannot be pulled here (no registry reachable)"
      return 0
    fi
    remote="$REGISTRY/upstream/${ref%%@*}"
    docker tag "$ref" "$remote"
    docker push "$remote" >"$LOG_DIR/push-$role.log" 2>&1 || die "pushing $remote failed ($LOG_DIR/push-$role.log)"
    digest="$(sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/\1/p' "$LOG_DIR/push-$role.log" | tail -n1)"
    refs+=("$role=$remote@$digest")
  done
  IMAGE_REFS+=("${refs[@]}")
  PORTAINER_REFS=1
}

# Every machine reaches the registry over TLS with the CA it was given.
check_machines_reach_registry() {
  local i name
  for i in $(seq 1 "$N"); do
    name="$(machine_name "$i")"
    docker exec "$name" curl -fsS --max-time 5 --cacert "/etc/docker/certs.d/$REGISTRY/ca.crt" "https://$REGISTRY/v2/" >/dev/null ||
      die "$name cannot reach the registry at https://$REGISTRY/v2/ with the sandbox CA"
  done
  note "all $N machines reach https://$REGISTRY/v2/ and trust its certificate"
}

# ---- main ------------------------------------------------------------------------------------------
CLEANUP_DIRS=()
IMAGES_PID=""
cleanup() {
  local d
  if [ -n "$IMAGES_PID" ]; then pkill -P "$IMAGES_PID" 2>/dev/null || true; kill "$IMAGES_PID" 2>/dev/null || true; fi
  for d in "${CLEANUP_DIRS[@]}"; do [ ! -d "$d" ] || as_root rm -rf "$d"; done
}

main() {
  trap cleanup EXIT
  local t0
  t0=$(date +%s)
  log "sandbox: $N machine(s) ($MANAGERS manager(s), $WORKERS worker(s)) on $SUBNET"
  require_docker
  mkdir -p "$MBIO_CACHE" "$STATE_DIR" "$LOG_DIR"
  exec 9>"$MBIO_CACHE/sandbox.lock"
  flock -n 9 || die "another sandbox/up.sh or sandbox/down.sh is running (lock $MBIO_CACHE/sandbox.lock)"
  sandbox_claim
  ensure_apt_packages iproute2 openssl openssh-client jq curl

  STEP_TOTAL=14
  step "network $NETWORK" ensure_network
  step "base image $BASE_IMAGE (debootstrap minbase)" ensure_base_image
  step "images/*: start building (background)" start_images
  step "machine image" ensure_machine_image
  step "SSH key and sandbox CA" ensure_credentials
  step "registry $REGISTRY" ensure_registry
  step "machines" ensure_machines
  step "machines boot; key and registry CA installed" configure_machines
  step "sshd on every machine" wait_for_ssh
  step "cloud-init" run_cloud_init
  step "images/*: built and pushed" wait_images
  step "Portainer images (built from sources, or pinned upstream ones where they can be pulled)" ensure_portainer_images
  step "Pulumi.local.yaml and sandbox/.state/machines.json" write_stack_config
  step "machines reach the registry" check_machines_reach_registry

  log "sandbox is up in $(($(date +%s) - t0))s"
  printf '%s\n' "${STEP_SUMMARY[@]}" >&2
  {
    echo
    printf '  %-16s %-14s %s\n' MACHINE ADDRESS ROLE
    jq -r '.[] | "  \(.name | . + " " * (16 - length)) \(.ip | . + " " * (14 - length)) \(.role)"' "$STATE_DIR/machines.json"
    echo
    echo "  registry   https://$REGISTRY (CA: sandbox/.state/tls/ca.crt)"
    echo "  docker.io  $DOCKER_VERSION"
    echo "  ssh        ssh -F sandbox/.state/ssh_config $(machine_name 1)   (or ssh -i sandbox/.state/id_ed25519 root@$(machine_ip 1))"
    echo "  stack      Pulumi.local.yaml (stack local)"
  } >&2
}

# The images alone: no machine, network or lock (nothing of the singleton is touched).
images_only() {
  trap cleanup EXIT
  require_docker
  mkdir -p "$MBIO_CACHE" "$LOG_DIR"
  ensure_base_image
  ensure_machine_image
}

# Sourced (scripts/build-image.sh, templates test): the functions only.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  if [ "$IMAGES_ONLY" = 1 ]; then images_only; else main; fi
fi
