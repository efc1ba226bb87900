// The platform's SwarmCluster, exactly as Environment builds it, on sandbox machines and nothing else (no
// platform stacks): tests/nightly/swarm-lifecycle.sh drives it through replace, token rotation and a stopped
// first manager. The Swarm-related config is validated with the platform's own schema.
import * as pulumi from "@pulumi/pulumi";
import { ValidatedConfig } from "../../../components/config/load";
import { dockerEngineSchema, hostSchema, swarmSchema } from "../../../components/config/schema";
import { SwarmCluster } from "../../../components/swarm-cluster";

const lab = new pulumi.Config("lab");
const config = {
  environment: "local",
  machineSource: "existing",
  hosts: hostSchema.array().parse(lab.requireObject("hosts")),
  managers: lab.requireNumber("managers"),
  workers: lab.requireNumber("workers"),
  sshUser: "root",
  // SSH only from here, as the local stack: the sandbox's own network.
  adminCidrs: [lab.require("adminCidr")],
  sshPublicKeys: [lab.require("sshPublicKey")],
  dockerEngine: dockerEngineSchema.parse(lab.requireObject("dockerEngine")),
  swarm: swarmSchema.parse({ overlayEncrypted: false, endpointMode: "dnsrr", publishMode: "host", joinTokenRotation: lab.getNumber("joinTokenRotation") }),
  labels: lab.getObject<Record<string, string>>("labels") ?? {},
} as unknown as ValidatedConfig;

const cluster = new SwarmCluster("local-swarm", { config, sshPrivateKey: lab.requireSecret("sshPrivateKey") });
export const nodes = cluster.nodes;
export const networkName = cluster.networkName;
