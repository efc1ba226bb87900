#!/usr/bin/env bash
# Backup benchmark (not part of the default test run: it moves several GiB).
# A 1 GiB volume (256 files of 4 MiB: half random, half text), on a real S3 server (versitygw, POSIX
# backend, on loopback):
#   restic via the shipped backup.sh/restore.sh: full backup, full restore, incremental after a 1 % change
#   versus tar+gzip of the whole volume uploaded each time (what docker-volume-backup does)
# Two kinds of 1 % change: whole files rewritten (3 of 256 files), and 64 KiB edited in place in 40 files.
# Prints a table and rewrites the "Backup" section of docs/benchmarks.md.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/env.sh
source "$ROOT/scripts/lib/env.sh"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
FILES="$ROOT/components/files/backup"
RUN="bench$$"
WORK="$(mktemp -d /tmp/backup-bench.XXXXXX)"
AGENT_IMAGE="mbio/backup-agent:$(cat "$ROOT/images/backup-agent/VERSION")"
BASE_IMAGE="${BASE_IMAGE:-mbio-sandbox/debian:bookworm}"
VOL="$RUN-data"

# shellcheck disable=SC2317 # called by the trap
cleanup() {
  docker ps -aq --filter "label=mbio.bench=$RUN" | xargs -r docker rm -f >/dev/null 2>&1
  docker volume ls -q | grep "^$RUN-" | xargs -r docker volume rm -f >/dev/null 2>&1
  bash "$ROOT/scripts/versitygw.sh" stop "$WORK/s3" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

ensure_docker
docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || BASE_IMAGE="mbio/base:bookworm"
docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || die "no base image: run tests/real/backup-drill.sh or sandbox/up.sh first"
docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$AGENT_IMAGE" "$ROOT/images/backup-agent" >/dev/null || die "image build failed"
eval "$(bash "$ROOT/scripts/versitygw.sh" start "$WORK/s3")"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION=us-east-1 AGENT_IMAGE ENVIRONMENT=bench NODE_NAME=bench
export RESTIC_REPOSITORY="s3:$S3_ENDPOINT/bench/restic" RESTIC_PASSWORD="bench-$RANDOM"
# versitygw, like AWS, requires x-amz-content-sha256, which curl 7.88's --aws-sigv4 does not send itself.
s3() { curl -sS --aws-sigv4 "aws:amz:us-east-1:s3" -K <(printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY") -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"; }
[ "$(s3 -o "$WORK/bucket.xml" -w '%{http_code}' -X PUT "$S3_ENDPOINT/bench")" = 200 ] || { cat "$WORK/bucket.xml"; die "could not create bucket bench"; }
now() { date +%s.%N; }
secs() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.1f", e - s }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", (b / 1048576) / (s > 0 ? s : 1) }'; }
in_vol() { docker run --rm --label "mbio.bench=$RUN" -v "$1:/v" -w /v --entrypoint bash "$AGENT_IMAGE" -c "$2"; }
agent() {
  docker run --rm --network host --label "mbio.bench=$RUN" -v /var/run/docker.sock:/var/run/docker.sock -v "$FILES:/opt/mbio-backup:ro" \
    -v "$WORK:/work" -e RESTIC_REPOSITORY -e RESTIC_PASSWORD -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_DEFAULT_REGION \
    -e AGENT_IMAGE -e ENVIRONMENT -e NODE_NAME -e METRICS_FILE=/work/metrics.lp -e "BACKUP_EXTRA_FILTERS=label=mbio.bench=$RUN" \
    "$AGENT_IMAGE" "/opt/mbio-backup/$1" "${@:2}"
}
added() { grep "target=$VOL " "$WORK/metrics.lp" | tail -n1 | sed -E 's/.*bytes_added=([0-9]+)i.*/\1/'; }
restic_backup() { local s; s=$(now); agent backup.sh volumes >/dev/null 2>&1 || die "backup failed"; T=$(secs "$s" "$(now)"); B=$(added); }
# tar+gzip streamed to S3 (curl computes the SigV4 signature over a spooled file: it needs the length).
targz_backup() {
  local s; s=$(now)
  in_vol "$VOL" 'tar -cf - . | gzip -6' >"$WORK/archive.tgz"
  [ "$(s3 -o /dev/null -w '%{http_code}' -X PUT -T "$WORK/archive.tgz" "$S3_ENDPOINT/bench/tar/$1.tgz")" = 200 ] || die "tar upload $1 failed"
  T=$(secs "$s" "$(now)"); B=$(stat -c %s "$WORK/archive.tgz"); rm -f "$WORK/archive.tgz"
}

load_start="$(cut -d' ' -f1 /proc/loadavg)"
log "writing 1 GiB into volume $VOL"
docker volume create --label mbio.backup=true --label "mbio.bench=$RUN" "$VOL" >/dev/null
# shellcheck disable=SC2016 # runs in the container
in_vol "$VOL" 'for i in $(seq -w 1 128); do head -c 4194304 /dev/urandom >"random-$i.bin"; head -c 3145728 /dev/urandom | base64 -w 100 | head -c 4194304 >"text-$i.txt"; done'
size=$(in_vol "$VOL" 'du -sb . | cut -f1')
agent maintain.sh init >/dev/null 2>&1 || die "restic init failed"

log "restic full backup";        restic_backup;       r_full_t=$T r_full_b=$B
log "tar+gzip full upload";      targz_backup full;   t_full_t=$T t_full_b=$B
log "restic full restore into a new volume"
s=$(now); bash "$FILES/restore.sh" volume "$VOL" --into "$RUN-restored" >/dev/null 2>&1 || die "restore failed"; r_rest_t=$(secs "$s" "$(now)")
[ "$(in_vol "$VOL" 'find . -type f | sort | xargs sha256sum' | sha256sum)" = "$(in_vol "$RUN-restored" 'find . -type f | sort | xargs sha256sum' | sha256sum)" ] || die "restored volume differs"
log "tar+gzip full restore"
s=$(now); docker volume create "$RUN-untar" >/dev/null
s3 -f "$S3_ENDPOINT/bench/tar/full.tgz" | docker run --rm -i --label "mbio.bench=$RUN" -v "$RUN-untar:/v" --entrypoint bash "$AGENT_IMAGE" -c 'gzip -dc | tar -xf - -C /v'
t_rest_t=$(secs "$s" "$(now)")

log "change 1 %: 3 of 256 files rewritten (12 MiB)"
# shellcheck disable=SC2016 # runs in the container
in_vol "$VOL" 'for i in 010 050 090; do head -c 4194304 /dev/urandom >"random-$i.bin"; done'
changed1=$((3 * 4194304))
restic_backup; r_inc1_t=$T r_inc1_b=$B
targz_backup inc1; t_inc1_t=$T t_inc1_b=$B

log "change 1 %: 64 KiB rewritten in place in 40 files (2.5 MiB... scattered edits)"
# shellcheck disable=SC2016 # runs in the container
in_vol "$VOL" 'for i in $(seq -w 1 40); do head -c 65536 /dev/urandom | dd of="random-0$i.bin" bs=65536 seek=$((RANDOM % 60)) conv=notrunc 2>/dev/null; done'
changed2=$((40 * 65536))
restic_backup; r_inc2_t=$T r_inc2_b=$B
targz_backup inc2; t_inc2_t=$T t_inc2_b=$B

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
cpu="$(machine_description), restic $(docker run --rm --entrypoint restic "$AGENT_IMAGE" version | cut -d' ' -f2), versitygw $(bash "$ROOT/scripts/versitygw.sh" version) (POSIX backend) on loopback"
# Other work on the machine slows every figure: say so when the load exceeded the cores.
load_end="$(cut -d' ' -f1 /proc/loadavg)"
shared="$(awk -v a="$load_start" -v b="$load_end" -v n="$(nproc)" 'BEGIN { if (a > n || b > n) printf " The CPU was shared with other work (load average %s at the start, %s at the end, %d cores): the figures are slower than on an idle machine.", a, b, n }')"
table="$(cat <<EOF
Measured $(date -u +%F) by \`bench/backup.sh\` on $cpu. Volume: $(mib "$size") MiB (256 files of 4 MiB, half random bytes, half base64 text).$shared

| run | restic (backup.sh / restore.sh) | tar+gzip of the whole volume |
|---|---|---|
| full backup | ${r_full_t} s, $(rate "$size" "$r_full_t") MiB/s, uploaded $(mib "$r_full_b") MiB | ${t_full_t} s, $(rate "$size" "$t_full_t") MiB/s, uploaded $(mib "$t_full_b") MiB |
| full restore (new volume) | ${r_rest_t} s, $(rate "$size" "$r_rest_t") MiB/s | ${t_rest_t} s, $(rate "$size" "$t_rest_t") MiB/s |
| 1 % changed as whole files ($(mib "$changed1") MiB) | ${r_inc1_t} s, uploaded $(mib "$r_inc1_b") MiB = **$(ratio "$r_inc1_b" "$changed1") × changed** | ${t_inc1_t} s, uploaded $(mib "$t_inc1_b") MiB = $(ratio "$t_inc1_b" "$changed1") × changed |
| 64 KiB edited in 40 files ($(mib "$changed2") MiB) | ${r_inc2_t} s, uploaded $(mib "$r_inc2_b") MiB = **$(ratio "$r_inc2_b" "$changed2") × changed** | ${t_inc2_t} s, uploaded $(mib "$t_inc2_b") MiB = $(ratio "$t_inc2_b" "$changed2") × changed |

restic uploads new chunks only: a rewritten file costs its own size; an edit inside a file costs the
content-defined chunk(s) around it (restic's chunks average 1 MiB), so small scattered edits cost about a
chunk each — still a fraction of the volume, where tar+gzip uploads the whole compressed volume every time.
restic 0.14 reports bytes added before compression (data_added), so its upload figures are upper bounds.
EOF
)"
printf '\n%s\n' "$table"

write_bench_section "Backup" "$table"
