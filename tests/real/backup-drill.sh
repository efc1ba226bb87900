#!/usr/bin/env bash
# The disaster drill, on real parts: Docker engine, versitygw (S3, POSIX backend, on loopback), PostgreSQL,
# restic in the backup-agent image, and the very scripts the Swarm services run (components/files/backup/*.sh).
#   data → backup → change 1 % → backup (incremental) → destroy volumes and database → restore → identical
# then bad input: wrong password, unreachable endpoint, missing bucket, unknown volume, corrupted pack.
# Only loopback and containers/volumes it creates (all labelled mbio.drill=<run>) are touched; a trap removes them.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/env.sh
source "$ROOT/scripts/lib/env.sh"
FILES="$ROOT/components/files/backup"

RUN="drill$$"
WORK="$(mktemp -d /tmp/backup-drill.XXXXXX)"
# The sandbox's debootstrap base when it exists (sandbox/lib.sh), else one of our own.
if [ -z "${BASE_IMAGE:-}" ]; then
  BASE_IMAGE="mbio/base:bookworm"
  docker image inspect mbio-sandbox/debian:bookworm >/dev/null 2>&1 && BASE_IMAGE="mbio-sandbox/debian:bookworm"
fi
AGENT_IMAGE="mbio/backup-agent:$(cat "$ROOT/images/backup-agent/VERSION")"
PG_IMAGE="mbio-drill/postgres:15"
passed=0 failed=0

