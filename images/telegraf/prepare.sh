#!/usr/bin/env bash
# Builds a slim Telegraf from the Go module proxy with only the plugins the platform uses, cached by
# version under $MBIO_CACHE/telegraf/<version>/telegraf, and copies it into this directory (bin/, not
# committed) for the Dockerfile. Prints the cached binary's path. sandbox/up.sh runs it before the build.
#   bash images/telegraf/prepare.sh            (version from images/telegraf/VERSION)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/env.sh
source "$here/../../scripts/lib/env.sh"
version="$(cut -d- -f1 "$here/VERSION")"
out="$MBIO_CACHE/telegraf/$version"
# The plugin set: what components/tig-monitoring.ts configures, nothing else (custom builds link only these).
tags="custom,inputs.cpu,inputs.mem,inputs.disk,inputs.diskio,inputs.net,inputs.system,inputs.internal,inputs.docker,inputs.prometheus,inputs.x509_cert,outputs.influxdb,outputs.health"
# Copied and renamed into place: an image build beside this one never reads a half copy.
install_copy() {
  mkdir -p "$here/bin"
  cmp -s "$out/telegraf" "$here/bin/telegraf" 2>/dev/null || { cp "$out/telegraf" "$here/bin/telegraf.tmp.$$" && mv -f "$here/bin/telegraf.tmp.$$" "$here/bin/telegraf"; }
  echo "$out/telegraf"
}
# One build at a time, the copy included (the lanes and the test run's warm-up ask for it together).
build_lock "$MBIO_CACHE/telegraf/.$version.lock" "telegraf v$version"
if [ -x "$out/telegraf" ] && [ "$(cat "$out/tags" 2>/dev/null)" = "$tags" ]; then install_copy; exit 0; fi
command -v go >/dev/null || export PATH="/usr/local/go/bin:$PATH"
log "building telegraf v$version (slim: $tags) into $out"
src="$(go mod download -json "github.com/influxdata/telegraf@v$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -d "$src" ] || die "telegraf v$version not found on the Go module proxy"
mkdir -p "$out"
# Normal priority: tests wait for it (images/lib/go-binary.sh says why).
(cd "$src" && CGO_ENABLED=0 go build -trimpath -tags "$tags" \
  -ldflags "-s -w -X github.com/influxdata/telegraf/internal.Version=$version" -o "$out/telegraf.tmp" ./cmd/telegraf)
mv "$out/telegraf.tmp" "$out/telegraf"
printf '%s' "$tags" >"$out/tags"
install_copy
