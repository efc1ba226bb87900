// The platform's Swarm components on one lab machine: membership, network and a stack, as SwarmCluster and
// the platform stacks use them. tests/real/swarm-drift.sh drives it; nothing here is a platform service.
import * as pulumi from "@pulumi/pulumi";
import { SwarmNetwork } from "../../../components/dynamic-providers/network";
import { SwarmNode } from "../../../components/dynamic-providers/node";
import { managerConnections, SwarmStack } from "../../../components/swarm-stack";
import { swarmObject } from "../../../components/swarm-objects";

const cfg = new pulumi.Config("lab");
const connection = { host: cfg.require("host"), port: cfg.requireNumber("port"), user: "root", privateKey: cfg.requireSecret("sshPrivateKey"), hostKey: cfg.require("hostKey") };
// The Docker provider's managers, in order: lab:downManagerPort is a port of the lab machine where nothing
// listens, listed first as "manager-1 stopped": every Docker operation goes through the failover.
const downPort = cfg.getNumber("downManagerPort");
const dockerManagers = [...(downPort ? [{ ...connection, port: downPort }] : []), connection];
const connections = pulumi.secret(managerConnections([connection]));
const network = new SwarmNetwork("lab-network", { connections, name: "lab-platform", encrypted: false, mtu: "" });
new SwarmNode("lab-m1-membership", { connections, nodeId: cfg.require("nodeId"), role: "manager", labels: { "mbio.environment": "lab", "mbio.role": "manager", "mbio.name": "m1" }, removeOnDelete: false });
const image = cfg.require("image");
// A Swarm config and a secret through the Docker provider (components/swarm-objects.ts), mounted by the service.
const objects = new pulumi.ComponentResource("lab:index:Objects", "lab-objects");
const note = swarmObject(objects, "lab-note", { connection: dockerManagers, kind: "config", prefix: "lab-note", content: cfg.require("note"), label: "mbio.component=lab", environment: "lab" });
const token = swarmObject(objects, "lab-token", { connection: dockerManagers, kind: "secret", prefix: "lab-token", content: cfg.requireSecret("token"), label: "mbio.component=lab", environment: "lab" });
const stack = new SwarmStack(
  "lab-web",
  {
    connection: [connection],
    stackName: "lab",
    endpointMode: "dnsrr",
    convergeTimeoutSeconds: 120,
    compose: {
      version: "3.9",
      services: {
        worker: {
          image,
          command: ["sleep", "infinity"],
          configs: [{ source: "motd", target: "/etc/motd-lab" }, { source: "note", target: "/etc/lab-note" }],
          secrets: [{ source: "token", target: "lab-token" }],
          networks: ["platform"],
          deploy: { replicas: 2, update_config: { order: "start-first", failure_action: "rollback", monitor: "5s" }, restart_policy: { condition: "any" }, labels: { "mbio.component": "lab" } },
        },
      },
      configs: { motd: { name: "lab-motd-1", external: true }, note: { name: note.name, external: true } },
      secrets: { token: { name: token.name, external: true } },
      networks: { platform: { external: true, name: "lab-platform" } },
    },
  },
  { dependsOn: [network, note.resource, token.resource] },
);
export const digest = stack.digest;
export const noteName = note.name;
export const tokenName = token.name;
