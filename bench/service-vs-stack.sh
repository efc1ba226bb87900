#!/usr/bin/env bash
# docker.Service (@pulumi/docker on the Docker provider of components/swarm-docker.ts) against SwarmStack
# (docker stack deploy + the Swarm provider's read), on the same real platform service: the demo service of
# components/demo-service.ts (healthcheck, start-first, rollback on failure, 2 replicas), deployed by the
# Pulumi program bench/service-vs-stack/ on a lab Swarm of its own (1 manager + 1 worker from the sandbox's
# machine image, tests/real/lib/lab-machine.sh; removed at the end). For each way, in turn:
#   (a) `pulumi up` time: create, an env change (DEMO_RELEASE), an image change (another tag), destroy
#   (b) `pulumi preview --diff` of the env change and of the image change (captured)
#   (c) drift: env added, replicas changed, image changed, label added by hand with `docker service update`;
#       does `pulumi refresh` report each (tests/real/lib/drift.sh), does `pulumi up` put each back
#   (d) rollout: during each update the tasks in the edge's pool (desired running and running, i.e. healthy)
#       are sampled every second: start-first keeps 2; a bad image (starts, fails its healthcheck): does
#       `pulumi up` fail naming the service, is it rolled back, does a preview afterwards show no change
#   (e) replace: what a new service name does (preview), and the fewest healthy tasks during that up
# Writes the "Services: docker.Service vs SwarmStack" section of docs/benchmarks.md and prints the checks'
# counts ("service-vs-stack: N passed, M failed": a failed check is a finding, recorded in the table too).
#   bench/service-vs-stack.sh            both ways;  SVC_KEEP=1: keep the machines and work dir
set -uo pipefail
# shellcheck source=scripts/lib/pulumi-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/pulumi-env.sh"
# shellcheck source=bench/lib.sh
. "$MBIO_ROOT/bench/lib.sh"
TEST_NAME=service-vs-stack
# shellcheck source=tests/real/lib/check.sh
. "$MBIO_ROOT/tests/real/lib/check.sh"
# shellcheck source=tests/real/lib/lab-machine.sh
. "$MBIO_ROOT/tests/real/lib/lab-machine.sh"
# shellcheck source=tests/real/lib/lab-stack.sh
. "$MBIO_ROOT/tests/real/lib/lab-stack.sh"
# shellcheck source=tests/real/lib/drift.sh
. "$MBIO_ROOT/tests/real/lib/drift.sh"

PROJECT="$MBIO_ROOT/bench/service-vs-stack"
M1=svc-compare-m1 W1=svc-compare-w1
DEMO="mbio-sandbox/demo:$(cat "$MBIO_ROOT/images/demo/VERSION")"
NAME=svcdemo SERVICE=svcdemo_whoami
work="$(mktemp -d)"
export PULUMI_BACKEND_URL="file://$work/state" PULUMI_CONFIG_PASSPHRASE=svc-compare-lab
mkdir -p "$work/state" "$work/m1" "$work/w1"
SAMPLER=""
finish() {
  [ -z "$SAMPLER" ] || kill "$SAMPLER" 2>/dev/null
  if [ "${SVC_KEEP:-0}" = 1 ]; then echo "kept: machines $M1 $W1, work dir $work"; report; exit; fi
  docker rm -f "$M1" "$W1" >/dev/null 2>&1
  docker volume rm "$M1" "$W1" >/dev/null 2>&1
  rm -rf "$work" "$HOME/.cache/mbio-cloud/docker-ssh/mbio-svc-compare-"*
  report
  exit
}
trap finish EXIT
on_m1() { docker exec -i "$M1" "$@"; }
now() { date +%s.%N; }
secs() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.1f", e - s }'; }

