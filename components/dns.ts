// EdgeDns: the environment's DNS records in Cloudflare, pointing at the edge.
//
//   production   mbiosphere.com (the apex) and *, traefik., monitoring., portainer. below it
//   others       <environment>.mbiosphere.com and *, traefik., monitoring., portainer. below that
//
// Each name gets one A record per manager public address (Traefik runs on every manager), or one for a
// Hetzner load balancer in front of them (dns.target load-balancer). dns.provider none creates nothing:
// the sandbox resolves names with curl --resolve / /etc/hosts (scripts/local.sh prints how).
import * as pulumi from "@pulumi/pulumi";
import * as cloudflare from "@pulumi/cloudflare";
import type { DnsConfig } from "./config/edge";
import { edgeHosts } from "./edge";

/** The record names of an environment: its namespace, the wildcard for services and the edge hosts. */
export function dnsRecordNames(namespace: string): { id: string; name: string }[] {
  const hosts = edgeHosts(namespace);
  return [
    { id: "namespace", name: namespace },
    { id: "wildcard", name: `*.${namespace}` },
    { id: "traefik", name: hosts.dashboard },
    { id: "monitoring", name: hosts.monitoring },
    { id: "portainer", name: hosts.portainer },
  ];
}

export interface EdgeDnsArgs {
  environment: string;
  namespace: string;
  dns: DnsConfig;
  /** Addresses the records point at, by a stable id (manager name, or `load-balancer`). */
  targets: { id: string; address: pulumi.Input<string> }[];
  cloudflareApiToken?: pulumi.Input<string>;
}

export class EdgeDns extends pulumi.ComponentResource {
  readonly records: cloudflare.DnsRecord[] = [];

  constructor(name: string, args: EdgeDnsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mbio-cloud:platform:EdgeDns", name, {}, opts);
    if (args.dns.provider === "none") {
      this.registerOutputs({ records: [] });
      return;
    }
    if (!args.cloudflareApiToken) throw new Error("dns.provider cloudflare needs the cloudflareApiToken secret");
    if (!args.dns.zoneId) throw new Error("dns.zoneId is required when dns.provider is cloudflare");
    const provider = new cloudflare.Provider(`${name}-cloudflare`, { apiToken: pulumi.secret(args.cloudflareApiToken) }, { parent: this });
    for (const { id, name: recordName } of dnsRecordNames(args.namespace)) {
      for (const target of args.targets) {
        this.records.push(
          new cloudflare.DnsRecord(
            `${name}-${id}-${target.id}`,
            {
              zoneId: args.dns.zoneId,
              name: recordName,
              type: "A",
              content: target.address,
              // Cloudflare requires automatic TTL (1) for proxied records.
              ttl: args.dns.proxied ? 1 : args.dns.ttl,
              proxied: args.dns.proxied,
              comment: `mbio-cloud ${args.environment} edge (managed by Pulumi)`,
            },
            { parent: this, provider },
          ),
        );
      }
    }
    this.registerOutputs({ records: this.records.map((r) => r.name) });
  }
}
