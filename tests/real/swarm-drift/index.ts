// The platform's Swarm components on one lab machine: membership, network and a stack, as SwarmCluster and
// the platform stacks use them. tests/real/swarm-drift.sh drives it; nothing here is a platform service.
import * as pulumi from "@pulumi/pulumi";
import { SwarmNetwork } from "../../../components/dynamic-providers/network";
import { SwarmNode } from "../../../components/dynamic-providers/node";
import { managerConnections, SwarmStack } from "../../../components/swarm-stack";

const cfg = new pulumi.Config("lab");
const connection = { host: cfg.require("host"), port: cfg.requireNumber("port"), user: "root", privateKey: cfg.requireSecret("sshPrivateKey") };
const connections = pulumi.secret(managerConnections([connection]));
const network = new SwarmNetwork("lab-network", { connections, name: "lab-platform", encrypted: false, mtu: "" });
new SwarmNode("lab-m1-membership", { connections, nodeId: cfg.require("nodeId"), role: "manager", labels: { "mbio.environment": "lab", "mbio.role": "manager", "mbio.name": "m1" }, removeOnDelete: false });
const image = cfg.require("image");
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
          configs: [{ source: "motd", target: "/etc/motd-lab" }],
          networks: ["platform"],
          deploy: { replicas: 2, update_config: { order: "start-first", failure_action: "rollback", monitor: "5s" }, restart_policy: { condition: "any" }, labels: { "mbio.component": "lab" } },
        },
      },
      configs: { motd: { name: "lab-motd-1", external: true } },
      networks: { platform: { external: true, name: "lab-platform" } },
    },
  },
  { dependsOn: [network] },
);
export const digest = stack.digest;
