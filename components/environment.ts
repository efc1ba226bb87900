// The one composition of the platform. Every stack (development, staging, production, local) builds
// exactly this, from its validated config, so the environments cannot drift apart in shape.
import * as pulumi from "@pulumi/pulumi";
import { ValidatedConfig } from "./config/load";
import { NodeInfo } from "./machines/types";
import { SwarmCluster } from "./swarm-cluster";

export interface EnvironmentArgs {
  config: ValidatedConfig;
  secrets: {
    sshPrivateKey: pulumi.Input<string>;
  };
}

/** DNS namespace: production owns the bare domain, every other environment a sub-domain named after it. */
export function dnsNamespace(environment: string, domain: string): string {
  return environment === "production" ? domain : `${environment}.${domain}`;
}

export class Environment extends pulumi.ComponentResource {
  readonly cluster: SwarmCluster;
  readonly nodes: pulumi.Output<NodeInfo[]>;
  readonly dnsNamespace: string;

  constructor(name: string, args: EnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mbio-cloud:platform:Environment", name, {}, opts);
    const cfg = args.config;
    this.dnsNamespace = dnsNamespace(cfg.environment, cfg.domain);
    this.cluster = new SwarmCluster(`${name}-swarm`, { config: cfg, sshPrivateKey: args.secrets.sshPrivateKey }, { parent: this });
    this.nodes = this.cluster.nodes;
    this.registerOutputs({ nodes: this.nodes, dnsNamespace: this.dnsNamespace });
  }
}