ensure_docker
ensure_node_modules
ensure_pulumi
must "lab Swarm: $M1 (manager) + $W1 (worker)" lab_machine "$M1" "$work/m1" -v "$M1:/var/lib/docker"
ip="$LAB_IP"
must "worker machine" lab_machine "$W1" "$work/w1" -v "$W1:/var/lib/docker"
on_m1 docker swarm init --advertise-addr "$ip" >/dev/null
docker exec "$W1" docker swarm join --token "$(on_m1 docker swarm join-token -q worker)" "$ip:2377" >/dev/null
# The images on both nodes (no registry in the lab): the release, a second tag of it, and a bad image that
# starts but never passes the demo's healthcheck (it does not serve).
for m in "$M1" "$W1"; do
  docker save "$DEMO" | docker exec -i "$m" docker load -q >/dev/null
  docker exec "$m" docker tag "$DEMO" svc-lab/demo:1
  docker exec "$m" docker tag "$DEMO" svc-lab/demo:2
  printf 'FROM svc-lab/demo:1\nCMD ["sleep", "infinity"]\n' | docker exec -i "$m" docker build -q -t svc-lab/demo:bad - >/dev/null
done
for n in $(on_m1 docker node ls -q); do on_m1 docker node update --label-add mbio.environment=svc "$n" >/dev/null; done
on_m1 docker network create -d overlay --attachable svc-platform >/dev/null
check "lab Swarm: 2 nodes ready" test "$(on_m1 docker node ls --format '{{.Status}}' | grep -c Ready)" = 2

spec() { on_m1 docker service inspect "$SERVICE" --format "$1"; }
# Tasks in the edge's pool: desired running and running (Swarm reports running only once healthy). Node by
# node: `docker node ps A B` lists the manager's tasks twice (Docker 20.10). Prints nothing when a call fails.
# shellcheck disable=SC2016 # expanded on the manager
healthy_tasks() {
  on_m1 bash -c 'set -o pipefail; ids="$(docker node ls -q)" || exit 1
    for n in $ids; do docker node ps "$n" --filter desired-state=running --format "{{.ID}} {{.CurrentState}}" || exit 1; done |
      sort -u | awk "/ Running/ { n++ } END { print n + 0 }"'
}
sample_start() { (while :; do healthy_tasks; sleep 1; done >"$1" 2>/dev/null) & SAMPLER=$!; }
# Prints the fewest healthy tasks seen.
sample_stop() { kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null; SAMPLER=""; grep -x '[0-9]*' "$1" | sort -n | head -n1; }
# Swarm's state of the service's last update, right after `pulumi up` returned (completed: the rollout is over).
update_state() { spec '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{else}}none{{end}}'; }
# timed LOG CMD...: runs CMD with output in LOG, sets T (seconds) and RC.
timed() { local log="$1" t; shift; t=$(now); "$@" >"$log" 2>&1; RC=$?; T=$(secs "$t" "$(now)"); }
# The changed lines of a `pulumi preview --diff` (property lines and the resource's operation).
diff_lines() { sed -E 's/\x1b\[[0-9;]*m//g' "$1" | grep -E '^\s+([~+-]|\+-|-\+) ' | grep -vE 'pulumi:pulumi:Stack|^\s+[~+-]+ +(services|deployed|digestKey)' | head -n "${2:-12}"; }
declare -A R

