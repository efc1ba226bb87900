// Hetzner Cloud machines: SSH keys, the private network, firewalls, spread placement groups and servers.
// Server names and private addresses derive from role + index (naming.ts), so scaling never renumbers.
import * as pulumi from "@pulumi/pulumi";
import * as hcloud from "@pulumi/hcloud";
import * as command from "@pulumi/command";
import { remoteScript } from "../files";
import { ValidatedConfig } from "../config/load";
import { cloudInitUserData } from "./cloud-init";
import { hostKeyUserData, SshHostKey } from "../dynamic-providers/host-keys";
import { ServerPower } from "../dynamic-providers/server-power";
import { networkZone, placementGroupIndex, plannedNodes, privateIpFor } from "./naming";
import { Machine, NodeRole, swarmRole } from "./types";

export interface HetznerMachinesArgs {
  config: ValidatedConfig;
  sshPrivateKey: pulumi.Input<string>;
  /** The Hetzner Cloud API token (a Pulumi secret): each server's power state is read and kept on with it. */
  hcloudToken?: pulumi.Input<string>;
  /** hcloud:endpoint, when the API is not Hetzner's (the emulator). */
  hcloudEndpoint?: string;
}

/** Ports of the Swarm control and data plane; only the private network may reach them. */
export const SWARM_PORTS: { protocol: "tcp" | "udp"; port: string; why: string }[] = [
  { protocol: "tcp", port: "2377", why: "Swarm cluster management" },
  { protocol: "tcp", port: "7946", why: "Swarm node gossip" },
  { protocol: "udp", port: "7946", why: "Swarm node gossip" },
  { protocol: "udp", port: "4789", why: "overlay network VXLAN" },
];

export class HetznerMachines extends pulumi.ComponentResource {
  readonly machines: Machine[];
  readonly networkId: pulumi.Output<string>;