# shellcheck disable=SC2317 # called by the trap
cleanup() {
  docker ps -aq --filter "label=mbio.drill=$RUN" | xargs -r docker rm -f >/dev/null 2>&1
  docker volume ls -q --filter "label=mbio.drill=$RUN" | xargs -r docker volume rm -f >/dev/null 2>&1
  # Volumes the restore tool creates carry no drill label; they carry the run's prefix.
  docker volume ls -q | grep "^$RUN-" | xargs -r docker volume rm -f >/dev/null 2>&1
  bash "$ROOT/scripts/versitygw.sh" stop "$WORK/s3" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

step_start=0
step() { step_start=$(date +%s.%N); printf '\n--- %s\n' "$*"; }
elapsed() { awk -v s="$step_start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1fs", e - s }'; }
ok() { passed=$((passed + 1)); printf 'PASS %s (%s)\n' "$*" "$(elapsed)"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s (%s)\n' "$*" "$(elapsed)"; }
check() { local what="$1"; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
finish() { printf '\nbackup-drill: %d passed, %d failed\n' "$passed" "$failed"; [ "$failed" -eq 0 ]; exit $?; }
abort() { bad "$*"; finish; }

# --- prerequisites -------------------------------------------------------------------------------
step "prerequisites: docker, images, versitygw"
ensure_apt_packages jq curl restic debootstrap >/dev/null
ensure_docker
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "building base image $BASE_IMAGE with debootstrap (once per machine)"
  as_root debootstrap --variant=minbase bookworm "$WORK/rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 || { tail "$WORK/debootstrap.log"; abort "debootstrap"; }
  as_root tar -C "$WORK/rootfs" -c . | docker import - "$BASE_IMAGE" >/dev/null
  as_root rm -rf "$WORK/rootfs"
fi
docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$AGENT_IMAGE" "$ROOT/images/backup-agent" >/dev/null || abort "build $AGENT_IMAGE"
docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$PG_IMAGE" "$ROOT/images/drill-postgres" >/dev/null || abort "build $PG_IMAGE"
eval "$(bash "$ROOT/scripts/versitygw.sh" start "$WORK/s3")" || abort "start versitygw"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION=us-east-1
BUCKET="drill-backups"
# versitygw, like AWS, requires x-amz-content-sha256, which curl 7.88's --aws-sigv4 does not send itself.
s3() { curl -sS --aws-sigv4 "aws:amz:us-east-1:s3" -K <(printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY") -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"; }
[ "$(s3 -o "$WORK/bucket.xml" -w '%{http_code}' -X PUT "$S3_ENDPOINT/$BUCKET")" = 200 ] || { cat "$WORK/bucket.xml"; abort "create bucket"; }
export RESTIC_REPOSITORY="s3:$S3_ENDPOINT/$BUCKET/development"
export RESTIC_PASSWORD="drill-$RANDOM-$RANDOM"
export AGENT_IMAGE ENVIRONMENT=development NODE_NAME="drill-node"
ok "prerequisites ready (S3 $S3_ENDPOINT, image $AGENT_IMAGE)"

# The agent exactly as the Swarm service runs it: secrets as files, the scripts mounted where the
# service's configs go, the Docker socket of the node.
mkdir -p "$WORK/secrets" "$WORK/metrics"
printf '%s' "$RESTIC_PASSWORD" >"$WORK/secrets/restic_password"
printf '%s' "$AWS_ACCESS_KEY_ID" >"$WORK/secrets/s3_access_key_id"
printf '%s' "$AWS_SECRET_ACCESS_KEY" >"$WORK/secrets/s3_secret_access_key"
# agent SCRIPT [ARGS…]; extra docker options in AGENT_OPTS.
AGENT_OPTS=()
agent() {
  local script="$1"; shift
  docker run --rm --network host --label "mbio.drill=$RUN" \
    -v /var/run/docker.sock:/var/run/docker.sock -v "$FILES:/opt/mbio-backup:ro" \
    -v "$WORK/secrets:/run/secrets:ro" -v "$WORK/metrics:/metrics" \
    -e RESTIC_REPOSITORY -e RESTIC_PASSWORD_FILE=/run/secrets/restic_password \
    -e AWS_ACCESS_KEY_ID_FILE=/run/secrets/s3_access_key_id -e AWS_SECRET_ACCESS_KEY_FILE=/run/secrets/s3_secret_access_key \
    -e AWS_DEFAULT_REGION -e AGENT_IMAGE -e ENVIRONMENT -e NODE_NAME -e METRICS_FILE=/metrics/backup.lp \
    -e "BACKUP_EXTRA_FILTERS=label=mbio.drill=$RUN" -e RETENTION_DAILY=7 -e RETENTION_WEEKLY=4 -e RETENTION_MONTHLY=6 \
    "${AGENT_OPTS[@]}" "$AGENT_IMAGE" "/opt/mbio-backup/$script" "$@"
}
restore() { bash "$FILES/restore.sh" "$@"; }
in_volume() { local v="$1"; shift; docker run --rm --label "mbio.drill=$RUN" -v "$v:/v" -w /v --entrypoint bash "$AGENT_IMAGE" -c "$*"; }
checksums() { in_volume "$1" 'find . -printf "%p %m %U:%G %s\n" | sort; find . -type f -print0 | sort -z | xargs -0 -r sha256sum'; }
psql_in() { docker exec -i "$1" psql -X -U app -d postgres -Atc "$2"; }
pg_start() {
  docker volume create --label "mbio.drill=$RUN" "$RUN-pgdata" >/dev/null
  docker run -d --name "$RUN-pg" --label "mbio.drill=$RUN" --label mbio.backup.database=postgres --label "mbio.backup.name=$RUN-db" \
    -e POSTGRES_USER=app -v "$RUN-pgdata:/var/lib/postgresql/data" "$PG_IMAGE" >/dev/null
  local _
  for _ in $(seq 1 60); do psql_in "$RUN-pg" "SELECT 1" >/dev/null 2>&1 && return 0; sleep 0.5; done
  docker logs "$RUN-pg" >&2; return 1
}
db_fingerprint() {
  local c="$RUN-pg" db
  for db in shop audit; do
    docker exec -i "$c" psql -X -U app -d "$db" -Atc "SELECT '$db', count(*), md5(string_agg(t::text, ',' ORDER BY id)) FROM items t"
  done
  psql_in "$c" "SELECT rolname FROM pg_roles WHERE rolname = 'reporting'"
}
last_added() { grep "target=$1 " "$WORK/metrics/backup.lp" | tail -n1 | sed -E 's/.*bytes_added=([0-9]+)i.*/\1/'; }

# --- data ------------------------------------------------------------------------------------------
step "write data: two labelled volumes (64 MiB in 100 files; a tree with modes, owners, symlinks) and PostgreSQL"
APP="$RUN-app" CONF="$RUN-conf"
for v in "$APP" "$CONF"; do docker volume create --label mbio.backup=true --label "mbio.drill=$RUN" "$v" >/dev/null; done
docker volume create --label "mbio.drill=$RUN" "$RUN-unlabelled" >/dev/null
# shellcheck disable=SC2016 # runs in the container
in_volume "$APP" 'for i in $(seq -w 1 100); do head -c 671089 /dev/urandom >"blob-$i.bin"; done' || abort "write $APP"
in_volume "$CONF" 'mkdir -p etc/deep/er && echo "key=value" >etc/app.conf && chmod 600 etc/app.conf && chown 1000:1000 etc/app.conf && ln -s app.conf etc/link && head -c 12345 /dev/urandom >etc/deep/er/data && touch -d "2020-01-02 03:04:05" etc/deep/er/data' || abort "write $CONF"
pg_start || abort "start PostgreSQL"
for q in "CREATE ROLE reporting LOGIN" "CREATE DATABASE shop" "CREATE DATABASE audit OWNER reporting"; do psql_in "$RUN-pg" "$q" >/dev/null; done
for db in shop audit; do
  docker exec -i "$RUN-pg" psql -X -q -U app -d "$db" -v ON_ERROR_STOP=1 >/dev/null <<'SQL' || abort "fill $db"
CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, price numeric(10,2), created timestamptz DEFAULT '2024-01-01');
INSERT INTO items SELECT g, 'item ' || g, g * 0.37, '2024-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 100000) g;
CREATE INDEX items_name ON items (name);
SQL
done
docker exec -i "$RUN-pg" psql -X -q -U app -d audit -c "ALTER TABLE items OWNER TO reporting; GRANT SELECT ON items TO reporting" >/dev/null
ok "data written"

# --- backup ----------------------------------------------------------------------------------------
step "maintain.sh init creates the repository; a second run changes nothing"
out1="$(agent maintain.sh init 2>&1)"; rc1=$?
out2="$(agent maintain.sh init 2>&1)"; rc2=$?
check "init twice: created, then 'exists'" test "$rc1" = 0 -a "$rc2" = 0 -a -n "$(grep -l initialising <<<"$out1")" -a -n "$(grep -l exists <<<"$out2")"

step "backup.sh #1 (full) in the agent container"
agent backup.sh >"$WORK/backup1.log" 2>&1; rc=$?
sed 's/^/    /' "$WORK/backup1.log"
snaps="$(restic snapshots --json 2>/dev/null | jq length)"
# 2 volumes + roles + 3 databases (postgres, shop, audit); the unlabelled volume is not backed up.
check "backup #1 exit 0 with 6 snapshots" test "$rc" = 0 -a "$snaps" = 6
check "unlabelled volume not backed up" test -z "$(restic snapshots --json --tag "volume=$RUN-unlabelled" | jq -r '.[].id')"
full_added="$(last_added "$APP")"
check "metrics: success, duration and bytes added per item" grep -q "kind=volume,target=$APP success=1i,errors=0i,duration_seconds=[0-9.]*,bytes_added=[0-9]*i" "$WORK/metrics/backup.lp"

step "change 1 %: one of 100 files rewritten, 1 % of rows updated; backup.sh #2 (incremental)"
in_volume "$APP" 'head -c 671089 /dev/urandom >blob-042.bin'
docker exec -i "$RUN-pg" psql -X -q -U app -d shop -c "UPDATE items SET price = price + 1 WHERE id % 100 = 0" >/dev/null
agent backup.sh >"$WORK/backup2.log" 2>&1; rc=$?
sed 's/^/    /' "$WORK/backup2.log"
incr_added="$(last_added "$APP")"
echo "    $APP: full backup added $full_added bytes, incremental added $incr_added bytes for 671089 changed"
check "backup #2 exit 0" test "$rc" = 0
check "incremental upload < 2 x changed bytes (restic compresses nothing of random data)" test "$incr_added" -lt $((2 * 671089)) -a "$incr_added" -gt 0

want_app="$(checksums "$APP")" want_conf="$(checksums "$CONF")" want_db="$(db_fingerprint)"

# --- disaster ----------------------------------------------------------------------------------------
step "disaster: remove the database container, its volume and both data volumes"
docker rm -f "$RUN-pg" >/dev/null && docker volume rm "$RUN-pgdata" "$APP" "$CONF" >/dev/null
check "everything gone" test -z "$(docker volume ls -q | grep -E "^($APP|$CONF|$RUN-pgdata)$")"

# --- restore -----------------------------------------------------------------------------------------
step "restore.sh snapshots"
check "lists the volume's snapshots" bash -c "bash '$FILES/restore.sh' snapshots --volume '$APP' | grep -q '$APP'"

step "restore.sh volume (missing volume is recreated)"
restore volume "$APP"; rc=$?
restore volume "$CONF" --into "$RUN-conf-copy"; rc2=$?
check "restore exits 0" test "$rc" = 0 -a "$rc2" = 0
check "$APP identical (paths, modes, owners, sizes, sha256)" test "$(checksums "$APP")" = "$want_app"
check "--into copy identical" test "$(checksums "$RUN-conf-copy")" = "$want_conf"

step "restore.sh database into a fresh, empty PostgreSQL"
pg_start || abort "start fresh PostgreSQL"
restore database "$RUN-db"; rc=$?
got_db="$(db_fingerprint)"
printf '    %s\n' "$want_db"
check "database restore exits 0" test "$rc" = 0
check "row counts, content hashes and roles identical" test "$got_db" = "$want_db"

step "restore.sh volume in place over changed content (pre-restore snapshot kept)"
in_volume "$APP" 'rm blob-001.bin; echo junk >new-file'
restore volume "$APP" >/dev/null 2>&1; rc=$?
check "in-place restore identical" test "$rc" = 0 -a "$(checksums "$APP")" = "$want_app"
check "pre-restore snapshot saved" test -n "$(restic snapshots --json --tag kind=pre-restore | jq -r '.[].id')"
check "no staging volume left" test -z "$(docker volume ls -q | grep -- "^$APP-restore-")"

step "restore.sh database over an existing database (scratch + swap)"
docker exec -i "$RUN-pg" psql -X -q -U app -d shop -c "DELETE FROM items WHERE id < 500" >/dev/null
restore database "$RUN-db" --database shop --drop-previous >/dev/null 2>&1; rc=$?
check "database replaced and identical" test "$rc" = 0 -a "$(db_fingerprint)" = "$want_db"

step "retention: maintain.sh forget (prune), maintain.sh check (the raft backup is tests/real/lib/restore-tool.sh, run by e2e.sh)"
agent maintain.sh forget >/dev/null 2>&1; rc1=$?
agent maintain.sh check >/dev/null 2>&1; rc3=$?
check "forget/prune, check exit 0" test "$rc1" = 0 -a "$rc3" = 0

# --- bad input ----------------------------------------------------------------------------------------
count_before="$(restic snapshots --json | jq length)"
step "bad input: wrong repository password"
out="$(RESTIC_PASSWORD=wrong bash "$FILES/restore.sh" volume "$APP" 2>&1)"; rc=$?
echo "    $(tail -n1 <<<"$out")"
check "wrong password: non-zero, says so, volume untouched" test "$rc" != 0 -a -n "$(grep -l 'wrong resticPassword' <<<"$out")" -a "$(checksums "$APP")" = "$want_app"
printf 'wrong' >"$WORK/secrets/restic_password"
out="$(agent backup.sh 2>&1)"; rc=$?
printf '%s' "$RESTIC_PASSWORD" >"$WORK/secrets/restic_password"
check "backup with wrong password: non-zero, clear" test "$rc" != 0 -a -n "$(grep -l 'wrong resticPassword' <<<"$out")"

step "bad input: unreachable endpoint, missing bucket"
out="$(RESTIC_REPOSITORY="s3:http://127.0.0.1:9/$BUCKET/development" timeout 60 bash "$FILES/restore.sh" snapshots 2>&1)"; rc=$?
echo "    $(tail -n1 <<<"$out")"
check "unreachable: non-zero within 60 s, says cannot reach" test "$rc" != 0 -a "$rc" != 124 -a -n "$(grep -l 'cannot reach' <<<"$out")"
out="$(RESTIC_REPOSITORY="s3:$S3_ENDPOINT/no-such-bucket/development" bash "$FILES/restore.sh" snapshots 2>&1)"; rc=$?
echo "    $(tail -n1 <<<"$out")"
out2="$(RESTIC_REPOSITORY="s3:$S3_ENDPOINT/no-such-bucket/development" agent maintain.sh init 2>&1)"; rc2=$?
code="$(s3 -o /dev/null -w '%{http_code}' -I "$S3_ENDPOINT/no-such-bucket/")"
check "missing bucket: non-zero, says so, init does not create it" test "$rc" != 0 -a "$rc2" != 0 -a -n "$(grep -l 'does not exist' <<<"$out")" -a "$code" = 404

step "bad input: unknown volume, unknown database"
out="$(restore volume no-such-volume 2>&1)"; rc=$?
echo "    $(tail -n1 <<<"$out")"
out2="$(restore database no-such-db 2>&1)"; rc2=$?
check "unknown names: non-zero, lists what exists" test "$rc" != 0 -a "$rc2" != 0 -a -n "$(grep -l "$APP" <<<"$out")" -a -z "$(docker volume ls -q | grep -x no-such-volume)"

step "bad input: corrupted pack files"
for id in $(restic list packs 2>/dev/null); do
  s3 -o "$WORK/pack" "$S3_ENDPOINT/$BUCKET/development/data/${id:0:2}/$id"
  # Blob contents overwritten, pack header intact: restic finds the blobs and must reject them.
  head -c $(( $(stat -c %s "$WORK/pack") * 9 / 10 )) /dev/urandom | dd of="$WORK/pack" conv=notrunc 2>/dev/null
  code="$(s3 -o /dev/null -w '%{http_code}' -X PUT -T "$WORK/pack" "$S3_ENDPOINT/$BUCKET/development/data/${id:0:2}/$id")"
  [ "$code" = 200 ] || abort "re-upload of corrupted pack $id: HTTP $code"
done
out="$(restore volume "$CONF" --into "$RUN-conf-corrupt" 2>&1)"; rc=$?
echo "    $(tail -n1 <<<"$out")"
check "corrupt restore: non-zero, target not left behind, existing volume untouched" \
  test "$rc" != 0 -a -z "$(docker volume ls -q | grep -x "$RUN-conf-corrupt")" -a "$(checksums "$APP")" = "$want_app"
out="$(restore volume "$APP" 2>&1)"; rc=$?
check "corrupt in-place restore: non-zero, volume untouched" test "$rc" != 0 -a "$(checksums "$APP")" = "$want_app"
AGENT_OPTS=(-e CHECK_READ_DATA_SUBSET=100%)
agent maintain.sh check >"$WORK/check.log" 2>&1; rc=$?
echo "    $(tail -n1 "$WORK/check.log")"
check "restic check reports the corruption (non-zero) and a failure metric" test "$rc" != 0 -a -n "$(grep -l 'kind=check,target=repository success=0i' "$WORK/metrics/backup.lp")"
check "no snapshot was deleted by any failure" test "$(restic snapshots --json | jq length)" -ge "$count_before"

finish
