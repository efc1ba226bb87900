// A stack shaped like one deployed before the Swarm provider: remote commands named as the old Swarm steps
// were, each with a delete that leaves a marker file on the machine instead of draining, removing or leaving.
// Phase "old" has them all; phase "new" keeps only what the current program keeps as a remote command (the
// join, now without a delete, and an unrelated `-cluster-init` the migration must not touch).
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";

const cfg = new pulumi.Config("lab");
const connection = { host: cfg.require("host"), port: 22, user: "root", privateKey: cfg.requireSecret("sshPrivateKey") };
const marker = (what: string) => `mkdir -p /tmp/migrate-lab && touch /tmp/migrate-lab/deleted-${what}`;
const step = (name: string, del?: string) => new command.remote.Command(name, { connection, create: `echo ${name}`, delete: del });

if (cfg.require("phase") === "old") {
  for (const [name, what] of [
    ["lab-swarm-init", "init"],
    ["lab-swarm-m1-membership", "membership"],
    ["lab-swarm-network", "network"],
    ["lab-web-deploy", "deploy"],
  ]) {
    step(name, marker(what));
  }
  step("lab-swarm-m1-join", marker("join"));
} else {
  step("lab-swarm-m1-join");
}
step("lab-storage-cluster-init", marker("storage"));
