# shellcheck shell=bash
# The counting helpers every real test shares; source it after setting TEST_NAME (the name in the closing
# "<TEST_NAME>: N passed, M failed" line that scripts/test.sh counts).
#   ok WHAT / fail WHAT   count a pass or a failure decided by the test itself (`cond && ok … || fail …`)
#   check WHAT CMD...     runs CMD and counts a pass or a failure; the test goes on either way (a check
#                         that took 3 s or more shows its duration: where a test's time goes)
#   must WHAT CMD...      a step the rest depends on: prints a heading and its duration; on failure it calls
#                         the test's own finish() (clean up, print the counts, exit)
#   wait_for WHAT SECS CMD...   scripts/lib/env.sh's: retries CMD until it succeeds; says so and fails after SECS
#   to LOG CMD...         runs CMD with its output in LOG; on failure shows LOG's last 25 lines, indented
#   report                prints how long the test took and its counts; succeeds when nothing failed
# shellcheck disable=SC2034 # passed/failed are read by the test that sources this file
passed=0
failed=0
TEST_STARTED=$SECONDS
ok() { passed=$((passed + 1)); printf '  ok    %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf '  FAIL  %s\n' "$*"; }
check() {
  local what="$1" t=$SECONDS
  shift
  if "$@"; then ok "$what$(took "$t")"; else fail "$what$(took "$t")"; fi
}
took() { [ $((SECONDS - $1)) -lt 3 ] || printf ' (%ss)' $((SECONDS - $1)); }
must() {
  local what="$1" t=$SECONDS
  shift
  printf '\n\033[1m[%s] %s\033[0m\n' "${TEST_NAME:?set TEST_NAME before sourcing tests/real/lib/check.sh}" "$what"
  if "$@"; then
    ok "$what ($((SECONDS - t))s)"
  else
    fail "$what ($((SECONDS - t))s)"
    finish
  fi
}
# shellcheck source=scripts/lib/env.sh
declare -F wait_for >/dev/null || . "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/scripts/lib/env.sh"
to() {
  local f="$1"
  shift
  "$@" >"$f" 2>&1 || { tail -25 "$f" | sed 's/^/    | /'; return 1; }
}
report() {
  echo "${TEST_NAME:?} took $((SECONDS - TEST_STARTED))s"
  echo "$TEST_NAME: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
