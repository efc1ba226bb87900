#!/usr/bin/env bash
# The drills' application: stack `drill` — service `journal` (images/journal: numbered records on the named
# volume `drill_data`, labelled for backup, acknowledged after fsync) behind the edge at journal.<namespace>,
# and optionally `db` (images/drill-postgres, dumped by the backup services through its container label).
# Used by scripts/disaster-drill.sh and tests/nightly/manager-loss.sh. Source it; functions only.
# shellcheck shell=bash

# shellcheck disable=SC2034 # used by the scripts that source this file
DRILL_STACK=drill

# Compose document (JSON) on stdout. Args: journal image, postgres image ("" = no database), overlay network,
# host name, endpoint mode (vip|dnsrr), placement constraints as a JSON array.
drill_app_compose() {
  jq -n --arg journal "$1" --arg pg "$2" --arg network "$3" --arg host "$4" --arg mode "$5" --argjson constraints "$6" '
    # One task writes one file: stop-first (a start-first update would run two writers on two volumes).
    def deploy($cpus; $mem; $labels): {
      replicas: 1, endpoint_mode: $mode, placement: { constraints: $constraints },
      resources: { limits: { cpus: $cpus, memory: $mem }, reservations: { cpus: "0.01", memory: "16M" } },
      restart_policy: { condition: "any", delay: "2s" },
      update_config: { parallelism: 1, order: "stop-first", failure_action: "rollback", monitor: "10s" },
      rollback_config: { parallelism: 1, order: "stop-first" },
      labels: $labels
    };
    def logging: { driver: "json-file", options: { "max-size": "10m", "max-file": "3" } };
    {
      version: "3.9",
      services: ({
        journal: {
          image: $journal,
          volumes: ["data:/data"],
          networks: ["platform"],
          healthcheck: { test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/health"], interval: "5s", timeout: "3s", retries: 3, start_period: "5s" },
          stop_grace_period: "10s",
          logging: logging,
          deploy: deploy("0.25"; "64M"; {
            "traefik.enable": "true",
            "traefik.http.routers.drill-journal.rule": "Host(`\($host)`)",
            "traefik.http.routers.drill-journal.entrypoints": "websecure",
            "traefik.http.routers.drill-journal.tls.certresolver": "acme",
            "traefik.http.routers.drill-journal.middlewares": "security-headers@swarm",
            "traefik.http.routers.drill-journal.service": "drill-journal",
            "traefik.http.services.drill-journal.loadbalancer.server.port": "8080",
            "mbio.component": "drill"
          })
        }
      } + (if $pg == "" then {} else {
        db: {
          image: $pg,
          environment: { POSTGRES_USER: "app" },
          volumes: ["pgdata:/var/lib/postgresql/data"],
          networks: ["platform"],
          # Container labels: the backup agent on this node dumps every database of it.
          labels: { "mbio.backup.database": "postgres", "mbio.backup.name": "drill-db" },
          healthcheck: { test: ["CMD", "pg_isready", "-q", "-h", "/run/postgresql"], interval: "5s", timeout: "3s", retries: 5, start_period: "20s" },
          stop_grace_period: "30s",
          logging: logging,
          deploy: deploy("0.5"; "256M"; { "mbio.component": "drill" })
        }
      } end)),
      networks: { platform: { external: true, name: $network } },
      volumes: ({ data: { labels: { "mbio.backup": "true" } } } + (if $pg == "" then {} else { pgdata: {} } end))
    }'
}

# Runs a script file of the repository on a host over SSH with env assignments, stdin passed through.
# Args: ssh function name, host, script path, NAME=value...
drill_run_script() {
  local ssh_fn="$1" host="$2" script="$3"
  shift 3
  local assignments="" kv
  for kv in "$@"; do assignments+="$(printf '%q ' "$kv")"; done
  "$ssh_fn" "$host" "env ${assignments}bash -c $(printf '%q' "$(cat "$script")") $(basename "$script")"
}
