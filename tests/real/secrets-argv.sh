#!/usr/bin/env bash
# shellcheck disable=SC2015 # ok/fail always succeed
# No secret on a command line (issue 18): the server scripts that take a secret run for real, as Pulumi runs
# them (the script as `bash -c` over SSH, the secret on stdin), while every process's argv is sampled on both
# machines and on this host (tests/real/lib/argv-sample.py: all of /proc/*/cmdline, then a 2 ms pause); no
# known secret value, nor its hash or base64, may show up in any sample, in the scripts' output or logs.
#   swarm-init.sh + swarm-join.sh   two lab machines (tests/real/lib/lab-machine.sh), the worker join token
#                                   and the manager join token on stdin, each run twice (the second changes
#                                   nothing)
#   registry-login.sh               against a real registry (the sandbox's registry image, plain HTTP in the
#                                   first machine's network namespace, i.e. on its loopback): a password,
#                                   again (unchanged), a rotated one, again (unchanged)
#   hetzner-csi-plugin.sh           through tests/real/storage-plugin.sh with this test's tokens (on an
#                                   engine >= 26 the token is set for real; older engines refuse before
#                                   the token is read, which storage-plugin.sh checks)
# The sampler must see a planted control: a secret-like value given to `grep` on a command line on purpose,
# on each machine and here; a sampler that misses it fails the test. The state scan (secret-scan.py, used by
# e2e.sh's secret_leak_checks) is shown to fail on planted leaks: a value, its sha256, its base64.
# Ends with "secrets-argv: N passed, M failed". Needs Docker and the sandbox images (sandbox/up.sh builds
# them; in scripts/test.sh's alphabetical order this test comes after bootstrap.sh, which runs it); no sandbox
# singleton, no lock.
set -uo pipefail
# shellcheck source=scripts/lib/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/env.sh"
TEST_NAME=secrets-argv
# shellcheck source=tests/real/lib/check.sh
. "$MBIO_ROOT/tests/real/lib/check.sh"
# shellcheck source=tests/real/lib/lab-machine.sh
. "$MBIO_ROOT/tests/real/lib/lab-machine.sh"
# shellcheck source=tests/real/lib/secret-leak.sh
. "$MBIO_ROOT/tests/real/lib/secret-leak.sh"
FILES="$MBIO_ROOT/components/files"
PREFIX="${ARGV_SECRETS_PREFIX:-secrets-argv}"
NET="$PREFIX-net"
M1="$PREFIX-m1" M2="$PREFIX-m2" REG="$PREFIX-registry"
work="$(mktemp -d)"
chmod 700 "$work"

finish() {
  local tag
  for tag in "${!SECRET_ARGV_PIDS[@]}"; do kill "${SECRET_ARGV_PIDS[$tag]}" 2>/dev/null; done
  docker rm -f "$REG" "$M1" "$M2" >/dev/null 2>&1
  docker volume rm "$M1" "$M2" >/dev/null 2>&1
  docker network rm "$NET" >/dev/null 2>&1
  rm -rf "$work"
  report
  exit
}
trap finish EXIT

# A random secret-like value (what a token or password looks like), never on a command line.
random_value() { head -c 24 /dev/urandom | base64 | tr -d '/+=' | cut -c1-"${1:-32}"; }

# ---- the scanner fails on planted leaks ------------------------------------------------------------------
printf '\n[%s] the state scan finds a value, its unkeyed hash and its base64 (planted leaks)\n' "$TEST_NAME"
(umask 077 && { random_value; random_value; } >"$work/planted-values")
first="$(sed -n 1p "$work/planted-values")" second="$(sed -n 2p "$work/planted-values")"
printf '{"outputs": {"digest": "%s"}}\n' "$(printf '%s' "$first" | sha256sum | cut -d' ' -f1)" >"$work/state-sha256.json"
printf '{"outputs": {"auth": "%s"}}\n' "$(printf '%s' "$second" | base64 -w0)" >"$work/state-base64.json"
printf '{"outputs": {"password": "%s"}}\n' "$second" >"$work/state-plain.json"
printf '{"outputs": {"digest": "%s"}}\n' "$(printf '%s' "keyed:$first" | sha256sum | cut -d' ' -f1)" >"$work/state-clean.json"
check "a planted sha256 of a secret in state is found" test "$(secret_leak_scan "$work/state-sha256.json" "$work/planted-values" 2>"$work/scan.err")" = 1
check "  … and named as sha256" grep -q 'as sha256' "$work/scan.err"
check "a planted base64 of a secret is found" test "$(secret_leak_scan "$work/state-base64.json" "$work/planted-values" 2>/dev/null)" = 1
check "a planted secret value is found" test "$(secret_leak_scan "$work/state-plain.json" "$work/planted-values" 2>/dev/null)" = 1
check "a state without them (a hash of something else) is clean" test "$(secret_leak_scan "$work/state-clean.json" "$work/planted-values" 2>/dev/null)" = 0
check "the scan prints no value" bash -c "! grep -qF -f '$work/planted-values' '$work/scan.err'"

