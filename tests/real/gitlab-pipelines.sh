#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2015 # node -e programs in single quotes; ok/fail always succeed
# Every pipeline file, proven with the real tools in throwaway git repositories:
#   - gitlab-ci-local (pinned in tools/gitlab-ci-local) validates .gitlab-ci.yml (+ .gitlab/ci/*.yml) and the
#     service template pipeline against GitLab's CI schema and lists which jobs run for a merge request, a
#     push to the default branch (with and without an image change), the drift and Renovate schedules;
#     production is manual in both pipelines, with its environment and resource group;
#   - cheap jobs run for real: the template's lint and test jobs (the infrastructure's lint and unit jobs in
#     tests/nightly/gitlab-jobs.sh);
#   - scripts/pin-image.sh pins an image in the stack files (twice: the second run changes nothing);
#   - renovate-config-validator (pinned in tools/renovate) accepts renovate.json and refuses a broken one, and
#     Renovate's extraction finds every pin (stack-file images, Docker Engine, Node, Go tools, plugins, npm).
set -uo pipefail
# shellcheck source=scripts/lib/npm-tool.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/npm-tool.sh"
cd "$MBIO_ROOT" || exit 1

TEST_NAME=gitlab-pipelines
# shellcheck source=tests/real/lib/check.sh
. "$MBIO_ROOT/tests/real/lib/check.sh"

ensure_apt_packages rsync git jq shellcheck python3-flask gunicorn
ensure_node_modules
gcl="$(ensure_npm_tool gitlab-ci-local)/gitlab-ci-local"
renovate_bin="$(ensure_npm_tool renovate)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export GCL_IGNORE_PREDEFINED_VARS=CI_PIPELINE_SOURCE,CI_COMMIT_BRANCH RENOVATE_X_IGNORE_RE2=true
GIT=(git -c user.name=test -c user.email=test@mbio-cloud.invalid)

# A throwaway repository whose origin/main is its first commit (rules:changes compare against it).
new_repo() { # dir
  (
    cd "$1" &&
      git init -q -b main &&
      git remote add origin https://gitlab.example.com/mbio/mbio-cloud.git &&
      git add -A && "${GIT[@]}" commit -qm base &&
      git update-ref refs/remotes/origin/main HEAD &&
      git symbolic-ref refs/remotes/origin/HEAD refs/remotes/origin/main
  )
}

# "job when" lines of the jobs a pipeline runs (when: never left out), sorted.
# gitlab-ci-local in a repository (its --cwd takes relative paths only).
gcl_in() { # dir [gitlab-ci-local options]
  local dir=$1
  shift
  (cd "$dir" && "$gcl" "$@")
}
jobs() { # dir [gitlab-ci-local options]
  gcl_in "$@" --list-json 2>"$work/gcl.err" | jq -r '.[] | select(.when != "never") | "\(.name) \(.when)"' | sort
}
expect_jobs() { # title expected-lines dir [options]
  local title=$1 want=$2 got
  shift 2
  got="$(jobs "$@")"
  if [ "$got" = "$(sort <<<"$want")" ]; then
    ok "$title: $(grep -c . <<<"$got") jobs ($(cut -d' ' -f1 <<<"$got" | tr '\n' ' ' | sed 's/ $//' | cut -c1-150))"
  else
    diff <(sort <<<"$want") <(printf '%s\n' "$got") | sed 's/^/      /'
    tail -n 5 "$work/gcl.err" | sed 's/^/      /'
    fail "$title: other jobs than expected (< expected, > got)"
  fi
}
MR=(--variable CI_PIPELINE_SOURCE=merge_request_event --unset-variable CI_COMMIT_BRANCH)
PUSH=(--variable CI_PIPELINE_SOURCE=push)

# ---- the infrastructure pipeline ---------------------------------------------------------------------
infra="$work/infra"
mkdir -p "$infra"
git ls-files -co --exclude-standard | grep -v -e '^tools/[^/]*/node_modules/' -e '^sandbox/\.state/' | rsync -a --files-from=- . "$infra/"
ln -s "$MBIO_ROOT/node_modules" "$infra/node_modules"
new_repo "$infra"

