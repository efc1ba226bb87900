# shellcheck shell=bash
# Secrets that never leak (issue 11): with the local stack up, every secret value — each secret of the stack
# config (SSH private key, S3 keys, restic password, admin and monitoring passwords, …), the live Swarm
# join tokens and the program's generated secrets — is searched for in
#   the state export (pulumi stack export), every stack output (with --show-secrets: no output may carry a
#   secret, not even as a secret), the log of a `pulumi preview --diff`, and the log of a deliberately
#   failing `pulumi up`: one manager's pinned host key is made wrong, so the run also proves that a
#   mismatch is refused with a clear error naming the host.
# Every search also finds the value's unkeyed hashes and encodings (sha256/sha1/md5 hex, base64, hex:
# secret-scan.py), since "a hash of the password" in plain state lets anyone test guesses offline.
# Needs: pulumi_local, machine_ssh, machine_ip, check (tests/real/lib/check.sh), a writable $work.
# Usage: secret_leak_checks
#
# The building blocks, for any test (tests/real/secrets-argv.sh; e2e.sh may wrap its `pulumi up` in them):
#   secret_leak_scan FILE [VALUES]     prints each hit (never the value), echoes how many values were found
#                                      in FILE; VALUES (default $work/secret-values) holds one value a line
#   secret_argv_start TAG [PREFIX...]  starts sampling every process's argv (argv-sample.py), locally or
#                                      through PREFIX (`docker exec -i NAME`, `machine_ssh IP`: any command
#                                      that runs its arguments there with stdin passed on)
#   secret_argv_stop TAG [PREFIX...]   stops it: the distinct command lines in $work/argv-TAG.txt, the
#                                      number of sweeps in $work/argv-TAG.sweeps
# shellcheck disable=SC2154 # $work and $TEST_NAME belong to the test that sources this file
SECRET_LEAK_LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
declare -A SECRET_ARGV_PIDS=()

secret_leak_scan() {
  local file="$1" values="${2:-$work/secret-values}"
  # A scan that could not run echoes "error", which no count check accepts.
  python3 "$SECRET_LEAK_LIB/secret-scan.py" "$values" "$file" || echo error
}

secret_argv_start() {
  local tag="$1" remote="/tmp/mbio-argv-$1"
  shift
  "$@" sh -c "rm -f $remote.stop $remote.txt $remote.txt.sweeps" </dev/null
  "$@" python3 - "$remote.txt" "$remote.stop" "${SECRET_ARGV_MAX_SECONDS:-900}" "${SECRET_ARGV_INTERVAL:-0.002}" \
    <"$SECRET_LEAK_LIB/argv-sample.py" >/dev/null 2>"$work/argv-$tag.err" &
  SECRET_ARGV_PIDS[$tag]=$!
}

# Not in a command substitution: `wait` only waits for the shell's own children.
secret_argv_stop() {
  local tag="$1" remote="/tmp/mbio-argv-$1"
  shift
  "$@" sh -c "touch $remote.stop" </dev/null
  wait "${SECRET_ARGV_PIDS[$tag]}"
  unset "SECRET_ARGV_PIDS[$tag]"
  "$@" cat "$remote.txt" </dev/null >"$work/argv-$tag.txt"
  "$@" cat "$remote.txt.sweeps" </dev/null >"$work/argv-$tag.sweeps"
  "$@" sh -c "rm -f $remote.stop $remote.txt $remote.txt.sweeps" </dev/null
}

# Prints every secret value, one per line; multi-line values (keys) as each of their lines of 20+ chars.
secret_leak_values() {
  pulumi_local config --show-secrets --json | jq -r 'to_entries[] | select(.value.secret) | .value.value // empty' |
    awk 'length($0) >= 12 && !/^-----/'
  machine_ssh "$(machine_ip 1)" 'docker swarm join-token -q worker; docker swarm join-token -q manager'
  # Secrets the program generates (GeneratedSecret: Portainer's agent secret), when the stack has any.
  pulumi_local stack export --show-secrets |
    jq -r '.deployment.resources[] | select(.type == "pulumi-nodejs:dynamic/mbio:GeneratedSecret") | .outputs.value // empty |
      if type == "object" then .plaintext | fromjson else . end'
}

# Counts the secret values (and their hashes and encodings) found in FILE; prints the hits without the values.
secret_leak_hits() { secret_leak_scan "$1"; }

secret_leak_checks() {
  printf '\n[%s] secrets never leak: state, outputs, logs of a preview and of a failing run\n' "$TEST_NAME"
  (umask 077 && secret_leak_values >"$work/secret-values")
  local count urn good
  count="$(grep -c . "$work/secret-values")"
  check "secret values to look for: $count (config secrets, their key lines, 2 join tokens)" test "$count" -ge 6
  pulumi_local stack export >"$work/state.json"
  pulumi_local stack output --json --show-secrets >"$work/outputs.json"
  pulumi_local preview "${POLICY_PACK[@]}" --diff >"$work/preview.log" 2>&1 || true
  # A wrong pinned key for the first manager; the targeted membership reaches the Swarm through it first.
  good="$(pulumi_local config get --path 'mbio-cloud:hosts[0].hostKey')"
  pulumi_local config set --path 'mbio-cloud:hosts[0].hostKey' "$(ssh-keygen -q -t ed25519 -N '' -f "$work/wrong" <<<y >/dev/null 2>&1; cut -d' ' -f1-2 "$work/wrong.pub")"
  urn="$(jq -r '.deployment.resources[] | select(.type == "pulumi-nodejs:dynamic/swarm:Node") | .urn' "$work/state.json" | grep -- '-membership$' | sed -n 2p)"
  local t=$SECONDS rc=0
  pulumi_local up "${POLICY_PACK[@]}" --yes --skip-preview --target "$urn" >"$work/failing-up.log" 2>&1 || rc=$?
  pulumi_local config set --path 'mbio-cloud:hosts[0].hostKey' "$good"
  echo "  the failing run took $((SECONDS - t))s; its error:"
  grep -m2 -o 'host key of [^)]*)[^.]*' "$work/failing-up.log" | sed 's/^/    /'
  check "a wrong pinned host key fails the run" test "$rc" != 0
  check "the error names the host and what to do" grep -q "host key of $(machine_ip 1) does not match the pinned one.*nothing was sent.*mbio-cloud:hosts\[\]\.hostKey" "$work/failing-up.log"
  local f
  for f in state.json outputs.json preview.log failing-up.log; do
    check "no secret value in $f" test "$(secret_leak_hits "$work/$f")" = 0
  done
  rm -f "$work/secret-values" "$work/wrong" "$work/wrong.pub"
}
