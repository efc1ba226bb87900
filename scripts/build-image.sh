#!/usr/bin/env bash
# Builds one of the platform's own images (images/NAME) — the one build both the image pipeline
# (.gitlab/ci/images.yml) and the sandbox (sandbox/up.sh) use, so the sandbox deploys what CI publishes.
#
#   scripts/build-image.sh NAME TAG [docker build options...]
#
# BASE_IMAGE: the Debian bookworm base the Dockerfile starts FROM; unset, the sandbox's debootstrap base
# (mbio-sandbox/debian:bookworm, built by sandbox/up.sh's ensure_base_image) is made or reused.
# The OCI labels carry images/NAME/VERSION and, in CI, the commit (CI_COMMIT_SHA).
set -euo pipefail
# shellcheck source=scripts/lib/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"

[ $# -ge 2 ] || die "usage: scripts/build-image.sh NAME TAG [docker build options...]"
name="$1" tag="$2"
shift 2
dir="$MBIO_ROOT/images/$name"
[ -f "$dir/Dockerfile" ] || die "images/$name/Dockerfile does not exist: NAME is a directory under images/"
[ -f "$dir/VERSION" ] || die "images/$name/VERSION is missing: put the image's SemVer (e.g. 1.0.0) in it"
version="$(tr -d '[:space:]' <"$dir/VERSION")"
[[ "$version" =~ ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$ ]] ||
  die "images/$name/VERSION is '$version': it must be a SemVer such as 1.0.0"

if [ -z "${BASE_IMAGE:-}" ]; then
  ensure_docker
  # sandbox/up.sh is sourceable: its functions without its main.
  # shellcheck source=sandbox/up.sh
  . "$MBIO_ROOT/sandbox/up.sh"
  mkdir -p "$LOG_DIR"
  ensure_base_image
fi

# An image may need files built on the host first (a Go binary built from the module proxy): its prepare.sh
# puts them into the build context, cached by version.
if [ -f "$dir/prepare.sh" ]; then bash "$dir/prepare.sh" >&2; fi

labels=(--label "org.opencontainers.image.version=$version" --label "org.opencontainers.image.title=$name")
[ -z "${CI_COMMIT_SHA:-}" ] || labels+=(--label "org.opencontainers.image.revision=$CI_COMMIT_SHA")
docker build --build-arg "BASE_IMAGE=$BASE_IMAGE" "${labels[@]}" -t "$tag" "$@" "$dir" >&2
echo "$tag"
