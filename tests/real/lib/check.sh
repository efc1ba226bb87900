# shellcheck shell=bash
# The counting helpers every real test shares; source it after setting TEST_NAME (the name in the closing
# "<TEST_NAME>: N passed, M failed" line that scripts/test.sh counts).
#   check WHAT CMD...   runs CMD and counts a pass or a failure; the test goes on either way
#   must WHAT CMD...    a step the rest depends on: prints a heading and its duration; on failure it calls
#                       the test's own finish() (clean up, print the counts, exit)
# shellcheck disable=SC2034 # passed/failed are read by the test that sources this file
passed=0
failed=0
check() {
  local what="$1"
  shift
  if "$@"; then passed=$((passed + 1)); printf '  ok    %s\n' "$what"; else failed=$((failed + 1)); printf '  FAIL  %s\n' "$what"; fi
}
must() {
  local what="$1" t=$SECONDS
  shift
  printf '\n\033[1m[%s] %s\033[0m\n' "${TEST_NAME:?set TEST_NAME before sourcing tests/real/lib/check.sh}" "$what"
  if "$@"; then
    passed=$((passed + 1))
    printf '  ok    %s (%ds)\n' "$what" $((SECONDS - t))
  else
    failed=$((failed + 1))
    printf '  FAIL  %s (%ds)\n' "$what" $((SECONDS - t))
    finish
  fi
}
