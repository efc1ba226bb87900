#!/usr/bin/env bash
# Installs Docker Engine at the pinned version and writes daemon.json; touches nothing that already
# matches, so a second run prints only "unchanged".
# Env: DOCKER_PACKAGE (docker-ce | docker.io), DOCKER_VERSION (exact apt version).
set -euo pipefail
: "${DOCKER_PACKAGE:?}" "${DOCKER_VERSION:?}"
export DEBIAN_FRONTEND=noninteractive
say() { printf 'install-docker: %s\n' "$*" >&2; }

# Hetzner servers run cloud-init on first boot; apt must not race it.
if command -v cloud-init >/dev/null && cloud-init status 2>/dev/null | grep -q running; then
  say "waiting for cloud-init to finish"
  timeout 900 cloud-init status --wait >/dev/null || say "cloud-init did not finish in 15 min; continuing"
fi

installed="$(dpkg-query -W -f='${Version}' "$DOCKER_PACKAGE" 2>/dev/null || true)"
if [ "$installed" = "$DOCKER_VERSION" ]; then
  say "unchanged $DOCKER_PACKAGE $installed"
else
  say "installing $DOCKER_PACKAGE=$DOCKER_VERSION (found: ${installed:-none})"
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
    apt-get update -q >/dev/null
    apt-get install -y -q --allow-downgrades "docker-ce=$DOCKER_VERSION" "docker-ce-cli=$DOCKER_VERSION" containerd.io >/dev/null
    apt-mark hold docker-ce docker-ce-cli >/dev/null
  else
    apt-get update -q >/dev/null
    apt-get install -y -q --allow-downgrades "docker.io=$DOCKER_VERSION" >/dev/null
    apt-mark hold docker.io >/dev/null
  fi
fi

# Logs stay on stdout of each container and rotate on disk. live-restore stays off on purpose: dockerd
# refuses to start its Swarm component with it ("--live-restore daemon configuration is incompatible
# with swarm mode"), so enabling it would take the node out of the cluster at the next restart.
desired='{
  "log-driver": "json-file",
  "log-opts": { "max-size": "10m", "max-file": "5" },
  "live-restore": false,
  "metrics-addr": "127.0.0.1:9323"
}'
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
