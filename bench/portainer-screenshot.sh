#!/usr/bin/env bash
# The screenshot docs/edge.md may show: runs tests/nightly/portainer.sh (Portainer on a private one-machine Swarm
# behind the edge, headless Chromium logs in), and only when the whole test passed copies the screenshot it kept
# outside the repository to docs/img/portainer-home.png. The test never writes a tracked file; this script does.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/env.sh
source "$ROOT/scripts/lib/env.sh"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
bash "$ROOT/tests/nightly/portainer.sh" 2>&1 | tee "$out" || die "tests/nightly/portainer.sh failed: no screenshot taken"
shot="$(sed -n 's/.*screenshot (kept, outside the repository): \(.*\.png\).*/\1/p' "$out" | tail -n1)"
{ [ -n "$shot" ] && [ -s "$shot" ]; } || die "the test printed no screenshot path"
grep -q 'portainer: [0-9]* passed, 0 failed' "$out" || die "the test did not pass fully: the screenshot is not copied"
mkdir -p "$ROOT/docs/img"
cp "$shot" "$ROOT/docs/img/portainer-home.png"
log "docs/img/portainer-home.png from $shot ($(date -u '+%Y-%m-%d'), commit $(git -C "$ROOT" rev-parse --short HEAD))"
