#!/usr/bin/env bash
# Benchmark of the real Pulumi engine on the sandbox: `pulumi up` from empty to a ready Swarm, a no-op
# `pulumi preview` (median of 3), and `pulumi destroy`, for 3 and 5 machines. Prints a table and rewrites
# the "Pulumi engine on the sandbox" section of docs/benchmarks.md. Targets: up (3 machines) < 90 s,
# no-op preview < 15 s. Not part of the test run: it takes several minutes.
#   bench/pulumi.sh [SIZES...]     default: 3 5
set -euo pipefail
# shellcheck source=scripts/lib/local-stack.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/local-stack.sh"
# shellcheck source=bench/lib.sh
. "$MBIO_ROOT/bench/lib.sh"

sizes=("$@")
[ "${#sizes[@]}" -gt 0 ] || sizes=(3 5)
now() { date +%s.%N; }
secs() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.1f", e - s }'; }
rows=()

for n in "${sizes[@]}"; do
  log "benchmark: $n machines"
  bash "$MBIO_ROOT/sandbox/down.sh" >/dev/null 2>&1 || true
  if pulumi_stack_exists; then (cd "$MBIO_ROOT" && pulumi --non-interactive stack rm --force --yes "$LOCAL_STACK" >/dev/null); fi
  t=$(now); local_stack_prepare "$n" >/dev/null; sandbox_s=$(secs "$t" "$(now)")
  count="$(pulumi_local config get mbio-cloud:managers) managers + $(pulumi_local config get mbio-cloud:workers) workers"

  uplog="$MBIO_CACHE/bench/pulumi-up-$n.log"
  mkdir -p "$(dirname "$uplog")"
  t=$(now); pulumi_local up --yes --skip-preview >"$uplog"; up_s=$(secs "$t" "$(now)")
  # The slowest resources, from the durations pulumi prints ("created (12s)").
  slowest="$(grep -E 'created \([0-9.]+s\)' "$uplog" | grep -v 'pulumi:pulumi:Stack' | sed -E 's/.* ([^ ]+) created \(([0-9.]+)s\).*/\2 s \1/' | sort -rn | head -3 | paste -sd ';' - | sed 's/;/; /g')"
  resources=$(pulumi_local stack --show-urns 2>/dev/null | grep -c 'urn:pulumi' || true)
  previews=()
  for _ in 1 2 3; do
    t=$(now); pulumi_local preview --expect-no-changes >/dev/null; previews+=("$(secs "$t" "$(now)")")
  done
  preview_s=$(printf '%s\n' "${previews[@]}" | sort -n | sed -n 2p)
  t=$(now); pulumi_local destroy --yes --skip-preview >/dev/null; destroy_s=$(secs "$t" "$(now)")
  rows+=("| $n ($count) | $resources | $sandbox_s s | **$up_s s** | $preview_s s (runs: ${previews[*]}) | $destroy_s s | $slowest |")
  log "$n machines: up $up_s s, no-op preview $preview_s s, destroy $destroy_s s"
done
(cd "$MBIO_ROOT" && pulumi --non-interactive stack rm --force --yes "$LOCAL_STACK" >/dev/null 2>&1) || true
bash "$MBIO_ROOT/sandbox/down.sh" >/dev/null

body="$(cat <<EOB
Measured $(date -u +%Y-%m-%d) by \`bench/pulumi.sh\` on $(machine_description); the real upstream CLI
$(pulumi version), language host and plugins ($(sed -n 's/^plugin_\(.*\)=\(.*\)/\1 \2/p' "$PULUMI_TOOLCHAIN_MANIFEST" | paste -sd, - | sed 's/,/, /g'); $(sed -n 's/^route=//p' "$PULUMI_TOOLCHAIN_MANIFEST") route, docs/toolchain.md); sandbox machines
are systemd containers on the same 2 cores${MBIO_BENCH_NOTE:+; $MBIO_BENCH_NOTE}. "up" is empty → every node joined and labelled, overlay network created, backup stack
converged (global agent healthy on every node).

| machines | resources | sandbox up (warm) | pulumi up | no-op preview (median of 3) | pulumi destroy | slowest resources in the up |
|---|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")

Targets: empty → ready for 3 machines under 90 s, no-op preview under 15 s. The per-node chains (harden →
engine → join → labels) run in parallel; the last column shows what the critical path waits on. The
backup stack's deploy waits until every task is healthy: a task counts as running only after its first
passing healthcheck, so the probe interval (10 s; it was 30 s, which cost about 20 s here) bounds it.
EOB
)"
printf '\n%s\n' "$body"
write_bench_section "Pulumi engine on the sandbox" "$body"