measure() {
  local impl="$1" P
  P="$work/$impl"
  mkdir -p "$P"
  lab() { lab_pulumi "$PROJECT" "$impl" "$work" "$@"; }
  printf '\n\033[1m===== %s =====\033[0m\n' "$impl"
  lab_stack_init "$PROJECT" "$impl" "$work"
  lab config set svc:impl "$impl" >/dev/null
  lab config set svc:host "$ip" >/dev/null
  lab config set svc:port 22 >/dev/null
  lab config set svc:name "$NAME" >/dev/null
  lab config set svc:network svc-platform >/dev/null
  lab config set svc:networkId "$(on_m1 docker network inspect svc-platform --format '{{.Id}}')" >/dev/null
  lab config set svc:image svc-lab/demo:1 >/dev/null
  lab config set svc:release 1 >/dev/null
  lab config set --secret svc:sshPrivateKey <"$work/m1/key" >/dev/null
  lab config set svc:hostKey "$(on_m1 cut -d' ' -f1-2 /etc/ssh/ssh_host_ed25519_key.pub)" >/dev/null

  # (a) create
  timed "$P/create.log" lab up --yes --skip-preview
  R[$impl.create]=$T
  check "$impl: pulumi up creates the service (${T}s)" test "$RC" = 0 || { tail -20 "$P/create.log"; return 1; }
  check "$impl: 2 healthy tasks, start-first, rollback on failure: $(healthy_tasks)/$(spec '{{.Spec.UpdateConfig.Order}}/{{.Spec.UpdateConfig.FailureAction}}')" test "$(healthy_tasks)/$(spec '{{.Spec.UpdateConfig.Order}}/{{.Spec.UpdateConfig.FailureAction}}')" = "2/start-first/rollback"
  spec '{{json .Spec}}' >"$P/spec.json"
  R[$impl.clean]=no
  if lab refresh --preview-only --expect-no-changes --diff >"$P/r0.log" 2>&1 && lab preview --expect-no-changes --diff >"$P/p0.log" 2>&1; then R[$impl.clean]=yes; fi
  check "$impl: right after up, refresh and preview report no changes" test "${R[$impl.clean]}" = yes || { diff_lines "$P/r0.log"; diff_lines "$P/p0.log"; }

  # (a, b, d) an env change, then an image change: preview, up (timed, healthy tasks sampled)
  local what key value
  for what in env image; do
    case "$what" in env) key=svc:release value=2 ;; image) key=svc:image value=svc-lab/demo:2 ;; esac
    lab config set "$key" "$value" >/dev/null
    lab preview --diff >"$P/preview-$what.log" 2>&1
    diff_lines "$P/preview-$what.log" >"$P/preview-$what.txt"
    sed 's/^/    | /' "$P/preview-$what.txt"
    sample_start "$P/samples-$what"
    timed "$P/up-$what.log" lab up --yes --skip-preview
    R[$impl.state_$what]=$(update_state)
    R[$impl.min_$what]=$(sample_stop "$P/samples-$what")
    R[$impl.up_$what]=$T
    check "$impl: pulumi up of the $what change (${T}s)" test "$RC" = 0
    check "$impl: the $what change: never fewer than 2 healthy tasks (start-first; fewest ${R[$impl.min_$what]})" test "${R[$impl.min_$what]}" -ge 2
  done
  check "$impl: the service runs release 2 on the second tag" test "$(spec '{{.Spec.TaskTemplate.ContainerSpec.Image}}')" = svc-lab/demo:2 -a -n "$(spec '{{.Spec.TaskTemplate.ContainerSpec.Env}}' | grep -o 'DEMO_RELEASE=2')"

  # (c) drift by hand, one refresh/up round (tests/real/lib/drift.sh)
  DRIFT_STACK="$impl"
  drift_pulumi() { lab "$@"; }
  drift_on_manager() { on_m1 "$@"; }
  no_hand_env() { ! spec '{{json .Spec.TaskTemplate.ContainerSpec.Env}}' | grep -q HAND; }
  two_replicas() { [ "$(spec '{{.Spec.Mode.Replicated.Replicas}}')" = 2 ]; }
  second_image() { [ "$(spec '{{.Spec.TaskTemplate.ContainerSpec.Image}}')" = svc-lab/demo:2 ]; }
  no_hand_label() { [ "$(spec '{{index .Spec.Labels "hand"}}')" = "" ]; }
  local -a expect
  if [ "$impl" = stack ]; then
    expect=("services.$SERVICE.envDigest" "services.$SERVICE.replicas" "services.$SERVICE.image" "services.$SERVICE.labels")
  else
    expect=("taskSpec.containerSpec.env" "replicas" "taskSpec.containerSpec.image" "labels")
  fi
  drift_add "$impl-env" "${expect[0]}" no_hand_env -- docker service update --detach --env-add HAND=1 "$SERVICE"
  drift_add "$impl-replicas" "${expect[1]}" two_replicas -- docker service scale --detach "$SERVICE=3"
  drift_add "$impl-image" "${expect[2]}" second_image -- docker service update --detach --image svc-lab/demo:1 "$SERVICE"
  drift_add "$impl-label" "${expect[3]}" no_hand_label -- docker service update --detach --label-add hand=1 "$SERVICE"
  local round="$impl-env$impl-replicas$impl-image$impl-label" c i=0
  drift_run
  for c in env replicas image label; do
    R[$impl.drift_$c]="$(grep -qF "${expect[$i]}" "$work/$round-report.txt" && echo reported || echo "not reported")"
    i=$((i + 1))
  done
  R[$impl.restored]="$(no_hand_env && two_replicas && second_image && no_hand_label && echo "all 4" || echo "not all")"
  cp "$work/$round-report.txt" "$P/drift-report.txt"

  # (d) a bad image: the up must fail naming the service, Swarm must roll back
  lab config set svc:image svc-lab/demo:bad >/dev/null
  sample_start "$P/samples-bad"
  timed "$P/up-bad.log" lab up --yes --skip-preview
  R[$impl.state_bad]=$(update_state)
  R[$impl.min_bad]=$(sample_stop "$P/samples-bad")
  R[$impl.up_bad]=$T
  check "$impl: bad image: pulumi up fails (${T}s)" test "$RC" != 0
  # The error as `pulumi up` reports it (its Diagnostics): which resource, which Swarm service, what happened.
  sed -E 's/\x1b\[[0-9;]*m//g' "$P/up-bad.log" | awk '/^Diagnostics:/ { d = 1 } /^Outputs:/ { d = 0 } d' >"$P/bad-diagnostics.txt"
  R[$impl.bad_msg]="$(grep -m1 -oE '(service [a-z0-9_]+ failed|service rollback completed)[^;]{0,60}' "$P/bad-diagnostics.txt" || echo "(no rollback named)")"
  R[$impl.bad_names]="$(grep -q "$SERVICE" "$P/bad-diagnostics.txt" && echo "yes ($SERVICE)" || echo "no (only the resource, svc-demo)")"
  check "$impl: bad image: the error names the resource or the service: ${R[$impl.bad_msg]}" grep -qE "$SERVICE|svc-demo" "$P/bad-diagnostics.txt"
  R[$impl.bad_rolled]="$(second_image && echo "yes, Swarm state ${R[$impl.state_bad]} when the up returned" || echo "no: $(spec '{{.Spec.TaskTemplate.ContainerSpec.Image}}'), ${R[$impl.state_bad]}")"
  check "$impl: bad image: Swarm rolled back to the previous image" second_image
  check "$impl: bad image: never fewer than 2 healthy tasks (fewest ${R[$impl.min_bad]})" test "${R[$impl.min_bad]}" -ge 2
  lab config set svc:image svc-lab/demo:2 >/dev/null
  R[$impl.bad_after]="no change"
  lab preview --expect-no-changes --diff >"$P/bad-after.log" 2>&1 || R[$impl.bad_after]="shows a change: $(diff_lines "$P/bad-after.log" 3 | sed -E 's/^ +//' | paste -sd ';' -)"
  check "$impl: bad image: with the good image back in config, preview reports no changes" test "${R[$impl.bad_after]}" = "no change"
  if [ "${R[$impl.bad_after]}" != "no change" ]; then
    timed "$P/up-after-bad.log" lab up --yes --skip-preview
    check "$impl: bad image: the next up converges (${T}s)" test "$RC" = 0
  fi

  # (e) replace: a new service name
  lab config set svc:name "${NAME}2" >/dev/null
  lab preview --diff >"$P/preview-rename.log" 2>&1
  diff_lines "$P/preview-rename.log" 6 >"$P/preview-rename.txt"
  R[$impl.replace_plan]="$(sed -E 's/\x1b\[[0-9;]*m//g' "$P/preview-rename.log" | grep -oE '(create-replacement|delete-replaced|replace)\b' | sort -u | paste -sd, -)"
  sample_start "$P/samples-rename"
  timed "$P/up-rename.log" lab up --yes --skip-preview
  R[$impl.min_rename]=$(sample_stop "$P/samples-rename")
  # The order the engine replaced in: the old service deleted before the new one exists, or after.
  R[$impl.replace_order]="$(sed -E 's/\x1b\[[0-9;]*m//g' "$P/up-rename.log" | grep -oE '(deleting original|deleted original|creating replacement|created replacement)' | awk '!seen[$2]++ { print $2 }' | paste -sd'>' - | sed 's/original/old deleted/; s/replacement/new created/; s/>/, then /')"
  R[$impl.up_rename]=$T
  check "$impl: rename: pulumi up (${T}s; fewest healthy tasks ${R[$impl.min_rename]})" test "$RC" = 0
  timed "$P/destroy.log" lab destroy --yes --skip-preview
  R[$impl.destroy]=$T
  check "$impl: pulumi destroy (${T}s) leaves no service" test "$RC" = 0 -a -z "$(on_m1 docker service ls -q)"
}