if gcl_in "$infra" --list >/dev/null 2>"$work/schema.err" && grep -q "json schema validated" "$work/schema.err" ||
  gcl_in "$infra" --list 2>&1 | grep -q "json schema validated"; then
  ok ".gitlab-ci.yml with .gitlab/ci/images.yml and renovate.yml: valid against GitLab's CI schema"
else
  tail -n 10 "$work/schema.err" | sed 's/^/      /'
  fail ".gitlab-ci.yml: gitlab-ci-local refused it"
fi

# A merge request gets no credential-holding job at all, from a protected source branch neither (issue 18:
# merge-request jobs never get an environment's passphrase or state credentials).
MR_JOBS="lint on_success
unit on_success
test on_success"
expect_jobs "merge request (unprotected branch): no preview, no credentials" "$MR_JOBS" "$infra" "${MR[@]}"
expect_jobs "merge request from a protected branch: no preview, no credentials" "$MR_JOBS" "$infra" "${MR[@]}" --variable CI_MERGE_REQUEST_SOURCE_BRANCH_PROTECTED=true

DEFAULT_BRANCH_JOBS="lint on_success
unit on_success
test on_success
preview-development on_success
preview-staging on_success
preview-production on_success
deploy-development on_success
deploy-staging on_success
deploy-production manual"
expect_jobs "push to the default branch: development and staging apply, production waits for a human" "$DEFAULT_BRANCH_JOBS" "$infra" "${PUSH[@]}"

expect_jobs "scheduled pipeline PIPELINE=drift" "drift: [development] on_success
drift: [staging] on_success
drift: [production] on_success" "$infra" --variable CI_PIPELINE_SOURCE=schedule --variable PIPELINE=drift
expect_jobs "scheduled pipeline PIPELINE=renovate" "renovate on_success" "$infra" --variable CI_PIPELINE_SOURCE=schedule --variable PIPELINE=renovate
expect_jobs "scheduled pipeline PIPELINE=nightly: the slow drills" "nightly on_success" "$infra" --variable CI_PIPELINE_SOURCE=schedule --variable PIPELINE=nightly
expect_jobs "push to a feature branch (no MR): no pipeline" "" "$infra" "${PUSH[@]}" --variable CI_COMMIT_BRANCH=feature

# An image change on the default branch adds the image pipeline.
echo "1.0.1" >"$infra/images/backup-agent/VERSION"
(cd "$infra" && git add -A && "${GIT[@]}" commit -qm "backup-agent 1.0.1")
expect_jobs "push changing images/backup-agent: build, scan, push, sign, pin" "$DEFAULT_BRANCH_JOBS
image-build: [backup-agent] on_success
image-scan: [backup-agent] on_success
image-push: [backup-agent] on_success
image-sign: [backup-agent] on_success
image-pin: [backup-agent] on_success" "$infra" "${PUSH[@]}"