# ---- machines ----------------------------------------------------------------------------------------
ensure_docker >/dev/null
# Other builds of the sandbox images: LAB_MACHINE_IMAGE (lab-machine.sh) and SECRETS_ARGV_REGISTRY_IMAGE.
REGISTRY_IMAGE="${SECRETS_ARGV_REGISTRY_IMAGE:-$(docker images --format '{{.Repository}}:{{.Tag}}' mbio-sandbox/registry | head -1)}"
if [ -z "${LAB_MACHINE_IMAGE:-$(docker images -q 'mbio-sandbox/machine' | head -1)}" ] || [ -z "$REGISTRY_IMAGE" ]; then
  echo "  SKIP  the runs on lab machines: they need the sandbox images mbio-sandbox/machine and mbio-sandbox/registry (bash sandbox/up.sh builds them)"
  exit
fi
lab_ssh() { # IP KEYDIR COMMAND (stdin passed on)
  ssh -i "$2/key" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "root@$1" "$3"
}
machines() {
  docker network create "$NET" >/dev/null 2>&1 || docker network inspect "$NET" >/dev/null || return 1
  mkdir -p "$work/m1" "$work/m2"
  lab_machine "$M1" "$work/m1" --network "$NET" -v "$M1:/var/lib/docker" || return 1
  IP1="$LAB_IP"
  lab_machine "$M2" "$work/m2" --network "$NET" -v "$M2:/var/lib/docker" || return 1
  IP2="$LAB_IP"
  # shellcheck disable=SC2317 # runs through wait_for
  both_ssh() { lab_ssh "$IP1" "$work/m1" true && lab_ssh "$IP2" "$work/m2" true; }
  WAIT_EVERY=1 wait_for "sshd on $M1 and $M2" 30 both_ssh
}
must "two lab machines ($M1, $M2) on $NET" machines
echo "  docker.io $(docker exec "$M1" dpkg-query -W -f='${Version}' docker.io) on $IP1 and $IP2"

