#!/bin/sh
set -e
mkdir -p "$PGDATA" /run/postgresql && chown postgres "$PGDATA" /run/postgresql
[ -s "$PGDATA/PG_VERSION" ] || su postgres -c "initdb -U ${POSTGRES_USER:-postgres} --auth-local=trust -D $PGDATA" >/dev/null
exec su postgres -c "postgres -D $PGDATA -c listen_addresses="
