#!/usr/bin/env bash
# The runner registration with the real Pulumi engine (CLI, Node.js language host, dynamic provider
# serialized into state) against the GitLab API stand-in (tests/support/fake-gitlab.js) on loopback:
#   up creates the runner (POST /user/runners) and keeps its glrt- token secret in state; a tag change is an
#   in-place PUT; a runner deleted in GitLab is seen gone by refresh and recreated by the next up; destroy
#   deletes it (DELETE); a wrong admin token fails the up with the 401 message; an admin-token rotation on
#   its own (tags unchanged) is an update, after which the old token is revoked and refresh and destroy
#   still work (they use the token in state).
set -uo pipefail
# shellcheck source=scripts/lib/pulumi-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/pulumi-env.sh"
cd "$MBIO_ROOT" || exit 1

TEST_NAME=gitlab-runner
# shellcheck source=tests/real/lib/check.sh
. "$MBIO_ROOT/tests/real/lib/check.sh"

ensure_node_modules
ensure_pulumi
work="$(mktemp -d)"
node tests/support/fake-gitlab.js "$work/url" "$work/calls.jsonl" &
api_pid=$!
trap 'kill "$api_pid" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do [ -s "$work/url" ] && break; sleep 0.1; done
url="$(cat "$work/url")"
export PULUMI_BACKEND_URL="file://$work/state" PULUMI_CONFIG_PASSPHRASE=gitlab-runner-test
mkdir -p "$work/state" "$work/project"
cd "$work/project" || exit 1
ln -s "$MBIO_ROOT/node_modules" node_modules
echo '{ "name": "gitlab-runner-test", "private": true }' >package.json
cat >Pulumi.yaml <<'YAML'
name: gitlab-runner-test
runtime:
  name: nodejs
  options:
    typescript: true
YAML
cat >tsconfig.json <<'JSON'
{ "compilerOptions": { "target": "ES2022", "module": "commonjs", "moduleResolution": "node", "strict": true, "esModuleInterop": true, "resolveJsonModule": true, "skipLibCheck": true } }
JSON
cat >index.ts <<TS
import * as pulumi from "@pulumi/pulumi";
import { RunnerRegistration, runnerRegistration } from "$MBIO_ROOT/components/gitlab-runner";
const cfg = new pulumi.Config();
const gitlab = { enabled: true, url: "$url", groupId: 77, concurrency: 2, maximumTimeout: 3600, tags: cfg.getObject<string[]>("tags"), docker: { socketInJobs: true, privileged: false } };
const r = new RunnerRegistration("runner", { ...runnerRegistration("staging", gitlab), adminToken: cfg.requireSecret("adminToken") }, { additionalSecretOutputs: ["token", "adminToken"] });
export const runnerId = r.runnerId;
export const token = r.token;
TS
pulumi --non-interactive stack init test >/dev/null 2>&1
printf 'glpat-valid-admin-token-000000' | pulumi config set --secret adminToken >/dev/null
id=""
calls() { jq -r '"\(.method) \(.path)"' "$work/calls.jsonl" 2>/dev/null | grep -v '^DELETE /_test' | tr '\n' ',' ; }

if pulumi up --yes --non-interactive --skip-preview >"$work/up1.log" 2>&1; then
  id="$(pulumi stack output runnerId)"
  if [ "$(pulumi stack output token --show-secrets)" = glrt-t1_fakeRunnerToken0123456789 ] && [ "$(pulumi stack output token)" = "[secret]" ]; then
    ok "up: runner $id created with POST /api/v4/user/runners; its glrt- token is a secret output"
  else
    fail "up: the token output is missing or not secret"
  fi
  pulumi stack export >"$work/state.json"
  # The token values themselves (the provider's serialized code mentions the glrt- prefix).
  if grep -q "glrt-t1_fakeRunnerToken\|glpat-valid-admin-token" "$work/state.json"; then fail "a token is in the state in plain text"; else ok "state holds neither the runner token nor the admin token in plain text"; fi
else
  tail -n 25 "$work/up1.log"
  fail "up failed"
fi

: >"$work/calls.jsonl"
pulumi config set --path 'tags[0]' staging >/dev/null && pulumi config set --path 'tags[1]' docker >/dev/null
if pulumi up --yes --non-interactive --skip-preview >"$work/up2.log" 2>&1 && [ "$(pulumi stack output runnerId)" = "$id" ] &&
  jq -e 'select(.method == "PUT" and (.body.tag_list | join(",")) == "docker,staging")' "$work/calls.jsonl" >/dev/null; then
  ok "a tag change updates runner $id in place (PUT /api/v4/runners/$id, same id, no new token)"
else
  tail -n 15 "$work/up2.log"
  fail "tag change: $(calls)"
fi

curl -fsS -X DELETE "$url/_test/delete/$id" >/dev/null
if pulumi refresh --yes --non-interactive --skip-preview >"$work/refresh.log" 2>&1 && ! pulumi stack export | jq -e '.deployment.resources[] | select(.type | test("RunnerRegistration"))' >/dev/null; then
  ok "runner deleted in GitLab: refresh (GET → 404) removes it from the state"
else
  tail -n 15 "$work/refresh.log"
  fail "refresh did not notice the deleted runner"
fi
if pulumi up --yes --non-interactive --skip-preview >"$work/up3.log" 2>&1 && [ "$(pulumi stack output runnerId)" != "$id" ]; then
  ok "the next up registers a new runner ($(pulumi stack output runnerId))"
else
  fail "up after the deletion"
fi

