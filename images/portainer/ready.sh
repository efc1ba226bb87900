#!/usr/bin/env bash
# Exit 0 when this image can be built at once (the Portainer build is cached); otherwise say why and exit 1:
# sandbox/up.sh then leaves the image out instead of waiting 30–60 min for its first build. Start that build
# with `bash scripts/portainer-build.sh --background`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/../../scripts/portainer-build.sh" --check && exit 0
echo "Portainer $(bash "$here/../../scripts/portainer-build.sh" --version) is not built yet (bash scripts/portainer-build.sh --background builds it, 30–60 min the first time)"
exit 1
