#!/usr/bin/env bash
# The real hcloud provider (Pulumi plugin 1.39.1 = terraform-provider-hcloud 1.66.1) against the Hetzner Cloud
# API emulator (tests/hcloud-emulator/, docs/sandbox.md), with the real Pulumi engine and a throwaway local
# backend. The program (tests/real/hcloud-emulator/index.ts) holds one of each resource a Hetzner environment
# is made of: SSH key, network + subnet, firewall, spread placement group, labelled server using them all.
#   - `pulumi up` creates them; the emulator holds them, related as Hetzner would (server in the network at
#     the asked address, firewall applied, placement group membership);
#   - `pulumi refresh --preview-only --expect-no-changes` and `pulumi preview --expect-no-changes` are clean;
#   - hand changes made through the API (a server label edited, a firewall rule changed) are each reported
#     by that refresh, and refresh + up put them back;
#   - the emulator restarted on its state file: still no drift;
#   - a second SSH key with the same public key fails `pulumi up` with Hetzner's uniqueness_error message;
#   - `pulumi destroy` leaves the emulator empty.
# It also runs the emulator's Go tests (every Hetzner rule it enforces, through hcloud-go's client).
# No Docker, no network: the emulator listens on loopback. Ends with "hcloud-emulator: N passed, M failed".
set -uo pipefail
# shellcheck source=scripts/lib/pulumi-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/pulumi-env.sh"
cd "$MBIO_ROOT" || exit 1
TEST_NAME=hcloud-emulator
# shellcheck source=tests/real/lib/check.sh
. "$MBIO_ROOT/tests/real/lib/check.sh"

work="$(mktemp -d)"
export PULUMI_BACKEND_URL="file://$work/state" PULUMI_CONFIG_PASSPHRASE=hcloud-emulator-lab
mkdir -p "$work/state"
# shellcheck source=tests/real/lib/emulator.sh
. "$MBIO_ROOT/tests/real/lib/emulator.sh"
finish() {
  emulator_stop
  if [ "${HCLOUD_EMULATOR_KEEP:-0}" = 1 ]; then echo "kept: $work"; else rm -rf "$work"; fi
  report
  exit
}
trap finish EXIT

# The API token in a 0600 file; curl reads the header from a file too, so it is never on a command line.
emulator_token "$work"
api() { curl -fsS -H "@$work/auth" -H 'Content-Type: application/json' "$@"; }
total() { api "$url/$1" | jq -r '.meta.pagination.total_entries'; }

ensure_node_modules
ensure_pulumi
command -v jq >/dev/null || ensure_apt_packages jq

# The emulator's own rule tests (one per Hetzner rule, through hcloud-go's client; docs/sandbox.md) run here so
# the default run (scripts/test.sh runs tests/real/*.sh) includes them. Go: the one the toolchain builds with.
go_tests() { (cd tests/hcloud-emulator && GOTOOLCHAIN=local nice -n 10 go test -count=1 .); }
check "the emulator's rule tests (go test in tests/hcloud-emulator)" to "$work/go-test.log" go_tests
must "the emulator starts (tests/hcloud-emulator/run.sh)" emulator_start "$work"
url="$EMULATOR_URL"
echo "  emulator at $url"

project="$work/project"
mkdir -p "$project"
cp tests/real/hcloud-emulator/{Pulumi.yaml,package.json,index.ts} "$project/"
ln -s "$MBIO_ROOT/node_modules" "$project/node_modules"
ssh-keygen -q -t ed25519 -N '' -C hcloud-emulator-throwaway -f "$work/id_ed25519"
lab() { (cd "$project" && pulumi --non-interactive --stack lab "$@"); }
(cd "$project" && pulumi --non-interactive stack init lab >/dev/null)
lab config set lab:endpoint "$url" >/dev/null
lab config set --secret lab:token <"$work/token" >/dev/null
lab config set lab:hcloudVersion "$(jq -r '.mbio.pluginVersions.hcloud' package.json)" >/dev/null
lab config set lab:publicKey "$(cat "$work/id_ed25519.pub")" >/dev/null

