#!/bin/sh
# Entrypoint of the monitoring stack's InfluxDB 1.x: starts influxd with authentication on, then (every
# start, idempotently) creates the admin user, the database, its retention policy and the writer/reader
# users, and only then reports healthy — Telegraf and the backup agents buffer until it does.
#   INFLUXDB_DB, INFLUXDB_RP, INFLUXDB_RP_DURATION, INFLUXDB_ADMIN_USER, INFLUXDB_WRITER_USER, INFLUXDB_READER_USER
#   passwords from the files INFLUXDB_ADMIN_PASSWORD_FILE, INFLUXDB_WRITER_PASSWORD_FILE, INFLUXDB_READER_PASSWORD_FILE
#   INFLUXDB_PORT (default 8086), READY_FILE (default /tmp/influxdb-ready)
set -eu
port="${INFLUXDB_PORT:-8086}"
ready="${READY_FILE:-/tmp/influxdb-ready}"
rm -f "$ready"
export INFLUXDB_HTTP_AUTH_ENABLED=true INFLUXDB_HTTP_BIND_ADDRESS=":$port" INFLUXDB_REPORTING_DISABLED=true
export INFLUXDB_DATA_QUERY_LOG_ENABLED=false INFLUXDB_HTTP_LOG_ENABLED=false

influxd ${INFLUXD_CONFIG:+-config "$INFLUXD_CONFIG"} &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT

secret() { cat "$1"; }
q() { printf '%s' "$1" | sed "s/'/\\\\'/g"; }
admin_pw="$(secret "$INFLUXDB_ADMIN_PASSWORD_FILE")"
i=0
until influx -port "$port" -execute 'SHOW DIAGNOSTICS' >/dev/null 2>&1 || influx -port "$port" -username "$INFLUXDB_ADMIN_USER" -password "$admin_pw" -execute 'SHOW DATABASES' >/dev/null 2>&1; do
  i=$((i + 1))
  [ "$i" -lt 120 ] || { echo "influxdb: influxd did not answer on :$port within 120 s" >&2; exit 1; }
  kill -0 "$pid" 2>/dev/null || { echo "influxdb: influxd exited" >&2; exit 1; }
  sleep 1
done
# With auth on and no user yet, InfluxDB accepts exactly one statement without credentials: the first admin.
influx -port "$port" -execute "CREATE USER \"$INFLUXDB_ADMIN_USER\" WITH PASSWORD '$(q "$admin_pw")' WITH ALL PRIVILEGES" >/dev/null 2>&1 || true
run() { influx -port "$port" -username "$INFLUXDB_ADMIN_USER" -password "$admin_pw" -execute "$1" >/dev/null; }
run "CREATE DATABASE \"$INFLUXDB_DB\""
run "CREATE RETENTION POLICY \"$INFLUXDB_RP\" ON \"$INFLUXDB_DB\" DURATION $INFLUXDB_RP_DURATION REPLICATION 1 DEFAULT" 2>/dev/null \
  || run "ALTER RETENTION POLICY \"$INFLUXDB_RP\" ON \"$INFLUXDB_DB\" DURATION $INFLUXDB_RP_DURATION DEFAULT"
user() { # name password-file privilege
  pw="$(secret "$2")"
  run "CREATE USER \"$1\" WITH PASSWORD '$(q "$pw")'" 2>/dev/null || run "SET PASSWORD FOR \"$1\" = '$(q "$pw")'"
  run "GRANT $3 ON \"$INFLUXDB_DB\" TO \"$1\""
}
user "$INFLUXDB_WRITER_USER" "$INFLUXDB_WRITER_PASSWORD_FILE" WRITE
user "$INFLUXDB_READER_USER" "$INFLUXDB_READER_PASSWORD_FILE" READ
# Also the admin password follows the secret (a rotated secret arrives with a new task).
run "SET PASSWORD FOR \"$INFLUXDB_ADMIN_USER\" = '$(q "$admin_pw")'"
echo "influxdb: database $INFLUXDB_DB (retention $INFLUXDB_RP $INFLUXDB_RP_DURATION) and users ready" >&2
touch "$ready"
wait "$pid"
