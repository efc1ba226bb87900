#!/usr/bin/env bash
# Runs on a manager: prints every node (role, address, status, availability, manager status) with the
# tasks running on it, then the services. Read-only.
set -euo pipefail
docker node ls --format '{{.Hostname}}|{{.Status}}|{{.Availability}}|{{.ManagerStatus}}' | sort |
  while IFS='|' read -r host status availability mstatus; do
    role=$(docker node inspect "$host" --format '{{.Spec.Role}}')
    addr=$(docker node inspect "$host" --format '{{.Status.Addr}}')
    printf '  %-18s %-8s %-15s %-7s %-6s %s\n' "$host" "$role" "$addr" "$status" "$availability" "${mstatus:--}"
    docker node ps "$host" --filter desired-state=running --format '{{.Name}}|{{.Image}}|{{.CurrentState}}' 2>/dev/null |
      while IFS='|' read -r task image state; do printf '      %-40s %-60.60s %s\n' "$task" "$image" "$state"; done
  done
echo
echo "Services:"
docker service ls --format '  {{.Name}}  {{.Mode}}  {{.Replicas}}  {{.Image}}'
