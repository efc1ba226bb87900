#!/usr/bin/env bash
# Real-tool test of the Swarm bootstrap scripts (components/files/**), on sandbox machines (systemd,
# sshd and Debian's docker.io, on the host's Docker engine): harden → engine → init → parallel joins →
# labels → network, each run twice, the second run must change nothing; then scale-in removal and rejoin.
# Leaves the machines up but out of any Swarm (SANDBOX_KEEP=0 tears them down).
set -uo pipefail
# shellcheck source=sandbox/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../sandbox/lib.sh"
FILES="$MBIO_ROOT/components/files"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

TEST_NAME=bootstrap
# shellcheck source=tests/real/lib/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/check.sh"

# Runs a script file on a machine exactly as the bootstrap does: environment assignments, then the
# script on bash. Output (stdout and stderr) goes to $out/<tag>.
run() {
  local tag="$1" ip="$2" script="$3"
  shift 3
  machine_ssh "$ip" "$* bash -s" <"$FILES/$script" >"$out/$tag.out" 2>"$out/$tag.err"
}
has() { grep -q -- "$2" "$out/$1.err"; }
# registry-login.sh as Pulumi runs it: the script as a command, the password on stdin.
registry_login() {
  machine_ssh "$m1" "cat >/tmp/registry-login.sh" <"$FILES/swarm/registry-login.sh"
  machine_ssh "$m1" "REGISTRY=$(registry_address) REGISTRY_USER=mbio-test bash /tmp/registry-login.sh" <<<"$2" >"$out/$1.out" 2>"$out/$1.err"
}
lacks() { ! grep -Eq -- "$2" "$out/$1.err"; }
# A script as Pulumi runs it when it takes data on stdin (join token): the script as a file, the data on stdin.
run_stdin() {
  local tag="$1" ip="$2" script="$3" env="$4" data="$5" remote
  remote="/tmp/$(basename "$script")"
  machine_ssh "$ip" "cat >$remote" <"$FILES/$script"
  machine_ssh "$ip" "$env bash $remote" <<<"$data" >"$out/$tag.out" 2>"$out/$tag.err"
}

start=$SECONDS
echo "bootstrap: sandbox machines"
bash "$MBIO_ROOT/sandbox/up.sh" 3 >"$out/sandbox.log" 2>&1 || { tail -20 "$out/sandbox.log"; echo "bootstrap: 0 passed, 1 failed"; exit 1; }
m1=$(machine_ip 1) m2=$(machine_ip 2) m3=$(machine_ip 3)
# Start from machines outside any Swarm, whatever an earlier run left.
for ip in "$m1" "$m2" "$m3"; do run "reset-$ip" "$ip" swarm/swarm-leave.sh; done
version=$(machine_ssh "$m1" "dpkg-query -W -f='\${Version}' docker.io")
echo "bootstrap: docker.io $version on $m1 $m2 $m3 ($((SECONDS - start))s)"

# First boot on Hetzner: cloud-init still runs user-data (package_update, harden.sh) when Pulumi reaches sshd.
# Start it again in the background on one machine, as a new server would, and run the bootstrap's first step.
echo "bootstrap: first boot (cloud-init running while the bootstrap starts)"
docker exec "$(machine_name 1)" cloud-init clean >/dev/null
cloud_init_background "$(machine_name 1)"
# cloud-init's ssh module restarts sshd with new host keys: retry the connection as Pulumi does (dialErrorLimit).
for _ in $(seq 1 60); do
  run first-boot "$m1" cloud-init/wait.sh && break
  grep -Eq 'kex_exchange_identification|Connection (refused|reset|closed)' "$out/first-boot.err" || break
  sleep 1
done
check "first boot: the bootstrap waited for cloud-init ($(grep -o 'after [0-9]*s' "$out/first-boot.err" || echo 'did not wait'))" has first-boot "waiting until it is done"
check "first boot: no cloud-init stage is left running when harden and apt start" test -z "$(machine_ssh "$m1" "pgrep -f 'cloud-init (init|modules)' || true")"
run first-boot-again "$m1" cloud-init/wait.sh
check "first boot: a second run does not wait" lacks first-boot-again "waiting"

