#!/usr/bin/env bash
# Runs on a manager: prints the live state of stack $STACK as JSON for the Pulumi Swarm provider:
#   {"services": [docker service inspect …], "networks": {"<id>": "<name>", …}}
# Read only. Env: STACK.
set -euo pipefail
: "${STACK:?}"
mapfile -t ids < <(docker service ls --filter "label=com.docker.stack.namespace=$STACK" -q)
printf '{"services":'
if [ "${#ids[@]}" -gt 0 ]; then docker service inspect "${ids[@]}"; else printf '[]'; fi
printf ',"networks":{'
docker network ls --no-trunc --format '"{{.ID}}":"{{.Name}}"' | paste -sd, -
printf '}}\n'
