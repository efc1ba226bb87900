#!/usr/bin/env bash
# Shared by the benchmarks: the machine they ran on, and writing one section of docs/benchmarks.md.
# shellcheck shell=bash

# "2 cores, 24 GiB, Debian GNU/Linux 12 (bookworm)"
machine_description() {
  local os
  os="$(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "$(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $os"
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