for pass in 1 2; do
  t=$SECONDS
  echo "bootstrap: pass $pass"
  for ip in "$m1" "$m2" "$m3"; do run "harden-$pass-$ip" "$ip" cloud-init/harden.sh & done; wait
  for ip in "$m1" "$m2" "$m3"; do
    check "pass $pass: harden on $ip succeeds" test -s "$out/harden-$pass-$ip.out"
    run "docker-$pass-$ip" "$ip" swarm/install-docker.sh "DOCKER_PACKAGE=docker.io DOCKER_VERSION='$version'" &
  done
  wait
  for ip in "$m1" "$m2" "$m3"; do check "pass $pass: engine on $ip is $version" has "docker-$pass-$ip" "docker.io $version"; done
  run "init-$pass" "$m1" swarm/swarm-init.sh "ADVERTISE_ADDR=$m1"
  run "tokens-$pass" "$m1" swarm/swarm-tokens.sh
  check "pass $pass: the tokens script prints the join tokens" grep -q '"managerToken":"SWMTKN-' "$out/tokens-$pass.out"
  token=$(jq -r .managerToken "$out/tokens-$pass.out")
  init_id=$(cat "$out/init-$pass.out")
  # Joins run in parallel, as Pulumi runs them.
  for ip in "$m2" "$m3"; do run_stdin "join-$pass-$ip" "$ip" swarm/swarm-join.sh "MANAGER_ADDR=$m1 ADVERTISE_ADDR=$ip" "$token" & done
  wait
  for entry in "$m1:$init_id" "$m2:" "$m3:"; do
    ip=${entry%%:*} id=${entry#*:}
    [ -n "$id" ] || id=$(cat "$out/join-$pass-$ip.out")
    run "labels-$pass-$ip" "$m1" swarm/node-apply.sh "NODE_ID=$id ROLE=manager AVAILABILITY=active LABELS='mbio.environment=local mbio.role=manager mbio.name=node-$ip'"
  done
  run "network-$pass" "$m1" swarm/network.sh "NETWORK=local-platform ENCRYPTED=false MTU=1400"
  # The password travels on stdin, as Pulumi sends it (the sandbox registry accepts any login).
  registry_login "login-$pass" "registry-password-$pass"
  echo "bootstrap: pass $pass took $((SECONDS - t))s"
done

echo "bootstrap: second pass changed nothing"
for ip in "$m1" "$m2" "$m3"; do
  check "harden on $ip: first pass hardened" grep -q "done" "$out/harden-1-$ip.out"
  check "harden on $ip: second pass 0 changes" grep -q "done, 0 change(s)" "$out/harden-2-$ip.out"
  check "engine on $ip: second pass unchanged" lacks "docker-2-$ip" "install-docker: (changed|installing)"
  check "labels on $ip: second pass unchanged" has "labels-2-$ip" "unchanged"
done
check "init: second pass unchanged" has init-2 "unchanged: already a Swarm manager"
check "init: node and tokens stable across passes" cmp -s "$out/init-1.out" "$out/init-2.out"
check "tokens: stable across passes (reading never rotates)" cmp -s "$out/tokens-1.out" "$out/tokens-2.out"
for ip in "$m2" "$m3"; do check "join $ip: second pass unchanged" has "join-2-$ip" "unchanged: already in the Swarm"; done
check "network: second pass unchanged" has network-2 "unchanged local-platform"
check "network: platform network and ingress have the configured MTU 1400" test "$(machine_ssh "$m1" "for n in local-platform ingress; do docker network inspect \$n --format '{{index .Options \"com.docker.network.driver.mtu\"}}'; done" | sort -u)" = 1400
check "registry login: first pass logs in" has login-1 "logged in as mbio-test@"
check "registry login: a changed password logs in again" has login-2 "logged in as mbio-test@"
registry_login login-3 registry-password-2
check "registry login: the same password again is unchanged" has login-3 "unchanged mbio-test@"

echo "bootstrap: SSH keys as code (authorized-keys.sh, keys on stdin as Pulumi sends them)"
ssh-keygen -q -t ed25519 -N '' -C rotation-test -f "$out/k2"
deploy="$(cut -d' ' -f1,2 "$SSH_KEY.pub")"
authorized() { # tag, then the keys
  local tag="$1"
  shift
  machine_ssh "$m1" "cat >/tmp/authorized-keys.sh" <"$FILES/swarm/authorized-keys.sh"
  printf '%s\n' "$@" | machine_ssh "$m1" "DEPLOY_KEY='$deploy' bash /tmp/authorized-keys.sh" >"$out/$tag.out" 2>"$out/$tag.err"
}
k2_login() { ssh -i "$out/k2" -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=3 "root@$m1" true 2>/dev/null; }
k2_refused() { ! k2_login; }
authorized keys-add "$(cat "$SSH_KEY.pub")" "$(cat "$out/k2.pub")"
check "ssh keys: a key added to the list can log in" k2_login
authorized keys-again "$(cat "$SSH_KEY.pub")" "$(cat "$out/k2.pub")"
check "ssh keys: the same list again is unchanged" has keys-again "unchanged"
authorized keys-remove "$(cat "$SSH_KEY.pub")"
check "ssh keys: the removed key is refused afterwards" k2_refused
check "ssh keys: the platform's own key still works" machine_ssh "$m1" true
if authorized keys-lockout "$(cat "$out/k2.pub")"; then lockout=applied; else lockout=refused; fi
check "ssh keys: a list without the deploy key is refused, naming sshPublicKeys ($lockout)" has keys-lockout "does not contain the public key of mbio-cloud:sshPrivateKey"
check "ssh keys: after the refusal the platform's key still works" machine_ssh "$m1" true

echo "bootstrap: the Swarm as docker sees it"
machine_ssh "$m1" docker node ls
nodes=$(machine_ssh "$m1" "docker node ls --format '{{.Status}} {{.ManagerStatus}}'")
check "3 nodes Ready" test "$(grep -c '^Ready' <<<"$nodes")" = 3
check "exactly one Leader" test "$(grep -c 'Leader' <<<"$nodes")" = 1
check "3 managers reachable" test "$(grep -Ec 'Leader|Reachable' <<<"$nodes")" = 3
check "labels on every node" test "$(machine_ssh "$m1" "docker node ls -q | xargs docker node inspect --format '{{index .Spec.Labels \"mbio.environment\"}}'" | grep -c '^local$')" = 3
check "overlay network exists, attachable, unencrypted" test "$(machine_ssh "$m1" "docker network inspect local-platform --format '{{.Driver}} {{.Attachable}} {{index .Options \"encrypted\"}}'")" = "overlay true "

echo "bootstrap: scale in (drain, demote, remove) and rejoin"
id3=$(cat "$out/join-1-$m3.out")
run remove-claimed "$m1" swarm/node-remove.sh "NODE_ID=$id3 CLAIM=an-older-membership"
check "a node claimed by another membership is kept (delete after a replace)" test "$(cat "$out/remove-claimed.out")" = kept
run remove "$m1" swarm/node-remove.sh "NODE_ID=$id3 DRAIN_TIMEOUT=30"
check "the node's own membership removes it" test "$(cat "$out/remove.out")" = removed
run leave "$m3" swarm/swarm-leave.sh
check "removed node is gone from the Swarm" test "$(machine_ssh "$m1" "docker node ls -q" | wc -l)" = 2
run remove-again "$m1" swarm/node-remove.sh "NODE_ID=$id3"
check "removing again is a no-op" has remove-again "unchanged: node $id3 is not in the Swarm"
run_stdin rejoin "$m3" swarm/swarm-join.sh "MANAGER_ADDR=$m1 ADVERTISE_ADDR=$m3" "$token"
check "a removed machine can join again" test "$(machine_ssh "$m1" "docker node ls --format '{{.Status}}'" | grep -c Ready)" = 3

for ip in "$m3" "$m2" "$m1"; do run "leave-$ip" "$ip" swarm/swarm-leave.sh; done
run leave-again "$m1" swarm/swarm-leave.sh
check "leaving twice is a no-op" has leave-again "unchanged: not in a Swarm"
[ "${SANDBOX_KEEP:-1}" = 1 ] || bash "$MBIO_ROOT/sandbox/down.sh" >/dev/null 2>&1

echo "bootstrap took $((SECONDS - start))s"
echo "bootstrap: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