measure stack
measure service

# The two services' specs, compared: what Swarm rolls out is the same unless these differ.
spec_view() { jq -S 'del(.Name, .Labels["com.docker.stack.namespace"], .Labels["com.docker.stack.image"], .TaskTemplate.ContainerSpec.Labels, .TaskTemplate.ForceUpdate, .TaskTemplate.Runtime) | .TaskTemplate.Networks |= map(del(.Target))' "$1"; }
spec_diff="$(diff <(spec_view "$work/stack/spec.json") <(spec_view "$work/service/spec.json") | grep -E '^[<>]' | head -n 12)"
printf '\nSpec differences (< stack, > service):\n%s\n' "${spec_diff:-none}"

row() { local k="$1" label="$2"; printf '| %s | %s | %s |\n' "$label" "${R[stack.$k]:-?}" "${R[service.$k]:-?}"; }
fence='```'
excerpt() { printf '%s (%s):\n%s\n%s\n%s\n' "$1" "$2" "$fence" "$(cat "$work/$2/$3" 2>/dev/null)" "$fence"; }
commit="$(git -C "$MBIO_ROOT" rev-parse --short HEAD)$(git -C "$MBIO_ROOT" diff --quiet HEAD -- bench components || echo "+changes")"
body="$(cat <<EOB
Measured $(date -u +%Y-%m-%d) by \`bench/service-vs-stack.sh\` on $(machine_description), commit $commit; Pulumi
$(pulumi version), Docker provider plugin 5.1.0 (SDK @pulumi/docker $(jq -r .version "$MBIO_ROOT/node_modules/@pulumi/docker/package.json")). Lab Swarm: 1 manager + 1 worker (systemd
containers from the sandbox's machine image, Docker $(on_m1 docker version --format '{{.Server.Version}}' 2>/dev/null)). The demo service of components/demo-service.ts (2 replicas,
healthcheck every 5 s, start-first, monitor 10 s, rollback on failure), as a \`SwarmStack\` and as a \`docker.Service\` with the same
spec (bench/service-vs-stack/index.ts). Healthy tasks: desired running and running, sampled every second during the up.
"Update state when the up returned": Swarm's UpdateStatus of the service read right after \`pulumi up\` exited (completed: the
rolling update was over; updating: the up returned while Swarm was still rolling). Comparison and decision: docs/architecture.md.

| | SwarmStack | docker.Service |
|---|---|---|
$(row create "pulumi up, create (s)")
$(row up_env "pulumi up, env change (s)")
$(row up_image "pulumi up, image change (s)")
$(row state_env "Swarm's update state when the up returned, env change")
$(row state_image "Swarm's update state when the up returned, image change")
$(row min_env "fewest healthy tasks, env change")
$(row min_image "fewest healthy tasks, image change")
$(row clean "no diff right after create (refresh + preview)")
$(row drift_env "drift: env added by hand")
$(row drift_replicas "drift: replicas changed by hand")
$(row drift_image "drift: image changed by hand")
$(row drift_label "drift: label added by hand")
$(row restored "refresh + up restored")
$(row up_bad "bad image: pulumi up until it fails (s)")
$(row bad_msg "bad image: the error")
$(row bad_names "bad image: the error names the Swarm service")
$(row bad_rolled "bad image: Swarm rolled back")
$(row min_bad "bad image: fewest healthy tasks")
$(row bad_after "bad image: preview after the config is put back")
$(row replace_plan "new name: the plan")
$(row replace_order "new name: order")
$(row up_rename "new name: pulumi up (s)")
$(row min_rename "new name: fewest healthy tasks")
$(row destroy "pulumi destroy (s)")

Spec differences between the two services (\`docker service inspect\`, names and stack labels left out; < stack, > service):
\`\`\`
${spec_diff:-none}
\`\`\`

$(excerpt "Preview of the env change" stack preview-env.txt)
$(excerpt "Preview of the env change" service preview-env.txt)
$(excerpt "Preview of the image change" stack preview-image.txt)
$(excerpt "Preview of the image change" service preview-image.txt)
$(excerpt "Drift report" stack drift-report.txt)
$(excerpt "Drift report" service drift-report.txt)
EOB
)"
printf '\n%s\n' "$body"
if [ "${SVC_WRITE_DOCS:-1}" = 1 ]; then write_bench_section "Services: docker.Service vs SwarmStack" "$body"; fi
