#!/usr/bin/env bash
# Image signatures for real: the pinned cosign (scripts/lib/ci-tools.sh), the pipeline's signing script
# (scripts/sign-image.sh) and the program's check (components/image-signatures.ts, through
# scripts/lib/verify-images.mjs: the function index.ts calls before it creates anything), against a throwaway
# registry on loopback with basic auth: Debian's docker-registry (distribution 2.8, what the sandbox's registry
# image runs), taken from its .deb with `apt-get download` and run as a process of this test (installing the
# package would start a registry service on :5000 where systemd runs). Two key pairs are generated (passwords
# in the environment). Checks: the signed image verifies; an unsigned image, a re-pushed tag (same name and
# version, another digest) and an image signed with another key are refused with a message naming each; the
# registry login reaches cosign only through a Docker config file; no key or registry password is on any
# process's command line while signing and verifying (/proc/*/cmdline sampled). Then the program itself in the
# real engine: `pulumi up` of a copy of the project (development, a throwaway file backend, the operator's
# values of tests/real/lib/stack-values.sh, imageSignatures and registry pointing at this registry) stops before
# anything is created when backup-agent is unsigned, naming it; the preview with the signed one passes the
# check. Host engine only (no sandbox machines, no lock). Ends with "image-signatures: N passed, M failed".
# shellcheck disable=SC2317 # the step functions are called through check/must
set -uo pipefail
# shellcheck source=scripts/lib/pulumi-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/pulumi-env.sh"
# shellcheck source=scripts/lib/ci-tools.sh
. "$MBIO_ROOT/scripts/lib/ci-tools.sh"
TEST_NAME=image-signatures
# shellcheck source=tests/real/lib/check.sh
. "$MBIO_ROOT/tests/real/lib/check.sh"
# shellcheck source=tests/real/lib/stack-values.sh
. "$MBIO_ROOT/tests/real/lib/stack-values.sh"
work="$(mktemp -d)"
chmod 0700 "$work"

finish() {
  [ -z "${sampler:-}" ] || kill "$sampler" 2>/dev/null
  [ -z "${registry_pid:-}" ] || kill "$registry_pid" 2>/dev/null
  # Image ids, not tags: a re-pushed tag leaves its first image untagged.
  [ ! -s "$work/images" ] || sort -u "$work/images" | xargs docker rmi -f >/dev/null 2>&1
  rm -rf "$work"
  report
  exit $((failed > 0))
}
trap finish INT TERM

ensure_docker >/dev/null
ensure_node_modules
ensure_pulumi

