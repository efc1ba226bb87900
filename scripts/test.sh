#!/usr/bin/env bash
# The test command (README, .ci/run): installs what it needs, then runs every check and test.
#   bash scripts/test.sh            everything: static checks, unit tests (Pulumi mocks), real-tool tests
#   bash scripts/test.sh --unit     static checks and unit tests only (no Docker, no Pulumi CLI; installs only
#                                   Node.js, node_modules and the tools the unit tests call)
#   bash scripts/test.sh --real     the real-tool tests only (the CI `test` job: lint and unit are jobs of their own)
#   bash scripts/test.sh --nightly  everything, then the slow sandbox drills in tests/nightly/ (the scheduled
#                                   pipeline's profile; each drill's time is in docs/benchmarks.md)
# Budgets on 2 cores, 24 GiB (docs/benchmarks.md): the default run 15 min with warm caches, 45 min on an empty
# machine; every run fails past the hard ceiling of 75 min (MBIO_TEST_CEILING, seconds), well inside CI's 90.
# Ends with a step table, a budget line (met or missed, the three slowest steps) and
# "test: N passed, N failed" (every check of every step); exits non-zero when anything failed.
set -uo pipefail
# shellcheck source=scripts/lib/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/env.sh"
# shellcheck source=scripts/lib/steps.sh
. "$MBIO_ROOT/scripts/lib/steps.sh"
cd "$MBIO_ROOT" || exit 1

usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
mode=all
case "$#:${1:-}" in
  0:) ;;
  1:--unit | 1:--real | 1:--nightly) mode="${1#--}" ;;
  1:-h | 1:--help) usage; exit 0 ;;
  *) printf 'error: unknown arguments: %s\n\n' "$*" >&2; usage >&2; exit 2 ;;
esac

# Warm or cold: an empty machine builds the Pulumi toolchain and the sandbox images first.
warm() { bash scripts/toolchain.sh --check >/dev/null 2>&1 && [ -n "$(docker images -q mbio-sandbox/machine 2>/dev/null)" ]; }
case "$mode" in
  unit) steps_init "${MBIO_TEST_BUDGET:-300}" "${MBIO_TEST_CEILING:-4500}" "unit" ;;
  *) if warm; then steps_init "${MBIO_TEST_BUDGET:-900}" "${MBIO_TEST_CEILING:-4500}" "warm"
     else steps_init "${MBIO_TEST_BUDGET:-2700}" "${MBIO_TEST_CEILING:-4500}" "cold (empty caches)"; fi ;;
esac

# The tools the static checks and the unit tests call (shellcheck, jq, ssh-keygen, openssl), nothing else.
setup_node() { ensure_apt_packages shellcheck jq openssh-client openssl && ensure_node_modules; }
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
# The Pulumi toolchain for the real tests: the docker plugin in the foreground (first offline build ~11 min;
# the program needs it), then the cloudflare plugin (~45 min on 2 cores) in the background at the lowest
# priority; tests/real/preview.sh waits for cloudflare until MBIO_TEST_DEADLINE. The build ends with the
# run (steps_stop_background); Go's build cache keeps what it compiled for the next run.
toolchain() {
  # The Go programs in the sandbox's images, its S3 server and the Hetzner API emulator (Traefik, Telegraf,
  # Pebble, versitygw, tests/hcloud-emulator; ~15 CPU-minutes on an empty machine) build beside the toolchain
  # instead of after it, when bootstrap, edge, hetzner-apply and backup-drill would each wait for them: their
  # builds take a lock (build_lock), so a test that needs one waits for this build rather than starting its own.
  mkdir -p "$MBIO_CACHE/logs"
  setsid bash -c 'bash images/traefik/prepare.sh && bash images/telegraf/prepare.sh && bash sandbox/pebble/prepare.sh && bash scripts/versitygw.sh build && bash tests/hcloud-emulator/run.sh --build' \
    </dev/null >"$MBIO_CACHE/logs/image-binaries.log" 2>&1 &
  step_background $! "image binaries build"
  # shellcheck source=scripts/lib/pulumi-env.sh
  . scripts/lib/pulumi-env.sh && ensure_pulumi || return 1
  # The docker plugin first, in the foreground: the program itself needs it (Swarm configs and secrets are
  # docker resources), so every test that runs the full program (e2e, hetzner-apply, preview) waits for it.
  bash scripts/toolchain.sh --with-docker || return 1
  if bash scripts/toolchain.sh --check --with-docker --with-cloudflare; then
    echo "docker and cloudflare plugins: cached"
  else
    mkdir -p "$MBIO_CACHE/logs"
    # At the lowest priority: the tests (and the sandbox images they compile) come first. On an empty machine
    # cloudflare may then not be ready by the deadline: the preview says so (NOTE) and previews everything else.
    setsid nice -n 19 bash scripts/toolchain.sh --with-docker --with-cloudflare \
      </dev/null >"$MBIO_CACHE/logs/toolchain-cloudflare.log" 2>&1 &
    step_background $! "cloudflare plugin build"
    echo "cloudflare plugin: building in the background at nice 19 (log: $MBIO_CACHE/logs/toolchain-cloudflare.log)"
  fi
  # cosign (tests/real/image-signatures.sh; ~6 CPU-minutes the first time) builds meanwhile too; the test
  # waits for it on the build's lock (scripts/lib/ci-tools.sh) instead of compiling it on its own critical path.
  mkdir -p "$MBIO_CACHE/logs"
  setsid bash -c '. scripts/lib/ci-tools.sh && ci_tool_path cosign' >"$MBIO_CACHE/logs/ci-tools-cosign.log" 2>&1 </dev/null &
  step_background $! "cosign build"
}
# Waits for background builds end here: 5 minutes before the cold budget.
export MBIO_TEST_DEADLINE="${MBIO_TEST_DEADLINE:-$(($(date +%s) + 40 * 60))}"

