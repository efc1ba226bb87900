#!/usr/bin/env bash
# Runs on a manager: creates the platform's attachable overlay network with the configured MTU, and gives
# the ingress network the same MTU (its default, 1450, is too large on an underlay of 1450 such as Hetzner's
# private network). An existing platform network with the same name, encryption and MTU is left as is; a
# different one is an error (recreating it would detach every service).
# Env: NETWORK, ENCRYPTED (true|false), MTU (empty: Docker's default).
set -euo pipefail
: "${NETWORK:?}" "${ENCRYPTED:?}"
MTU="${MTU:-}"
mtu_of() { docker network inspect "$1" --format '{{index .Options "com.docker.network.driver.mtu"}}'; }

if docker network inspect "$NETWORK" >/dev/null 2>&1; then
  have="$(docker network inspect "$NETWORK" --format '{{if index .Options "encrypted"}}true{{else}}false{{end}}')"
  have_mtu="$(mtu_of "$NETWORK")"
  if [ "$have" != "$ENCRYPTED" ] || [ "$have_mtu" != "$MTU" ]; then
    echo "error: network $NETWORK exists with encrypted=$have mtu=${have_mtu:-default}, config wants encrypted=$ENCRYPTED mtu=${MTU:-default};" \
      "remove the stacks using it, 'docker network rm $NETWORK', and run pulumi up again" >&2
    exit 1
  fi
  echo "network: unchanged $NETWORK" >&2
else
  opts=(--driver overlay --attachable --label mbio.managed-by=pulumi)
  [ "$ENCRYPTED" = true ] && opts+=(--opt encrypted)
  [ -n "$MTU" ] && opts+=(--opt "com.docker.network.driver.mtu=$MTU")
  docker network create "${opts[@]}" "$NETWORK" >/dev/null
  echo "network: created $NETWORK (encrypted=$ENCRYPTED mtu=${MTU:-default})" >&2
fi

# The ingress network can only be replaced while no service publishes a port through it: that is the case
# right after `swarm init`, when this runs first. Later it is reported, not forced.
if [ -n "$MTU" ] && [ "$(mtu_of ingress 2>/dev/null || true)" != "$MTU" ]; then
  if [ -n "$(docker service ls -q)" ]; then
    echo "network: ingress has mtu=$(mtu_of ingress) (want $MTU) but services exist; recreate it in a maintenance window (docs/operations.md)" >&2
  else
    subnet="$(docker network inspect ingress --format '{{range .IPAM.Config}}{{.Subnet}}{{end}}' 2>/dev/null || true)"
    docker network rm ingress >/dev/null 2>&1 <<<y || true
    # The managers remove it asynchronously: a create before it is gone fails with "network with name ingress
    # already exists" (seen on the first Hetzner-shaped apply, tests/real/hetzner-apply.sh). At most 30 s.
    for _ in $(seq 1 60); do
      docker network inspect ingress >/dev/null 2>&1 || break
      sleep 0.5
    done
    docker network create --driver overlay --ingress ${subnet:+--subnet "$subnet"} --opt "com.docker.network.driver.mtu=$MTU" ingress >/dev/null
    echo "network: recreated ingress with mtu=$MTU" >&2
  fi
fi
docker network inspect "$NETWORK" --format '{{.Id}}'
