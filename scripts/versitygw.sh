#!/usr/bin/env bash
# A real S3 server for tests and benchmarks: versitygw (Apache-2.0) with its POSIX backend, built from
# the Go module proxy at a pinned version, cached under $MBIO_CACHE/versitygw/<version>/, served on
# 127.0.0.1 with its buckets in a directory the caller owns. Root credentials are generated per start.
#
#   scripts/versitygw.sh build                 build (or reuse) the pinned binary; prints its path
#   scripts/versitygw.sh version               print the pinned version (no side effects)
#   scripts/versitygw.sh start DATA_DIR [PORT] start a server in the background; prints `export` lines
#                                              (S3 endpoint, keys, pid file) to eval
#   scripts/versitygw.sh stop DATA_DIR         stop the server started on DATA_DIR (by its pid file)
set -euo pipefail
# shellcheck source=scripts/lib/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"

VGW_MODULE="github.com/versity/versitygw"
VGW_VERSION="${VGW_VERSION:-v1.8.0}"
VGW_DIR="$MBIO_CACHE/versitygw/$VGW_VERSION"
VGW_BIN="$VGW_DIR/versitygw"
# Served on GET without authentication, so readiness needs no signed request.
VGW_HEALTH="/health"

build() {
  if [ -x "$VGW_BIN" ]; then echo "$VGW_BIN"; return 0; fi
  # The sandbox's S3 server, backup-drill and the test run's warm-up ask for it together on an empty cache.
  build_lock "$MBIO_CACHE/versitygw/.$VGW_VERSION.lock" "versitygw $VGW_VERSION"
  if [ -x "$VGW_BIN" ]; then exec 9>&-; echo "$VGW_BIN"; return 0; fi
  command -v go >/dev/null || ensure_apt_packages golang-go
  log "building versitygw $VGW_VERSION ($VGW_MODULE/cmd/versitygw) from the Go module proxy into $VGW_DIR"
  local start src tmp
  start=$(date +%s)
  tmp="$(mktemp -d)"
  # The licence is checked on the module the proxy serves, before anything of it is compiled.
  src="$(cd "$tmp" && go mod download -json "$VGW_MODULE@$VGW_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  if [ -z "$src" ] || [ ! -f "$src/LICENSE" ]; then
    rm -rf "$tmp"; die "go mod download $VGW_MODULE@$VGW_VERSION gave no module directory with a LICENSE"
  fi
  if ! grep -q "Apache License" "$src/LICENSE" || ! grep -q "Version 2.0" "$src/LICENSE"; then
    rm -rf "$tmp"; die "$src/LICENSE is not the Apache License 2.0: refusing to build $VGW_MODULE@$VGW_VERSION"
  fi
  log "  $VGW_MODULE@$VGW_VERSION: LICENSE is the Apache License 2.0"
  # -x would flood the log; a heartbeat shows the build is alive.
  ( while sleep 30; do log "  still building versitygw $VGW_VERSION ($(( $(date +%s) - start )) s)"; done ) &
  local beat=$!
  if ! GOBIN="$tmp" GOFLAGS=-buildvcs=false GOTOOLCHAIN=auto CGO_ENABLED=0 go install -trimpath \
      -ldflags "-s -w -X main.Version=$VGW_VERSION" "$VGW_MODULE/cmd/versitygw@$VGW_VERSION"; then
    kill "$beat" 2>/dev/null || true
    rm -rf "$tmp"
    die "versitygw $VGW_VERSION did not build (see the go output above)"
  fi
  kill "$beat" 2>/dev/null || true
  mkdir -p "$VGW_DIR"
  cp "$src/LICENSE" "$VGW_DIR/LICENSE"
  mv "$tmp/versitygw" "$VGW_BIN.partial" && mv "$VGW_BIN.partial" "$VGW_BIN"
  rm -rf "$tmp"
  log "versitygw $VGW_VERSION built in $(( $(date +%s) - start )) s: $VGW_BIN"
  exec 9>&-
  echo "$VGW_BIN"
}

free_port() {
  local p
  for p in $(seq 19000 19100); do
    (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  die "no free port between 19000 and 19100 on 127.0.0.1"
}

start() {
  local data="${1:?usage: versitygw.sh start DATA_DIR [PORT]}" port="${2:-}"
  build >/dev/null
  [ -n "$port" ] || port="$(free_port)"
  mkdir -p "$data/buckets"
  local user pass
  user="mbio-test-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  pass="$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
  # Credentials go through the environment, never the command line (visible in ps).
  ROOT_ACCESS_KEY_ID="$user" ROOT_SECRET_ACCESS_KEY="$pass" VGW_REGION=us-east-1 \
    VGW_PORT="127.0.0.1:$port" VGW_HEALTH="$VGW_HEALTH" VGW_QUIET=true \
    nohup "$VGW_BIN" posix "$data/buckets" >"$data/versitygw.log" 2>&1 &
  echo $! >"$data/versitygw.pid"
  for _ in $(seq 1 60); do
    if curl -fsS "http://127.0.0.1:$port$VGW_HEALTH" >/dev/null 2>&1; then
      printf 'export S3_ENDPOINT=%q AWS_ACCESS_KEY_ID=%q AWS_SECRET_ACCESS_KEY=%q VGW_PID_FILE=%q\n' \
        "http://127.0.0.1:$port" "$user" "$pass" "$data/versitygw.pid"
      return 0
    fi
    kill -0 "$(cat "$data/versitygw.pid")" 2>/dev/null || { cat "$data/versitygw.log" >&2; die "versitygw exited during start"; }
    sleep 0.5
  done
  cat "$data/versitygw.log" >&2
  die "versitygw did not become ready on 127.0.0.1:$port within 30 s"
}

stop() {
  local data="${1:?usage: versitygw.sh stop DATA_DIR}" pid
  [ -f "$data/versitygw.pid" ] || return 0
  pid="$(cat "$data/versitygw.pid")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$data/versitygw.pid"
}

case "${1:-}" in
  build) build ;;
  version) echo "$VGW_VERSION" ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: $0 build | version | start DATA_DIR [PORT] | stop DATA_DIR" >&2; exit 2 ;;
esac
