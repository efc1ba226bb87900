// PersistentStorage: what backs the platform's named volumes, chosen per stack by storage.driver. It fills
// the role the plan calls "StoridgeStorage"; Storidge itself was replaced (docs/storage.md: unmaintained, no
// Debian 12, installed by `curl | bash`).
//
//   hetzner-csi  every Hetzner stack (development, staging, production). Per node:
//                  plugin   Hetzner's CSI driver as a Docker managed plugin, installed from
//                           name:vX.Y.Z-swarm@sha256:<digest> and checked against that digest, the API token
//                           on stdin; delete removes it.
//                  release  on a manager, after the plugin: its delete runs first when the node leaves (scale
//                           in, destroy): it drains the node if cluster volumes are published there and waits
//                           until they are unpublished, so they re-attach on the node their task moves to
//                           before the plugin (and then the Swarm membership and the server) go.
//   hetzner-volumes  Hetzner stacks, no plugin: per stateful named volume (STATEFUL_VOLUMES) and per node its
//                tasks run on, a Hetzner volume attached to that node's server, formatted once and mounted at
//                /mnt/mbio-volumes/<stack>_<key> (storage/hetzner-volume-mount.sh over SSH); the service's named
//                volume is Docker's local driver bound onto <mount>/data, and the service is pinned to that node
//                (volumes.place, applied by SwarmStack). The volume does not follow a task to another node.
//   local        existing servers (the sandbox, on-premise): no Hetzner API to attach volumes. Nothing to
//                create; node-pinned named volumes of Docker's local driver. The machine-source seam.
//
// Args:
//   environment     environment name (resource names)
//   storage         validated `storage` config
//   nodes           the Swarm nodes (name, SSH connection); a plain array: one plugin per node
//   managerConnection  where release runs (any manager sees every node and cluster volume)
//   hcloudToken     Hetzner API token for the plugin (hetzner-csi)
//   dependsOn       resources after which the nodes are Swarm members (labels set: release finds the node
//                   by its label mbio.name)
//   location, production, statefulVolumes   hetzner-volumes: where the volumes are made, whether they are
//                   delete-protected, and which of STATEFUL_VOLUMES the enabled components use
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as hcloud from "@pulumi/hcloud";
import type { StorageConfig } from "./config/data";
import { STATEFUL_VOLUME_NAMES } from "./config/data";
import { remoteScript } from "./files";
import type { NodeRole } from "./machines/types";
import type { ComposeFile, Connection } from "./swarm-stack";

export interface StorageNode {
  name: string;
  connection: pulumi.Input<Connection>;
  /** hetzner-volumes: the node's role (where each volume goes) and its Hetzner server (what it attaches to). */
  role?: NodeRole;
  serverId?: pulumi.Input<number>;
}

export type StatefulVolumeName = (typeof STATEFUL_VOLUME_NAMES)[number];

/**
 * Where the tasks using each stateful named volume run, hence which nodes get a Hetzner volume for it
 * (hetzner-volumes): every-manager for the edge (global on managers: each manager its own ACME store),
 * first-manager for the single-task services on managers, first-ci for the GitLab runner (CI nodes only).
 */
export const STATEFUL_VOLUMES: Record<StatefulVolumeName, "every-manager" | "first-manager" | "first-ci"> = {
  edge_acme: "every-manager",
  monitoring_influxdb: "first-manager",
  monitoring_grafana: "first-manager",
  portainer_data: "first-manager",
  "gitlab-runner_state": "first-ci",
};

/** Where hetzner-volumes mounts volume `<stack>_<key>` on a node; services bind its data/ directory. */
export const HETZNER_VOLUME_ROOT = "/mnt/mbio-volumes";

/** Hetzner attaches at most 16 volumes to one server. */
export const HETZNER_VOLUMES_PER_SERVER = 16;

export interface PersistentStorageArgs {
  environment: string;
  storage: StorageConfig;
  nodes: StorageNode[];
  managerConnection?: pulumi.Input<Connection>;
  hcloudToken?: pulumi.Input<string>;
  dependsOn?: pulumi.Input<pulumi.Resource>[];
  location?: string;
  production?: boolean;
  statefulVolumes?: StatefulVolumeName[];
}

/**
 * The plugin's alias on every node. Hetzner's Swarm guide uses the fake tag `:swarm`: a plugin alias without a
 * tag gets `:latest` appended, and services name the driver by this alias.
 */
export const HETZNER_CSI_ALIAS = "hetznercloud/hcloud-csi-driver:swarm";

export interface VolumeDriver {
  /** `driver:` of a Compose top-level volume. */
  driver: string;
  /** `driver_opts:` for a volume of the given size. */
  driverOpts: (opts?: { sizeGb?: number }) => Record<string, string>;
  /** Whether volumes follow a task to another node; if not, the service must be pinned to a node. */
  shared: boolean;
}

