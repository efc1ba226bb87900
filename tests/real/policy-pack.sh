#!/usr/bin/env bash
# The policy pack (policy/) with the real engine: `pulumi preview --policy-pack policy` of the production
# stack passes as committed (dummy credentials, the test image digest of tests/unit/support/harness.ts),
# and a production stack with one manager is stopped by the mandatory policy before anything is created.
set -uo pipefail
# shellcheck source=scripts/lib/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/env.sh"
# shellcheck source=scripts/lib/pulumi-env.sh
. "$MBIO_ROOT/scripts/lib/pulumi-env.sh"
cd "$MBIO_ROOT" || exit 1
passed=0
failed=0
ok() { passed=$((passed + 1)); printf '  ok    %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf '  FAIL  %s\n' "$*"; }

ensure_node_modules
ensure_pulumi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export PULUMI_BACKEND_URL="file://$work/state" PULUMI_CONFIG_PASSPHRASE=policy-pack-with-dummy-secrets
mkdir -p "$work/state"
project="$work/project"
mkdir -p "$project"
cp -r index.ts components policy package.json tsconfig.json Pulumi.yaml Pulumi.production.yaml "$project/"
ln -s "$MBIO_ROOT/node_modules" "$project/node_modules"
ssh-keygen -q -t ed25519 -N '' -C policy-throwaway -f "$work/id_ed25519"
(
  cd "$project" || exit 1
  pulumi --non-interactive stack init production >/dev/null
  printf 'p%.0s' $(seq 1 64) | pulumi config set --secret hcloud:token >/dev/null
  pulumi config set --secret mbio-cloud:sshPrivateKey <"$work/id_ed25519" >/dev/null
  for k in backupS3AccessKeyId backupS3SecretAccessKey resticPassword registryPassword; do
    printf 'dummy-%s' "$k" | pulumi config set --secret "mbio-cloud:$k" >/dev/null
  done
  pulumi config set --path 'mbio-cloud:images.backup-agent' "registry.gitlab.com/mbio/mbio-cloud/backup-agent:1.0.0@sha256:$(printf '0123456789abcdef%.0s' 1 2 3 4)" >/dev/null
)
preview() { (cd "$project" && pulumi --non-interactive preview --stack production --policy-pack policy) >"$work/$1.out" 2>&1; }

start=$SECONDS
if preview good; then
  ok "production as committed passes every policy ($((SECONDS - start))s)"
else
  grep -E 'mandatory|error|violation' "$work/good.out" | head -20
  fail "production as committed: the preview with the policy pack failed"
fi
if grep -q "Policies:" "$work/good.out" || grep -q "mbio-cloud@" "$work/good.out"; then ok "the pack ran (reported in the preview output)"; else tail -15 "$work/good.out"; fail "the preview output does not report the policy pack"; fi

(cd "$project" && pulumi config set mbio-cloud:managers 1 >/dev/null)
if preview one-manager; then
  fail "production with one manager: the preview succeeded"
else
  if grep -q "production has 1 Swarm manager" "$work/one-manager.out"; then
    ok "production with one manager is refused by production-has-3-managers-and-backups"
  else
    tail -20 "$work/one-manager.out"
    fail "production with one manager failed for another reason"
  fi
fi
echo "policy-pack: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