must "pulumi up: SSH key, network + subnet, firewall, placement group, server" to "$work/up.log" lab up --yes --skip-preview

server="$(api "$url/servers?label_selector=role==manager" | jq -c '.servers[0]')"
sid="$(jq -r '.id' <<<"$server")"
fid="$(lab stack output firewallId)"
check "the server is in the network at 10.0.1.5" test "$(jq -r '.private_net[0].ip' <<<"$server")" = 10.0.1.5
check "the firewall is applied to the server" test "$(jq -r '.public_net.firewalls[0].id' <<<"$server")" = "$fid"
check "the server is in the spread placement group" test "$(api "$url/placement_groups" | jq -r --argjson s "$sid" '.placement_groups[0].servers == [$s]')" = true
check "the server's label, type and image (manager, cx22, debian-12)" test "$(jq -r '"\(.labels.role) \(.server_type.name) \(.image.name)"' <<<"$server")" = "manager cx22 debian-12"
check "the emulator kept the user-data the provider sent" test "$(jq -r '.servers[0].emulator_user_data' "$work/hcloud.json")" = "$(printf '#cloud-config\npackage_update: false')"
check "no drift right after up (refresh --preview-only --expect-no-changes)" to "$work/r0.log" lab refresh --preview-only --expect-no-changes
check "no diff right after up (preview --expect-no-changes)" to "$work/p0.log" lab preview --expect-no-changes

# A hand change must fail the drift check, and the failure must be the drift (not some other error).
drift_reported() { # log
  if lab refresh --preview-only --expect-no-changes >"$work/$1" 2>&1; then return 1; fi
  grep -q 'no changes were expected.* but changes were proposed' "$work/$1" || { tail -15 "$work/$1" | sed 's/^/    | /'; return 1; }
}
put_back() { to "$work/$1-refresh.log" lab refresh --yes --skip-preview && to "$work/$1-up.log" lab up --yes --skip-preview; }

api -X PUT "$url/servers/$sid" -d '{"labels":{"env":"lab","role":"worker"}}' >/dev/null
check "a server label edited through the API is reported by refresh" drift_reported label.log
check "refresh + up put the label back" put_back label
check "…the server is a manager again" test "$(api "$url/servers/$sid" | jq -r '.server.labels.role')" = manager

api -X POST "$url/firewalls/$fid/actions/set_rules" \
  -d '{"rules":[{"direction":"in","protocol":"tcp","port":"2222","source_ips":["0.0.0.0/0"]}]}' >/dev/null
check "a firewall rule changed through the API is reported by refresh" drift_reported rules.log
check "refresh + up put the rules back" put_back rules
check "…SSH only from the admin range again" test "$(api "$url/firewalls/$fid" | jq -c '[.firewall.rules[] | select(.protocol == "tcp") | .port, .source_ips[0]]')" = '["22","192.0.2.0/24"]'

must "the emulator restarts on its state file" emulator_restart "$work"
check "no drift after the restart" to "$work/r1.log" lab refresh --preview-only --expect-no-changes

lab config set lab:duplicateKey true >/dev/null
if lab up --yes --skip-preview >"$work/dup.log" 2>&1; then
  fail "a second SSH key with the same public key was accepted"
else
  check "a duplicate SSH key fails pulumi up with Hetzner's uniqueness_error" \
    grep -q 'SSH key with the same fingerprint already exists (uniqueness_error' "$work/dup.log"
fi
lab config rm lab:duplicateKey >/dev/null
check "…and nothing was left half-created (preview --expect-no-changes)" to "$work/p1.log" lab preview --expect-no-changes

must "pulumi destroy" to "$work/destroy.log" lab destroy --yes --skip-preview
empty=1
for c in servers ssh_keys networks firewalls placement_groups volumes; do
  n="$(total "$c")"
  [ "$n" = 0 ] || { echo "  the emulator still holds $n $c"; empty=0; }
done
check "the emulator holds no resource after destroy" test "$empty" = 1