/** How services declare named volumes for the configured driver. */
export function storageVolumeDriver(storage: StorageConfig): VolumeDriver {
  if (storage.driver === "hetzner-csi") {
    return { driver: HETZNER_CSI_ALIAS, shared: true, driverOpts: (o = {}) => ({ size: `${o.sizeGb ?? storage.hetznerCsi?.defaultSizeGb ?? 10}G` }) };
  }
  return { driver: "local", shared: false, driverOpts: () => ({}) };
}

/** The nodes (by name) that hold volume NAME, given the nodes in their planned order. */
export function volumeNodes(volume: StatefulVolumeName, nodes: { name: string; role?: NodeRole }[]): string[] {
  const managers = nodes.filter((n) => n.role === "manager").map((n) => n.name);
  const ci = nodes.filter((n) => n.role === "ci").map((n) => n.name);
  const where = STATEFUL_VOLUMES[volume];
  return where === "every-manager" ? managers : where === "first-manager" ? managers.slice(0, 1) : ci.slice(0, 1);
}

/**
 * How a stack's named volumes are placed: with hetzner-volumes each stateful volume becomes Docker's local driver
 * bound onto its Hetzner volume's mount, and each service mounting it is pinned to the node that holds it (a
 * global service on every manager needs no pin: every manager holds its own). Other drivers: unchanged.
 */
export interface VolumePlacement {
  place(stackName: string, compose: ComposeFile): ComposeFile;
}

export function volumePlacement(storage: StorageConfig, nodes: { name: string; role?: NodeRole }[]): VolumePlacement | undefined {
  if (storage.driver !== "hetzner-volumes") return undefined;
  return {
    place(stackName, compose) {
      if (!compose.volumes) return compose;
      const pins: Record<string, string[]> = {};
      const volumes = Object.fromEntries(
        Object.entries(compose.volumes).map(([key, def]) => {
          const full = `${stackName}_${key}`;
          if (!(STATEFUL_VOLUME_NAMES as readonly string[]).includes(full)) {
            throw new Error(`stack ${stackName} declares named volume ${key}, which is not one of the stateful volumes hetzner-volumes provides (${STATEFUL_VOLUME_NAMES.join(", ")}): add it to STATEFUL_VOLUMES (components/persistent-storage.ts)`);
          }
          const held = volumeNodes(full as StatefulVolumeName, nodes);
          if (held.length === 0) throw new Error(`stack ${stackName} uses volume ${key}, but no node holds it (${STATEFUL_VOLUMES[full as StatefulVolumeName]}): the stack has no such node`);
          if (STATEFUL_VOLUMES[full as StatefulVolumeName] !== "every-manager") pins[key] = [`node.labels.mbio.name == ${held[0]}`];
          // data/ below the mount point: if the volume is not mounted, the directory is missing and the task fails
          // to start instead of writing onto the node's root disk.
          return [key, { ...def, driver: "local", driver_opts: { type: "none", o: "bind", device: `${HETZNER_VOLUME_ROOT}/${full}/data` } }];
        }),
      );
      const services = Object.fromEntries(
        Object.entries(compose.services).map(([name, svc]) => {
          const used = ((svc.volumes ?? []) as ({ type?: string; source?: string } | string)[])
            .map((v) => (typeof v === "string" ? v.split(":")[0] : v.type === "volume" ? v.source : undefined))
            .flatMap((source) => (source && pins[source] ? pins[source] : []));
          if (used.length === 0) return [name, svc];
          const deploy = (svc.deploy ?? {}) as { placement?: { constraints?: string[] } };
          const constraints = [...new Set([...(deploy.placement?.constraints ?? []), ...used])];
          return [name, { ...svc, deploy: { ...deploy, placement: { ...deploy.placement, constraints } } }];
        }),
      );
      return { ...compose, volumes, services };
    },
  };
}

export class PersistentStorage extends pulumi.ComponentResource {
  readonly driver: string;
  /** hetzner-volumes: per stateful volume and node, the Hetzner volume, its attachment and its mount. */
  readonly volumes: hcloud.Volume[] = [];
  readonly attachments: hcloud.VolumeAttachment[] = [];
  readonly mounts: command.remote.Command[] = [];
  /** Per node: the plugin install and the release that runs before it is removed (hetzner-csi). */
  readonly plugins: command.remote.Command[] = [];
  readonly releases: command.remote.Command[] = [];

