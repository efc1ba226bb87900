#!/usr/bin/env bash
# Restore tooling, run on a Swarm node (directly, or through tools/mbio-restore from a workstation).
# restic runs in helper containers of the backup-agent image, so the node needs only Docker. The image is
# the one of this node's backup_agent task (or, on a manager, of the service); a missing prerequisite (no
# Docker access, not in a Swarm, no backup stack, no agent here on a worker) is named as such.
#
#   restore.sh snapshots [--volume NAME | --database NAME] [--host NODE]
#   restore.sh volume NAME [--snapshot ID] [--host NODE] [--into NEW_NAME] [--driver DRIVER]
#       default: in place. The snapshot is restored into a staging volume first; only when that succeeded
#       is the current content saved (a `pre-restore` snapshot) and replaced. --into restores into a new
#       volume and leaves NAME alone.
#   restore.sh database NAME [--snapshot ID] [--database DB] [--container CONTAINER] [--drop-previous]
#       PostgreSQL: roles, then each database (or only DB) restored into a scratch database that replaces
#       the live one only when the restore succeeded; the replaced one is kept as DB__pre_restore_<time>
#       unless --drop-previous. MySQL/MariaDB: the dump is replayed (needs --yes-overwrite).
#
# Env: as lib.sh (RESTIC_REPOSITORY, RESTIC_PASSWORD[_FILE], AWS_*); AGENT_IMAGE overrides the image found
# as above.
set -euo pipefail
# shellcheck source=components/files/backup/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=components/files/backup/node.sh
source "$(dirname "${BASH_SOURCE[0]}")/node.sh"

cmd="${1:-}"
[ "$#" -gt 0 ] && shift
snapshot="" host="" into="" driver="local" database="" container="" drop_previous=0 overwrite=0 filter=()
positional=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --snapshot) snapshot="${2:?--snapshot needs an ID}"; shift 2 ;;
    --host) host="${2:?--host needs a node name}"; shift 2 ;;
    --into) into="${2:?--into needs a volume name}"; shift 2 ;;
    --driver) driver="${2:?--driver needs a volume driver}"; shift 2 ;;
    --database) database="${2:?--database needs a name}"; shift 2 ;;
    --container) container="${2:?--container needs a container}"; shift 2 ;;
    --volume) filter=(--tag "volume=${2:?--volume needs a name}"); shift 2 ;;
    --drop-previous) drop_previous=1; shift ;;
    --yes-overwrite) overwrite=1; shift ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    -*) fail "unknown option $1 (see restore.sh --help)" ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ "$cmd" = snapshots ] && [ "${#positional[@]}" -gt 0 ] && fail "snapshots takes no name; use --volume NAME or --database NAME"
find_agent_image
use_helper_tools
host_filter=()
[ -n "$host" ] && host_filter=(--host "$host")
stamp="$(date -u +%Y%m%d%H%M%S)"

# Snapshot JSON of a tag set; the latest, or the one whose ID starts with $snapshot.
pick_snapshot() {
  local json
  json="$(helper_run -- restic snapshots --json "$@" "${host_filter[@]}" </dev/null)" || fail "cannot list snapshots"
  if [ -n "$snapshot" ]; then
    jq -c --arg id "$snapshot" '[.[] | select(.id | startswith($id))] | last // empty' <<<"$json"
  else
    jq -c 'sort_by(.time) | last // empty' <<<"$json"
  fi
}

known() { helper_run -- restic snapshots --json "${host_filter[@]}" </dev/null | jq -r --arg k "$1=" '[.[].tags[]? | select(startswith($k)) | ltrimstr($k)] | unique | join(", ")'; }

