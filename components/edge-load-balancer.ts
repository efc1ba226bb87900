// EdgeLoadBalancer (dns.target load-balancer): a Hetzner load balancer passing TCP 80/443 to the managers
// (label selector, so scaling the managers needs no change here). TLS stays on Traefik; health checks are
// TCP on the same ports. Only for machineSource hetzner (validated).
import * as pulumi from "@pulumi/pulumi";
import * as hcloud from "@pulumi/hcloud";

export interface EdgeLoadBalancerArgs {
  environment: string;
  location: string;
  /** Hetzner load balancer type; lb11 handles 25 targets and 10 000 connections. */
  type?: string;
}

export class EdgeLoadBalancer extends pulumi.ComponentResource {
  readonly ipv4: pulumi.Output<string>;

  constructor(name: string, args: EdgeLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mbio-cloud:platform:EdgeLoadBalancer", name, {}, opts);
    const lb = new hcloud.LoadBalancer(
      `${name}-lb`,
      { name: `${args.environment}-edge`, loadBalancerType: args.type ?? "lb11", location: args.location, labels: { environment: args.environment, "managed-by": "pulumi", role: "edge" } },
      { parent: this },
    );
    const lbId = lb.id.apply(Number);
    new hcloud.LoadBalancerTarget(`${name}-managers`, { loadBalancerId: lbId, type: "label_selector", labelSelector: `environment=${args.environment},managed-by=pulumi,role=manager` }, { parent: this });
    for (const port of [80, 443]) {
      new hcloud.LoadBalancerService(
        `${name}-tcp-${port}`,
        { loadBalancerId: lb.id, protocol: "tcp", listenPort: port, destinationPort: port, healthCheck: { protocol: "tcp", port, interval: 10, timeout: 5, retries: 3 } },
        { parent: this },
      );
    }
    this.ipv4 = lb.ipv4;
    this.registerOutputs({ ipv4: this.ipv4 });
  }
}