rand() { head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9'; }
REGISTRY_USER=mbio-signer
REGISTRY_PASSWORD="reg-$(rand)"
PROJECT_KEY_PASSWORD="key-$(rand)"
OTHER_KEY_PASSWORD="other-$(rand)"

build_cosign() { COSIGN="$(ci_tool_path cosign)" && "$COSIGN" version >"$work/version.txt" 2>&1 && grep -q "GitVersion:.*$COSIGN_VERSION" "$work/version.txt"; }

# Debian's docker-registry binary, cached by package version under $MBIO_CACHE/docker-registry/<version>/.
registry_binary() {
  local v tmp
  v="$(apt-cache policy docker-registry 2>/dev/null | sed -n 's/^  Candidate: //p')"
  if [ -z "$v" ] || [ "$v" = "(none)" ]; then
    as_root apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null || return 1
    v="$(apt-cache policy docker-registry | sed -n 's/^  Candidate: //p')"
  fi
  REGISTRY_BIN="$MBIO_CACHE/docker-registry/$v/docker-registry"
  [ -x "$REGISTRY_BIN" ] && return 0
  tmp="$(mktemp -d)"
  # apt checks the .deb against the signed package index; nothing of it is installed.
  (cd "$tmp" && apt-get download -q "docker-registry=$v" >/dev/null 2>&1) && dpkg-deb -x "$tmp"/docker-registry_*.deb "$tmp/x" &&
    mkdir -p "${REGISTRY_BIN%/*}" && install -m 0755 "$tmp/x/usr/bin/docker-registry" "$REGISTRY_BIN"
  local rc=$?
  rm -rf "$tmp"
  return "$rc"
}

# distribution 2.8 with htpasswd auth (bcrypt, made by Python's crypt from stdin) on a free loopback port.
setup_registry() {
  registry_binary || return 1
  /usr/bin/python3 -W ignore -c 'import crypt, sys; u, p = sys.stdin.read().rstrip("\n").split("\n", 1); print(u + ":" + crypt.crypt(p, crypt.mksalt(crypt.METHOD_BLOWFISH)))' \
    <<<"$REGISTRY_USER"$'\n'"$REGISTRY_PASSWORD" | tr -d '\n' >"$work/htpasswd" || return 1
  PORT=""
  for p in $(seq 45200 45299); do (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { PORT=$p; break; }; done
  [ -n "$PORT" ] || return 1
  printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\nauth:\n  htpasswd:\n    realm: mbio-image-signatures\n    path: %s\n' \
    "$work/registry" "$PORT" "$work/htpasswd" >"$work/config.yml"
  "$REGISTRY_BIN" serve "$work/config.yml" >"$work/registry.log" 2>&1 &
  registry_pid=$!
  REPO="127.0.0.1:$PORT/mbio/mbio-cloud"
  WAIT_EVERY=0.5 wait_for "the registry on 127.0.0.1:$PORT" 30 asks_for_login || { tail -5 "$work/registry.log"; return 1; }
}
# Up, with auth on: the API answers 401 without credentials.
asks_for_login() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v2/")" = 401 ]; }

# The test's own Docker config (never the caller's): the engine pushes with it, cosign reads it when signing.
export DOCKER_CONFIG="$work/docker"
login() { mkdir -p "$DOCKER_CONFIG" && chmod 0700 "$DOCKER_CONFIG" && printf '%s' "$REGISTRY_PASSWORD" | docker login -u "$REGISTRY_USER" --password-stdin "127.0.0.1:$PORT" >/dev/null 2>>"$work/docker.log"; }

# A small image FROM scratch (no base image, no pull); CONTENT makes its digest. Prints NAME:VERSION@sha256:….
push_image() { # name content
  local tag="$REPO/$1:1.0.0" dir="$work/ctx-$1-$RANDOM"
  mkdir -p "$dir" && printf '%s\n' "$2" >"$dir/content" && printf 'FROM scratch\nCOPY content /content\n' >"$dir/Dockerfile"
  # Runs in a command substitution: the image id goes to a file for finish().
  if ! { docker build -q -t "$tag" "$dir" 2>>"$work/docker.log" >>"$work/images" && docker push -q "$tag" >/dev/null 2>>"$work/docker.log"; }; then
    tail -5 "$work/docker.log" >&2
    return 1
  fi
  docker image inspect -f '{{range .RepoDigests}}{{println .}}{{end}}' "$tag" | sed -n "s|^$REPO/$1@|$tag@|p" | head -n1
}

push_images() {
  SIGNED="$(push_image signed "signed $$ $RANDOM")" && UNSIGNED="$(push_image unsigned "unsigned $$ $RANDOM")" &&
    OTHER="$(push_image other-key "other $$ $RANDOM")" && [ -n "$SIGNED" ] && [ -n "$UNSIGNED" ] && [ -n "$OTHER" ]
}

keys() {
  (cd "$work" && COSIGN_PASSWORD="$PROJECT_KEY_PASSWORD" "$COSIGN" generate-key-pair --output-key-prefix project >/dev/null 2>&1) &&
    (cd "$work" && COSIGN_PASSWORD="$OTHER_KEY_PASSWORD" "$COSIGN" generate-key-pair --output-key-prefix other >/dev/null 2>&1) &&
    head -n1 "$work/project.key" | grep -q "ENCRYPTED SIGSTORE PRIVATE KEY"
}

