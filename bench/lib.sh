#!/usr/bin/env bash
# Shared by the benchmarks: the machine they ran on, and writing one section of docs/benchmarks.md.
# shellcheck shell=bash

# "2 cores, 24 GiB, Debian GNU/Linux 12 (bookworm)"
machine_description() {
  local os
  os="$(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "$(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $os"
}

# How fast this machine starts processes and hashes, to compare runs of different days: the same 2-core size
# measured 4.4 ms per process start on 2026-12-05, when the warm test run took twice as long as a week before (the
# run starts hundreds of thousands of processes: docker, ssh, bash, lynis). Best measured on an idle machine.
machine_speed() {
  local t0 t1 t2 _
  t0=$(date +%s%N)
  for _ in $(seq 500); do /bin/true; done
  t1=$(date +%s%N)
  head -c 268435456 /dev/zero | sha256sum >/dev/null
  t2=$(date +%s%N)
  awk -v p=$((t1 - t0)) -v h=$((t2 - t1)) 'BEGIN { printf "process start %.1f ms, sha256 of 256 MiB %.2f s", p / 500 / 1e6, h / 1e9 }'
}

# Replaces section "## TITLE" of docs/benchmarks.md (up to the next "## ") with BODY; keeps the others.
write_bench_section() {
  local title="$1" body="$2" doc="$MBIO_ROOT/docs/benchmarks.md"
  [ -f "$doc" ] || printf '# Benchmarks\n\nMeasured figures, each section written by the script that measures it.\n' >"$doc"
  awk -v title="## $title" -v body="$body" '
    /^## / { if (skip) skip = 0 }
    $0 == title { print; print ""; print body; print ""; skip = 1; done = 1; next }
    !skip { print }
    END { if (!done) { print ""; print title; print ""; print body } }
  ' "$doc" >"$doc.new" && mv "$doc.new" "$doc"
  log "results written to docs/benchmarks.md ($title section)"
}
