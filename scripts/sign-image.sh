#!/usr/bin/env bash
# Signs one of the platform's images by digest with the project's cosign key, then verifies the signature with
# the program's own check (components/image-signatures.ts). The image pipeline's image-sign job
# (.gitlab/ci/images.yml) and tests/real/image-signatures.sh run it.
#
#   scripts/sign-image.sh REPOSITORY/NAME@sha256:<digest>
#
# Environment (no secret is ever an argument of any process):
#   COSIGN_PRIVATE_KEY   path of the encrypted private key (`cosign generate-key-pair`'s cosign.key): a GitLab CI
#                        variable of type File, protected
#   COSIGN_PASSWORD      its password, read by cosign from the environment (masked, protected CI variable)
#   COSIGN_PUBLIC_KEY    path of the public key (cosign.pub; File variable), the one the stacks pin in
#                        mbio-cloud:imageSignatures.publicKey
#   REGISTRY_USER, REGISTRY_PASSWORD   optional registry login: written to a Docker config file (0600, in a
#                        private directory removed on exit) that cosign reads; unset: the caller's Docker config
#                        (the image-sign job logs in to a DOCKER_CONFIG of its own with --password-stdin)
# No transparency log: the platform has no Rekor, so nothing is uploaded (--tlog-upload=false) and the check
# verifies by key only (docs/security.md, "Image signatures").
set -euo pipefail
# shellcheck source=scripts/lib/ci-tools.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/ci-tools.sh"

[ $# -eq 1 ] || die "usage: scripts/sign-image.sh REPOSITORY/NAME@sha256:<digest>"
ref="$1"
[[ "$ref" =~ ^([a-z0-9.-]+(:[0-9]+)?)(/[a-z0-9._-]+)+@sha256:[a-f0-9]{64}$ ]] ||
  die "'$ref' is not an image by digest (REPOSITORY/NAME@sha256:<64 hex>): sign the digest, never a tag"
registry="${BASH_REMATCH[1]}"
: "${COSIGN_PRIVATE_KEY:?COSIGN_PRIVATE_KEY must be the path of the private key (a CI variable of type File)}"
: "${COSIGN_PASSWORD:?COSIGN_PASSWORD (the password of the private key) must be set in the environment}"
: "${COSIGN_PUBLIC_KEY:?COSIGN_PUBLIC_KEY must be the path of the public key (a CI variable of type File)}"
[ -f "$COSIGN_PRIVATE_KEY" ] || die "COSIGN_PRIVATE_KEY=$COSIGN_PRIVATE_KEY is not a file (make the CI variable of type File)"
[ -f "$COSIGN_PUBLIC_KEY" ] || die "COSIGN_PUBLIC_KEY=$COSIGN_PUBLIC_KEY is not a file (make the CI variable of type File)"
export COSIGN_PASSWORD

cosign="$(ci_tool_path cosign)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ -n "${REGISTRY_PASSWORD:-}" ]; then
  : "${REGISTRY_USER:?REGISTRY_USER goes with REGISTRY_PASSWORD}"
  # printf is a shell builtin: the credentials reach base64 on its stdin, no process sees them in its argv.
  mkdir -m 0700 "$work/docker"
  auth="$(printf '%s:%s' "$REGISTRY_USER" "$REGISTRY_PASSWORD" | base64 -w0)"
  (umask 077 && printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$registry" "$auth" >"$work/docker/config.json")
  unset auth
  export DOCKER_CONFIG="$work/docker"
fi

log "signing $ref (key $COSIGN_PRIVATE_KEY, no transparency log)"
"$cosign" sign --yes --key "$COSIGN_PRIVATE_KEY" --tlog-upload=false "$ref"

# The program's check, as `pulumi up` runs it: the image is under its own repository.
ensure_node
repository="${ref%@*}"
repository="${repository%/*}"
jq -n --arg ref "$ref" --arg repo "$repository" --rawfile key "$COSIGN_PUBLIC_KEY" \
  '{images: {signed: $ref}, imageSignatures: {publicKey: $key, repository: $repo}}' >"$work/inputs.json"
node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON "$MBIO_ROOT/scripts/lib/verify-images.mjs" "$cosign" <"$work/inputs.json"
