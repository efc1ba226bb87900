#!/usr/bin/env bash
# The test command (README, .ci/run): installs what it needs, then runs every check and test.
#   bash scripts/test.sh            everything: static checks, unit tests (Pulumi mocks), real-tool tests
#   bash scripts/test.sh --unit     static checks and unit tests only (no Docker, no Pulumi CLI)
# Ends with one line "test: N passed, N failed"; exits non-zero when anything failed.
set -uo pipefail
# shellcheck source=scripts/lib/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
cd "$MBIO_ROOT" || exit 1

mode="${1:-all}"
passed=0
failed=0
failures=()
summary=()

# Runs one named step, timing it; a failed step does not stop the run, so one run shows every failure.
step() {
  local name="$1"
  shift
  local start=$SECONDS
  printf '\n\033[1m--- %s\033[0m\n' "$name"
  if "$@"; then
    passed=$((passed + 1))
    summary+=("ok    $(printf '%4ds' $((SECONDS - start)))  $name")
  else
    failed=$((failed + 1))
    failures+=("$name")
    summary+=("FAIL  $(printf '%4ds' $((SECONDS - start)))  $name")
  fi
}

setup_node() { ensure_apt_packages shellcheck jq && ensure_node_modules; }
typecheck() { npx --no-install tsc --noEmit -p .; }
lint() { npx --no-install eslint .; }
shell_check() {
  local files
  mapfile -t files < <(git ls-files '*.sh' .ci/run; git ls-files --others --exclude-standard '*.sh')
  echo "shellcheck on ${#files[@]} files"
  shellcheck -x "${files[@]}"
}
cloud_init_schema() {
  ensure_apt_packages cloud-init
  local rendered
  rendered="$(mktemp --suffix=.yaml)"
  bash components/files/cloud-init/render.sh >"$rendered"
  cloud-init schema --config-file "$rendered"
  local rc=$?
  rm -f "$rendered"
  return $rc
}
unit() { npx --no-install jest --config jest.config.js --ci; }

step "set-up (Node $NODE_VERSION, node_modules, shellcheck)" setup_node
step "tsc --noEmit (strict)" typecheck
step "eslint" lint
step "shellcheck" shell_check
step "cloud-init schema of the rendered user-data" cloud_init_schema
step "unit tests (Pulumi mocks)" unit

if [ "$mode" != --unit ]; then
  for t in tests/real/*.sh; do
    [ -e "$t" ] || continue
    step "real: $(basename "$t" .sh)" bash "$t"
  done
fi

printf '\n\033[1m--- summary\033[0m\n'
printf '%s\n' "${summary[@]}"
[ "$failed" -eq 0 ] || printf 'failed: %s\n' "${failures[@]}"
echo "test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
