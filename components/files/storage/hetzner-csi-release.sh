#!/usr/bin/env bash
# Runs on a manager before a node's CSI plugin goes (scale in, destroy): if Swarm cluster volumes are
# published to the node, drains it so Swarm moves their tasks, and waits until every such volume is
# unpublished (unmounted there, detached from its server by the plugin's controller) so that it can attach
# to the node the task moves to. Nothing to do when the node is gone or holds no cluster volume.
# Env: NODE_NAME (the node label mbio.name), TIMEOUT (seconds, default 300).
set -euo pipefail
: "${NODE_NAME:?}"
TIMEOUT="${TIMEOUT:-300}"
say() { printf 'hetzner-csi-release: %s\n' "$*" >&2; }

node_id="$( (docker node ls -q --filter "node.label=mbio.name=$NODE_NAME" 2>/dev/null || true) | head -n1)"
if [ -z "$node_id" ]; then
  say "unchanged: no Swarm node labelled mbio.name=$NODE_NAME"
  exit 0
fi
# Cluster volumes whose publish status names the node (any state: published or still unpublishing).
published() {
  local v
  for v in $(docker volume ls --cluster -q 2>/dev/null); do
    if docker volume inspect -f '{{range .ClusterVolume.PublishStatus}}{{.NodeID}} {{end}}' "$v" 2>/dev/null | grep -qw -- "$node_id"; then
      printf '%s ' "$v"
    fi
  done
}
volumes="$(published)"
if [ -z "$volumes" ]; then
  say "unchanged: no cluster volume on $NODE_NAME"
  exit 0
fi
if [ "$(docker node inspect -f '{{.Status.State}}' "$node_id")" = down ]; then
  # A dead node cannot unmount; the server's deletion detaches its Hetzner volumes (docs/storage.md).
  say "warning: $NODE_NAME is down with cluster volumes ($volumes); they detach when its server is deleted"
  exit 0
fi
say "draining $NODE_NAME: cluster volumes $volumes"
docker node update --availability drain "$node_id" >/dev/null
deadline=$(( $(date +%s) + TIMEOUT ))
while [ -n "$volumes" ]; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    say "error: after ${TIMEOUT}s still published on $NODE_NAME: $volumes (the plugin stays so they can detach; see docs/storage.md)"
    exit 1
  fi
  sleep 3
  volumes="$(published)"
done
say "released: no cluster volume left on $NODE_NAME"
