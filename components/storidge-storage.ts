// StoridgeStorage: what backs the platform's named volumes, chosen per stack by storage.driver.
//
//   local        nothing to create: node-pinned named volumes of Docker's local driver (the development
//                default; services that need one are pinned to a node by label)
//   storidge     per storage node: 3 raw Hetzner volumes (attached, never formatted or mounted) ─► Storidge
//                installed at the pinned version ─► cluster: create on the first node, join on the others,
//                init ─► volume profiles from config. Volume driver `cio`.
//   hetzner-csi  per node: Hetzner's CSI driver as a Docker managed plugin; services use Swarm cluster
//                volumes of that driver (one writer, follows the task within the location).
//
// Args:
//   environment     environment name (resource names, labels)
//   storage         validated `storage` config
//   nodes           the storage nodes: name, private IP, SSH connection and (Hetzner) server id. A plain
//                   array: the number of volumes must be known when the program runs.
//   location        Hetzner location of the volumes (storidge)
//   hcloudToken     Hetzner API token for the CSI plugin (hetzner-csi)
//   dependsOn       resources after which the nodes are ready (the Swarm)
//
// Storidge is unmaintained upstream (last release ≈2021, older Ubuntu only): see docs/storage.md.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as hcloud from "@pulumi/hcloud";
import type { StorageConfig } from "./config/data";
import { remoteScript } from "./files";
import type { Connection } from "./swarm-stack";

export interface StorageNode {
  name: string;
  privateIp: pulumi.Input<string>;
  connection: pulumi.Input<Connection>;
  /** Hetzner server id; required for storidge (the volumes attach to it). */
  serverId?: pulumi.Input<number>;
}

export interface StoridgeStorageArgs {
  environment: string;
  storage: StorageConfig;
  nodes: StorageNode[];
  location?: string;
  hcloudToken?: pulumi.Input<string>;
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** Where Storidge's installer for a pinned release lives. */
export const storidgeInstallUrl = (version: string) => `https://download.storidge.com/pub/ce/cio-ce-${version}`;
export const HETZNER_CSI_ALIAS = "hetznercloud/hcloud-csi-driver";

export interface VolumeDriver {
  /** `driver:` of a Compose top-level volume. */
  driver: string;
  /** `driver_opts:` for a volume with the given profile (storidge) or size. */
  driverOpts: (opts?: { profile?: string; sizeGb?: number }) => Record<string, string>;
  /** Whether volumes follow a task to another node; if not, the service must be pinned to a node. */
  shared: boolean;
}

/** How later services declare named volumes for the configured driver. */
export function storageVolumeDriver(storage: StorageConfig): VolumeDriver {
  switch (storage.driver) {
    case "storidge":
      return { driver: "cio", shared: true, driverOpts: (o = {}) => ({ ...(o.profile ? { profile: o.profile } : {}), ...(o.sizeGb ? { capacity: String(o.sizeGb) } : {}) }) };
    case "hetzner-csi":
      return { driver: HETZNER_CSI_ALIAS, shared: true, driverOpts: (o = {}) => ({ size: `${o.sizeGb ?? storage.hetznerCsi?.defaultSizeGb ?? 10}G` }) };
    default:
      return { driver: "local", shared: false, driverOpts: () => ({}) };
  }
}

/** A Storidge profile as the YAML `cio profile add` reads. */
export function storidgeProfileYaml(name: string, p: { capacityGb: number; replicas: number; type: string }): string {
  return [`---`, `capacity: ${p.capacityGb}`, `directory: /cio/${name}`, `iops:`, `  min: 1000`, `  max: 5000`, `level: ${p.replicas}`, `local: no`, `provision: thin`, `type: ${p.type}`, `service:`, `  compression: no`, `  dedupe: no`, `  encryption:`, `    enabled: no`, `  replication:`, `    enabled: no`, `  snapshot:`, `    enabled: no`, ``].join("\n");
}

export const STORIDGE_DEVICES_PER_NODE = 3;

export class StoridgeStorage extends pulumi.ComponentResource {
  readonly driver: string;
  /** Hetzner volume ids per node (storidge only). */
  readonly volumeIds: Record<string, pulumi.Output<string>[]> = {};

