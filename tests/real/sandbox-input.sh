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

# A sandbox left by another checkout (sandbox_claim, sandbox/lib.sh), run as the same code under other names
# so a sandbox running on this machine is not touched. A container of a checkout that still exists is refused
# with the command to run and kept; one of a checkout that is gone (or made before containers carried their
# owner, seen from a fresh clone) is removed with its volume.
claim_case() { # DESCRIPTION OWNER(live|gone|none) EXPECT(refused|removed)
  local what="$1" owner="$2" expect="$3" t rc label=() result
  t="$(mktemp -d)"
  case "$owner" in
    live) mkdir -p "$t/other/sandbox/.state"; label=(--label "mbio-sandbox.state=$t/other/sandbox/.state") ;;
    gone) label=(--label "mbio-sandbox.state=$t/deleted-clone/sandbox/.state") ;;
  esac
  docker volume create --label mbio-claim-test=1 mbio-claimtest-1-docker >/dev/null
  docker run -d --name mbio-claimtest-1 --label mbio-claim-test=1 "${label[@]}" -v mbio-claimtest-1-docker:/data \
    "$(docker images -q mbio-sandbox/debian | head -1)" sleep 300 >/dev/null
  bash -c ". '$root/sandbox/lib.sh'; LABEL=mbio-claim-test=1 MACHINE_PREFIX=mbio-claimtest- STATE_DIR='$t/mine/sandbox/.state'; sandbox_claim" >"$out" 2>&1
  rc=$?
  if docker container inspect mbio-claimtest-1 >/dev/null 2>&1; then result=kept; else result=removed; fi
  docker volume inspect mbio-claimtest-1-docker >/dev/null 2>&1 && [ "$result" = removed ] && result="removed, volume kept"
  if [ "$expect" = refused ] && [ "$rc" != 0 ] && [ "$result" = kept ] && grep -q "run 'bash $t/other/sandbox/down.sh'" "$out"; then
    passed=$((passed + 1)); printf '  ok    %s: %s\n' "$what" "$(tail -1 "$out")"
  elif [ "$expect" = removed ] && [ "$rc" = 0 ] && [ "$result" = removed ]; then
    passed=$((passed + 1)); printf '  ok    %s: %s\n' "$what" "$(grep -m1 warning "$out")"
  else
    failed=$((failed + 1)); printf '  FAIL  %s (exit %s, container %s):\n' "$what" "$rc" "$result"; sed 's/^/        /' "$out"
  fi
  docker rm -f mbio-claimtest-1 >/dev/null 2>&1
  docker volume rm -f mbio-claimtest-1-docker >/dev/null 2>&1
  rm -rf "$t"
}
if [ -n "$(docker images -q mbio-sandbox/debian 2>/dev/null)" ]; then
  claim_case "a sandbox of another checkout that exists is refused and kept" live refused
  claim_case "a sandbox left by a deleted checkout is removed with its volume" gone removed
  claim_case "a sandbox made before owner labels, seen from a fresh clone, is removed" none removed
else
  failed=$((failed + 1)); echo "  FAIL  the sandbox base image is missing (sandbox/up.sh builds it): the claim cases need it"
fi
echo "sandbox-input: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
