# shellcheck shell=bash
# The test run's bookkeeping (scripts/test.sh): named, timed steps that never stop the run, each step's
# checks counted, a budget line, a hard ceiling, background jobs that end with the run, and a check that
# the run left the working tree as it found it. Source it; `steps_init` first, `steps_finish` last.
#
#   steps_init BUDGET_S CEILING_S WHAT  WHAT names the budget ("warm", "cold") in the budget line
#   step NAME CMD...                    runs CMD (output shown and kept), timed, counted
#   step_background PID WHAT            a job the run started: stopped (its process group) when the run ends
#   steps_lane DIR CMD...               runs CMD (a lane of independent steps, e.g. the sandbox tests) in the
#                                       background: each step's output in DIR/<n>.log, its status in DIR/<n>.rc
#   step_lane_result NAME DIR N         after the lane ended: step N's output shown and counted like step's
#   steps_finish                        clean-tree check, step table, budget line, totals; returns non-zero
#                                       when a step failed, the tree changed or the run passed the ceiling
#
# tests/unit/test-runner.test.ts runs this file in a throwaway repository: a slow step misses the budget and
# passes the ceiling, a step that writes a tracked file fails the clean-tree check.

steps_init() {
  STEPS_BUDGET=$1
  STEPS_CEILING=$2
  STEPS_BUDGET_NAME=$3
  STEPS_T0=$SECONDS
  steps_passed=0
  steps_failed=0
  checks_passed=0
  checks_failed=0
  steps_failures=()
  steps_table=()
  steps_times=()
  steps_log="$(mktemp)"
  # A file, not an array: a step runs in a subshell (its output goes through tee), where an array would be lost.
  steps_background="$(mktemp)"
  trap 'steps_stop_background; rm -f "$steps_log" "$steps_background"' EXIT
  # What the tree looked like before the run: a developer may run the tests with changes of their own.
  steps_tree_before="$(steps_tree_state)"
}

# Tracked files' content and the list of files git does not ignore: a test that writes or adds a file in
# the repository changes it.
steps_tree_state() {
  git status --porcelain=v1 --untracked-files=all 2>/dev/null
  git diff HEAD 2>/dev/null | sha256sum
}

# Adds a step's own counts to the totals: jest's "Tests: … N passed", or a real test's closing
# "name: N passed, M failed"; a step without counts (a linter) counts as one check.
steps_count_checks() {
  local ok=$1 line p f
  line="$(grep -E '^(Tests: .*[0-9]+ passed|[a-z0-9-]+: [0-9]+ passed, [0-9]+ failed$)' "$steps_log" | tail -1)"
  if [ -z "$line" ]; then
    if [ "$ok" = 1 ]; then checks_passed=$((checks_passed + 1)); else checks_failed=$((checks_failed + 1)); fi
    return
  fi
  p="$(grep -Eo '[0-9]+ passed' <<<"$line" | grep -Eo '[0-9]+')"
  f="$(grep -Eo '[0-9]+ failed' <<<"$line" | grep -Eo '[0-9]+' || echo 0)"
  checks_passed=$((checks_passed + p))
  checks_failed=$((checks_failed + f))
  # A step that failed without a failing count (a crash) still counts as a failed check.
  if [ "$ok" = 0 ] && [ "$f" = 0 ]; then checks_failed=$((checks_failed + 1)); fi
}

steps_record() {
  local status=$1 secs=$2 name=$3
  steps_table+=("$(printf '%-5s %5ds  %s' "$status" "$secs" "$name")")
  steps_times+=("$secs	$name")
  if [ "$status" = ok ]; then
    steps_passed=$((steps_passed + 1))
  else
    steps_failed=$((steps_failed + 1))
    steps_failures+=("$name")
  fi
}

# Runs one named step, timing it; a failed step does not stop the run, so one run shows every failure.
# Past the ceiling, the remaining steps are not started: each is recorded as failed.
step() {
  local name="$1"
  shift
  if [ $((SECONDS - STEPS_T0)) -ge "$STEPS_CEILING" ]; then
    printf '\n\033[1m--- %s\033[0m\nnot started: the run is past its ceiling of %ds\n' "$name" "$STEPS_CEILING"
    checks_failed=$((checks_failed + 1))
    steps_record SKIP 0 "$name (not started: past the ceiling)"
    return
  fi
  local start=$SECONDS
  printf '\n\033[1m--- %s\033[0m\n' "$name"
  if "$@" 2>&1 | tee "$steps_log"; then
    steps_count_checks 1
    steps_record ok $((SECONDS - start)) "$name"
  else
    steps_count_checks 0
    steps_record FAIL $((SECONDS - start)) "$name"
  fi
}

step_background() { printf '%s\t%s\n' "$1" "$2" >>"$steps_background"; }

