#!/usr/bin/env bash
# Builds and runs the Hetzner Cloud API emulator (its own Go module, so `go run` needs this directory):
#
#   HCLOUD_TOKEN=<64 characters> tests/hcloud-emulator/run.sh -listen 127.0.0.1:8480 -state /tmp/hcloud.json
#
# Flags go to the emulator (-listen, -state, -token-file, -action-delay, -public-ipv4, -rate-limit; see
# main.go). The token comes from $HCLOUD_TOKEN or -token-file, never from the command line. The binary is
# cached under $HCLOUD_EMULATOR_BIN (default: Go's build cache makes a rebuild take about a second).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${HCLOUD_EMULATOR_BIN:-${TMPDIR:-/tmp}/hcloud-emulator-$(id -u)/hcloud-emulator}"
mkdir -p "$(dirname "$bin")"
# GOTOOLCHAIN=local: use the Go on PATH, never download another toolchain.
(cd "$here" && GOTOOLCHAIN=local nice -n 10 go build -o "$bin" .)
exec "$bin" "$@"
