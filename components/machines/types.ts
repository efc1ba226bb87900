// What SwarmCluster needs from a machine source, whichever it is (Hetzner servers or existing hosts).
import * as pulumi from "@pulumi/pulumi";
import type { Connection } from "../swarm-stack";

/**
 * manager and worker run the platform; ci nodes run CI jobs and nothing of the platform (no service, global
 * ones included, no storage plugin), so a job there finds no platform secret (docs/security.md).
 */
export type NodeRole = "manager" | "worker" | "ci";

/** The Swarm role of a node: a CI node is a Swarm worker, told apart by its label mbio.role=ci. */
export function swarmRole(role: NodeRole): "manager" | "worker" {
  return role === "manager" ? "manager" : "worker";
}

export interface Machine {
  /** Stable node name; also the Swarm node label mbio.name. */
  name: string;
  role: NodeRole;
  publicIp: pulumi.Output<string>;
  /** The address the Swarm advertises and joins on (private network). */
  privateIp: pulumi.Output<string>;
  /** How Pulumi reaches the machine over SSH. */
  connection: pulumi.Output<Connection>;
  /** Hetzner server id (volumes attach to it); absent for existing hosts. */
  serverId?: pulumi.Output<number>;
  /** Resources that must exist before the machine can be bootstrapped (the server, its network). */
  readyAfter: pulumi.Resource[];
}

export interface NodeInfo {
  name: string;
  role: NodeRole;
  publicIp: string;
  privateIp: string;
}
