#!/usr/bin/env bash
# Runs first on every machine, before anything that uses apt: waits until cloud-init has finished its first
# boot (Hetzner runs package_update and harden.sh from user-data while Pulumi already reaches sshd; two apt
# runs would race for the dpkg lock). A machine without cloud-init, or where it is done, returns at once.
# Env: TIMEOUT seconds (default 900).
set -euo pipefail
TIMEOUT="${TIMEOUT:-900}"
if ! command -v cloud-init >/dev/null; then
  echo "cloud-init: not installed, nothing to wait for" >&2
  exit 0
fi
status="$(cloud-init status 2>/dev/null | sed -n 's/^status: //p' || true)"
case "$status" in
  running | not\ started | "")
    echo "cloud-init: ${status:-unknown}; waiting until it is done (at most ${TIMEOUT}s)" >&2
    start=$SECONDS
    # `cloud-init status --wait` exits non-zero when a module failed: that is reported, not fatal here
    # (harden.sh runs again over SSH right after); a timeout is fatal.
    rc=0
    timeout "$TIMEOUT" cloud-init status --wait >/dev/null 2>&1 || rc=$?
    [ "$rc" != 124 ] || { echo "error: cloud-init still running after ${TIMEOUT}s; see /var/log/cloud-init-output.log on the machine" >&2; exit 1; }
    echo "cloud-init: $(cloud-init status 2>/dev/null | sed -n 's/^status: //p') after $((SECONDS - start))s" >&2
    ;;
  *) echo "cloud-init: $status" >&2 ;;
esac
