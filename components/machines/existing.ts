// Existing servers reached over SSH (on-premise installs, the local sandbox). Nothing is created: the
// first `managers` hosts become managers, the next `workers` hosts workers and the next `ciNodes` hosts CI
// nodes, so raising `workers` takes the next host of the list (and shifts the CI hosts: list them last).
import * as pulumi from "@pulumi/pulumi";
import { HostConfig } from "../config/schema";
import { normalizeHostKey } from "../dynamic-providers/host-keys";
import { Machine, NodeRole } from "./types";

export interface ExistingMachinesArgs {
  hosts: HostConfig[];
  managers: number;
  workers: number;
  ciNodes?: number;
  sshUser: string;
  sshPrivateKey: pulumi.Input<string>;
}

export function existingMachines(args: ExistingMachinesArgs): Machine[] {
  return args.hosts.slice(0, args.managers + args.workers + (args.ciNodes ?? 0)).map((host, i) => {
    const role: NodeRole = i < args.managers ? "manager" : i < args.managers + args.workers ? "worker" : "ci";
    return {
      name: host.name,
      role,
      publicIp: pulumi.output(host.address),
      privateIp: pulumi.output(host.privateAddress),
      connection: pulumi.output({
        host: host.address,
        port: host.port ?? 22,
        user: host.user ?? args.sshUser,
        privateKey: args.sshPrivateKey,
        hostKey: normalizeHostKey(host.hostKey),
        // Sandbox machines and fresh servers may still be starting sshd.
        dialErrorLimit: 30,
        perDialTimeout: 10,
      }),
      readyAfter: [],
    };
  });
}
