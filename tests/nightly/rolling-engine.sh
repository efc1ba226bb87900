#!/usr/bin/env bash
# shellcheck disable=SC2317 # predicates run indirectly, through check
# A Docker Engine pin change rolls node by node (issue 12): the containerd pin of the local stack moves to the
# other version the machines' apt sources offer (Debian bookworm and bookworm-security carry two), then back.
# Each `pulumi up` must drain, change, wait and reactivate one node at a time, managers serialized: a sampler
# asks every manager's engine once a second, and never two may be down at once (quorum of 3 kept). The
# EngineRollout resources' own timestamps (drained → active) must not overlap and follow the chain.
set -uo pipefail
TEST_NAME="rolling-engine"
# shellcheck source=tests/nightly/lib/local-up.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/local-up.sh"

finish() {
  [ -z "${sampler_pid:-}" ] || { touch "$work/stop"; wait "$sampler_pid" 2>/dev/null; }
  nightly_finish
}
m1() { machine_ssh "$(machine_ip 1)" "$@"; }

must "local stack: 3 managers, pulumi up" nightly_stack_up
m1 "apt-get update -q >/dev/null 2>&1"
current="$(m1 "dpkg-query -W -f='\${Version}' containerd")"
engine="$(m1 "dpkg-query -W -f='\${Version}' docker.io")"
other="$(m1 "apt-cache madison containerd" | awk -F'|' '{ gsub(/ /, "", $2); print $2 }' | grep -vxF "$current" | head -1)"
echo "  docker.io $engine (one version in the sources), containerd $current; the other installable containerd: ${other:-none}"
echo "  held: $(m1 "apt-mark showhold" | tr '\n' ' ')"
must "a second containerd version is installable" test -n "$other"
# The exact command install-docker.sh runs, simulated: held packages change only with --allow-change-held-packages.
sim="$(m1 "apt-get -s install -y --allow-downgrades --allow-change-held-packages docker.io=$engine containerd=$other" 2>&1)"
grep -E '^(Inst|Conf) ' <<<"$sim" | sed 's/^/  apt-get -s: /'
check "apt-get -s: the pinned install changes containerd to $other" grep -q "^Inst containerd \[$current\] ($other " <<<"$sim"
echo "  without --allow-change-held-packages: $(m1 "apt-get -s install -y --allow-downgrades containerd=$other 2>&1 | tail -1")"

# One line per second: the time and each manager's engine as up, down (it answered that it is not a manager
# or did not answer at once: restarting) or unknown (no answer within 8 s: a loaded host, not an outage).
# Asked through `docker exec` on the machine container, not SSH, so the host's load does not fake an outage.
engine_state() {
  local out rc
  out="$(timeout 8 docker exec "$(machine_name "$1")" docker info --format '{{.Swarm.ControlAvailable}}' 2>&1)"
  rc=$?
  if [ "$out" = true ]; then echo up; elif [ "$rc" -eq 124 ]; then echo unknown; else echo down; fi
}
sampler() {
  local i line
  while [ ! -e "$work/stop" ]; do
    line="$(date +%s.%N)"
    for i in 1 2 3; do line+=" $(engine_state "$i")"; done
    echo "$line" >>"$work/samples"
    sleep 1
  done
}
roll() {
  local to="$1" t=$SECONDS
  rm -f "$work/stop" "$work/samples"
  sampler &
  sampler_pid=$!
  pulumi_local config set --path mbio-cloud:dockerEngine.containerdVersion "$to" >/dev/null
  pulumi_local up --yes --skip-preview >"$work/up-$to.log" 2>&1
  local rc=$?
  touch "$work/stop"
  wait "$sampler_pid"
  sampler_pid=""
  echo "  pulumi up: exit $rc in $((SECONDS - t))s"
  [ "$rc" -eq 0 ] || grep -iE 'error|exit [0-9]|install-docker:|engine-rollout:' "$work/up-$to.log" | head -30
  return "$rc"
}
steps() { pulumi_local stack export | jq -r '.deployment.resources[] | select(.type == "pulumi-nodejs:dynamic/swarm:EngineRollout") | .outputs.steps[]?' | sort; }
verify() {
  local to="$1"
  steps | tee "$work/steps" | sed 's/^/  step: /'
  for i in 1 2 3; do
    check "mbio-sandbox-$i: containerd $to, docker.io unchanged" test "$(machine_ssh "$(machine_ip "$i")" "dpkg-query -W -f='\${Version} ' containerd docker.io")" = "$to $engine "
  done
  check "every node Ready, active, every manager reachable" test "$(m1 "docker node ls --format '{{.Status}} {{.Availability}} {{.ManagerStatus}}'" | grep -cE '^Ready Active (Leader|Reachable)$')" = 3
  local most
  most="$(awk '{ d = 0; for (i = 2; i <= NF; i++) if ($i == "down") d++; print d }' "$work/samples" | sort -n | tail -1)"
  echo "  sampler: $(wc -l <"$work/samples") samples; most managers down at once: ${most:-?}; samples with an unknown engine: $(grep -c unknown "$work/samples")"
  check "never two managers down at once (quorum kept throughout)" test "${most:-9}" -le 1
  [ "${most:-0}" -ge 1 ] || echo "  note: no sample caught a manager's engine restarting (restarts shorter than the sampling period)"
  # drained → active windows, in chain order, none overlapping the next.
  awk '/ drained$/ { d[$2] = $1 } / active$/ { a[$2] = $1 } END { for (n in d) print d[n], a[n], n }' "$work/steps" | sort >"$work/windows"
  sed 's/^/  window: /' "$work/windows"
  check "three drain → active windows, in the order mbio-sandbox-1, -2, -3" test "$(awk '{ print $3 }' "$work/windows" | tr '\n' ' ')" = "mbio-sandbox-1 mbio-sandbox-2 mbio-sandbox-3 "
  # shellcheck disable=SC2016 # awk's own variables
  check "the windows do not overlap" awk 'NR > 1 && $1 < prev { bad = 1 } { prev = $2 } END { exit bad }' "$work/windows"
}

# The Hetzner resize chain's health gate, on a healthy manager and worker-less Swarm: passes, and again.
for pass in 1 2; do
  check "node-healthy.sh on mbio-sandbox-2 (ROLE=manager), pass $pass: healthy at once" \
    machine_ssh "$(machine_ip 2)" "ROLE=manager TIMEOUT=30 bash -c $(printf '%q' "$(cat "$MBIO_ROOT/components/files/swarm/node-healthy.sh")")"
done

must "roll containerd $current → $other" roll "$other"
verify "$other"
must "pulumi preview: nothing left to change" pulumi_local preview --expect-no-changes
must "roll containerd $other → $current (back)" roll "$current"
verify "$current"
finish