case "$cmd" in
  snapshots)
    open_repository
    if [ "${#filter[@]}" -eq 0 ] && [ -n "$database" ]; then filter=(--tag "db=$database"); fi
    helper_run -- restic snapshots "${filter[@]}" "${host_filter[@]}" </dev/null
    ;;

  volume)
    [ "${#positional[@]}" -eq 1 ] || fail "usage: restore.sh volume NAME [--snapshot ID] [--into NEW_NAME]"
    name="${positional[0]}"
    open_repository
    snap="$(pick_snapshot --tag "volume=$name")"
    if [ -z "$snap" ]; then
      fail "no snapshot${snapshot:+ $snapshot} of volume $name${host:+ from $host}; volumes in the repository: $(known volume)"
    fi
    id="$(jq -r .id <<<"$snap")"
    info "snapshot ${id:0:8} of volume $name from $(jq -r .hostname <<<"$snap") at $(jq -r .time <<<"$snap")"
    total="$(helper_run -- restic stats --json --mode restore-size "$id" </dev/null | jq -r .total_size)"
    info "restore size: $total bytes"
    target="${into:-$name}"
    if [ -n "$into" ] && docker volume inspect "$into" >/dev/null 2>&1; then
      fail "volume $into already exists; choose a new name for --into (nothing was changed)"
    fi
    existing=0
    docker volume inspect "$target" >/dev/null 2>&1 && existing=1
    # Restore lands in a volume this run creates; on failure only that volume is removed.
    staging="$target"
    [ "$existing" = 1 ] && staging="${target}-restore-${stamp}"
    labels=()
    [ -z "$into" ] && labels=(--label mbio.backup=true)
    docker volume create --driver "$driver" "${labels[@]}" "$staging" >/dev/null
    info "restoring into volume $staging"
    # restic 0.14 prints no restore progress: report restored bytes against the total every 2 s.
    # shellcheck disable=SC2016 # runs in the helper
    progress='restic restore "$1" --target /target & p=$!; while kill -0 $p 2>/dev/null; do printf "  %s / %s bytes\n" "$(du -sb /target | cut -f1)" "$2" >&2; sleep 2; done; wait $p'
    if ! helper_run -v "$staging:/target" -- bash -c "$progress" restore "$id" "$total" </dev/null; then
      docker volume rm "$staging" >/dev/null 2>&1 || true
      fail "restore of snapshot ${id:0:8} failed; volume $target was not touched"
    fi
    if [ "$existing" = 1 ]; then
      info "saving the current content of $target as a pre-restore snapshot"
      helper_run -v "$target:/volumes/$target:ro" -w "/volumes/$target" -- \
        restic backup -q --tag kind=pre-restore --tag "volume=$target" --tag "env=$ENVIRONMENT" --host "$NODE_NAME" . </dev/null \
        || { docker volume rm "$staging" >/dev/null 2>&1 || true; fail "could not save the current content of $target; it was not touched"; }
      info "replacing the content of $target"
      helper_run -v "$staging:/from:ro" -v "$target:/to" -- \
        bash -c 'find /to -mindepth 1 -delete && cp -a /from/. /to/' </dev/null \
        || fail "copying into $target failed; the restored data is intact in volume $staging"
      docker volume rm "$staging" >/dev/null
    fi
    info "volume $target restored from snapshot ${id:0:8}"
    ;;

  database)
    [ "${#positional[@]}" -eq 1 ] || fail "usage: restore.sh database NAME [--snapshot ID] [--database DB] [--container CONTAINER]"
    name="${positional[0]}"
    open_repository
    if [ -z "$container" ]; then
      for c in $(docker ps -q --filter label=mbio.backup.database); do
        n="$(docker inspect -f '{{with index .Config.Labels "mbio.backup.name"}}{{.}}{{else}}{{with index .Config.Labels "com.docker.swarm.service.name"}}{{.}}{{else}}{{$.Name}}{{end}}{{end}}' "$c")"
        [ "${n#/}" = "$name" ] && container="$c"
      done
      [ -n "$container" ] || fail "no running container of database $name on this node (label mbio.backup.database); start it or pass --container"
    fi
    kind="$(docker inspect -f '{{index .Config.Labels "mbio.backup.database"}}' "$container" 2>/dev/null)" || fail "container $container does not exist"
    user="$(docker inspect -f '{{index .Config.Labels "mbio.backup.database.user"}}' "$container")"
    json="$(helper_run -- restic snapshots --json --tag "db=$name" "${host_filter[@]}" </dev/null)" || fail "cannot list snapshots"
    [ "$(jq length <<<"$json")" -gt 0 ] || fail "no snapshot of database $name; databases in the repository: $(known db)"
    if [ -n "$snapshot" ]; then
      json="$(jq -c --arg id "$snapshot" '[.[] | select(.id | startswith($id))]' <<<"$json")"
      [ "$(jq length <<<"$json")" -gt 0 ] || fail "no snapshot $snapshot of database $name"
    fi
    # The latest snapshot of each dumped database (or only --database).
    picks="$(jq -c --arg only "$database" '[.[] | . + {database: ([.tags[] | select(startswith("database=")) | ltrimstr("database=")][0])}]
      | map(select($only == "" or .database == $only or .database == "_globals")) | group_by(.database) | map(sort_by(.time) | last) | .[]' <<<"$json")"
    [ -n "$picks" ] || fail "no snapshot of database $database in $name"
    # shellcheck disable=SC2016 # expanded inside the database container
    # Administrative statements connect to template1, so even the database `postgres` can be swapped.
    psql_in='exec psql -X -q -v ON_ERROR_STOP=1 -U "${MBIO_DB_USER:-${POSTGRES_USER:-postgres}}" -d template1 "$@"'
    sql() { docker exec -e "MBIO_DB_USER=$user" "$container" sh -c "$psql_in" psql -Atc "$1" </dev/null; }
    case "$kind" in
      postgres)
        # Roles first, so restored objects find their owners; existing roles only produce notices.
        g="$(jq -r 'select(.database == "_globals") | .id' <<<"$picks")"
        if [ -n "$g" ]; then
          info "restoring roles from snapshot ${g:0:8}"
          helper_run -- restic dump "$g" _globals.sql </dev/null \
            | grep -vE '^(CREATE|ALTER) ROLE "?'"${user:-postgres}"'"?( |;)' \
            | docker exec -i -e "MBIO_DB_USER=$user" "$container" sh -c 'exec psql -X -q -U "${MBIO_DB_USER:-${POSTGRES_USER:-postgres}}" -d postgres' >/dev/null 2>&1 || true
        fi
        # fd 3: the docker commands in the loop read stdin.
        while read -r s <&3; do
          db="$(jq -r .database <<<"$s")"
          [ "$db" = _globals ] && continue
          id="$(jq -r .id <<<"$s")"
          scratch="${db}__restore_${stamp}"
          info "restoring database $db from snapshot ${id:0:8} ($(jq -r .time <<<"$s")) into $scratch"
          sql "CREATE DATABASE \"$scratch\" TEMPLATE template0" >/dev/null
          start=$(date +%s)
          # shellcheck disable=SC2016 # expanded inside the database container
          if ! helper_run -- restic dump "$id" "$db.pgdump" </dev/null \
            | docker exec -i -e "MBIO_DB_USER=$user" -e "MBIO_DB=$scratch" "$container" \
                sh -c 'exec pg_restore --exit-on-error --verbose -U "${MBIO_DB_USER:-${POSTGRES_USER:-postgres}}" -d "$MBIO_DB"' 2> >(grep --line-buffered -E 'processing|creating TABLE|error' | sed -u 's/^/  /' >&2); then
            sql "DROP DATABASE IF EXISTS \"$scratch\"" >/dev/null || true
            fail "restore of $db from snapshot ${id:0:8} failed; database $db was not touched"
          fi
          owner="$(sql "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '$db'")"
          if [ -n "$owner" ]; then
            previous="${db}__pre_restore_${stamp}"
            sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$db' AND pid <> pg_backend_pid()" >/dev/null
            sql "ALTER DATABASE \"$db\" RENAME TO \"$previous\"" >/dev/null
            sql "ALTER DATABASE \"$scratch\" RENAME TO \"$db\"" >/dev/null
            sql "ALTER DATABASE \"$db\" OWNER TO \"$owner\"" >/dev/null
            if [ "$drop_previous" = 1 ]; then sql "DROP DATABASE \"$previous\"" >/dev/null; info "  replaced $db (previous content dropped)"; else
              info "  replaced $db; its previous content is kept as $previous (DROP DATABASE it once verified)"
            fi
          else
            sql "ALTER DATABASE \"$scratch\" RENAME TO \"$db\"" >/dev/null
          fi
          info "  database $db restored in $(( $(date +%s) - start )) s"
        done 3<<<"$picks"
        ;;
      mysql | mariadb)
        [ "$overwrite" = 1 ] || fail "a MySQL/MariaDB restore replays the dump over the live server; add --yes-overwrite after taking a fresh backup"
        id="$(jq -r 'select(.database == "_all") | .id' <<<"$picks" | tail -n1)"
        info "replaying all databases from snapshot ${id:0:8}"
        # shellcheck disable=SC2016 # expanded inside the database container
        helper_run -- restic dump "$id" all-databases.sql </dev/null | docker exec -i "$container" sh -c \
          'p="${MYSQL_ROOT_PASSWORD:-${MARIADB_ROOT_PASSWORD:-}}"; f="${MYSQL_ROOT_PASSWORD_FILE:-${MARIADB_ROOT_PASSWORD_FILE:-}}"; [ -n "$f" ] && p="$(cat "$f")"; c="$(command -v mysql || command -v mariadb)"; MYSQL_PWD="$p" exec "$c" -uroot' \
          || fail "replaying snapshot ${id:0:8} into $name failed"
        ;;
      *) fail "container $container is labelled mbio.backup.database=$kind; restore knows postgres and mysql" ;;
    esac
    info "database $name restored"
    ;;

  *) fail "usage: restore.sh snapshots|volume|database … (see restore.sh --help)" ;;
esac