# Environments, resource groups, the manual production job, in GitLab's expanded form.
gcl_in "$infra" --preview "${PUSH[@]}" 2>/dev/null | sed -n '/^---$/,$p' >"$work/preview.yml" || true
[ -s "$work/preview.yml" ] || gcl_in "$infra" --preview "${PUSH[@]}" >"$work/preview.yml" 2>/dev/null
if node -e '
  const YAML = require(process.argv[1] + "/node_modules/yaml");
  const docs = YAML.parseAllDocuments(require("fs").readFileSync(process.argv[2], "utf8")).map((d) => d.toJSON()).filter(Boolean);
  const p = Object.assign({}, ...docs);
  const problems = [];
  for (const s of ["development", "staging", "production"]) {
    const j = p[`deploy-${s}`];
    if (!j) { problems.push(`deploy-${s} missing`); continue; }
    if (j.environment?.name !== s) problems.push(`deploy-${s}: environment ${JSON.stringify(j.environment)}`);
    if (j.resource_group !== "pulumi-$STACK" || j.variables?.STACK !== s) problems.push(`deploy-${s}: resource_group ${j.resource_group} STACK ${j.variables?.STACK}`);
    if (j.interruptible !== false) problems.push(`deploy-${s} is interruptible`);
  }
  const r = p["deploy-production"]?.rules?.[0] ?? {};
  if (r.when !== "manual" || r.allow_failure !== false) problems.push(`deploy-production rule ${JSON.stringify(r)}`);
  if (!/pulumi preview --stack .*--diff/.test(JSON.stringify(p["preview-production"]?.script))) problems.push("preview without --diff");
  // Every preview and up runs the policy pack (docs/security.md).
  for (const [job, cmd] of [["preview-production", "preview"], ["deploy-production", "up"], ["deploy-production", "preview"]]) {
    // Line by line: a script line holds quotes ("$STACK") that a match over the JSON text would stop at.
    if (!(p[job]?.script ?? []).some((line) => new RegExp(`^pulumi ${cmd} .*--policy-pack policy`).test(line))) problems.push(`${job}: pulumi ${cmd} without --policy-pack policy`);
  }
  // No secret as a command-line option (issue 18): registry passwords and tokens go on stdin or in a file.
  for (const [name, job] of Object.entries(p)) {
    for (const line of [job?.before_script, job?.script, job?.after_script].flat().filter((l) => typeof l === "string")) {
      if (/--(registry-)?password(?!-stdin)[ =]|--token[ =]|\s-p\s+"?\$/.test(line)) problems.push(`${name}: a secret option on a command line: ${line}`);
    }
  }
  // Trust levels (docs/ci.md, "Runners and trust levels"): the jobs a merge request runs go to the runner
  // that takes any ref; every job with an environment (credentials), and every other job, to the deploy
  // runner, which takes protected refs only; a Pulumi job verifies its cached toolchain first.
  const mrJobs = process.argv[3].split(" ");
  // gitlab-ci-local leaves `default:` out of its expanded form: the default tags come from the file itself.
  const defaultTags = /^default:\n(?: {2}.*\n)*? {2}tags: \[([^\]]*)\]/m.exec(require("fs").readFileSync(process.argv[1] + "/.gitlab-ci.yml", "utf8"))?.[1].split(",").map((t) => t.trim());
  for (const [name, j] of Object.entries(p)) {
    if (!j || typeof j !== "object" || !("script" in j)) continue;
    const want = mrJobs.includes(name) || name === "nightly" ? "mbio-cloud-test" : "mbio-cloud-deploy";
    const tags = j.tags ?? defaultTags;
    if (JSON.stringify(tags) !== JSON.stringify([want])) problems.push(`${name}: tags ${JSON.stringify(tags)}, want [${want}]`);
    if (want === "mbio-cloud-test" && j.environment) problems.push(`${name}: a merge-request job with environment ${JSON.stringify(j.environment)}`);
    if ((j.script ?? []).some((l) => /^pulumi (up|preview)/.test(l)) && !(j.before_script ?? []).includes("verify_pulumi_toolchain")) problems.push(`${name}: runs pulumi without verify_pulumi_toolchain`);
  }
  if (problems.length) { console.error(problems.join("\n")); process.exit(1); }
' "$MBIO_ROOT" "$work/preview.yml" "$(cut -d' ' -f1 <<<"$MR_JOBS" | xargs)" 2>"$work/preview.err"; then
  ok "deploy jobs: environment per stack, resource_group pulumi-<stack>, not interruptible; production manual and blocking; previews --diff; policy pack on every preview and up; merge-request jobs on mbio-cloud-test without environment, every other job on the protected mbio-cloud-deploy runner; pulumi jobs verify the cached toolchain; no password or token option on any job's command line"
else
  sed 's/^/      /' "$work/preview.err"
  fail "deploy job settings"
fi

# The drift schedule: each stack's job runs in that stack's preview environment (its read-only credentials and
# passphrase, nobody else's), through .pulumi (which refuses to run without the passphrase).
gcl_in "$infra" --preview --variable CI_PIPELINE_SOURCE=schedule --variable PIPELINE=drift 2>/dev/null | sed -n '/^---$/,$p' >"$work/drift.yml" || true
[ -s "$work/drift.yml" ] || gcl_in "$infra" --preview --variable CI_PIPELINE_SOURCE=schedule --variable PIPELINE=drift >"$work/drift.yml" 2>/dev/null
if node -e '
  const YAML = require(process.argv[1] + "/node_modules/yaml");
  const docs = YAML.parseAllDocuments(require("fs").readFileSync(process.argv[2], "utf8")).map((d) => d.toJSON()).filter(Boolean);
  const j = Object.assign({}, ...docs).drift ?? {};
  const problems = [];
  const stacks = j.parallel?.matrix?.[0]?.STACK;
  if (JSON.stringify(stacks) !== JSON.stringify(["development", "staging", "production"])) problems.push(`matrix ${JSON.stringify(j.parallel)}`);
  if (j.environment?.name !== "preview/$STACK" || j.environment?.action !== "prepare") problems.push(`environment ${JSON.stringify(j.environment)}`);
  if (!(j.before_script ?? []).some((l) => /PULUMI_CONFIG_PASSPHRASE:\?/.test(l))) problems.push("no passphrase check in before_script");
  if (!(j.script ?? []).some((l) => /^bash scripts\/drift\.sh "\$STACK"$/.test(l))) problems.push(`script ${JSON.stringify(j.script)}`);
  if (problems.length) { console.error(problems.join("\n")); process.exit(1); }
