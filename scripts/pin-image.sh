#!/usr/bin/env bash
# Pins a platform image in the stack files: writes mbio-cloud:images.<role> = name:version@sha256:<digest>.
#
#   scripts/pin-image.sh ROLE REFERENCE [STACK...]      e.g. backup-agent registry.gitlab.com/mbio/mbio-cloud/backup-agent:1.0.1@sha256:…
#   scripts/pin-image.sh --merge-request ROLE REFERENCE [STACK...]
#
# STACKs default to development and staging: production is pinned by Renovate's production pin MR once
# staging has run the image (docs/ci.md, "Production pins"). The reference is checked before any file is
# touched; running it twice changes nothing the second time. With --merge-request (the image pipeline's
# pin job) it commits on branch pin/<role>-<version>, pushes it and opens a merge request through GitLab's
# API (CI_API_V4_URL, CI_PROJECT_ID, CI_DEFAULT_BRANCH, and PIN_TOKEN: a project access token with scopes
# api and write_repository; the job token cannot push). PIN_GIT_REMOTE overrides the push URL (tests).
set -euo pipefail
# shellcheck source=scripts/lib/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"

mr=0
if [ "${1:-}" = --merge-request ]; then mr=1; shift; fi
[ $# -ge 2 ] || die "usage: scripts/pin-image.sh [--merge-request] ROLE name:version@sha256:<digest> [STACK...]"
role="$1" ref="$2"
shift 2
stacks=("$@")
[ ${#stacks[@]} -gt 0 ] || stacks=(development staging)

[[ "$role" =~ ^[a-z0-9][a-z0-9._-]*$ ]] || die "role '$role' must be an image role such as backup-agent (lowercase letters, digits, . _ -)"
# The same rule as components/config/schema.ts (PINNED_IMAGE): a version tag other than latest and a digest.
[[ "$ref" =~ ^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*:([A-Za-z0-9._-]+)@sha256:[a-f0-9]{64}$ ]] ||
  die "'$ref' is not pinned as name:version@sha256:<64 hex digits>"
version="${BASH_REMATCH[3]}"
[ "$version" != latest ] || die "'$ref' uses the tag latest; pin a version"
for s in "${stacks[@]}"; do
  [ -f "$MBIO_ROOT/Pulumi.$s.yaml" ] || die "Pulumi.$s.yaml does not exist (stacks: development, staging, production)"
done

ensure_node_modules >/dev/null
changed=()
for s in "${stacks[@]}"; do
  # yaml's Document API keeps the file's comments and layout; only the one key changes.
  out="$(node -e '
    const fs = require("fs"); const YAML = require(process.argv[1] + "/node_modules/yaml");
    const [file, role, ref] = process.argv.slice(2);
    const doc = YAML.parseDocument(fs.readFileSync(file, "utf8"));
    const key = ["config", "mbio-cloud:images", role];
    if (doc.getIn(key) === ref) { console.log("unchanged"); process.exit(0); }
    const images = doc.getIn(["config", "mbio-cloud:images"]);
    if (!images || (YAML.isMap(images) && images.items.length === 0)) doc.setIn(["config", "mbio-cloud:images"], doc.createNode({}));
    doc.getIn(["config", "mbio-cloud:images"]).flow = false;
    doc.setIn(key, ref);
    fs.writeFileSync(file, doc.toString({ lineWidth: 0 }));
    console.log("changed");
  ' "$MBIO_ROOT" "$MBIO_ROOT/Pulumi.$s.yaml" "$role" "$ref")"
  echo "Pulumi.$s.yaml: mbio-cloud:images.$role $out"
  [ "$out" = unchanged ] || changed+=("Pulumi.$s.yaml")
done

[ "$mr" = 1 ] || exit 0
if [ ${#changed[@]} -eq 0 ]; then echo "nothing to pin: no merge request"; exit 0; fi
: "${CI_API_V4_URL:?CI_API_V4_URL is needed for --merge-request}" "${CI_PROJECT_ID:?}" "${CI_DEFAULT_BRANCH:?}" "${PIN_TOKEN:?PIN_TOKEN (project access token: api, write_repository) is needed for --merge-request}"
branch="pin/$role-$version"
cd "$MBIO_ROOT"
git checkout -q -B "$branch"
git add "${changed[@]}"
git -c user.name="mbio-cloud image pipeline" -c user.email="noreply@mbio-cloud.invalid" commit -q -m "Pin $role $version in ${stacks[*]}" -m "$ref"
# The token travels in an environment variable read by git's credential helper, never on a command line.
remote="${PIN_GIT_REMOTE:-${CI_SERVER_PROTOCOL:-https}://${CI_SERVER_HOST:?}${CI_SERVER_PORT:+:$CI_SERVER_PORT}/${CI_PROJECT_PATH:?}.git}"
# shellcheck disable=SC2016 # expanded by git's credential helper, not here
git -c credential.helper='!f() { echo username=oauth2; echo "password=$PIN_TOKEN"; }; f' push -q -f "$remote" "HEAD:refs/heads/$branch"
body="$(jq -n --arg s "$branch" --arg t "$CI_DEFAULT_BRANCH" --arg title "Pin $role $version" \
  --arg d "Pins \`$ref\` in ${changed[*]} (image pipeline, commit ${CI_COMMIT_SHORT_SHA:-?}). Production follows after staging ran it: docs/ci.md." \
  '{source_branch: $s, target_branch: $t, title: $title, description: $d, remove_source_branch: true}')"
answer="$(mktemp)"
status="$(curl -sS -o "$answer" -w '%{http_code}' -X POST -H "PRIVATE-TOKEN: $PIN_TOKEN" -H 'Content-Type: application/json' \
  --data "$body" "$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests")"
case "$status" in
  201) echo "opened merge request $(jq -r .web_url "$answer")" ;;
  409) echo "a merge request for $branch is already open: its branch now carries this pin" ;;
  *) die "GitLab answered $status to the merge request: $(head -c 300 "$answer")" ;;
esac
