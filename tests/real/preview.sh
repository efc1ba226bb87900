#!/usr/bin/env bash
# Preview with the real providers: `pulumi preview` of development, staging and production with the real
# CLI, Node.js language host and the command, hcloud (and cloudflare) plugins, each stack in a throwaway
# local backend with dummy credentials of the right shape and a test digest for the platform's own images.
# No network is needed: the providers validate every input offline (Check) and plan creates.
#   - each preview succeeds and its plan is exactly the plan the mock tests assert on (tests/unit/plan.test.ts);
#   - an input only the real provider catches fails: an hcloud token of the wrong length;
#   - every preview runs the policy pack (policy/, docs/security.md): a violation fails the preview.
set -uo pipefail
# shellcheck source=scripts/lib/pulumi-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/pulumi-env.sh"
cd "$MBIO_ROOT" || exit 1

TEST_NAME=preview
# shellcheck source=tests/real/lib/check.sh
. "$MBIO_ROOT/tests/real/lib/check.sh"
# shellcheck source=tests/real/lib/stack-values.sh
. "$MBIO_ROOT/tests/real/lib/stack-values.sh"

ensure_node_modules
ensure_pulumi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export PULUMI_BACKEND_URL="file://$work/state" PULUMI_CONFIG_PASSPHRASE=preview-with-dummy-secrets
mkdir -p "$work/state"

# The project as committed, in a copy: `stack init` writes an encryption salt into the stack file.
project="$work/project"
mkdir -p "$project"
cp -r index.ts components policy package.json tsconfig.json Pulumi.yaml "$project/"
ln -s "$MBIO_ROOT/node_modules" "$project/node_modules"

echo "mock plans (tests/unit/plan.test.ts)"
if MBIO_PLAN_OUT="$work/plan" npx --no-install jest --config jest.config.js --ci tests/unit/plan.test.ts >"$work/jest.log" 2>&1; then
  ok "mock plans written for development, staging, production"
else
  tail -n 30 "$work/jest.log"
  fail "the mock plan test failed"
fi

# The cloudflare plugin: test.sh builds it in the background (first offline build ~45 min); wait for it until
# MBIO_TEST_DEADLINE. Run alone, this script builds it in the foreground.
CLOUDFLARE=none
if cat "$work/plan/"*.json 2>/dev/null | grep -q '"cloudflare:'; then
  deadline="${MBIO_TEST_DEADLINE:-}"
  while ! bash scripts/toolchain.sh --check --with-cloudflare; do
    if [ -z "$deadline" ]; then
      bash scripts/toolchain.sh --with-cloudflare >&2 || break
    elif [ "$(date +%s)" -ge "$deadline" ]; then
      break
    elif tail -n 1 "$MBIO_CACHE/logs/toolchain-cloudflare.log" 2>/dev/null | grep -q '^error:' &&
      flock -n "$MBIO_CACHE/pulumi/.lock" true 2>/dev/null; then
      # The background build ended with an error (no build holds the toolchain's lock): waiting longer is useless.
      echo "      the background cloudflare build failed: $(tail -n 2 "$MBIO_CACHE/logs/toolchain-cloudflare.log" | head -n 1 | cut -c1-300)"
      break
    else
      echo "      waiting for the cloudflare plugin build ($(tail -n 1 "$MBIO_CACHE/logs/toolchain-cloudflare.log" 2>/dev/null | tr -d '\033' | cut -c1-100))"
      sleep 60
    fi
  done
  if bash scripts/toolchain.sh --check --with-cloudflare; then CLOUDFLARE=real; else CLOUDFLARE=skipped; fi
fi
echo "cloudflare plugin: $CLOUDFLARE"
if [ "$CLOUDFLARE" = skipped ]; then
  echo "NOTE: the cloudflare plugin is not built (still compiling on a cold Go cache, or its build failed: see above): this run previews the"
  echo "NOTE: stacks with dns.provider none; the DNS records are covered by the mock tests only this time."
fi
# The mock plan to compare with: without the Cloudflare records when they are not previewed.
mock_plan() { jq -r '.[]' "$work/plan/$1.json" | { if [ "$CLOUDFLARE" = skipped ]; then grep -v '^cloudflare:\|^pulumi:providers:cloudflare::' || true; else cat; fi; } | sort; }

