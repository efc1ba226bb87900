#!/usr/bin/env bash
# Portainer CE build figures (issue 21): the cold build's phase times, as the build that filled the cache
# recorded them ($MBIO_CACHE/portainer/<version>/phases and the "built in" line of its log), the warm run
# (everything cached) timed now, and the sizes of the two images built from it. Nothing is rebuilt: a cold
# build is 40 min on 2 shared cores; to measure one again, remove the cache directory and run
# `bash scripts/portainer-build.sh` first. Rewrites the "Portainer build" section of docs/benchmarks.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/env.sh
source "$ROOT/scripts/lib/env.sh"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
version="$(bash "$ROOT/scripts/portainer-build.sh" --version)"
cache="$MBIO_CACHE/portainer/$version"
bash "$ROOT/scripts/portainer-build.sh" --check || die "Portainer $version is not built: run bash scripts/portainer-build.sh first"
[ -f "$cache/phases" ] || die "$cache/phases is missing: the cold build's phase times are not recorded"
cold="$(sed -n 's/.*built in \([0-9]*\)s.*/\1/p' "$cache/build.log" "$MBIO_CACHE/logs/portainer-build.log" 2>/dev/null | tail -n1)"
[ -n "$cold" ] || cold="$(awk '{ s += $2 } END { print s }' "$cache/phases")"
built_at="$(date -u -r "$cache/.built" '+%Y-%m-%d %H:%M UTC')"
t0=$(date +%s%N)
bash "$ROOT/scripts/portainer-build.sh" >/dev/null 2>&1
warm_ms=$((($(date +%s%N) - t0) / 1000000))
size() { docker image inspect --format '{{.Size}}' "$1" 2>/dev/null | awk '{ printf "%.0f MB", $1 / 1e6 }'; }
server_size="$(size "mbio-sandbox/portainer:$version")"
agent_size="$(size "mbio-sandbox/portainer-agent:$version")"
phases="$(awk '{ printf "| %s | %d s (%.1f min) |\n", $1, $2, $2 / 60 }' "$cache/phases")"
body="$(
  cat <<MD
\`bash bench/portainer-build.sh\`, $(date -u '+%Y-%m-%d') on $(machine_description), commit $(git -C "$ROOT" rev-parse --short HEAD).
Portainer CE $version from the upstream archives (\`scripts/portainer-build.sh\`, nice 10, the machine's two
cores shared with other work). The cold figures are the build that filled the cache ($built_at), read from its
phase record; the warm run was timed by this script.

| phase | cold |
|---|---|
$phases
| **total, cold** | **$cold s ($((cold / 60)) min)** |
| total, warm (all cached) | $warm_ms ms |

| image | size (docker image inspect) |
|---|---|
| mbio-sandbox/portainer:$version (server, web UI, docker-compose) | ${server_size:-not built} |
| mbio-sandbox/portainer-agent:$version | ${agent_size:-not built} |
MD
)"
printf '%s\n' "$body"
write_bench_section "Portainer build" "$body"
