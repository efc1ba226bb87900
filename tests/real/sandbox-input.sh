#!/usr/bin/env bash
# Bad input to sandbox/up.sh stops before anything is created, with a message that says what to do.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
passed=0
failed=0
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

# expect_refusal DESCRIPTION PATTERN COMMAND...: the command exits non-zero and prints PATTERN.
expect_refusal() {
  local what="$1" pattern="$2"
  shift 2
  local before
  before="$(docker ps -aq --filter label=mbio-sandbox=1 | sort; docker network ls -q --filter label=mbio-sandbox=1 | sort)"
  if "$@" >"$out" 2>&1; then
    failed=$((failed + 1)); printf '  FAIL  %s: exited 0\n' "$what"; return
  fi
  if ! grep -Eq -- "$pattern" "$out"; then
    failed=$((failed + 1)); printf '  FAIL  %s: message did not match /%s/:\n' "$what" "$pattern"; sed 's/^/        /' "$out"; return
  fi
  if [ "$before" != "$(docker ps -aq --filter label=mbio-sandbox=1 | sort; docker network ls -q --filter label=mbio-sandbox=1 | sort)" ]; then
    failed=$((failed + 1)); printf '  FAIL  %s: something was created or removed\n' "$what"; return
  fi
  passed=$((passed + 1)); printf '  ok    %s: %s\n' "$what" "$(grep -E -m1 -- "$pattern" "$out")"
}

expect_refusal "zero machines" "whole number from 1 to" bash "$root/sandbox/up.sh" 0
expect_refusal "not a number" "whole number from 1 to .*got 'three'" bash "$root/sandbox/up.sh" three
expect_refusal "too many arguments" "too many arguments" bash "$root/sandbox/up.sh" 3 4
expect_refusal "malformed subnet" "SANDBOX_SUBNET=10.0.0.0/33 is not an IPv4 CIDR" env SANDBOX_SUBNET=10.0.0.0/33 bash "$root/sandbox/up.sh" 3
# Docker's default bridge network owns 172.17.0.0/16 on every engine.
expect_refusal "address range in use" "subnet 172.17.5.0/24 is in use .*set SANDBOX_SUBNET to a free range" env SANDBOX_SUBNET=172.17.5.0/24 bash "$root/sandbox/up.sh" 3
echo "sandbox-input: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