' "$MBIO_ROOT" "$work/drift.yml" 2>"$work/drift.err"; then
  ok "drift: one job per stack in environment preview/<stack> (only that stack's credentials), passphrase required, no deployment recorded"
else
  sed 's/^/      /' "$work/drift.err"
  fail "drift job settings"
fi

# The infrastructure jobs for real in the throwaway repository, under gitlab-ci-local: GITLAB_PIPELINES_JOBS
# (tests/nightly/gitlab-jobs.sh: "lint unit"). Not in the default run: their commands are the default run's own
# steps (tsc, eslint, shellcheck, jest), and running them again inside gitlab-ci-local cost 106 s of it; the
# template's lint and test jobs below still run for real every time.
read -ra real_jobs <<<"${GITLAB_PIPELINES_JOBS:-}"
for job in "${real_jobs[@]}"; do
  start=$SECONDS
  if gcl_in "$infra" "${MR[@]}" "$job" >"$work/$job.log" 2>&1 && grep -q "$job .*finished" "$work/$job.log"; then
    ok "job $job ran for real with gitlab-ci-local and passed in $((SECONDS - start))s$(grep -o 'Tests: .*passed, [0-9]* total' "$work/$job.log" | tail -1 | sed 's/^/ (/; s/$/)/')"
  else
    tail -n 20 "$work/$job.log" | sed 's/^/      /'
    fail "job $job failed under gitlab-ci-local"
  fi
done

# ---- scripts/pin-image.sh, for real, in the throwaway repository -------------------------------------
digest="$(printf '5e%.0s' $(seq 1 32))"
ref="registry.gitlab.com/mbio/mbio-cloud/backup-agent:1.0.1@sha256:$digest"
if (cd "$infra" && bash scripts/pin-image.sh backup-agent "$ref") >"$work/pin1.log" 2>&1 &&
  [ "$(grep -c changed "$work/pin1.log")" = 2 ] &&
  node -e '
    const YAML = require(process.argv[1] + "/node_modules/yaml"); const fs = require("fs");
    for (const s of ["development", "staging"]) {
      const c = YAML.parse(fs.readFileSync(`${process.argv[2]}/Pulumi.${s}.yaml`, "utf8")).config;
      if (c["mbio-cloud:images"]?.["backup-agent"] !== process.argv[3]) process.exit(1);
    }
    const prod = YAML.parse(fs.readFileSync(`${process.argv[2]}/Pulumi.production.yaml`, "utf8")).config;
    if (prod["mbio-cloud:images"]?.["backup-agent"] !== undefined) process.exit(2);
  ' "$MBIO_ROOT" "$infra" "$ref"; then
  ok "pin-image.sh wrote $ref into development and staging (production waits for staging)"
else
  sed 's/^/      /' "$work/pin1.log"
  fail "pin-image.sh did not pin the image"
fi
(cd "$infra" && git diff --stat) | tail -n1 | grep -q "2 files changed, 2 insertions(+), 1 deletion(-)\|2 files changed" && ok "pin-image.sh changed only the two stack files: $( (cd "$infra" && git diff --stat) | tail -n1)" || fail "pin-image.sh changed other files"
if (cd "$infra" && bash scripts/pin-image.sh backup-agent "$ref") 2>&1 | grep -c unchanged | grep -q '^2$'; then ok "pin-image.sh a second time: unchanged"; else fail "pin-image.sh is not idempotent"; fi
if (cd "$infra" && bash scripts/pin-image.sh backup-agent "backup-agent:latest@sha256:$digest") >"$work/pin3.log" 2>&1; then
  fail "pin-image.sh accepted a latest tag"
