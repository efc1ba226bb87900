# shellcheck shell=bash
# Secrets that never leak (issue 11): with the local stack up, every secret value — each secret of the stack
# config (SSH private key, S3 keys, restic password, admin and monitoring passwords, …) and the live Swarm
# join tokens — is searched for in
#   the state export (pulumi stack export), every stack output (with --show-secrets: no output may carry a
#   secret, not even as a secret), the log of a `pulumi preview --diff`, and the log of a deliberately
#   failing `pulumi up`: one manager's pinned host key is made wrong, so the run also proves that a
#   mismatch is refused with a clear error naming the host.
# Needs: pulumi_local, machine_ssh, machine_ip, check (tests/real/lib/check.sh), a writable $work.
# Usage: secret_leak_checks
# shellcheck disable=SC2154 # $work and $TEST_NAME belong to the test that sources this file

# Prints every secret value, one per line; multi-line values (keys) as each of their lines of 20+ chars.
secret_leak_values() {
  pulumi_local config --show-secrets --json | jq -r 'to_entries[] | select(.value.secret) | .value.value // empty' |
    awk 'length($0) >= 12 && !/^-----/'
  machine_ssh "$(machine_ip 1)" 'docker swarm join-token -q worker; docker swarm join-token -q manager'
}

# Counts the secret values found in FILE; prints the config keys' hits without the values.
secret_leak_hits() {
  local file="$1" n=0 v
  while IFS= read -r v; do
    [ -n "$v" ] || continue
    if grep -qF -- "$v" "$file"; then n=$((n + 1)); echo "    leak in $(basename "$file"): a value of ${#v} chars starting ${v:0:4}…" >&2; fi
  done <"$work/secret-values"
  echo "$n"
}

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
