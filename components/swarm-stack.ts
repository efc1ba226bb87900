// Deploys a Compose-format stack onto the Swarm with `docker stack deploy` on a manager, over SSH.
// Every platform service goes through this one resource so the same code deploys onto Hetzner, on-premise
// hosts and the local sandbox. The deploy is a Swarm provider resource (dynamic-providers/stack.ts) whose read
// asks the live Swarm, so `pulumi refresh` names each service field that drifted.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { createHash } from "crypto";
import { ManagerConnection } from "./dynamic-providers/ssh";
import { SwarmStackDeployment } from "./dynamic-providers/stack";
import { canonicalJson } from "./dynamic-providers/text";

export type Connection = command.types.input.remote.ConnectionArgs;

/** A Compose v3 document; only what the platform uses is typed, the rest passes through. */
export interface ComposeFile {
  version: "3.9";
  services: Record<string, Record<string, unknown>>;
  networks?: Record<string, Record<string, unknown>>;
  volumes?: Record<string, Record<string, unknown>>;
  configs?: Record<string, Record<string, unknown>>;
  secrets?: Record<string, Record<string, unknown>>;
}

/** SSH connection to a manager, or to every manager (tried in order: any reachable manager acts). */
export type ManagerConnections = pulumi.Input<Connection> | pulumi.Input<pulumi.Input<Connection>[]>;

/** The first of `ManagerConnections`: for steps that run on one manager (remote commands). */
export function firstManager(c: ManagerConnections): pulumi.Output<Connection> {
  return pulumi.output(c as pulumi.Input<Connection | Connection[]>).apply((v) => (Array.isArray(v) ? v[0] : v));
}

export interface SwarmStackArgs {
  /** SSH connection to a manager, or to every manager (tried in order: any reachable manager deploys). */
  connection: ManagerConnections;
  /** Stack name on the Swarm, e.g. `backup`; prefixed with nothing: one environment per Swarm. */
  stackName: string;
  /** The Compose document; may contain secret outputs (they stay secret in state). */
  compose: pulumi.Input<ComposeFile>;
  /** Seconds to wait for every service to converge (replicas running, healthchecks passing). */
  convergeTimeoutSeconds?: number;
  /** The stack's `swarm.endpointMode`, applied to every service that does not set its own. */
  endpointMode?: "vip" | "dnsrr";
  /** Where the stack's named volumes live (storage.driver hetzner-volumes: bound onto Hetzner volumes, services pinned). */
  volumes?: { place(stackName: string, compose: ComposeFile): ComposeFile };
}

/** Gives every service the cluster's endpoint mode (dnsrr where the kernel has no IPVS) unless it set one. */
export function withEndpointMode(compose: ComposeFile, mode: "vip" | "dnsrr" | undefined): ComposeFile {
  if (!mode) return compose;
  const services = Object.fromEntries(
    Object.entries(compose.services).map(([name, svc]) => {
      const deploy = (svc.deploy ?? {}) as Record<string, unknown>;
      return [name, { ...svc, deploy: { endpoint_mode: mode, ...deploy } }];
    }),
  );
  return { ...compose, services };
}

/** The fields the Swarm provider needs from command's connection type (it speaks SSH itself, with ssh2). */
export function managerConnections(connection: SwarmStackArgs["connection"]): pulumi.Output<ManagerConnection[]> {
  return pulumi.output(connection as pulumi.Input<Connection | Connection[]>).apply((c) =>
    (Array.isArray(c) ? c : [c]).map((m) => ({
      host: String(m.host),
      port: Number(m.port ?? 22),
      user: String(m.user ?? "root"),
      privateKey: m.privateKey === undefined ? undefined : String(m.privateKey),
      hostKey: m.hostKey === undefined ? undefined : String(m.hostKey),
      perDialTimeout: Number(m.perDialTimeout ?? 15),
    })),
  );
}

export class SwarmStack extends pulumi.ComponentResource {
  /** Hash of the deployed document: changes exactly when the stack is redeployed. */
  readonly digest: pulumi.Output<string>;

  constructor(name: string, args: SwarmStackArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mbio-cloud:platform:SwarmStack", name, {}, opts);
    const placed = (c: ComposeFile) => (args.volumes ? args.volumes.place(args.stackName, c) : c);
    const document = pulumi.output(args.compose).apply((c) => canonicalJson(withEndpointMode(placed(c as ComposeFile), args.endpointMode)));
    this.digest = document.apply((d) => createHash("sha256").update(d).digest("hex").slice(0, 16));
    const timeout = args.convergeTimeoutSeconds ?? 300;
    // The compose document travels on stdin (JSON is YAML), so secrets in it never appear in a command line.
    const deploy = new SwarmStackDeployment(
      `${name}-deploy`,
      { connections: managerConnections(args.connection), stackName: args.stackName, document, digest: this.digest, timeout },
      { parent: this, deleteBeforeReplace: true },
    );
    this.registerOutputs({ digest: this.digest, services: deploy.services });
  }
}
