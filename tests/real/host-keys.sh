#!/usr/bin/env bash
# Pinned SSH host keys with the real clients, on a throwaway machine of the sandbox's machine image on a
# network of its own (no sandbox lock needed):
#   - the Hetzner path: a key pair from generateHostKey (components/dynamic-providers/host-keys.ts) goes in as
#     cloud-init ssh_keys (hostKeyUserData, NoCloud source); the machine then presents exactly that key
#   - command:remote (the real Pulumi engine and command plugin) connects with the right hostKey and is
#     refused ("host key mismatch") with a wrong one
#   - the Swarm provider's ssh2 client (runOnManager) connects with the right key and stops with the clear
#     error naming the host with a wrong one
#   - tools/mbio-restore stops before sending any secret when the known host key is wrong
# Ends with "host-keys: N passed, M failed". Removes what it created.
set -uo pipefail
# shellcheck source=sandbox/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../sandbox/lib.sh"
# shellcheck source=scripts/lib/pulumi-env.sh
. "$MBIO_ROOT/scripts/lib/pulumi-env.sh"
PREFIX="mbio-host-keys"
SUBNET_PREFIX="${HOST_KEYS_SUBNET_PREFIX:-172.31.249}"
IP="$SUBNET_PREFIX.11"
work="$(mktemp -d)"
TEST_NAME=host-keys
# shellcheck source=tests/real/lib/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/check.sh"
remove_machine() {
  docker rm -f -v "$PREFIX-1" >/dev/null 2>&1
  docker network rm "$PREFIX" >/dev/null 2>&1
}
cleanup() {
  remove_machine
  rm -rf "$work"
}
finish() {
  cleanup
  echo "host-keys: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}
trap cleanup EXIT
start=$SECONDS

must "toolchain (node_modules, Pulumi CLI and the command plugin)" bash -c ". '$MBIO_ROOT/scripts/lib/env.sh' && ensure_docker && ensure_node_modules"
if ! { ensure_node >/dev/null && ensure_pulumi >/dev/null; }; then failed=$((failed + 1)); finish; fi
image="$(sandbox_machine_image)"
must "the sandbox machine image exists (bash sandbox/up.sh builds it)" test -n "$image"

# The program's own modules, transpiled as they are (no copy of their logic here).
export NODE_PATH="$MBIO_ROOT/node_modules"
node -e '
  const ts = require("typescript"), fs = require("fs");
  for (const [from, to] of [["components/dynamic-providers/host-keys.ts", "host-keys.js"], ["components/dynamic-providers/ssh.ts", "ssh.js"], ["components/dynamic-providers/text.ts", "text.js"]])
    fs.writeFileSync(process.argv[2] + "/" + to, ts.transpileModule(fs.readFileSync(process.argv[1] + "/" + from, "utf8"), { compilerOptions: { module: 1, target: 9 } }).outputText);
' "$MBIO_ROOT" "$work"
node -e '
  const { generateHostKey, hostKeyUserData } = require(process.argv[1] + "/host-keys.js"), fs = require("fs");
  const pair = generateHostKey("root@host-keys-test");
  fs.writeFileSync(process.argv[1] + "/pinned.pub", pair.publicKey + "\n");
  fs.writeFileSync(process.argv[1] + "/user-data", "#cloud-config\nssh_deletekeys: false\nssh_genkeytypes: [ed25519]\n" + hostKeyUserData(pair), { mode: 0o600 });
' "$work"
ssh-keygen -q -t ed25519 -N '' -C host-keys -f "$work/key"
ssh-keygen -q -t ed25519 -N '' -C wrong -f "$work/wrong"
pinned="$(cat "$work/pinned.pub")"
wrong="$(cut -d' ' -f1-2 "$work/wrong.pub")"

remove_machine
docker network create --subnet "$SUBNET_PREFIX.0/24" "$PREFIX" >/dev/null
must "a machine of the sandbox image on a network of its own" machine_start "$PREFIX-1" "$image" --network "$PREFIX" --ip "$IP"
docker exec -i "$PREFIX-1" bash -c 'install -d -m 700 /root/.ssh && cat >/root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys' <"$work/key.pub"

# The Hetzner path: cloud-init writes the generated key (cc_ssh), as at a server's first boot.
docker exec "$PREFIX-1" mkdir -p /var/lib/cloud/seed/nocloud
docker cp -q "$work/user-data" "$PREFIX-1:/var/lib/cloud/seed/nocloud/user-data"
printf '%s\n' "instance-id: $PREFIX-$$" "local-hostname: $PREFIX-1" | docker exec -i "$PREFIX-1" tee /var/lib/cloud/seed/nocloud/meta-data >/dev/null
docker exec "$PREFIX-1" bash -c 'rm -f /etc/cloud/cloud-init.disabled; cloud-init init --local && cloud-init init' >"$work/cloud-init.log" 2>&1
docker exec "$PREFIX-1" systemctl restart ssh 2>/dev/null || docker exec "$PREFIX-1" systemctl restart sshd
presented="$(ssh-keyscan -t ed25519 "$IP" 2>/dev/null | cut -d' ' -f2-3)"
check "cloud-init installed the generated host key; the machine presents it" test "$presented" = "$pinned"
[ "$presented" = "$pinned" ] || tail -20 "$work/cloud-init.log"

# command:remote through the real engine: a one-resource program in a project of its own.
export PULUMI_BACKEND_URL="file://$work/state" PULUMI_CONFIG_PASSPHRASE=host-keys-test
mkdir -p "$work/state" "$work/proj"
ln -s "$MBIO_ROOT/node_modules" "$work/proj/node_modules"
cp "$MBIO_ROOT/tsconfig.json" "$work/proj/"
printf 'name: host-keys-test\nruntime: nodejs\n' >"$work/proj/Pulumi.yaml"
cat >"$work/proj/index.ts" <<EOF
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as fs from "fs";
const cfg = new pulumi.Config();
const probe = new command.remote.Command("probe", {
  connection: { host: "$IP", user: "root", privateKey: pulumi.secret(fs.readFileSync("$work/key", "utf8")), hostKey: cfg.require("hostKey"), dialErrorLimit: 2, perDialTimeout: 5 },
  create: cfg.require("cmd"),
});
export const out = probe.stdout;
EOF
p() { (cd "$work/proj" && pulumi --non-interactive "$@" --stack hk); }
(cd "$work/proj" && pulumi --non-interactive stack init hk >/dev/null)
p config set hostKey "$pinned"
p config set cmd "echo pinned-ok"
p up --yes --skip-preview >"$work/up-right.log" 2>&1
check "command:remote: the pinned key connects" test "$(p stack output out 2>/dev/null)" = pinned-ok
p config set hostKey "$wrong"
p config set cmd "echo must-not-run"
p up --yes --skip-preview >"$work/up-wrong.log" 2>&1
check "command:remote: a wrong key is refused (ssh: host key mismatch)" grep -q "host key mismatch" "$work/up-wrong.log"
check "command:remote: nothing ran with the wrong key" test "$(p stack output out 2>/dev/null)" = pinned-ok
p destroy --yes --skip-preview >/dev/null 2>&1
(cd "$work/proj" && pulumi --non-interactive stack rm --yes --force hk >/dev/null 2>&1)

# The Swarm provider's client: this machine is not a manager, so a reachable host answers NOT_A_MANAGER.
ssh2() { node -e '
  const { runOnManager } = require(process.argv[1] + "/ssh.js"), fs = require("fs");
  runOnManager([{ host: process.argv[2], hostKey: process.argv[3], privateKey: fs.readFileSync(process.argv[1] + "/key", "utf8"), perDialTimeout: 5 }], "true")
    .then(() => console.log("connected"), (e) => console.log(e.message));
' "$work" "$IP" "$1"; }
right_out="$(ssh2 "$pinned")"
wrong_out="$(ssh2 "$wrong")"
echo "  ssh2, wrong key: $wrong_out"
check "ssh2: the pinned key connects (the script ran: not a manager)" grep -q "reachable, not a Swarm manager" <<<"$right_out"
check "ssh2: a wrong key stops with the host, both fingerprints and what to do" grep -q "host key of $IP does not match the pinned one (expected SHA256:.*presented SHA256:.*nothing was sent.*hosts\[\]\.hostKey" <<<"$wrong_out"

printf '%s %s\n' "$IP" "$wrong" >"$work/known_hosts"
restore_out="$(MBIO_KNOWN_HOSTS="$work/known_hosts" RESTIC_REPOSITORY=s3:http://192.0.2.1/b RESTIC_PASSWORD=x AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x \
  "$MBIO_ROOT/tools/mbio-restore" --identity "$work/key" --ssh "root@$IP" snapshots 2>&1)"
echo "  mbio-restore, wrong key: $(tail -c 300 <<<"$restore_out")"
check "mbio-restore: a wrong known key stops before any secret is sent" grep -q "the host key of $IP does not match the pinned one" <<<"$restore_out"
printf '%s %s\n' "$IP" "$pinned" >"$work/known_hosts"
restore_out="$(MBIO_KNOWN_HOSTS="$work/known_hosts" RESTIC_REPOSITORY=s3:http://192.0.2.1/b RESTIC_PASSWORD=x AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x \
  "$MBIO_ROOT/tools/mbio-restore" --identity "$work/key" --ssh "root@$IP" snapshots 2>&1)"
echo "  mbio-restore, pinned key: $(tail -c 300 <<<"$restore_out")"
check "mbio-restore: the pinned key logs in (then finds no Swarm here)" grep -q "is not part of a Swarm" <<<"$restore_out"
echo "host-keys took $((SECONDS - start))s"
finish