# Runs a script of components/files/ on a machine exactly as remoteScript() (components/files.ts) has
# remote.Command run it: environment assignments, then the script text as `bash -c`'s argument; the secret
# (if any) on stdin. Output in $work/TAG.out and TAG.err.
as_pulumi() { # TAG IP KEYDIR SCRIPT 'K=V ...' [STDIN]
  local tag="$1" ip="$2" keys="$3" script="$4" env="$5" cmd
  cmd="$env${env:+ }bash -c \"\$(cat <<'MBIO_SCRIPT'"$'\n'"$(cat "$FILES/$script")"$'\n'"MBIO_SCRIPT"$'\n'")\" '$(basename "$script")'"
  if [ $# -ge 6 ]; then
    printf '%s' "$6" | lab_ssh "$ip" "$keys" "$cmd" >"$work/$tag.out" 2>"$work/$tag.err"
  else
    lab_ssh "$ip" "$keys" "$cmd" </dev/null >"$work/$tag.out" 2>"$work/$tag.err"
  fi
}
says() { grep -q -- "$2" "$work/$1.err"; }

# The sampled machines' command lines: on each machine (what a real node would show) and on this host
# (ssh clients, the registry, the plugin test; the lab machines' processes show here too).
printf '\n[%s] sampling every argv on %s, %s and this host\n' "$TEST_NAME" "$M1" "$M2"
sampling_started=$SECONDS
secret_argv_start host
secret_argv_start m1 docker exec -i "$M1"
secret_argv_start m2 docker exec -i "$M2"
sleep 1

# ---- Swarm: init, join with each token on stdin ---------------------------------------------------------
check "swarm-init.sh on $M1" as_pulumi init-1 "$IP1" "$work/m1" swarm/swarm-init.sh "ADVERTISE_ADDR='$IP1'"
as_pulumi init-2 "$IP1" "$work/m1" swarm/swarm-init.sh "ADVERTISE_ADDR='$IP1'" && says init-2 unchanged && ok "swarm-init.sh again: unchanged" || fail "swarm-init.sh again: unchanged"
(umask 077 && lab_ssh "$IP1" "$work/m1" 'docker swarm join-token -q worker; docker swarm join-token -q manager' </dev/null >"$work/tokens")
worker_token="$(sed -n 1p "$work/tokens")" manager_token="$(sed -n 2p "$work/tokens")"
check "join tokens read from $M1 (output, not argv)" test -n "$worker_token" -a -n "$manager_token"
as_pulumi join-1 "$IP2" "$work/m2" swarm/swarm-join.sh "MANAGER_ADDR='$IP1' ADVERTISE_ADDR='$IP2'" "$worker_token" &&
  [ "$(lab_ssh "$IP2" "$work/m2" "docker info --format '{{.Swarm.LocalNodeState}}'" </dev/null)" = active ] &&
  ok "swarm-join.sh on $M2 with the worker token on stdin: joined (Engine API, node $(head -c 12 "$work/join-1.out"))" ||
  { sed 's/^/    | /' "$work/join-1.err"; fail "swarm-join.sh on $M2 with the worker token on stdin"; }
as_pulumi join-2 "$IP2" "$work/m2" swarm/swarm-join.sh "MANAGER_ADDR='$IP1' ADVERTISE_ADDR='$IP2'" "$worker_token" && says join-2 unchanged &&
  cmp -s "$work/join-1.out" "$work/join-2.out" && ok "swarm-join.sh again: unchanged, same node ID" || fail "swarm-join.sh again: unchanged"
# The manager token too: M2 leaves and joins again as a manager.
as_pulumi leave "$IP2" "$work/m2" swarm/swarm-leave.sh ""
lab_ssh "$IP1" "$work/m1" "docker node rm --force '$(cat "$work/join-1.out")'" </dev/null >/dev/null 2>&1
as_pulumi join-3 "$IP2" "$work/m2" swarm/swarm-join.sh "MANAGER_ADDR='$IP1' ADVERTISE_ADDR='$IP2'" "$manager_token" &&
  [ "$(lab_ssh "$IP2" "$work/m2" "docker info --format '{{.Swarm.ControlAvailable}}'" </dev/null)" = true ] &&
  ok "swarm-join.sh with the manager token on stdin: $M2 is a manager" || { sed 's/^/    | /' "$work/join-3.err"; fail "swarm-join.sh with the manager token"; }
as_pulumi join-4 "$IP2" "$work/m2" swarm/swarm-join.sh "MANAGER_ADDR='$IP1' ADVERTISE_ADDR='$IP2'" "$manager_token" && says join-4 unchanged &&
  ok "swarm-join.sh as a manager again: unchanged" || fail "swarm-join.sh as a manager again: unchanged"
check "two managers, both Ready" test "$(lab_ssh "$IP1" "$work/m1" "docker node ls --format '{{.Status}} {{.ManagerStatus}}'" </dev/null | grep -Ec '^Ready (Leader|Reachable)$')" = 2

# ---- registry login ----------------------------------------------------------------------------------
# The sandbox's registry image in M1's network namespace: M1's engine reaches it on 127.0.0.1, which Docker
# accepts over plain HTTP. It has no users: any password logs in, which is all this needs.
registry() {
  printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/docker-registry\nhttp:\n  addr: 127.0.0.1:5000\n' >"$work/registry.yml"
  docker run -d --name "$REG" --network "container:$M1" -v "$work/registry.yml:/etc/docker/registry/config.yml:ro" "$REGISTRY_IMAGE" >/dev/null || return 1
  WAIT_EVERY=1 wait_for "the registry on $M1" 30 docker exec "$M1" curl -fsS http://127.0.0.1:5000/v2/
}
check "a registry on $M1's 127.0.0.1:5000" registry
(umask 077 && { random_value; random_value; } >"$work/registry-passwords")
pw1="$(sed -n 1p "$work/registry-passwords")" pw2="$(sed -n 2p "$work/registry-passwords")"
login() { as_pulumi "$1" "$IP1" "$work/m1" swarm/registry-login.sh "REGISTRY=127.0.0.1:5000 REGISTRY_USER=mbio-argv" "$2"; }
login login-1 "$pw1" && says login-1 "logged in" && ok "registry-login.sh: logged in (password on stdin)" || { sed 's/^/    | /' "$work/login-1.err"; fail "registry-login.sh: logged in"; }
login login-2 "$pw1" && says login-2 unchanged && ok "registry-login.sh again: unchanged" || fail "registry-login.sh again: unchanged"
login login-3 "$pw2" && says login-3 "logged in" && ok "registry-login.sh with a rotated password: logged in again" || fail "registry-login.sh with a rotated password"
login login-4 "$pw2" && says login-4 unchanged && ok "registry-login.sh again: unchanged" || fail "registry-login.sh (rotated) again: unchanged"
check "the Docker config holding the login is 0600" test "$(lab_ssh "$IP1" "$work/m1" 'stat -c %a /root/.docker/config.json' </dev/null)" = 600

# ---- the Hetzner CSI plugin's token --------------------------------------------------------------------
(umask 077 && { random_value 40; random_value 40; } >"$work/plugin-tokens")
printf '\n[%s] hetzner-csi-plugin.sh through tests/real/storage-plugin.sh, with this test'"'"'s tokens\n' "$TEST_NAME"
STORAGE_PLUGIN_TOKENS_FILE="$work/plugin-tokens" bash "$MBIO_ROOT/tests/real/storage-plugin.sh" >"$work/storage-plugin.log" 2>&1
grep -E '^  (ok|FAIL|SKIP) ' "$work/storage-plugin.log" | sed 's/^/  /'
if grep -q '^SKIP: needs the sandbox images' "$work/storage-plugin.log"; then
  echo "  SKIP  the plugin path: storage-plugin.sh skipped (no mbio-sandbox/debian or mbio-sandbox/registry image)"
else
  check "storage-plugin.sh passed with these tokens" grep -Eq '^storage-plugin: [1-9][0-9]* passed, 0 failed' "$work/storage-plugin.log"
fi

# ---- the planted control, then stop ---------------------------------------------------------------------
(umask 077 && random_value >"$work/control")
control="$(cat "$work/control")"
for _ in 1 2 3; do
  lab_ssh "$IP1" "$work/m1" "grep -qF '$control' /etc/hostname" </dev/null
  lab_ssh "$IP2" "$work/m2" "grep -qF '$control' /etc/hostname" </dev/null
  grep -qF "$control" /dev/null
done
sleep 1
secret_argv_stop host
secret_argv_stop m1 docker exec -i "$M1"
secret_argv_stop m2 docker exec -i "$M2"
sampled=$((SECONDS - sampling_started))
echo "  sweeps of /proc in ${sampled}s: $(cat "$work/argv-host.sweeps") here, $(cat "$work/argv-m1.sweeps") on $M1, $(cat "$work/argv-m2.sweeps") on $M2; distinct command lines: $(wc -l <"$work/argv-host.txt") / $(wc -l <"$work/argv-m1.txt") / $(wc -l <"$work/argv-m2.txt")"

printf '\n[%s] no secret in any command line, output or log\n' "$TEST_NAME"
# On the machines a single short-lived grep must be seen; here (all of the build machine's processes in each
# sweep) at least the ssh clients that carried it to the machines, which live as long as an ssh call does.
for where in m1 m2 host; do
  check "the sampler on $where caught the planted control ($([ $where = host ] && echo "ssh clients carrying it" || echo "a short-lived grep"))" \
    test "$(secret_leak_scan "$work/argv-$where.txt" "$work/control" 2>/dev/null)" -ge 1
done
(umask 077 && cat "$work/tokens" "$work/registry-passwords" "$work/plugin-tokens" >"$work/secret-values" &&
  printf 'mbio-argv:%s\n' "$pw1" "$pw2" >>"$work/secret-values")
check "secret values to look for: $(grep -c . "$work/secret-values") (2 join tokens, 2 registry passwords and their user:password, 2 plugin tokens)" test "$(grep -c . "$work/secret-values")" = 8
for where in host m1 m2; do
  check "no secret in any argv sampled on $where" test "$(secret_leak_scan "$work/argv-$where.txt")" = 0
done
cat "$work"/*.out "$work"/*.err "$work/storage-plugin.log" >"$work/logs.txt" 2>/dev/null
check "no secret in the scripts' output and logs" test "$(secret_leak_scan "$work/logs.txt")" = 0
