#!/usr/bin/env bash
# Puts pebble and pebble-challtestsrv (github.com/letsencrypt/pebble/v2 at the version in VERSION) into this
# build context (bin/, not committed), built once per version on the host.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(tr -d '[:space:]' <"$here/VERSION")"
for cmd in pebble pebble-challtestsrv; do
  bash "$here/../../images/lib/go-binary.sh" "$cmd" github.com/letsencrypt/pebble/v2 "$version" "./cmd/$cmd" "$here/bin/$cmd"
done
