#!/usr/bin/env bash
# Builds and runs the Hetzner Cloud API emulator (its own Go module, so `go run` needs this directory):
#
#   HCLOUD_TOKEN=<64 characters> tests/hcloud-emulator/run.sh -listen 127.0.0.1:8480 -state /tmp/hcloud.json
#   tests/hcloud-emulator/run.sh --build     builds it only (tests do this before they wait for it to listen:
#                                            the first build on an empty machine takes minutes under load)
#
# Flags go to the emulator (-listen, -state, -token-file, -action-delay, -public-ipv4, -rate-limit; see
# main.go). The token comes from $HCLOUD_TOKEN or -token-file, never from the command line. The binary is
# cached under $HCLOUD_EMULATOR_BIN (default: Go's build cache makes a rebuild take about a second).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/env.sh
. "$here/../../scripts/lib/env.sh"
bin="${HCLOUD_EMULATOR_BIN:-${TMPDIR:-/tmp}/hcloud-emulator-$(id -u)/hcloud-emulator}"
# One build at a time (hcloud-emulator.sh and hetzner-apply start it side by side in the test run); built next
# to the binary and renamed into place, so a running emulator's file is never overwritten.
build_lock "$bin.lock" "the hcloud emulator"
# GOTOOLCHAIN=local: use the Go on PATH, never download another toolchain.
(cd "$here" && GOTOOLCHAIN=local go build -o "$bin.tmp.$$" . && mv -f "$bin.tmp.$$" "$bin")
exec 9>&-
[ "${1:-}" != --build ] || exit 0
exec "$bin" "$@"
