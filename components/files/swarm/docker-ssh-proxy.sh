#!/usr/bin/env bash
# ProxyCommand of the Docker provider's ssh (components/swarm-docker.ts): connects ssh to the first manager,
# in the order of DIR/managers ("host port" lines), on which `docker node ls` works, so one stopped or
# demoted manager does not block a change. Each probe is a strict SSH login with the pinned host keys
# (DIR/known_hosts) and the key file DIR/key (0600); the outer ssh then checks the same pinned keys under
# the alias mbio-swarm-managers. When no manager answers it exits non-zero: ssh fails, the provider's ping
# fails, and `pulumi refresh` stops with an error instead of reading "not found" (which would drop a
# docker.Secret from state: docs/security.md).
# Usage: docker-ssh-proxy.sh DIR
set -uo pipefail
dir="${1:?usage: docker-ssh-proxy.sh DIR}"
for f in managers known_hosts key; do
  [ -r "$dir/$f" ] || { echo "docker-ssh-proxy: $dir/$f is missing: run pulumi refresh --run-program (or pulumi preview) on this machine first (docs/operations.md)" >&2; exit 2; }
done
# Read first: the relay below must get ssh's stdin, not this file's.
mapfile -t managers <"$dir/managers"
tried=""
for line in "${managers[@]}"; do
  read -r host port <<<"$line"
  [ -n "${host:-}" ] || continue
  if ssh -n -o BatchMode=yes -o ConnectTimeout="${MBIO_DOCKER_SSH_TIMEOUT:-5}" -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$dir/known_hosts" -o IdentitiesOnly=yes -i "$dir/key" -p "$port" "root@$host" \
    docker node ls -q >/dev/null 2>&1; then
    # A plain TCP relay (the managers allow no TCP forwarding, and nc is not everywhere): bash's /dev/tcp.
    exec 3<>"/dev/tcp/$host/$port" || exit 1
    cat <&3 &
    cat >&3
    wait
    exit 0
  fi
  tried="$tried $host:$port"
done
echo "docker-ssh-proxy: no Swarm manager reachable (tried:$tried)" >&2
exit 1
