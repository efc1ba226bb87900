#!/usr/bin/env bash
# A real S3 server for tests and benchmarks: MinIO built from the Go module proxy at a pinned version,
# cached under $MBIO_CACHE/minio/<version>/, served on 127.0.0.1 with its data in a directory the caller owns.
#
#   scripts/minio.sh build                 build (or reuse) the pinned binary; prints its path
#   scripts/minio.sh start DATA_DIR [PORT] start a server in the background; prints `export` lines
#                                          (S3 endpoint, keys, pid file) to eval
#   scripts/minio.sh stop DATA_DIR         stop the server started on DATA_DIR (by its pid file)
#
# Upstream archived the repository, so its release tags are not semantic versions the proxy serves;
# the pin is the pseudo-version of the final commit.
set -euo pipefail
# shellcheck source=scripts/lib/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"

MINIO_MODULE="github.com/minio/minio"
MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
MINIO_DIR="$MBIO_CACHE/minio/$MINIO_VERSION"
MINIO_BIN="$MINIO_DIR/minio"

build() {
  if [ -x "$MINIO_BIN" ]; then echo "$MINIO_BIN"; return 0; fi
  command -v go >/dev/null || ensure_apt_packages golang-go
  log "building MinIO $MINIO_VERSION from the Go module proxy into $MINIO_DIR (first run only, a few minutes)"
  local start tmp
  start=$(date +%s)
  tmp="$(mktemp -d)"
  # -x would flood the log; a heartbeat shows the build is alive.
  ( while sleep 20; do log "  still building MinIO ($(( $(date +%s) - start )) s)"; done ) &
  local beat=$!
  if ! GOBIN="$tmp" GOFLAGS=-buildvcs=false GOTOOLCHAIN=auto CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "$MINIO_MODULE@$MINIO_VERSION"; then
    kill "$beat" 2>/dev/null || true
    rm -rf "$tmp"
    die "MinIO $MINIO_VERSION did not build (see the go output above)"
  fi
  kill "$beat" 2>/dev/null || true
  mkdir -p "$MINIO_DIR"
  mv "$tmp/minio" "$MINIO_BIN.partial" && mv "$MINIO_BIN.partial" "$MINIO_BIN"
  rm -rf "$tmp"
  log "MinIO built in $(( $(date +%s) - start )) s: $MINIO_BIN"
  echo "$MINIO_BIN"
}

free_port() {
  local p
  for p in $(seq 19000 19100); do
    (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  die "no free port between 19000 and 19100 on 127.0.0.1"
}

start() {
  local data="${1:?usage: minio.sh start DATA_DIR [PORT]}" port="${2:-}"
  build >/dev/null
  [ -n "$port" ] || port="$(free_port)"
  mkdir -p "$data/export"
  local user="mbio-test-$RANDOM" pass
  pass="$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
  MINIO_ROOT_USER="$user" MINIO_ROOT_PASSWORD="$pass" MINIO_BROWSER=off MINIO_UPDATE=off \
    nohup "$MINIO_BIN" server --quiet --address "127.0.0.1:$port" "$data/export" >"$data/minio.log" 2>&1 &
  echo $! >"$data/minio.pid"
  for _ in $(seq 1 60); do
    if curl -fsS "http://127.0.0.1:$port/minio/health/ready" >/dev/null 2>&1; then
      printf 'export S3_ENDPOINT=%q AWS_ACCESS_KEY_ID=%q AWS_SECRET_ACCESS_KEY=%q MINIO_PID_FILE=%q\n' \
        "http://127.0.0.1:$port" "$user" "$pass" "$data/minio.pid"
      return 0
    fi
    kill -0 "$(cat "$data/minio.pid")" 2>/dev/null || { cat "$data/minio.log" >&2; die "MinIO exited during start"; }
    sleep 0.5
  done
  cat "$data/minio.log" >&2
  die "MinIO did not become ready on 127.0.0.1:$port within 30 s"
}

stop() {
  local data="${1:?usage: minio.sh stop DATA_DIR}" pid
  [ -f "$data/minio.pid" ] || return 0
  pid="$(cat "$data/minio.pid")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$data/minio.pid"
}

case "${1:-}" in
  build) build ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: $0 build | start DATA_DIR [PORT] | stop DATA_DIR" >&2; exit 2 ;;
esac