printf 'glpat-expired-admin-token-00000' | pulumi config set --secret adminToken >/dev/null
pulumi config set --path 'tags[2]' x >/dev/null
if pulumi up --yes --non-interactive --skip-preview >"$work/up4.log" 2>&1; then
  fail "up with an expired admin token succeeded"
elif grep -q "401 Unauthorized .*the admin token is invalid, revoked or expired" "$work/up4.log" && ! grep -q "glpat-expired" "$work/up4.log"; then
  ok "an expired admin token fails the up with the 401 message, without echoing the token"
else
  tail -n 15 "$work/up4.log"
  fail "expired token: other error"
fi
printf 'glpat-valid-admin-token-000000' | pulumi config set --secret adminToken >/dev/null
pulumi config rm --path 'tags[2]' >/dev/null
pulumi up --yes --non-interactive --skip-preview >"$work/up5.log" 2>&1 || { tail -n 15 "$work/up5.log"; fail "up back on the valid token"; }

# Rotation on its own: only the admin token changes (tags, group, everything else as before).
printf 'glpat-rotated-admin-token-00000' | pulumi config set --secret adminToken >/dev/null
if pulumi preview --non-interactive --diff >"$work/rot-preview.log" 2>&1 && grep -q "~ 1 to update" "$work/rot-preview.log" && ! grep -q "replace" "$work/rot-preview.log"; then
  ok "an admin-token rotation alone is an update of the registration (not a replace, not nothing)"
else
  tail -n 15 "$work/rot-preview.log"
  fail "rotation preview"
fi
pulumi up --yes --non-interactive --skip-preview >"$work/rot-up.log" 2>&1 || { tail -n 15 "$work/rot-up.log"; fail "up with the rotated token"; }
curl -fsS -X POST -d '"glpat-valid-admin-token-000000"' "$url/_test/revoke" >/dev/null
if pulumi refresh --yes --non-interactive --skip-preview >"$work/rot-refresh.log" 2>&1 && pulumi stack export | jq -e '.deployment.resources[] | select(.type | test("RunnerRegistration"))' >/dev/null; then
  ok "old admin token revoked: refresh reads the runner with the rotated token from state"
else
  tail -n 15 "$work/rot-refresh.log"
  fail "refresh after revoking the old admin token"
fi

: >"$work/calls.jsonl"
if pulumi destroy --yes --non-interactive --skip-preview >"$work/destroy.log" 2>&1 && grep -q "^DELETE /api/v4/runners/" <<<"$(jq -r '"\(.method) \(.path)"' "$work/calls.jsonl")"; then
  ok "destroy deletes the runner (DELETE /api/v4/runners/:id)"
else
  tail -n 15 "$work/destroy.log"
  fail "destroy: $(calls)"
fi
if grep -q "verify" "$work/calls.jsonl"; then fail "/runners/verify was called"; else ok "/runners/verify never called"; fi
pulumi --non-interactive stack rm --yes --force >/dev/null 2>&1

# Bad runner input in a real stack file: the real program stops before anything is created.
bad="$work/bad"
mkdir -p "$bad"
cp -r "$MBIO_ROOT/index.ts" "$MBIO_ROOT/components" "$MBIO_ROOT/package.json" "$MBIO_ROOT/tsconfig.json" "$MBIO_ROOT/Pulumi.yaml" "$MBIO_ROOT/Pulumi.staging.yaml" "$bad/"
ln -s "$MBIO_ROOT/node_modules" "$bad/node_modules"
cd "$bad" || exit 1
pulumi --non-interactive stack init staging >/dev/null 2>&1
pulumi config set --path 'mbio-cloud:gitlab.concurrency' 0 >/dev/null
pulumi config rm --path 'mbio-cloud:gitlab.url' >/dev/null
printf 'glrt-t1_aRunnerTokenNotAnAdminToken' | pulumi config set --secret mbio-cloud:gitlabToken >/dev/null
# The CLI requires the declared secret; the program then judges the rest.
printf 'dummy' | pulumi config set --secret mbio-cloud:sshPrivateKey >/dev/null
if pulumi up --yes --non-interactive --skip-preview >"$work/bad.log" 2>&1; then
  fail "staging with bad runner input: up succeeded"
else
  missing_msgs=""
  for m in "Pulumi.staging.yaml: mbio-cloud:gitlab.concurrency is 0 — must be a whole number from 1 to 50" \
    "Pulumi.staging.yaml: mbio-cloud:gitlab.url is missing — required when gitlab.enabled is true" \
    "Pulumi.staging.yaml: mbio-cloud:gitlab.groupId is missing" \
    "Pulumi.staging.yaml: mbio-cloud:gitlabToken has the wrong shape"; do
    grep -qF -- "$m" "$work/bad.log" || missing_msgs+=" [$m]"
  done
  created="$(pulumi stack export | jq '[.deployment.resources // [] | .[] | select(.type != "pulumi:pulumi:Stack" and (.type | startswith("pulumi:providers:") | not))] | length')"
  if [ -z "$missing_msgs" ] && [ "$created" = 0 ] && ! grep -q "aRunnerTokenNotAnAdminToken" "$work/bad.log"; then
    ok "staging with concurrency 0, no URL, no group and a runner token as admin token: refused by the real program, every problem named, nothing created"
  else
    tail -n 20 "$work/bad.log" | sed 's/^/      /'
    fail "bad runner input: messages missing:${missing_msgs:- none}; resources created: $created"
  fi
fi
pulumi --non-interactive stack rm --yes --force >/dev/null 2>&1

report