  constructor(name: string, args: PersistentStorageArgs, opts?: pulumi.ComponentResourceOptions) {
    // The alias keeps states written under the old component name (the local driver had no children).
    super("mbio-cloud:platform:PersistentStorage", name, {}, { ...opts, aliases: [...(opts?.aliases ?? []), { type: "mbio-cloud:platform:StoridgeStorage" }] });
    const { storage } = args;
    this.driver = storageVolumeDriver(storage).driver;

    if (storage.driver === "hetzner-csi") {
      const csi = storage.hetznerCsi;
      const pinned = csi?.pluginImage;
      if (!csi || !pinned) throw new Error("storage.driver hetzner-csi needs storage.hetznerCsi.pluginImage (validation names it)");
      if (!args.hcloudToken) throw new Error("storage.driver hetzner-csi needs the Hetzner API token for its plugin (hcloud:token or HCLOUD_TOKEN)");
      if (!args.managerConnection) throw new Error("storage.driver hetzner-csi needs a manager connection (release on scale in)");
      const token = pulumi.secret(args.hcloudToken);
      const plugin = (action: "install" | "remove") => remoteScript("storage/hetzner-csi-plugin.sh", { ACTION: action, ALIAS: HETZNER_CSI_ALIAS, ...(action === "install" ? { PLUGIN: pinned } : {}) });
      for (const node of args.nodes) {
        const installed = new command.remote.Command(
          `${name}-${node.name}-csi-plugin`,
          // A new digest or a rotated token runs the script again (update, not replace: a replacement's delete
          // would remove the plugin just installed); it decides what to change. Delete removes.
          { connection: node.connection, create: plugin("install"), update: plugin("install"), delete: plugin("remove"), stdin: token, logging: "stderr" },
          { parent: this, dependsOn: args.dependsOn ?? [] },
        );
        // Depends on the plugin, so Pulumi deletes it first: the volumes leave the node while its plugin can
        // still unmount and detach them.
        const release = new command.remote.Command(
          `${name}-${node.name}-csi-release`,
          {
            connection: args.managerConnection,
            create: "true",
            delete: remoteScript("storage/hetzner-csi-release.sh", { NODE_NAME: node.name, TIMEOUT: csi.releaseTimeoutSeconds }),
            logging: "stderr",
          },
          { parent: this, dependsOn: [installed] },
        );
        this.plugins.push(installed);
        this.releases.push(release);
      }
    }
    if (storage.driver === "hetzner-volumes") this.hetznerVolumes(name, args);
    this.registerOutputs({ driver: this.driver });
  }

  private hetznerVolumes(name: string, args: PersistentStorageArgs): void {
    const sizes = args.storage.hetznerVolumes ?? { defaultSizeGb: 10 };
    if (!args.location) throw new Error("storage.driver hetzner-volumes needs the stack's location (validation requires it with machineSource hetzner)");
    const perNode: Record<string, number> = {};
    for (const volume of args.statefulVolumes ?? []) {
      for (const nodeName of volumeNodes(volume, args.nodes)) {
        const node = args.nodes.find((n) => n.name === nodeName)!;
        if (node.serverId === undefined) throw new Error(`storage.driver hetzner-volumes: node ${nodeName} has no Hetzner server to attach ${volume} to`);
        perNode[nodeName] = (perNode[nodeName] ?? 0) + 1;
        if (perNode[nodeName] > HETZNER_VOLUMES_PER_SERVER) throw new Error(`storage.driver hetzner-volumes: more than ${HETZNER_VOLUMES_PER_SERVER} volumes on ${nodeName} (Hetzner's limit per server)`);
        // Hetzner names: letters, digits and hyphens read best in its console; the Docker name keeps its underscore.
        const id = `${nodeName}-${volume.replace(/_/g, "-")}`;
        const hv = new hcloud.Volume(
          `${name}-${id}`,
          {
            name: id,
            size: sizes.sizesGb?.[volume] ?? sizes.defaultSizeGb,
            location: args.location,
            labels: { environment: args.environment, "managed-by": "pulumi", volume, node: nodeName },
            // As the network: production's data cannot go by a mistaken destroy.
            deleteProtection: args.production ?? false,
          },
          { parent: this },
        );
        const attachment = new hcloud.VolumeAttachment(`${name}-${id}-attachment`, { volumeId: hv.id.apply(Number), serverId: node.serverId, automount: false }, { parent: this });
        const script = (action: "mount" | "unmount") => remoteScript("storage/hetzner-volume-mount.sh", { ACTION: action, VOLUME_ID: hv.id, MOUNT_DIR: `${HETZNER_VOLUME_ROOT}/${volume}` });
        // Formats only a volume without a filesystem and mounts it (idempotent: run again by update); delete
        // unmounts before the attachment goes (it depends on the attachment, so Pulumi deletes it first).
        const mount = new command.remote.Command(
          `${name}-${id}-mount`,
          { connection: node.connection, create: script("mount"), update: script("mount"), delete: script("unmount"), logging: "stderr" },
          { parent: this, dependsOn: [attachment, ...(args.dependsOn ?? [])] },
        );
        this.volumes.push(hv);
        this.attachments.push(attachment);
        this.mounts.push(mount);
      }
    }
  }
}
