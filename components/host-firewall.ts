// The host firewall of a node (components/files/cloud-init/firewall.sh, nftables), the layer behind the
// Hetzner firewall, which filters only the public interface. This module says what each node admits, from
// the stack config, so SwarmCluster runs firewall.sh with one call per machine after harden.sh:
//   run(`${m.name}-firewall`, m.connection, "cloud-init/firewall.sh", hostFirewallEnv(cfg, m.role, privateCidr), {}, [harden])
import type { PlatformConfig } from "./config/schema";
import type { NodeRole } from "./machines/types";

/**
 * The environment of firewall.sh for a node: SSH from the admin CIDRs only; the Swarm ports from the
 * private network (2377/tcp on managers only); 80/443 on the edge (Traefik runs on managers);
 * `extraPrivatePorts` for a storage driver's own ports ("port/tcp" or "port/udp").
 */
export function hostFirewallEnv(cfg: Pick<PlatformConfig, "adminCidrs">, role: NodeRole, privateCidr: string, extraPrivatePorts: string[] = []): Record<string, string> {
  return {
    PRIVATE_CIDR: privateCidr,
    ADMIN_CIDRS: cfg.adminCidrs.join(" "),
    MANAGER: String(role === "manager"),
    EDGE: String(role === "manager"),
    PRIVATE_PORTS: extraPrivatePorts.join(" "),
  };
}
