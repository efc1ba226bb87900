#!/usr/bin/env bash
# Builds Portainer CE (the server with its web UI, and the agent) from the tagged source archives in
# ../shared/upstream (checked against scripts/upstream.sha256), for the sandbox images images/portainer and
# images/portainer-agent. No registry serves Portainer's images here; the sources are zlib-licensed.
#
#   bash scripts/portainer-build.sh               build what is not cached yet, then print the cache directory
#   bash scripts/portainer-build.sh --check       exit 0 when the build is cached, 1 otherwise (changes nothing)
#   bash scripts/portainer-build.sh --background  start the build detached (setsid, nice 10) unless it is cached
#                                                 or already running; print where its log is and return at once
#   bash scripts/portainer-build.sh --version     print the Portainer version built (images/portainer/VERSION)
#
# A cold build takes 30–60 min on 2 shared cores (docs/benchmarks.md has the measured phases), so the main
# job and the test run start it with --background and ask --check later. Phases, each cached on its own so an
# interrupted build resumes where it stopped:
#   server   go build ./api/cmd/portainer (modules from the Go module proxy)
#   agent    go build ./cmd/agent; its go.mod's replace of github.com/portainer/portainer by ../server-ce (the
#            layout of Portainer's own repositories) is dropped: the pseudo-version it requires comes from the
#            proxy, checked against the agent's go.sum
#   compose  docker-compose v2.29.2 (binary-version.json) from github.com/docker/compose/v2, built by
#            images/lib/go-binary.sh: the server refuses to start without an executable docker-compose in
#            its assets directory (upstream downloads a release binary at build time)
#   ui       yarn install of the web UI with Yarn 1.22.22 (tools/yarn, the version and sha512 package.json's
#            packageManager names) from the npm registry, --frozen-lockfile --ignore-scripts: the root
#            `prepare` script runs husky two directories up (Portainer's own monorepo) and no other install
#            script is needed by webpack. One patch: the git dependency axios-progress-bar
#            (portainer/progress-bar-4-axios) points at its archive (file:), in package.json and yarn.lock.
#   webpack  NODE_ENV=production webpack --config webpack/webpack.production.js (as upstream's CI builds it)
#
# Cache, keyed by version: $MBIO_CACHE/portainer/<version>/
#   server/   portainer, docker-compose, public/ (the web UI), mustache-templates/   (images/portainer)
#   agent/    agent, static/                                                          (images/portainer-agent)
#   phases    "<phase> <seconds>" of the build that filled the cache; build.log the whole output
# Builds run under nice -n 10 (the machine's cores are shared). Go's caches stay at their defaults.
set -euo pipefail
# shellcheck source=scripts/lib/upstream-plugins.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/upstream-plugins.sh"
# shellcheck source=scripts/lib/npm-tool.sh
source "$MBIO_ROOT/scripts/lib/npm-tool.sh"

VERSION="$(tr -d '[:space:]' <"$MBIO_ROOT/images/portainer/VERSION")"
[ "$(tr -d '[:space:]' <"$MBIO_ROOT/images/portainer-agent/VERSION")" = "$VERSION" ] ||
  die "images/portainer/VERSION and images/portainer-agent/VERSION differ: server and agent must be the same release"
COMMIT=a904c74fbbdd # the tag's commit (../shared/upstream/README.md), stamped into the server as its build commit
COMPOSE_VERSION=v2.29.2
SERVER_ARCHIVE="portainer-$VERSION.tar.gz"
AGENT_ARCHIVE="portainer-agent-$VERSION.tar.gz"
PROGRESS_BAR_ARCHIVE="progress-bar-4-axios-d424cd29.tar.gz"
OUT="$MBIO_CACHE/portainer/$VERSION"
SRC="$MBIO_CACHE/portainer/src-$VERSION"
LOGDIR="$MBIO_CACHE/logs"
BG_LOG="$LOGDIR/portainer-build.log"

# The stamp of a complete build: every archive's checksum and the compose version.
stamp() {
  local a
  for a in "$SERVER_ARCHIVE" "$AGENT_ARCHIVE" "$PROGRESS_BAR_ARCHIVE"; do
    printf '%s=%s ' "$a" "$(awk -v f="$a" '$2 == f { print $1 }' "$UPSTREAM_SUMS")"
  done
  printf 'docker-compose=%s\n' "$COMPOSE_VERSION"
}
is_cached() {
  [ -x "$OUT/server/portainer" ] && [ -x "$OUT/server/docker-compose" ] && [ -f "$OUT/server/public/index.html" ] &&
    [ -x "$OUT/agent/agent" ] && [ "$(cat "$OUT/.built" 2>/dev/null)" = "$(stamp)" ]
}
# A phase is done when its marker holds the stamp (a phase's outputs are complete before the marker is written).
phase_done() { [ "$(cat "$OUT/.phase-$1" 2>/dev/null)" = "$(stamp)" ]; }
phase_mark() { stamp >"$OUT/.phase-$1"; printf '%s %s\n' "$1" "$2" >>"$OUT/phases"; }