  constructor(name: string, args: HetznerMachinesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mbio-cloud:platform:HetznerMachines", name, {}, opts);
    const cfg = args.config;
    const env = cfg.environment;
    const location = cfg.location!;
    const privateNetwork = cfg.privateNetwork!;
    const serverTypes = cfg.serverTypes!;
    const production = env === "production";
    if (args.hcloudToken === undefined) throw new Error(`machineSource hetzner needs the Hetzner Cloud API token: pulumi config set --secret hcloud:token --stack ${env} (or export HCLOUD_TOKEN)`);
    const hcloudToken = args.hcloudToken;
    const labels = (role?: NodeRole): Record<string, string> => ({ ...cfg.labels, environment: env, "managed-by": "pulumi", ...(role ? { role } : {}) });

    const keys = cfg.sshPublicKeys.map((publicKey, i) => new hcloud.SshKey(`${name}-ssh-key-${i + 1}`, { name: `${env}-key-${i + 1}`, publicKey, labels: labels() }, { parent: this }));

    const network = new hcloud.Network(`${name}-network`, { name: env, ipRange: privateNetwork.cidr, labels: labels(), deleteProtection: production }, { parent: this });
    const subnet = new hcloud.NetworkSubnet(`${name}-subnet`, { networkId: network.id.apply(Number), type: "cloud", networkZone: networkZone(location), ipRange: privateNetwork.subnet }, { parent: this });
    this.networkId = network.id;

    // Inbound is denied unless a rule allows it. Hetzner firewalls filter the public interface only;
    // the Swarm ports are listed from the private range so a server without a private route stays closed.
    const everyone = ["0.0.0.0/0", "::/0"];
    // Firewalls are attached by id when each server is created (firewallIds), so no server is ever up
    // without them; a label selector would attach them only after the server exists (a race).
    const baseFirewall = new hcloud.Firewall(
      `${name}-firewall-base`,
      {
        name: `${env}-base`,
        labels: labels(),
        rules: [
          { direction: "in", protocol: "tcp", port: "22", sourceIps: cfg.adminCidrs, description: "SSH from admin networks" },
          { direction: "in", protocol: "icmp", sourceIps: everyone, description: "ICMP (path MTU discovery, ping)" },
          ...SWARM_PORTS.map((p) => ({ direction: "in", protocol: p.protocol, port: p.port, sourceIps: [privateNetwork.cidr], description: p.why })),
        ],
      },
      { parent: this },
    );
    // The edge (Traefik) runs on managers: only they take web traffic.
    const edgeFirewall = new hcloud.Firewall(
      `${name}-firewall-edge`,
      {
        name: `${env}-edge`,
        labels: labels(),
        rules: [
          { direction: "in", protocol: "tcp", port: "80", sourceIps: everyone, description: "HTTP (redirects to HTTPS, ACME)" },
          { direction: "in", protocol: "tcp", port: "443", sourceIps: everyone, description: "HTTPS" },
        ],
      },
      { parent: this },
    );

    const groups = new Map<string, hcloud.PlacementGroup>();
    const placementGroup = (role: NodeRole, index: number) => {
      const key = `${role}-${placementGroupIndex(index)}`;
      let group = groups.get(key);
      if (!group) {
        group = new hcloud.PlacementGroup(`${name}-placement-${key}`, { name: `${env}-${key}`, type: "spread", labels: labels(role) }, { parent: this });
        groups.set(key, group);
      }
      return group;
    };

    const userData = cloudInitUserData();
    // Servers form a chain (managers first, then workers): a change that powers servers off (a server type
    // resize) reaches one server at a time, and the next waits until the previous node is healthy again
    // (node-healthy.sh: engine up, back in the Swarm, every manager reachable), so quorum holds throughout.
    let previousHealthy: pulumi.Resource | undefined;
    this.machines = plannedNodes(env, cfg.managers, cfg.workers, cfg.ciNodes).map(({ name: nodeName, role, index }) => {
      const ip = privateIpFor(privateNetwork.subnet, role, index);
      // The server's host key, made before the server and written by cloud-init: the first SSH connection
      // already checks it. The user-data holds the private half, so it is a secret.
      const hostKey = new SshHostKey(`${name}-${nodeName}-host-key`, { comment: `root@${nodeName}` }, { parent: this });
      const server = new hcloud.Server(
        `${name}-${nodeName}`,
        {
          name: nodeName,
          serverType: role === "manager" ? serverTypes.manager : role === "ci" ? (serverTypes.ci ?? serverTypes.worker) : serverTypes.worker,
          image: cfg.osImage!,
          location,
          sshKeys: keys.map((k) => k.id),
          firewallIds: (role === "manager" ? [baseFirewall, edgeFirewall] : [baseFirewall]).map((f) => f.id.apply(Number)),
          placementGroupId: placementGroup(role, index).id.apply(Number),
          labels: labels(role),
          userData: pulumi.secret(pulumi.all([hostKey.publicKey, hostKey.privateKey]).apply(([publicKey, privateKey]) => userData + hostKeyUserData({ publicKey, privateKey }))),
          publicNets: [{ ipv4Enabled: true, ipv6Enabled: true }],
          networks: [{ networkId: network.id.apply(Number), ip }],
          deleteProtection: production,
          rebuildProtection: production,
        },
        // cloud-init only runs at first boot: a changed user-data must not replace running servers. SSH keys
        // only seed the first boot too; afterwards authorized_keys follows sshPublicKeys (authorized-keys.sh),
        // so a key rotation never replaces a server.
        { parent: this, dependsOn: [subnet, ...(previousHealthy ? [previousHealthy] : [])], ignoreChanges: ["userData", "sshKeys"] },
      );
      // The power state, which the hcloud provider does not own: refresh sees a server powered off by hand, up
      // powers it on (dynamic-providers/server-power.ts).
      const power = new ServerPower(`${name}-${nodeName}-power`, { serverId: server.id.apply(Number), token: hcloudToken, endpoint: args.hcloudEndpoint }, { parent: this });
      const connection = pulumi.output({ host: server.ipv4Address, port: 22, user: cfg.sshUser, privateKey: args.sshPrivateKey, hostKey: hostKey.publicKey, dialErrorLimit: 60, perDialTimeout: 10 });
      previousHealthy = new command.remote.Command(
        `${name}-${nodeName}-healthy`,
        { connection, create: remoteScript("swarm/node-healthy.sh", { ROLE: swarmRole(role) }), triggers: [server.serverType], logging: "stderr" },
        { parent: this },
      );
      return {
        name: nodeName,
        role,
        publicIp: server.ipv4Address,
        privateIp: pulumi.output(ip),
        connection,
        serverId: server.id.apply(Number),
        readyAfter: [server, power],
      };
    });
    this.registerOutputs({ networkId: this.networkId });
  }
}
