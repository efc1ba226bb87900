#!/usr/bin/env bash
# Puts the Portainer agent into this build context (bin/, not committed):
# scripts/portainer-build.sh builds it from the upstream archives once per version (30–60 min cold, together
# with the server) or reuses the cache. sandbox/up.sh runs it only once ready.sh says the build is cached.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$(bash "$here/../../scripts/portainer-build.sh")"
rm -rf "${here:?}/bin"
mkdir -p "$here/bin"
cp -a "$out/agent/." "$here/bin/"