case "${1:-}" in
  --version) echo "$VERSION"; exit 0 ;;
  --check) is_cached; exit $? ;;
  --background)
    if is_cached; then log "portainer $VERSION: cached ($OUT)"; exit 0; fi
    mkdir -p "$LOGDIR" "$MBIO_CACHE/portainer"
    exec 9>"$MBIO_CACHE/portainer/.lock"
    if ! flock -n 9; then log "portainer $VERSION: a build is already running (log: $BG_LOG)"; exit 0; fi
    exec 9>&-
    setsid nohup nice -n 10 bash "${BASH_SOURCE[0]}" </dev/null >"$BG_LOG" 2>&1 &
    log "portainer $VERSION: building in the background at nice 10 (30–60 min cold; log: $BG_LOG; bash scripts/portainer-build.sh --check says when it is done)"
    exit 0
    ;;
  "") ;;
  -h | --help) sed -n '2,36p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument: $1 (see --help)" ;;
esac

if is_cached; then log "portainer $VERSION: cached ($OUT)"; echo "$OUT"; exit 0; fi
mkdir -p "$OUT" "$MBIO_CACHE/portainer"
# One build at a time (the background one and a foreground call): the second waits, then finds the cache.
exec 9>"$MBIO_CACHE/portainer/.lock"
flock 9
if is_cached; then log "portainer $VERSION: cached (built meanwhile by another process)"; echo "$OUT"; exit 0; fi
command -v go >/dev/null || export PATH="/usr/local/go/bin:$PATH"
command -v go >/dev/null || die "Go is needed to build Portainer (Go 1.22+; GOTOOLCHAIN=auto fetches what go.mod asks for)"
ensure_node
T0=$SECONDS
LOGF="$OUT/build.log"
: >"$LOGF"
log "portainer $VERSION: building into $OUT (log: $LOGF)"

# Go builds: static, niced; GOFLAGS=-mod=mod lets go.sum gain the entries a -trimpath build of one package needs.
go_build() { # dir ldflags out package
  (cd "$1" && CGO_ENABLED=0 GOFLAGS="$GOFLAGS -mod=mod" nice -n 10 go build -ldflags "-s -w $2" -o "$3" "$4")
}

if [ ! -f "$SRC/.extracted" ] || [ "$(cat "$SRC/.extracted")" != "$(stamp)" ]; then
  upstream_extract "$SERVER_ARCHIVE" "$SRC/server"
  upstream_extract "$AGENT_ARCHIVE" "$SRC/agent"
  upstream_extract "$PROGRESS_BAR_ARCHIVE" "$SRC/server/.mbio/progress-bar-4-axios"
  stamp >"$SRC/.extracted"
  rm -f "$OUT"/.phase-*
  : >"$OUT/phases"
fi

# ---- server (Go) ------------------------------------------------------------------------------------------
if ! phase_done server; then
  t=$SECONDS
  mkdir -p "$OUT/server"
  upstream_step "go build portainer $VERSION (./api/cmd/portainer)" "$LOGF" go_build "$SRC/server" \
    "-X github.com/portainer/portainer/api/build.GitCommit=$COMMIT -X github.com/portainer/portainer/api/build.ImageTag=$VERSION -X github.com/portainer/portainer/api/build.BuildNumber=mbio-offline" \
    "$OUT/server/portainer" ./api/cmd/portainer
  rm -rf "$OUT/server/mustache-templates"
  cp -r "$SRC/server/mustache-templates" "$OUT/server/mustache-templates"
  phase_mark server $((SECONDS - t))
fi

# ---- agent (Go) -------------------------------------------------------------------------------------------
if ! phase_done agent; then
  t=$SECONDS
  (cd "$SRC/agent" && go mod edit -dropreplace github.com/portainer/portainer)
  mkdir -p "$OUT/agent"
  upstream_step "go build portainer agent $VERSION (./cmd/agent)" "$LOGF" go_build "$SRC/agent" "" "$OUT/agent/agent" ./cmd/agent
  rm -rf "$OUT/agent/static"
  cp -r "$SRC/agent/static" "$OUT/agent/static"
  phase_mark agent $((SECONDS - t))
