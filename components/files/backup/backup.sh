#!/usr/bin/env bash
# One backup run on this node: every named volume labelled for backup, then a logical dump of every
# database container labelled for it, each into the restic repository as its own snapshot.
#   backup.sh [all|volumes|databases]      (default all); exit 1 when any item failed
#
# Volumes: label mbio.backup=true. A volume of the local driver is backed up on the node that holds it;
# a volume of a shared driver (hetzner-csi) only on the node whose running container mounts it,
# so a cluster-wide volume is backed up once, where its data is.
# Databases: container label mbio.backup.database=postgres|mysql (Compose service `labels:`). The dump runs
# inside the database container with its own client and credentials (POSTGRES_USER; MYSQL_ROOT_PASSWORD,
# MARIADB_ROOT_PASSWORD or their _FILE variants), so versions always match and no password travels.
# Optional labels: mbio.backup.name (identity in the repository; default: Swarm service or container name),
# mbio.backup.database.user (PostgreSQL role to dump as).
#
# Extra env: BACKUP_FILTERS (docker filters selecting volumes/containers, default label=mbio.backup=true
# for volumes and label=mbio.backup.database for containers; extra filters are added to both).
set -euo pipefail
# shellcheck source=components/files/backup/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

what="${1:-all}"
case "$what" in all | volumes | databases) ;; *) fail "usage: backup.sh [all|volumes|databases]" ;; esac

extra_filters=()
for f in ${BACKUP_EXTRA_FILTERS:-}; do extra_filters+=(--filter "$f"); done

open_repository
tags=(--tag "env=${ENVIRONMENT}" --host "$NODE_NAME")
failed=0
done_items=0
run_start=$(date +%s)

# Volumes on this node that need backing up here.
volumes_here() {
  local v driver
  docker volume ls -q --filter label=mbio.backup=true "${extra_filters[@]}" | while read -r v; do
    driver="$(docker volume inspect -f '{{.Driver}}' "$v")"
    if [ "$driver" = local ] || [ -n "$(docker ps -q --filter "volume=$v")" ]; then printf '%s\n' "$v"; fi
  done
}

backup_volume() {
  local v="$1"
  info "volume $v: backing up"
  # A path unique per volume lets restic find the previous snapshot of the same volume as parent, so
  # unchanged files are not even read again.
  backup_item "kind=volume,target=$v" \
    helper_run -v "$v:/volumes/$v:ro" -w "/volumes/$v" -- \
    restic backup --json --tag kind=volume --tag "volume=$v" "${tags[@]}" .
}

# Streams `docker exec CONTAINER dump…` into a restic snapshot; a dump that fails half way must not
# leave a truncated snapshot that looks good, so it is forgotten again.
stream_dump() {
  local container="$1" filename="$2"; shift 2
  local restic_args=("$@") dump_rc restic_rc out
  out="$(mktemp)"
  set +e
  dump_cmd "$container" | HELPER_STDIN=1 helper_run -- restic backup --json --stdin --stdin-filename "$filename" "${restic_args[@]}" >"$out"
  local st=("${PIPESTATUS[@]}")
  set -e
  dump_rc="${st[0]}"
  restic_rc="${st[1]}"
  if [ "$dump_rc" -ne 0 ]; then
    local id
    id="$(grep '"message_type":"summary"' "$out" | jq -r '.snapshot_id // empty' | tail -n1)"
    if [ -n "$id" ]; then helper_run -- restic forget "$id" >/dev/null 2>&1 || true; fi
    info "  dump command failed (exit $dump_rc); its partial snapshot ${id:-none} was forgotten"
    rm -f "$out"
    return 1
  fi
  cat "$out"
  rm -f "$out"
  return "$restic_rc"
}

backup_database() {
  local c="$1" kind name user
  kind="$(docker inspect -f '{{index .Config.Labels "mbio.backup.database"}}' "$c")"
  name="$(docker inspect -f '{{with index .Config.Labels "mbio.backup.name"}}{{.}}{{else}}{{with index .Config.Labels "com.docker.swarm.service.name"}}{{.}}{{else}}{{$.Name}}{{end}}{{end}}' "$c")"
  name="${name#/}"
  user="$(docker inspect -f '{{index .Config.Labels "mbio.backup.database.user"}}' "$c")"
  local dbtags=(--tag "kind=$kind" --tag "db=$name" "${tags[@]}")
  case "$kind" in
    postgres)
      info "database $name (postgres): roles"
      dump_cmd() { docker exec -e "MBIO_DB_USER=$user" "$1" sh -c 'exec pg_dumpall -U "${MBIO_DB_USER:-${POSTGRES_USER:-postgres}}" --globals-only'; }
      backup_item "kind=postgres,target=$name/_globals" stream_dump "$c" "_globals.sql" "${dbtags[@]}" --tag "database=_globals" || return 1
      local dbs db rc=0
      dbs="$(docker exec -e "MBIO_DB_USER=$user" "$c" sh -c 'exec psql -U "${MBIO_DB_USER:-${POSTGRES_USER:-postgres}}" -d postgres -Atc "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1"')" \
        || { info "  cannot list the databases of $name"; return 1; }
      for db in $dbs; do
        info "database $name (postgres): $db"
        dump_cmd() { docker exec -e "MBIO_DB_USER=$user" -e "MBIO_DB=$db" "$1" sh -c 'exec pg_dump -U "${MBIO_DB_USER:-${POSTGRES_USER:-postgres}}" -Fc "$MBIO_DB"'; }
        backup_item "kind=postgres,target=$name/$db" stream_dump "$c" "$db.pgdump" "${dbtags[@]}" --tag "database=$db" || rc=1
      done
      return "$rc"
      ;;
    mysql | mariadb)
      info "database $name ($kind): all databases"
      # shellcheck disable=SC2016 # expanded inside the database container
      dump_cmd() { docker exec "$1" sh -c 'p="${MYSQL_ROOT_PASSWORD:-${MARIADB_ROOT_PASSWORD:-}}"; f="${MYSQL_ROOT_PASSWORD_FILE:-${MARIADB_ROOT_PASSWORD_FILE:-}}"; [ -n "$f" ] && p="$(cat "$f")"; d="$(command -v mysqldump || command -v mariadb-dump)"; MYSQL_PWD="$p" exec "$d" -uroot --all-databases --single-transaction --routines --events --triggers'; }
      backup_item "kind=mysql,target=$name" stream_dump "$c" "all-databases.sql" "${dbtags[@]}" --tag "database=_all"
      ;;
    *) info "container $c: label mbio.backup.database=$kind is not postgres or mysql; skipped"; return 1 ;;
  esac
}

if [ "$what" != databases ]; then
  vols="$(volumes_here)"
  [ -n "$vols" ] || info "no volume labelled mbio.backup=true on $NODE_NAME"
  for v in $vols; do
    if backup_volume "$v"; then done_items=$((done_items + 1)); else failed=$((failed + 1)); fi
  done
fi
if [ "$what" != volumes ]; then
  for c in $(docker ps -q --filter label=mbio.backup.database "${extra_filters[@]}"); do
    if backup_database "$c"; then done_items=$((done_items + 1)); else failed=$((failed + 1)); fi
  done
fi

metric "kind=run,target=$what" "success=$([ "$failed" -eq 0 ] && echo 1 || echo 0)i,errors=${failed}i,items=${done_items}i,duration_seconds=$(( $(date +%s) - run_start ))"
if [ "$failed" -ne 0 ]; then
  info "backup on $NODE_NAME: $done_items item(s) backed up, $failed FAILED"
  exit 1
fi
info "backup on $NODE_NAME: $done_items item(s) backed up"
