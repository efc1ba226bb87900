#!/usr/bin/env bash
# Puts the Traefik binary into this build context (bin/traefik, not committed), built once per version.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="v$(sed 's/-.*//' "$here/VERSION")"
bash "$here/../lib/go-binary.sh" traefik github.com/traefik/traefik/v3 "$version" ./cmd/traefik "$here/bin/traefik" \
  "-X github.com/traefik/traefik/v3/pkg/version.Version=$version" "$here/offline-patch.sh"
