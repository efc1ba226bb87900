#!/usr/bin/env bash
# Builds a Go program from the Go module proxy on the host, once per version, into the cache:
#   $MBIO_CACHE/go-bin/<name>-<version>/<name>
# and copies it to DEST (an image's build context). A second run with the same version takes a second.
#
#   images/lib/go-binary.sh NAME MODULE VERSION PACKAGE DEST [LDFLAGS [PATCH]]
#     e.g. traefik github.com/traefik/traefik/v3 v3.7.13 ./cmd/traefik images/traefik/bin/traefik
#   PATCH: a script run (bash) in the copied module before the build, for what the proxy does not serve;
#   its content is part of the cache key.
#
# The module is built from its own go.mod (copied out of the read-only module cache), so replace
# directives apply (`go install module@version` refuses modules that have them, as traefik does).
# Static (CGO_ENABLED=0), at normal priority: tests wait for these binaries (a niced Telegraf build took 23 min
# behind the unit tests on an empty machine while the sandbox lane, the run's longest, waited for it).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../../scripts/lib/env.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/lib/env.sh"

[ $# -ge 5 ] || die "usage: images/lib/go-binary.sh NAME MODULE VERSION PACKAGE DEST [LDFLAGS]"
name=$1 module=$2 version=$3 package=$4 dest=$5 ldflags=${6:-} patch=${7:-}
[[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "$name: version '$version' must be an exact module version such as v1.2.3"
command -v go >/dev/null || die "$name: Go is needed to build $module@$version (https://go.dev/dl, 1.24 or newer)"

key="$version"
[ -z "$patch" ] || key="$version-$(sha256sum <"$patch" | cut -c1-8)"
out="$MBIO_CACHE/go-bin/$name-$key"
# One build at a time per binary (a cold run built Traefik three times at once), the copy below included.
build_lock "$MBIO_CACHE/go-bin/.$name-$key.lock" "$name $version"
if [ ! -x "$out/$name" ]; then
  log "building $name $version from $module (Go module proxy; cached in $out)"
  mkdir -p "$MBIO_CACHE/go-bin"
  src="$(GOFLAGS=-mod=mod go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$src" ] || die "$name: go mod download $module@$version gave no source directory"
  work="$(mktemp -d "$MBIO_CACHE/go-bin/$name-build.XXXXXX")"
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  cp -r "$src/." "$work/"
  chmod -R u+w "$work"
  [ -z "$patch" ] || (cd "$work" && bash "$patch")
  (cd "$work" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w $ldflags" -o "$work/$name.out" "$package")
  mkdir -p "$out"
  mv "$work/$name.out" "$out/$name.tmp"
  mv "$out/$name.tmp" "$out/$name"
fi
# Copied under the lock and renamed into place: a test's image build beside this one never reads a half copy.
mkdir -p "$(dirname "$dest")"
if ! cmp -s "$out/$name" "$dest" 2>/dev/null; then
  cp "$out/$name" "$dest.tmp.$$"
  mv -f "$dest.tmp.$$" "$dest"
fi
exec 9>&-
