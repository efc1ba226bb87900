#!/usr/bin/env bash
# Removes the local sandbox: every container, network and volume labelled mbio-sandbox, the registry
# image tags pushed from this host, the host's trust in the sandbox registry (certs.d), Pulumi.local.yaml
# and sandbox/.state/. Built images (base, machine, registry, images/*) stay cached for the next up.
# Idempotent: with nothing to remove it says so.
#
#   sandbox/down.sh            remove the sandbox, keep cached images
#   sandbox/down.sh --purge    also remove every image the sandbox built (the next up starts cold)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PURGE=0
for arg in "$@"; do
  case "$arg" in
    --purge) PURGE=1 ;;
    -h | --help) sed -n '2,9s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$arg'; usage: sandbox/down.sh [--purge]" ;;
  esac
done

removed=0
gone() { note "removed $*"; removed=$((removed + 1)); }

if ! command -v docker >/dev/null || ! docker info >/dev/null 2>&1; then
  warn "no Docker engine answers: skipping containers, networks, volumes and images"
  DOCKER=0
else
  DOCKER=1
  mkdir -p "$MBIO_CACHE"
  exec 9>"$MBIO_CACHE/sandbox.lock"
  flock -n 9 || die "another sandbox/up.sh or sandbox/down.sh is running (lock $MBIO_CACHE/sandbox.lock)"
fi

# The sandbox's own images: the mbio-sandbox/ namespace, and tags pointing into a sandbox registry
# (<ip>:5000/mbio/NAME:VERSION, <ip>:5000/mbio-sandbox/smoke:1).
# Prints "REF" per image; an image whose tag moved on (REPO:<none>) is printed by its ID.
own_images() {
  docker images --format '{{.Repository}}:{{.Tag}} {{.ID}}' |
    awk '$1 ~ /^mbio-sandbox\// || $1 ~ /^[0-9.]+:5000\/mbio(-sandbox)?\// { print ($1 ~ /:<none>$/) ? $2 : $1 }'
}
registry_tags() { own_images | grep -E '^[0-9.]+:5000/' || true; }

if [ "$DOCKER" = 1 ]; then
  log "containers, networks, volumes"
  objects="$(sandbox_remove_objects 2>&1)"
  [ -z "$objects" ] || { printf '%s\n' "$objects" >&2; removed=$((removed + $(wc -l <<<"$objects"))); }

  log "images"
  while read -r ref; do
    [ -n "$ref" ] || continue
    docker rmi "$ref" >/dev/null 2>&1 && gone "image tag $ref"
  done < <(registry_tags)
  if [ "$PURGE" = 1 ]; then
    # Newest first: images built FROM the base go before it.
    while read -r ref; do
      [ -n "$ref" ] || continue
      if docker rmi "$ref" >/dev/null 2>&1; then gone "image $ref"; else warn "could not remove image $ref (in use?)"; fi
    done < <(own_images)
    # The registry's storage is a cache of these images' layers (sandbox/up.sh): it goes with them.
    if [ -d "$MBIO_CACHE/sandbox-registry" ]; then rm -rf "$MBIO_CACHE/sandbox-registry" && gone "registry storage $MBIO_CACHE/sandbox-registry"; fi
  else
    # Images whose tag moved on are not a cache: remove them.
    while read -r id; do
      docker rmi "$id" >/dev/null 2>&1 && gone "superseded image $id"
    done < <(own_images | grep -Ev '^(mbio-sandbox/|[0-9.]+:5000/)' || true)
    kept="$(own_images | wc -l)"
    [ "$kept" = 0 ] || note "kept $kept cached image(s): $(own_images | xargs), and the registry storage $MBIO_CACHE/sandbox-registry (sandbox/down.sh --purge removes them)"
  fi
fi

log "host files"
# The host's trust in the sandbox registry: only certs.d folders up.sh marked as its own.
for marker in /etc/docker/certs.d/*/mbio-sandbox.marker; do
  [ -f "$marker" ] || continue
  as_root rm -rf "$(dirname "$marker")"
  gone "$(dirname "$marker")"
done
if [ -f "$STACK_FILE" ]; then
  rm -f "$STACK_FILE"
  gone "$STACK_FILE"
fi
if [ -d "$STATE_DIR" ]; then
  rm -rf "$STATE_DIR"
  gone "$STATE_DIR"
fi
if [ "$PURGE" = 1 ]; then
  for d in "$MBIO_CACHE"/sandbox-rootfs.*; do
    [ -d "$d" ] || continue
    as_root rm -rf "$d"
    gone "$d"
  done
fi

if [ "$DOCKER" = 1 ]; then
  left="$(sandbox_containers | wc -l) container(s), $(docker network ls -q --filter "label=$LABEL" | wc -l) network(s), $(docker volume ls -q --filter "label=$LABEL" | wc -l) volume(s)"
  [ "$left" = "0 container(s), 0 network(s), 0 volume(s)" ] || die "left behind with label $LABEL: $left"
fi
if [ "$removed" = 0 ]; then log "nothing to remove: the sandbox is down"; else log "sandbox is down ($removed removed)"; fi