  constructor(name: string, args: StoridgeStorageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mbio-cloud:platform:StoridgeStorage", name, {}, opts);
    const { storage, environment } = args;
    this.driver = storageVolumeDriver(storage).driver;
    const run = (id: string, node: StorageNode, script: string, env: Record<string, pulumi.Input<string>>, dependsOn: pulumi.Input<pulumi.Resource>[], extra: Partial<command.remote.CommandArgs> = {}) =>
      new command.remote.Command(`${name}-${id}`, { connection: node.connection, create: remoteScript(script, env), logging: "stderr", ...extra }, { parent: this, dependsOn });

    if (storage.driver === "storidge") {
      const s = storage.storidge!;
      if (args.nodes.length !== 1 && args.nodes.length < 3) throw new Error(`storage.driver storidge needs 1 or at least 3 storage nodes; got ${args.nodes.length}`);
      if (!args.location) throw new Error("storage.driver storidge needs the Hetzner location of its volumes");
      const installs: command.remote.Command[] = [];
      for (const node of args.nodes) {
        if (node.serverId === undefined) throw new Error(`storage.driver storidge needs Hetzner servers: node ${node.name} has no server id`);
        const attachments: hcloud.VolumeAttachment[] = [];
        const devices: pulumi.Output<string>[] = [];
        this.volumeIds[node.name] = [];
        for (let i = 1; i <= s.volumesPerNode; i++) {
          // No format, no automount: Storidge takes whole raw devices.
          const volume = new hcloud.Volume(
            `${name}-${node.name}-disk-${i}`,
            { name: `${environment}-${node.name}-cio-${i}`, size: s.volumeSizeGb, location: args.location, automount: false, deleteProtection: environment === "production", labels: { environment, role: "storidge", node: node.name } },
            { parent: this, protect: environment === "production" },
          );
          attachments.push(new hcloud.VolumeAttachment(`${name}-${node.name}-attach-${i}`, { volumeId: volume.id.apply(Number), serverId: node.serverId, automount: false }, { parent: this }));
          devices.push(volume.linuxDevice);
          this.volumeIds[node.name].push(volume.id);
        }
        installs.push(
          run(`${node.name}-install`, node, "storage/storidge-install.sh", { STORIDGE_VERSION: s.version, STORIDGE_INSTALL_URL: storidgeInstallUrl(s.version), DEVICES: pulumi.all(devices).apply((d) => d.join(" ")) }, [...attachments, ...(args.dependsOn ?? [])]),
        );
      }
      const [first, ...others] = args.nodes;
      const create = run("cluster-create", first, "storage/storidge-cluster.sh", { ACTION: "create", IP: first.privateIp }, installs, {});
      const token = pulumi.secret(create.stdout.apply((t) => t.trim()));
      const joins = others.map((node, i) => run(`${node.name}-join`, node, "storage/storidge-cluster.sh", { ACTION: "join", IP: node.privateIp, FIRST_IP: first.privateIp, TOKEN: token }, [create, installs[i + 1]]));
      const init = run("cluster-init", first, "storage/storidge-cluster.sh", { ACTION: "init", TOKEN: token }, [create, ...joins]);
      for (const [profile, p] of Object.entries(s.profiles)) {
        run(`profile-${profile}`, first, "storage/storidge-profile.sh", { PROFILE: profile }, [init], { stdin: storidgeProfileYaml(profile, p), triggers: [storidgeProfileYaml(profile, p)] });
      }
    } else if (storage.driver === "hetzner-csi") {
      const csi = storage.hetznerCsi!;
      if (!args.hcloudToken) throw new Error("storage.driver hetzner-csi needs the Hetzner API token for its plugin");
      for (const node of args.nodes) {
        run(`${node.name}-csi-plugin`, node, "storage/hetzner-csi-plugin.sh", { PLUGIN: csi.pluginImage, ALIAS: HETZNER_CSI_ALIAS }, args.dependsOn ?? [], {
          stdin: pulumi.secret(args.hcloudToken),
          delete: `docker plugin disable -f ${HETZNER_CSI_ALIAS} >/dev/null 2>&1; docker plugin rm -f ${HETZNER_CSI_ALIAS} >/dev/null 2>&1 || true`,
        });
      }
    }
    this.registerOutputs({ driver: this.driver, volumeIds: this.volumeIds });
  }
}
