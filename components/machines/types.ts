// What SwarmCluster needs from a machine source, whichever it is (Hetzner servers or existing hosts).
import * as pulumi from "@pulumi/pulumi";
import type { Connection } from "../swarm-stack";

export type NodeRole = "manager" | "worker";

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
