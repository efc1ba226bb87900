#!/usr/bin/env bash
# Creates Swarm config or secret $NAME from stdin unless it exists. Names carry a content hash, so an
# existing name already holds this content: a second run changes nothing, and a change makes a new name
# that rolls the services using it.
# Env: KIND (config|secret), NAME, LABEL (optional key=value)
set -euo pipefail
: "${KIND:?KIND must be config or secret}" "${NAME:?NAME must name the object}"
case "$KIND" in config | secret) ;; *) echo "error: KIND is $KIND; must be config or secret" >&2; exit 2 ;; esac
if docker "$KIND" inspect "$NAME" >/dev/null 2>&1; then
  cat >/dev/null
  echo "$KIND $NAME exists" >&2
  exit 0
fi
docker "$KIND" create ${LABEL:+--label "$LABEL"} "$NAME" - >/dev/null
echo "$KIND $NAME created" >&2
