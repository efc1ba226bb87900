// The host firewall of a node (components/files/cloud-init/firewall.sh, nftables), the layer behind the
// Hetzner firewall, which filters only the public interface. This module says what each node admits, from
// the stack config; SwarmCluster runs firewall.sh on every machine after harden.sh.
import type { PlatformConfig } from "./config/schema";
import type { NodeRole } from "./machines/types";

/**
 * The environment of firewall.sh for a node: SSH from the admin CIDRs only; the Swarm ports from the
 * private network (2377/tcp on managers only); 80/443 on the edge (Traefik runs on managers);
 * `extraPrivatePorts` for a storage driver's own ports ("port/tcp" or "port/udp").
 */
export function hostFirewallEnv(cfg: Pick<PlatformConfig, "adminCidrs">, role: NodeRole, privateCidrs: string | string[], extraPrivatePorts: string[] = []): Record<string, string> {
  return {
    PRIVATE_CIDR: (Array.isArray(privateCidrs) ? privateCidrs : [privateCidrs]).join(" "),
    ADMIN_CIDRS: cfg.adminCidrs.join(" "),
    MANAGER: String(role === "manager"),
    EDGE: String(role === "manager"),
    PRIVATE_PORTS: extraPrivatePorts.join(" "),
  };
}

/**
 * Where the Swarm ports may be reached from: the Hetzner private network, or, for existing hosts, exactly
 * the hosts of the stack file (each a /32), so no other machine on a shared LAN reaches the Swarm.
 */
export function privateSources(cfg: Pick<PlatformConfig, "machineSource" | "privateNetwork" | "hosts">): string[] {
  if (cfg.machineSource === "hetzner") return [cfg.privateNetwork!.cidr];
  return (cfg.hosts ?? []).map((h) => `${h.privateAddress}/32`);
}
