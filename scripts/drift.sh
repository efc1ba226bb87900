#!/usr/bin/env bash
# Drift check for operators and the scheduled pipeline: for each stack, asks the live systems (Hetzner, the
# Swarm over SSH) what they hold now — `pulumi refresh --run-program --preview-only`, which changes neither the state nor
# anything live — and names each drifted object and field. Then `pulumi preview --expect-no-changes`: the
# code against the state.
#
#   bash scripts/drift.sh [STACK ...]     default: development staging production
#
# Exit 0: no drift anywhere. Exit 7: drift (each object listed as "drift: <stack> <resource> (<type>) <field>:
# <state> → <live>"). Other: the check itself failed. To put things back: `pulumi refresh --stack S` then
# `pulumi up --stack S` (docs/operations.md, "Drift").
set -uo pipefail
# shellcheck source=scripts/lib/pulumi-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/pulumi-env.sh"
ensure_pulumi
ensure_node_modules

[ $# -gt 0 ] || set -- development staging production
status=0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for stack in "$@"; do
  log "drift check of stack $stack"
  # --run-program: the program writes the Docker provider's SSH files (components/swarm-docker.ts), which a
  # fresh CI job or another machine does not have; a plain refresh there fails saying so.
  (cd "$MBIO_ROOT" && pulumi --non-interactive refresh --run-program --stack "$stack" --preview-only --diff) >"$work/refresh.txt" 2>"$work/refresh.err"
  rc=$?
  node "$MBIO_ROOT/scripts/lib/drift-report.js" "$stack" <"$work/refresh.txt"
  report=$?
  if [ "$rc" -ne 0 ] || [ "$report" -eq 1 ]; then
    cat "$work/refresh.err" >&2
    log "error: refresh of $stack failed (exit $rc); the drift of $stack is unknown"
    status=1
    continue
  fi
  [ "$report" -eq 7 ] && [ "$status" -eq 0 ] && status=7
  # The code against the state: a change nobody deployed yet is not drift, but it is reported the same way.
  if ! (cd "$MBIO_ROOT" && pulumi --non-interactive preview --stack "$stack" --expect-no-changes --diff) >"$work/preview.log" 2>&1; then
    grep -E '^\s+[~+-]+ ' "$work/preview.log" | sed "s/^/drift: $stack preview: /"
    tail -5 "$work/preview.log"
    [ "$status" -eq 0 ] && status=7
  fi
done
exit "$status"