# A lane: steps that run beside the others (they use resources no other step touches, e.g. the sandbox
# singleton, and mostly wait on machines booting and services converging). Each step of the lane is
# "NAME<TAB>CMD..." on stdin; their output is replayed in order by step_lane_result once the lane has ended.
steps_lane() {
  local dir="$1" n=0 name cmd start
  mkdir -p "$dir"
  while IFS=$'\t' read -r name cmd; do
    n=$((n + 1))
    printf '%s\n' "$name" >"$dir/$n.name"
    start=$SECONDS
    if [ $((SECONDS - STEPS_T0)) -ge "$STEPS_CEILING" ]; then
      echo "not started: the run is past its ceiling of ${STEPS_CEILING}s" >"$dir/$n.log"
      echo "skip 0" >"$dir/$n.rc"
      continue
    fi
    bash -c "$cmd" >"$dir/$n.log" 2>&1 </dev/null
    echo "$? $((SECONDS - start))" >"$dir/$n.rc"
  done
}
step_lane_result() {
  local name="$1" dir="$2" n="$3" rc secs
  printf '\n\033[1m--- %s\033[0m (ran in the lane beside the steps above)\n' "$name"
  if [ ! -f "$dir/$n.rc" ]; then
    echo "the lane ended before this step ran"
    checks_failed=$((checks_failed + 1))
    steps_record FAIL 0 "$name"
    return
  fi
  read -r rc secs <"$dir/$n.rc"
  cp "$dir/$n.log" "$steps_log"
  cat "$steps_log"
  case "$rc" in
    0) steps_count_checks 1; steps_record ok "$secs" "$name (lane)" ;;
    skip) checks_failed=$((checks_failed + 1)); steps_record SKIP 0 "$name (not started: past the ceiling)" ;;
    *) steps_count_checks 0; steps_record FAIL "$secs" "$name (lane)" ;;
  esac
}

# A job started in the background (a plugin build) ends with the run: what it finished is cached (Go's
# build cache keeps every compiled package), so the next run goes on from there.
steps_stop_background() {
  local pid what
  [ -s "${steps_background:-}" ] || return 0
  while IFS=$'\t' read -r pid what; do
    kill -0 "$pid" 2>/dev/null || continue
    echo "stopping the background $what (pid $pid; the next run resumes it from the build caches)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  done <"$steps_background"
  : >"$steps_background"
}

steps_finish() {
  steps_stop_background
  local start=$SECONDS
  printf '\n\033[1m--- the working tree is as the run found it\033[0m\n'
  if [ "$(steps_tree_state)" = "$steps_tree_before" ]; then
    echo "no tracked file changed, no file added"
    checks_passed=$((checks_passed + 1))
    steps_record ok $((SECONDS - start)) "clean tree"
  else
    echo "the run changed the repository (a test must not write into it):"
    git status --porcelain=v1 --untracked-files=all | sed 's/^/  /'
    checks_failed=$((checks_failed + 1))
    steps_record FAIL $((SECONDS - start)) "clean tree"
  fi

  local total=$((SECONDS - STEPS_T0)) slowest
  slowest="$(printf '%s\n' "${steps_times[@]}" | sort -t$'\t' -k1,1nr | head -3 | awk -F'\t' '{ printf "%s%s (%ds)", (NR > 1 ? ", " : ""), $2, $1 }')"
  printf '\n\033[1m--- summary\033[0m\n'
  printf '%s\n' "${steps_table[@]}"
  printf 'total %ds (%d min %02d s)\n' "$total" $((total / 60)) $((total % 60))
  if [ "$total" -le "$STEPS_BUDGET" ]; then
    printf 'budget: met — %ds of the %s budget %ds; slowest: %s\n' "$total" "$STEPS_BUDGET_NAME" "$STEPS_BUDGET" "$slowest"
  else
    printf 'budget: MISSED — %ds over the %s budget %ds by %ds; slowest: %s\n' "$total" "$STEPS_BUDGET_NAME" "$STEPS_BUDGET" $((total - STEPS_BUDGET)) "$slowest"
  fi
  local over=0
  if [ "$total" -gt "$STEPS_CEILING" ]; then
    over=1
    checks_failed=$((checks_failed + 1))
    printf 'ceiling: FAILED — the run took %ds, past the hard ceiling of %ds: make the slowest steps faster or move them to --nightly\n' "$total" "$STEPS_CEILING"
  fi
  [ "$steps_failed" -eq 0 ] || printf 'failed: %s\n' "${steps_failures[@]}"
  echo "steps: $steps_passed of $((steps_passed + steps_failed)) passed"
  echo "test: $checks_passed passed, $checks_failed failed"
  [ "$steps_failed" -eq 0 ] && [ "$over" = 0 ]
}