# Dummy credentials of the right shape (the real hcloud provider wants exactly 64 characters; the program
# derives the public half of the SSH key, so it is a real throwaway key).
ssh-keygen -q -t ed25519 -N '' -C preview-throwaway -f "$work/id_ed25519"
HCLOUD_DUMMY="$(printf 'p%.0s' $(seq 1 64))"
TEST_DIGEST="$(printf '0123456789abcdef%.0s' 1 2 3 4)"

# Type and name of each resource a preview creates, from `pulumi preview --json` (URN:
# urn:pulumi:STACK::PROJECT::PARENT$...$TYPE::NAME), without the stack and default providers.
# shellcheck disable=SC2016 # sed patterns, not shell expansions
created() {
  jq -r '.steps[] | select(.op == "create") | .urn' "$1" |
    sed -E 's/^urn:pulumi:[^:]+::[^:]+::(.*)::(.*)$/\1::\2/; s/^.*\$([^$]*::)/\1/' |
    grep -v -E '^pulumi:pulumi:Stack::|^pulumi:providers:[a-z-]+::default' | sort
}

init_stack() { # stack token
  local stack="$1" token="$2"
  cp "Pulumi.$stack.yaml" "$project/"
  (
    cd "$project" || exit 1
    pulumi --non-interactive stack init "$stack" >/dev/null 2>&1 || pulumi --non-interactive stack select "$stack" >/dev/null
    stack_test_values "$work/id_ed25519" "$token" "$TEST_DIGEST" "$CLOUDFLARE"
  )
}

for stack in development staging production; do
  init_stack "$stack" "$HCLOUD_DUMMY"
  start=$SECONDS
  if (cd "$project" && pulumi --non-interactive preview --stack "$stack" --policy-pack policy --json >"$work/$stack.json" 2>"$work/$stack.err"); then
    n="$(created "$work/$stack.json" | wc -l)"
    ok "$stack: real preview succeeded in $((SECONDS - start))s, $n resources to create"
    if diff <(created "$work/$stack.json") <(mock_plan "$stack") >"$work/$stack.diff"; then
      ok "$stack: the real plan is the mock plan ($n resources, same types and names)"
    else
      sed 's/^/      /' "$work/$stack.diff" | head -20
      fail "$stack: the real plan differs from the mock plan (< real, > mocks)"
    fi
    types="$(jq -r '.steps[] | select(.op == "create") | .newState.type' "$work/$stack.json" | sort | uniq -c | sort -rn | awk '{printf "%s %s, ", $1, $2}')"
    echo "      ${types%, }"
  else
    # The engine's own error lines, then every warning or error diagnostic (a policy violation, a provider's
    # Check failure), rather than the end of the JSON plan.
    { tail -n 20 "$work/$stack.err"; jq -r '.diagnostics[]? | select(.severity != "info" and .severity != "info#err") | "\(.severity): \(.urn // "") \(.message)"' "$work/$stack.json"; } 2>/dev/null | sed 's/^/      /'
    fail "$stack: real preview failed"
  fi
done

# What only the real provider knows: a Hetzner API token is exactly 64 characters. The mocks and the config
# validation accept any token (secrets are never validated by value); the real hcloud provider refuses.
init_stack staging "$(printf 'x%.0s' $(seq 1 50))"
if (cd "$project" && pulumi --non-interactive preview --stack staging >"$work/bad.out" 2>&1); then
  fail "staging with a 50-character hcloud token: the preview succeeded; the real provider should refuse it"
elif grep -q "must be exactly 64 characters" "$work/bad.out"; then
  ok "staging with a 50-character hcloud token: refused by the real hcloud provider ($(grep -o 'entered token is invalid[^"]*64 characters long)' "$work/bad.out" | head -1))"
else
  tail -n 15 "$work/bad.out" | sed 's/^/      /'
  fail "staging with a 50-character hcloud token: failed, but not with the provider's token message"
fi

# What only the policy pack knows (docs/security.md): production with one manager is valid config, but the
# mandatory policy production-has-3-managers-and-backups stops the preview before anything is created.
(cd "$project" && pulumi --non-interactive config set --stack production mbio-cloud:managers 1 >/dev/null)
if (cd "$project" && pulumi --non-interactive preview --stack production --policy-pack policy >"$work/one-manager.out" 2>&1); then
  fail "production with one manager: the preview succeeded; the policy pack should refuse it"
elif grep -q "production has 1 Swarm manager" "$work/one-manager.out"; then
  ok "production with one manager: refused by the policy pack (production-has-3-managers-and-backups)"
else
  tail -n 15 "$work/one-manager.out" | sed 's/^/      /'
  fail "production with one manager: failed, but not with the policy's message"
fi

report
