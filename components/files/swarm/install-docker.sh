#!/usr/bin/env bash
# Installs Docker Engine (and containerd) at the pinned versions and writes daemon.json; touches nothing
# that already matches, so a second run prints only "unchanged".
# Env: DOCKER_PACKAGE (docker-ce | docker.io), DOCKER_VERSION (exact apt version),
#      CONTAINERD_VERSION (exact apt version of containerd.io / containerd; empty: whatever apt picks),
#      CHECK_ONLY=1: change nothing, print "current" or "outdated: …" (the rolling upgrade asks first, so a
#      node whose engine already matches is never drained).
set -euo pipefail
: "${DOCKER_PACKAGE:?}" "${DOCKER_VERSION:?}"
CONTAINERD_VERSION="${CONTAINERD_VERSION:-}"
export DEBIAN_FRONTEND=noninteractive
say() { printf 'install-docker: %s\n' "$*" >&2; }

# docker-ce ships its runtime as containerd.io (Docker's repository); docker.io depends on Debian's containerd.
if [ "$DOCKER_PACKAGE" = docker-ce ]; then containerd_pkg=containerd.io; else containerd_pkg=containerd; fi
version_of() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }
# Logs stay on stdout of each container and rotate on disk. live-restore stays off on purpose: dockerd
# refuses to start its Swarm component with it ("--live-restore daemon configuration is incompatible
# with swarm mode"), so enabling it would take the node out of the cluster at the next restart.
desired='{
  "log-driver": "json-file",
  "log-opts": { "max-size": "10m", "max-file": "5" },
  "live-restore": false,
  "metrics-addr": "127.0.0.1:9323"
}'
outdated=()
[ "$(version_of "$DOCKER_PACKAGE")" = "$DOCKER_VERSION" ] || outdated+=("$DOCKER_PACKAGE $(version_of "$DOCKER_PACKAGE") -> $DOCKER_VERSION")
[ -z "$CONTAINERD_VERSION" ] || [ "$(version_of "$containerd_pkg")" = "$CONTAINERD_VERSION" ] || outdated+=("$containerd_pkg $(version_of "$containerd_pkg") -> $CONTAINERD_VERSION")
[ -f /etc/docker/daemon.json ] && [ "$(cat /etc/docker/daemon.json)" = "$desired" ] || outdated+=("/etc/docker/daemon.json")
if [ "${CHECK_ONLY:-}" = 1 ]; then
  if [ "${#outdated[@]}" -eq 0 ]; then echo current; else echo "outdated: ${outdated[*]}"; fi
  exit 0
fi

# Hetzner servers run cloud-init on first boot; apt must not race it.
if command -v cloud-init >/dev/null && cloud-init status 2>/dev/null | grep -q running; then
  say "waiting for cloud-init to finish"
  timeout 900 cloud-init status --wait >/dev/null || say "cloud-init did not finish in 15 min; continuing"
fi

# Packages are held so unattended-upgrades never moves the engine under the Swarm; a pin change is the one
# way it moves, so the install must be allowed to change held packages (and to go back: --allow-downgrades).
containerd_pin=()
[ -z "$CONTAINERD_VERSION" ] || containerd_pin=("$containerd_pkg=$CONTAINERD_VERSION")
installed="$(version_of "$DOCKER_PACKAGE")"
installed_containerd="$(version_of "$containerd_pkg")"
if [ "$installed" = "$DOCKER_VERSION" ] && { [ -z "$CONTAINERD_VERSION" ] || [ "$installed_containerd" = "$CONTAINERD_VERSION" ]; }; then
  say "unchanged $DOCKER_PACKAGE $installed, $containerd_pkg ${installed_containerd:-none}"
else
  say "installing $DOCKER_PACKAGE=$DOCKER_VERSION ${containerd_pin[*]} (found: ${installed:-none}, $containerd_pkg ${installed_containerd:-none})"
  if [ "$DOCKER_PACKAGE" = docker-ce ]; then
    # Docker's apt repository, signed by Docker's release key (fingerprint checked, not trusted blindly).
    if [ ! -f /etc/apt/keyrings/docker.asc ]; then
      install -m 0755 -d /etc/apt/keyrings
      curl -fsSL https://download.docker.com/linux/debian/gpg -o /etc/apt/keyrings/docker.asc
      gpg --show-keys --with-colons /etc/apt/keyrings/docker.asc | grep -q '^fpr:*9DC858229FC7DD38854AE2D88D81803C0EBFCD88:' \
        || { rm -f /etc/apt/keyrings/docker.asc; say "error: Docker's apt key has an unexpected fingerprint"; exit 1; }
    fi
    # shellcheck disable=SC1091
    codename="$(. /etc/os-release && echo "$VERSION_CODENAME")"
    echo "deb [arch=$(dpkg --print-architecture) signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/debian $codename stable" >/etc/apt/sources.list.d/docker.list
    packages=("docker-ce=$DOCKER_VERSION" "docker-ce-cli=$DOCKER_VERSION")
    held=(docker-ce docker-ce-cli containerd.io)
  else
    packages=("docker.io=$DOCKER_VERSION")
    held=(docker.io containerd)
  fi
  [ "${#containerd_pin[@]}" -eq 0 ] && [ "$DOCKER_PACKAGE" = docker-ce ] && containerd_pin=(containerd.io)
  # unattended-upgrades (hardening) may hold the dpkg lock for a while on a running server: wait for it.
  apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
  apt-get "${apt_opts[@]}" update -q >/dev/null
  # Unattended: a changed conffile keeps the node's version (confold) instead of stopping at a prompt.
  apt-get "${apt_opts[@]}" install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    --allow-downgrades --allow-change-held-packages "${packages[@]}" "${containerd_pin[@]}" >/dev/null \
    || { say "error: apt-get install ${packages[*]} ${containerd_pin[*]} failed on $(hostname); 'apt-cache policy ${held[*]}' lists the installable versions"; exit 1; }
  apt-mark hold "${held[@]}" >/dev/null
  # A package change restarts dockerd from the maintainer scripts; make sure the new binaries run.
  systemctl restart docker
fi

mkdir -p /etc/docker
if [ -f /etc/docker/daemon.json ] && [ "$(cat /etc/docker/daemon.json)" = "$desired" ]; then
  say "unchanged /etc/docker/daemon.json"
else
  printf '%s\n' "$desired" >/etc/docker/daemon.json.mbio-new
  mv /etc/docker/daemon.json.mbio-new /etc/docker/daemon.json
  say "changed /etc/docker/daemon.json; restarting docker"
  systemctl restart docker
fi
systemctl enable --now docker >/dev/null 2>&1 || true

for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && break
  sleep 1
done
docker info >/dev/null || { say "error: docker is not running; see 'journalctl -u docker' on $(hostname)"; exit 1; }
docker version --format '{{.Server.Version}}'