fi

# ---- docker-compose (Go module proxy) ---------------------------------------------------------------------
if ! phase_done compose; then
  t=$SECONDS
  upstream_step "go build docker-compose $COMPOSE_VERSION (github.com/docker/compose/v2)" "$LOGF" \
    bash "$MBIO_ROOT/images/lib/go-binary.sh" docker-compose github.com/docker/compose/v2 "$COMPOSE_VERSION" ./cmd \
    "$OUT/server/docker-compose" "-X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION"
  phase_mark compose $((SECONDS - t))
fi

# ---- web UI: yarn install, webpack ------------------------------------------------------------------------
YARN_BIN="$(ensure_npm_tool yarn)"
# The Yarn tools/yarn installs must be the one Portainer names (packageManager: yarn@1.22.22+sha512.<hex>).
want_pm="$(node -p "require(process.argv[1]).packageManager" "$SRC/server/package.json")"
have_sha="$(node -p "Buffer.from(require(process.argv[1]).packages['node_modules/yarn'].integrity.replace(/^sha512-/, ''), 'base64').toString('hex')" "$MBIO_ROOT/tools/yarn/package-lock.json")"
have_v="$("$YARN_BIN/yarn" --version)"
[ "$want_pm" = "yarn@$have_v+sha512.$have_sha" ] || die "tools/yarn pins yarn@$have_v (sha512 $have_sha), Portainer's package.json names $want_pm"
if ! phase_done ui; then
  t=$SECONDS
  # The git dependency, from its archive: the same commit yarn.lock resolves (d424cd29, version 1.2.0).
  # shellcheck disable=SC2016 # JavaScript
  node -e '
    const fs = require("fs"), f = process.argv[1];
    const p = JSON.parse(fs.readFileSync(f, "utf8"));
    const d = p.dependencies["axios-progress-bar"], want = "file:./.mbio/progress-bar-4-axios";
    if (d !== "portainer/progress-bar-4-axios" && d !== want) throw new Error(`axios-progress-bar is ${d}, not the git dependency this patch expects`);
    p.dependencies["axios-progress-bar"] = want;
    fs.writeFileSync(f, JSON.stringify(p, null, 2) + "\n");' "$SRC/server/package.json"
  grep -q -e '^axios-progress-bar@portainer/progress-bar-4-axios:$' -e '^"axios-progress-bar@file:' "$SRC/server/yarn.lock" ||
    die "yarn.lock has no entry axios-progress-bar@portainer/progress-bar-4-axios: the patch does not fit $SERVER_ARCHIVE"
  sed -i -e 's#^axios-progress-bar@portainer/progress-bar-4-axios:$#"axios-progress-bar@file:./.mbio/progress-bar-4-axios":#' \
    -e '\#^  resolved "https://codeload.github.com/portainer/progress-bar-4-axios/tar.gz/d424cd29#d' "$SRC/server/yarn.lock"
  upstream_step "yarn install (web UI, yarn $have_v, frozen lockfile, npm registry)" "$LOGF" \
    env -C "$SRC/server" YARN_CACHE_FOLDER="$MBIO_CACHE/yarn-cache" nice -n 10 "$YARN_BIN/yarn" install \
    --frozen-lockfile --ignore-scripts --non-interactive --network-timeout 600000 --registry https://registry.npmjs.org
  phase_mark ui $((SECONDS - t))
fi
if ! phase_done webpack; then
  t=$SECONDS
  upstream_step "webpack (web UI, production)" "$LOGF" \
    env -C "$SRC/server" NODE_ENV=production NODE_OPTIONS=--max-old-space-size=4096 PATH="$YARN_BIN:$PATH" \
    nice -n 10 "$YARN_BIN/yarn" build --config webpack/webpack.production.js
  [ -f "$SRC/server/dist/public/index.html" ] || die "webpack wrote no dist/public/index.html"
  rm -rf "$OUT/server/public"
  cp -r "$SRC/server/dist/public" "$OUT/server/public"
  # Source maps (upstream's production config writes them) are not served to users: left out of the image.
  find "$OUT/server/public" -name '*.map' -delete
  phase_mark webpack $((SECONDS - t))
fi

"$OUT/server/portainer" --version >/dev/null 2>&1 || die "the built server does not run ($OUT/server/portainer --version)"
"$OUT/server/docker-compose" version >/dev/null || die "the built docker-compose does not run"
stamp >"$OUT/.built"
rm -rf "$SRC"
log "portainer $VERSION built in $((SECONDS - T0))s: $(tr '\n' ' ' <"$OUT/phases")($OUT)"
echo "$OUT"