# Every process's argv, sampled every 50 ms into $work/argv.log until stopped.
start_sampler() {
  : >"$work/argv.log"
  (while :; do cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' ' ' >>"$work/argv.log"; echo >>"$work/argv.log"; sleep 0.05; done) &
  sampler=$!
}
stop_sampler() { kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null; sampler=""; }

# scripts/sign-image.sh as the pipeline runs it: key and password in the environment, registry login too.
sign() { # reference key-prefix password
  (unset DOCKER_CONFIG; COSIGN_PRIVATE_KEY="$work/$2.key" COSIGN_PUBLIC_KEY="$work/$2.pub" COSIGN_PASSWORD="$3" \
    REGISTRY_USER="$REGISTRY_USER" REGISTRY_PASSWORD="$REGISTRY_PASSWORD" bash "$MBIO_ROOT/scripts/sign-image.sh" "${1%%:1.0.0@*}@${1#*@}")
}

# The program's check on images {role: reference}; the registry login from the stack config's shape
# (registry.server/username, the password in REGISTRY_PASSWORD) in a fresh, empty Docker config.
program_check() { # out role=reference...
  local out="$1" kv images='{}'
  shift
  for kv in "$@"; do images="$(jq -c --arg r "${kv%%=*}" --arg v "${kv#*=}" '. + {($r): $v}' <<<"$images")"; done
  jq -n --argjson images "$images" --arg repo "$REPO" --rawfile key "$work/project.pub" --arg server "127.0.0.1:$PORT" --arg user "$REGISTRY_USER" \
    '{images: $images, imageSignatures: {publicKey: $key, repository: $repo}, registry: {server: $server, username: $user}}' >"$work/inputs.json"
  mkdir -p "$work/empty-docker"
  DOCKER_CONFIG="$work/empty-docker" REGISTRY_PASSWORD="$REGISTRY_PASSWORD" \
    node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON "$MBIO_ROOT/scripts/lib/verify-images.mjs" "$COSIGN" <"$work/inputs.json" >"$out" 2>&1
}

must "cosign $COSIGN_VERSION built from the Go module proxy, its sha256 the pinned one (scripts/ci-tools.sha256)" build_cosign
must "a registry with basic auth on loopback (Debian's docker-registry)" setup_registry
must "docker login through the test's own Docker config (password on stdin)" login
must "three small images pushed: signed, unsigned, other-key" push_images
must "two key pairs generated (cosign generate-key-pair, passwords in the environment)" keys

# Sign: the project key for 'signed', another key for 'other-key' (that one verifies with its own key only).
start_sampler
t=$SECONDS
check "signed:1.0.0 signed by digest with the project key (scripts/sign-image.sh; verified right after with the program's check)" \
  to "$work/sign.log" sign "$SIGNED" project "$PROJECT_KEY_PASSWORD"
echo "      ($((SECONDS - t))s)"
check "other-key:1.0.0 signed with another key pair" to "$work/sign-other.log" sign "$OTHER" other "$OTHER_KEY_PASSWORD"
program_check "$work/accept.out" "signed=$SIGNED"
stop_sampler

# The sampler saw the signing (a test that cannot fail proves nothing) and no secret in any argv.
samples="$(grep -c . "$work/argv.log")"
if grep -qF "cosign sign --yes --key $work/project.key --tlog-upload=false" "$work/argv.log"; then
  ok "the argv sampler saw cosign sign running ($samples samples of every process)"
else
  fail "the argv sampler never saw cosign sign ($samples samples): the argv check below proves nothing"
fi
leaked=()
for s in "$PROJECT_KEY_PASSWORD" "$OTHER_KEY_PASSWORD" "$REGISTRY_PASSWORD" "$(printf '%s:%s' "$REGISTRY_USER" "$REGISTRY_PASSWORD" | base64 -w0)"; do
  grep -qF -- "$s" "$work/argv.log" && leaked+=("${s:0:6}…")
done
if [ ${#leaked[@]} -eq 0 ]; then ok "no key password, registry password or registry auth token on any command line while signing and verifying"
else fail "secrets on a command line: ${leaked[*]}"; fi
if grep -q -- "--registry-password\|--registry-username" "$work/argv.log"; then fail "cosign got registry credentials as flags"
else ok "no --registry-username/--registry-password flag anywhere"; fi

# Accept: the program's check with the project's public key.
if grep -q "^verified signed $SIGNED$" "$work/accept.out"; then ok "the program's check accepts signed:1.0.0 by its digest"
else sed 's/^/      | /' "$work/accept.out"; fail "the program's check refused the signed image"; fi

# Refuse, each with a message naming the image.
refused() { # what out role reference
  if [ "$(grep -c "^  - mbio-cloud:images\.$3 " "$2")" = 1 ] && grep -qF "mbio-cloud:images.$3 $4: cosign verify failed" "$2" &&
    grep -q "^refusing to deploy: " "$2"; then
    ok "$1: refused, naming mbio-cloud:images.$3 ($(grep -F "images.$3 " "$2" | sed 's/.*cosign verify failed/cosign verify failed/' | cut -c1-110))"
  else
    sed 's/^/      | /' "$2"; fail "$1: not refused with a message naming mbio-cloud:images.$3"
  fi
}
# must_refuse WHAT OUT ROLE REFERENCE: the check on that one image fails, with the message naming it.
must_refuse() {
  if program_check "$2" "$3=$4"; then fail "$1 passed the check"; else refused "$@"; fi
}
must_refuse "an unsigned image" "$work/unsigned.out" unsigned "$UNSIGNED"
must_refuse "an image signed with another key" "$work/other.out" other-key "$OTHER"

# Tampered: the tag signed:1.0.0 re-pushed with other content; the new digest carries no signature.
if TAMPERED="$(push_image signed "tampered $$ $RANDOM")" && [ -n "$TAMPERED" ] && [ "${TAMPERED#*@}" != "${SIGNED#*@}" ]; then
  ok "signed:1.0.0 re-pushed with other content (digest ${SIGNED#*@sha256:} → ${TAMPERED#*@sha256:})"
  must_refuse "the re-pushed tag (another digest)" "$work/tampered.out" signed "$TAMPERED"
  if program_check "$work/pinned.out" "signed=$SIGNED"; then
    ok "the digest pinned before the re-push still verifies (the signature is bound to the digest, not the tag)"
  else sed 's/^/      | /' "$work/pinned.out"; fail "the pinned digest no longer verifies after the tag moved"; fi
else
  fail "re-pushing signed:1.0.0 with other content gave no new digest"
fi

# Several at once, as a stack pins them: every refused image named, the signed one and foreign images not.
program_check "$work/all.out" "signed=$SIGNED" "unsigned=$UNSIGNED" "other-key=$OTHER" "traefik=traefik:v3.7.13@sha256:$(printf '0%.0s' $(seq 1 64))"
if grep -q "^refusing to deploy: 2 platform image(s) under $REPO" "$work/all.out" && ! grep -q "images\.signed \|images\.traefik " "$work/all.out"; then
  ok "a stack's images at once: 2 refused and named, the signed one passes, an image outside the repository is not checked"
else sed 's/^/      | /' "$work/all.out"; fail "a stack's images at once: wrong refusal"; fi

# The registry login is what lets cosign read the signature: without it the check cannot verify (and refuses).
jq 'del(.registry)' "$work/inputs.json" >"$work/no-login.json"
if DOCKER_CONFIG="$work/empty-docker" node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON "$MBIO_ROOT/scripts/lib/verify-images.mjs" "$COSIGN" \
  <"$work/no-login.json" >"$work/no-login.out" 2>&1; then
  fail "the check verified without registry credentials: the auth path is untested"
elif grep -q "401\|UNAUTHORIZED\|unauthorized\|authentication required" "$work/no-login.out"; then
  ok "without the registry login the check refuses (the registry answers 401): the Docker config file carries the login"
else sed 's/^/      | /' "$work/no-login.out"; fail "without the registry login: refused, but not for authentication"; fi

# The program in the real engine. The registry of the stack is this one, its password a Pulumi secret.
program_stack() {
  local project="$work/project"
  mkdir -p "$project" "$work/state"
  cp -r "$MBIO_ROOT"/{index.ts,components,policy,package.json,tsconfig.json,Pulumi.yaml,Pulumi.development.yaml} "$project/" &&
    ln -s "$MBIO_ROOT/node_modules" "$project/node_modules" && ln -s "$MBIO_ROOT/scripts" "$project/scripts" || return 1
  ssh-keygen -q -t ed25519 -N '' -C image-signatures-throwaway -f "$work/id_ed25519" || return 1
  cd "$project" || return 1
  pulumi --non-interactive stack init development >/dev/null 2>&1 || return 1
  stack_test_values "$work/id_ed25519" "$(printf 'p%.0s' $(seq 1 64))" "$(printf '0123456789abcdef%.0s' 1 2 3 4)" skipped
  pulumi config set --path mbio-cloud:imageSignatures.repository "$REPO" >/dev/null &&
    pulumi config set --path mbio-cloud:imageSignatures.publicKey -- "$(cat "$work/project.pub")" >/dev/null &&
    pulumi config set --path mbio-cloud:registry.server "127.0.0.1:$PORT" >/dev/null &&
    pulumi config set --path mbio-cloud:registry.username "$REGISTRY_USER" >/dev/null &&
    printf '%s' "$REGISTRY_PASSWORD" | pulumi config set --secret mbio-cloud:registryPassword >/dev/null
  local rc=$?
  cd "$MBIO_ROOT" || return 1
  return "$rc"
}
in_project() { (cd "$work/project" && DOCKER_CONFIG="$work/empty-docker" "$@"); }

PULUMI_CONFIG_PASSPHRASE="image-signatures-$(rand)"
export PULUMI_BACKEND_URL="file://$work/state" PULUMI_CONFIG_PASSPHRASE
must "a copy of the project: stack development in a throwaway backend, imageSignatures and registry on this registry" program_stack
in_project pulumi config set --path mbio-cloud:images.backup-agent "$UNSIGNED" >/dev/null
t=$SECONDS
if in_project pulumi --non-interactive up --yes --skip-preview >"$work/up.log" 2>&1; then
  fail "pulumi up with an unsigned backup-agent succeeded"
elif grep -qF "refusing to deploy: 1 platform image(s) under $REPO carry no valid signature" "$work/up.log" &&
  grep -qF -- "- mbio-cloud:images.backup-agent $UNSIGNED: cosign verify failed" "$work/up.log"; then
  ok "pulumi up refuses the unsigned backup-agent, naming it ($((SECONDS - t))s)"
else sed 's/^/      | /' "$work/up.log" | tail -20; fail "pulumi up failed, but not with the refusal naming images.backup-agent"; fi
resources="$(in_project pulumi stack export | jq -r '[.deployment.resources // [] | .[].type | select(. != "pulumi:pulumi:Stack")] | length')"
if [ "$resources" = 0 ]; then ok "nothing was created: the state holds no resource but the stack itself"
else fail "the refused up left $resources resource(s) in the state"; fi
in_project pulumi config set --path mbio-cloud:images.backup-agent "$SIGNED" >/dev/null
t=$SECONDS
if in_project pulumi --non-interactive preview >"$work/preview.log" 2>&1 &&
  grep -q "image signatures verified (cosign, key mbio-cloud:imageSignatures.publicKey): backup-agent" "$work/preview.log"; then
  ok "pulumi preview with the signed backup-agent passes the check and plans the stack ($(grep -o '[0-9]* to create' "$work/preview.log" | head -1), $((SECONDS - t))s)"
else sed 's/^/      | /' "$work/preview.log" | tail -20; fail "pulumi preview with the signed backup-agent"; fi

finish
