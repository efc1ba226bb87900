#!/bin/sh
# Entrypoint of the monitoring stack's InfluxDB 1.x: starts influxd with authentication on, then (every
# start, idempotently) creates the admin user, the database, its retention policy and the writer/reader
# users, and only then reports healthy — Telegraf and the backup agents buffer until it does.
#   INFLUXDB_DB, INFLUXDB_RP, INFLUXDB_RP_DURATION, INFLUXDB_ADMIN_USER, INFLUXDB_WRITER_USER, INFLUXDB_READER_USER
#   passwords from the files INFLUXDB_ADMIN_PASSWORD_FILE, INFLUXDB_WRITER_PASSWORD_FILE, INFLUXDB_READER_PASSWORD_FILE
#   INFLUXDB_PORT (default 8086), READY_FILE (default /tmp/influxdb-ready)
# Statements and credentials go to the HTTP API on stdin and in a mode-600 curl config: no password is
# ever on a command line.
set -eu
port="${INFLUXDB_PORT:-8086}"
ready="${READY_FILE:-/tmp/influxdb-ready}"
rm -f "$ready"
export INFLUXDB_HTTP_AUTH_ENABLED=true INFLUXDB_HTTP_BIND_ADDRESS="${INFLUXDB_HTTP_BIND_ADDRESS:-:$port}" INFLUXDB_REPORTING_DISABLED=true
export INFLUXDB_DATA_QUERY_LOG_ENABLED=false INFLUXDB_HTTP_LOG_ENABLED=false

influxd &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT

umask 077
auth="$(mktemp)"
printf 'user = "%s:%s"\n' "$INFLUXDB_ADMIN_USER" "$(cat "$INFLUXDB_ADMIN_PASSWORD_FILE")" >"$auth"
api="http://127.0.0.1:$port/query"
# q STATEMENT (on stdin): runs it as admin (or without credentials with NOAUTH=1); fails on an InfluxQL error.
q() {
  if [ -n "${NOAUTH:-}" ]; then
    out="$(curl -sS --max-time 10 -XPOST "$api" --data-urlencode 'q@-')" || return 1
  else
    out="$(curl -sS --max-time 10 -K "$auth" -XPOST "$api" --data-urlencode 'q@-')" || return 1
  fi
  case "$out" in *'"error"'*) echo "$out" >&2; return 1 ;; esac
}
lit() { sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g" "$1"; } # a password file as an InfluxQL string literal body

i=0
until curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$port/ping"; do
  i=$((i + 1))
  [ "$i" -lt 120 ] || { echo "influxdb: influxd did not answer on :$port within 120 s" >&2; exit 1; }
  kill -0 "$pid" 2>/dev/null || { echo "influxdb: influxd exited" >&2; exit 1; }
  sleep 1
done
# With auth on and no user yet, InfluxDB accepts exactly one statement without credentials: the first admin.
printf "CREATE USER \"%s\" WITH PASSWORD '%s' WITH ALL PRIVILEGES" "$INFLUXDB_ADMIN_USER" "$(lit "$INFLUXDB_ADMIN_PASSWORD_FILE")" | NOAUTH=1 q 2>/dev/null || true
echo "CREATE DATABASE \"$INFLUXDB_DB\"" | q
echo "CREATE RETENTION POLICY \"$INFLUXDB_RP\" ON \"$INFLUXDB_DB\" DURATION $INFLUXDB_RP_DURATION REPLICATION 1 DEFAULT" | q 2>/dev/null \
  || echo "ALTER RETENTION POLICY \"$INFLUXDB_RP\" ON \"$INFLUXDB_DB\" DURATION $INFLUXDB_RP_DURATION DEFAULT" | q
user() { # name password-file privilege
  printf "CREATE USER \"%s\" WITH PASSWORD '%s'" "$1" "$(lit "$2")" | q 2>/dev/null \
    || printf "SET PASSWORD FOR \"%s\" = '%s'" "$1" "$(lit "$2")" | q
  echo "GRANT $3 ON \"$INFLUXDB_DB\" TO \"$1\"" | q
}
user "$INFLUXDB_WRITER_USER" "$INFLUXDB_WRITER_PASSWORD_FILE" WRITE
user "$INFLUXDB_READER_USER" "$INFLUXDB_READER_PASSWORD_FILE" READ
rm -f "$auth"
echo "influxdb: database $INFLUXDB_DB (retention $INFLUXDB_RP $INFLUXDB_RP_DURATION) and users ready" >&2
touch "$ready"
wait "$pid"