else
  ok "pin-image.sh refuses an unpinned reference: $(tail -n1 "$work/pin3.log")"
fi

# ---- Renovate ----------------------------------------------------------------------------------------
if "$renovate_bin/renovate-config-validator" --strict --no-global renovate.json >"$work/rv.log" 2>&1; then
  ok "renovate-config-validator (renovate $(jq -r '.dependencies.renovate' tools/renovate/package.json)) accepts renovate.json"
else
  tail -n 10 "$work/rv.log" | sed 's/^/      /'
  fail "renovate-config-validator refuses renovate.json"
fi
jq '.packageRules[0].matchPackageNamez = ["x"]' renovate.json >"$work/broken.json"
if "$renovate_bin/renovate-config-validator" --strict --no-global "$work/broken.json" >"$work/rv2.log" 2>&1; then
  fail "renovate-config-validator accepted an unknown option"
else
  ok "renovate-config-validator refuses an unknown option (matchPackageNamez)"
fi
(cd "$infra" && git add -A && "${GIT[@]}" commit -qm pin)
if (cd "$infra" && RENOVATE_CONFIG_FILE="$infra/renovate.json" LOG_LEVEL=error timeout 300 "$renovate_bin/renovate" --platform=local --dry-run=extract \
  --report-type=file --report-path="$work/renovate-report.json") >"$work/renovate.log" 2>&1; then
  jq -r '.repositories[].packageFiles | to_entries[] | .key as $m | .value[] | .packageFile as $f | .deps[] | "\($m) \($f) \(.depName) \(.currentValue)\(if .currentDigest then "@" + .currentDigest else "" end)"' \
    "$work/renovate-report.json" | sort -u >"$work/deps.txt"
  absent=""
  for want in "regex Pulumi.development.yaml registry.gitlab.com/mbio/mbio-cloud/backup-agent 1.0.1@sha256:$digest" \
    "regex Pulumi.staging.yaml registry.gitlab.com/mbio/mbio-cloud/backup-agent 1.0.1@sha256:$digest" \
    "regex Pulumi.production.yaml docker-ce 5:27.5.1-1~debian.12~bookworm" \
    "nvm .nvmrc node $(cat .nvmrc)" \
    "regex scripts/lib/ci-tools.sh github.com/aquasecurity/trivy" "regex scripts/lib/ci-tools.sh github.com/sigstore/cosign/v2" \
    "regex scripts/lib/upstream-plugins.sh terraform-provider-hcloud" "regex scripts/lib/upstream-plugins.sh terraform-provider-cloudflare" \
    "regex package.json pulumi-hcloud" "npm package.json @pulumi/pulumi" "npm tools/renovate/package.json renovate" \
    "npm tools/gitlab-ci-local/package.json gitlab-ci-local" "pip_requirements templates/python-service/requirements.txt flask"; do
    grep -qF -- "$want" "$work/deps.txt" || absent+=" [$want]"
  done
  if [ -z "$absent" ]; then
    ok "Renovate finds every kind of pin ($(wc -l <"$work/deps.txt") dependencies: stack images with digest, Docker Engine, Node, Go tools, plugins, npm, pip)"
  else
    fail "Renovate misses:$absent"
  fi
else
  tail -n 15 "$work/renovate.log" | sed 's/^/      /'
  fail "renovate --dry-run=extract failed"
fi

# ---- the image pipeline's pin job path: branch pushed, merge request opened through the API ------------
# A local stand-in answers POST /api/v4/projects/:id/merge_requests as GitLab documents it (201 + web_url).
git init -q --bare "$work/origin.git"
node -e '
  const http = require("http"), fs = require("fs");
  const s = http.createServer((req, res) => { let b = ""; req.on("data", (c) => (b += c)); req.on("end", () => {
    fs.appendFileSync(process.argv[1], JSON.stringify({ method: req.method, url: req.url, token: req.headers["private-token"], body: JSON.parse(b || "{}") }) + "\n");
    res.writeHead(201, { "Content-Type": "application/json" }); res.end(JSON.stringify({ iid: 7, web_url: "https://gitlab.example.com/mbio/mbio-cloud/-/merge_requests/7" })); }); });
  s.listen(0, "127.0.0.1", () => fs.writeFileSync(process.argv[2], String(s.address().port)));