# A lane of real tests started in the background (steps_lane) and, once the foreground is done, waited for
# and reported step by step.
declare -A lane_dirs lane_pids
lane_start() {
  local name="$1" t
  shift
  lane_dirs[$name]="$(mktemp -d)"
  for t in "$@"; do printf 'real: %s\tbash %q\n' "$(basename "$t" .sh)" "$t"; done |
    steps_lane "${lane_dirs[$name]}" &
  lane_pids[$name]=$!
  step_background "${lane_pids[$name]}" "$name lane"
  echo "the $name lane ($*) runs beside the next steps; its output follows when it ends (live: tail -f ${lane_dirs[$name]}/*.log)"
}
lane_finish() {
  local name="$1" i=0 t
  shift
  wait "${lane_pids[$name]}"
  for t in "$@"; do
    i=$((i + 1))
    step_lane_result "real: $(basename "$t" .sh)" "${lane_dirs[$name]}" "$i"
  done
  rm -rf "${lane_dirs[$name]}"
}

if [ "$mode" != real ]; then
  step "set-up (Node $NODE_VERSION, node_modules, shellcheck, jq, ssh-keygen, openssl)" setup_node
  step "tsc --noEmit (strict)" typecheck
  step "eslint" lint
  step "shellcheck" shell_check
else
  step "set-up (Node $NODE_VERSION, node_modules)" setup_node
fi
if [ "$mode" != unit ]; then
  step "cloud-init schema of the rendered user-data" cloud_init_schema
  step "Pulumi toolchain (real upstream CLI, language host and plugins)" toolchain
  step "sandbox images (base, machine: every real test's machines)" bash sandbox/up.sh --images
  # The Portainer images take 30–60 min the first time, more than the default run's budget: the nightly run
  # builds them for tests/nightly/portainer.sh.
  [ "$mode" != nightly ] || step "Portainer CE images built from the upstream sources (scripts/portainer-build.sh)" bash scripts/portainer-build.sh
  # Three lanes side by side. The sandbox singleton's tests (its machines, registry, S3 server, the `local`
  # stack), the longest chain of the run, start first; the longest lab tests (each on machines, networks and
  # subnets of its own) form a second lane; the unit tests and every other real test run in the foreground
  # meanwhile. Real tests mostly wait on machines booting, services converging and Pulumi operations, so the
  # lanes together take about as long as the longest one (docs/benchmarks.md: the step table says which).
  # The real-provider preview ends the lab lane: on an empty machine it waits for the background cloudflare
  # build, and every other test runs meanwhile instead of after the wait (it was a step of its own after the
  # lanes: 75 s warm on top of the longest lane). monitoring-swarm ends the sandbox lane, which is shorter than
  # the foreground since e2e's minutes-long drills went nightly (docs/benchmarks.md has each step's time).
  # sandbox-input first: it proves up.sh refuses bad input while no sandbox exists yet (bootstrap leaves one up).
  sandbox_lane=(tests/real/sandbox-input.sh tests/real/bootstrap.sh tests/real/e2e.sh tests/real/monitoring-swarm.sh)
  lab_lane=(tests/real/swarm-drift.sh tests/real/hetzner-apply.sh tests/real/security-audit.sh tests/real/backup-drill.sh tests/real/preview.sh)
  lane_start sandbox "${sandbox_lane[@]}"
  lane_start lab "${lab_lane[@]}"
fi
[ "$mode" = real ] || step "unit tests (Pulumi mocks)" unit
if [ "$mode" != unit ]; then
  for t in tests/real/*.sh; do
    case " ${sandbox_lane[*]} ${lab_lane[*]} " in *" $t "*) continue ;; esac
    step "real: $(basename "$t" .sh)" bash "$t"
  done
  lane_finish lab "${lab_lane[@]}"
  lane_finish sandbox "${sandbox_lane[@]}"
fi
if [ "$mode" = nightly ]; then
  for t in tests/nightly/*.sh; do
    [ -e "$t" ] || continue
    step "nightly: $(basename "$t" .sh)" bash "$t"
  done
fi
steps_finish
