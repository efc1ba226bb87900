#!/usr/bin/env bash
# The test run's own time, measured as CI runs it: `bash .ci/run` in a fresh clone of HEAD, and the result written
# into docs/benchmarks.md (date, machine, commit, load, the step table and budget line scripts/test.sh prints).
#   bench/test-run.sh warm      with the caches as they are (run it once before, so they are warm)
#   bench/test-run.sh cold      after emptying every cache first: ~/.cache/mbio-cloud, Go's build and module
#                               caches, npm's cache and the sandbox's Docker images (sandbox/down.sh --purge)
#   bench/test-run.sh nightly   `bash scripts/test.sh --nightly`, warm; writes the nightly section
#   BENCH_TEST_RUN_LOG=FILE BENCH_TEST_RUN_COMMIT=REV bench/test-run.sh KIND
#                               writes the section from a finished run's log instead of running (load and wall
#                               time are then not known and say so)
# Log: $MBIO_CACHE/logs/bench-test-run-<kind>.log. Takes as long as the run (15 to 45 min, nightly more).
set -euo pipefail
# shellcheck source=scripts/lib/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/env.sh"
# shellcheck source=bench/lib.sh
. "$MBIO_ROOT/bench/lib.sh"

kind="${1:-}"
case "$kind" in warm | cold | nightly) ;; *) die "usage: bench/test-run.sh warm|cold|nightly" ;; esac
commit="$(git -C "$MBIO_ROOT" rev-parse --short HEAD)"
clone="$(mktemp -d)/mbio-cloud"
mkdir -p "$MBIO_CACHE/logs"
logf="$MBIO_CACHE/logs/bench-test-run-$kind.log"

if [ -n "${BENCH_TEST_RUN_LOG:-}" ]; then
  logf="$BENCH_TEST_RUN_LOG"
  commit="${BENCH_TEST_RUN_COMMIT:?set BENCH_TEST_RUN_COMMIT to the commit the logged run tested}"
elif [ "$kind" = cold ]; then
  log "emptying every cache (a cold machine): sandbox, its images, ~/.cache/mbio-cloud, Go and npm caches"
  bash "$MBIO_ROOT/sandbox/down.sh" --purge >/dev/null 2>&1 || true
  command -v go >/dev/null && { go clean -cache >/dev/null 2>&1 || true; go clean -modcache >/dev/null 2>&1 || true; }
  rm -rf "$MBIO_CACHE" "${HOME:?}/.npm"
  mkdir -p "$MBIO_CACHE/logs"
fi
# The clone lives in a temporary directory: the upstream archives stay where this checkout finds them.
export MBIO_UPSTREAM_DIR="${MBIO_UPSTREAM_DIR:-$(cd "$MBIO_ROOT/../shared/upstream" 2>/dev/null && pwd)}"
t0=$SECONDS
rc=0
if [ -n "${BENCH_TEST_RUN_LOG:-}" ]; then
  load_before="not recorded" load_after="not recorded" speed="not recorded"
  grep -q '^test: .* 0 failed' <(sed 's/\x1b\[[0-9;]*m//g' "$logf") || rc="not recorded (failures in the log)"
else
  git clone -q "$MBIO_ROOT" "$clone"
  git -C "$clone" checkout -q "$commit"
  load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
  speed="$(machine_speed)"
  log "running the test command in $clone ($kind; log: $logf)"
  if [ "$kind" = nightly ]; then
    (cd "$clone" && bash scripts/test.sh --nightly) >"$logf" 2>&1 || rc=$?
  else
    (cd "$clone" && bash .ci/run) >"$logf" 2>&1 || rc=$?
  fi
  load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
fi
total=$((SECONDS - t0))
# The summary scripts/test.sh prints last: the step table, total, budget and counts.
summary="$(sed 's/\x1b\[[0-9;]*m//g' "$logf" | awk '/^--- summary$/ { on = 1; next } on')"
table="$(grep -E '^(ok|FAIL|SKIP) ' <<<"$summary" | awk '{ status = $1; secs = $2; $1 = ""; $2 = ""; sub(/^  /, ""); printf "| %s | %s | %s |\n", $0, secs, status }')"
[ -n "${BENCH_TEST_RUN_LOG:-}" ] || rm -rf "$(dirname "$clone")"

caches="caches warm"
[ "$kind" != cold ] || caches="every cache emptied first: ~/.cache/mbio-cloud, Go build and module caches, npm cache, the sandbox images"
body="Measured $(date -u +%Y-%m-%d) by \`bench/test-run.sh $kind\` on $(machine_description), commit $commit, in a fresh clone
($caches); load average $load_before at the start, $load_after at the end (2 cores: a start load above 2 means other work shared them; the end load is mostly the run's own);
machine speed at the start (bench/lib.sh machine_speed): $speed.
Exit code $rc; wall time $([ -n "${BENCH_TEST_RUN_LOG:-}" ] && echo "in the total line below" || echo "${total} s").

$(grep -E '^(total |budget:|ceiling:|failed:|test:)' <<<"$summary" | sed 's/^/    /')

| step | seconds | result |
|---|---|---|
$table"
case "$kind" in
  warm) write_bench_section "The default test run, warm (\`.ci/run\`)" "$body" ;;
  cold) write_bench_section "The default test run, cold (\`.ci/run\` on an empty machine)" "$body" ;;
  nightly) write_bench_section "Nightly drills (\`bash scripts/test.sh --nightly\`)" "$body

Each drill's own figures (quorum, RTO, windows) are in its log above the summary; docs/operations.md and
docs/disaster-recovery.md explain them." ;;
esac
if [[ "$rc" =~ ^[0-9]+$ ]]; then exit "$rc"; else exit 1; fi