' "$work/mr-requests.jsonl" "$work/mr-port" &
api_pid=$!
for _ in $(seq 1 50); do [ -s "$work/mr-port" ] && break; sleep 0.1; done
ref2="registry.gitlab.com/mbio/mbio-cloud/backup-agent:1.0.2@sha256:$(printf '7a%.0s' $(seq 1 32))"
if (cd "$infra" && CI_API_V4_URL="http://127.0.0.1:$(cat "$work/mr-port")/api/v4" CI_PROJECT_ID=42 CI_DEFAULT_BRANCH=main CI_COMMIT_SHORT_SHA=abc1234 \
  PIN_TOKEN=glpat-pin-token-for-the-test-00 PIN_GIT_REMOTE="file://$work/origin.git" bash scripts/pin-image.sh --merge-request backup-agent "$ref2") >"$work/pin-mr.log" 2>&1 &&
  grep -q "opened merge request https://gitlab.example.com/mbio/mbio-cloud/-/merge_requests/7" "$work/pin-mr.log" &&
  [ "$(git --git-dir="$work/origin.git" show --name-only --format= pin/backup-agent-1.0.2 | sort | xargs)" = "Pulumi.development.yaml Pulumi.staging.yaml" ] &&
  jq -e --arg t glpat-pin-token-for-the-test-00 'select(.method == "POST" and .url == "/api/v4/projects/42/merge_requests" and .token == $t and .body.source_branch == "pin/backup-agent-1.0.2" and .body.target_branch == "main")' "$work/mr-requests.jsonl" >/dev/null; then
  ok "pin-image.sh --merge-request: pushed branch pin/backup-agent-1.0.2 (the two stack files) and opened the MR through the API"
else
  sed 's/^/      /' "$work/pin-mr.log"
  fail "pin-image.sh --merge-request"
fi
kill "$api_pid" 2>/dev/null
wait "$api_pid" 2>/dev/null

# ---- the service template pipeline -------------------------------------------------------------------
svc="$work/service"
mkdir -p "$svc/templates/ci"
cp -r templates/python-service/. "$svc/"
cp templates/ci/service.gitlab-ci.yml "$svc/templates/ci/"
new_repo "$svc"
expect_jobs "service template, merge request: lint and test" "lint on_success
test on_success" "$svc" "${MR[@]}"
expect_jobs "service template, default branch: build, scan, push, sign, deploy development and staging, production manual" "lint on_success
test on_success
build on_success
scan on_success
push on_success
sign on_success
deploy-development on_success
deploy-staging on_success
deploy-production manual" "$svc" "${PUSH[@]}"
gcl_in "$svc" --preview "${PUSH[@]}" >"$work/svc-preview.yml" 2>/dev/null
if node -e '
  const YAML = require(process.argv[1] + "/node_modules/yaml");
  const p = Object.assign({}, ...YAML.parseAllDocuments(require("fs").readFileSync(process.argv[2], "utf8")).map((d) => d.toJSON()).filter(Boolean));
  for (const s of ["development", "staging", "production"]) {
    const j = p[`deploy-${s}`];
    if (JSON.stringify(j.tags) !== JSON.stringify([s]) || j.environment.name !== s) { console.error(`deploy-${s}: tags ${j.tags} env ${j.environment.name}`); process.exit(1); }
  }
  if (!/--cache-from/.test(JSON.stringify(p.build.script)) || !/cosign sign/.test(JSON.stringify(p.sign.script)) || !/trivy image --exit-code 1 --severity HIGH,CRITICAL/.test(JSON.stringify(p.scan.script))) process.exit(2);
' "$MBIO_ROOT" "$work/svc-preview.yml"; then
  ok "service template: each deploy job runs on its environment's runner (tags [<environment>]); registry cache, Trivy, cosign in place"
else
  fail "service template job settings"
fi
for job in lint test; do
  if gcl_in "$svc" --force-shell-executor "${MR[@]}" "$job" >"$work/svc-$job.log" 2>&1 && grep -q "$job .*finished" "$work/svc-$job.log"; then
    ok "service template job $job ran for real and passed$(grep -o 'Ran [0-9]* tests' "$work/svc-$job.log" | head -1 | sed 's/^/ (/; s/$/)/')"
  else
    tail -n 15 "$work/svc-$job.log" | sed 's/^/      /'
    fail "service template job $job failed"
  fi
done

report
