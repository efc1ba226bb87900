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
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { StorageConfig } from "./config/data";
import { remoteScript } from "./files";
import type { Connection } from "./swarm-stack";

export interface StorageNode {
  name: string;
  connection: pulumi.Input<Connection>;
}

export interface PersistentStorageArgs {
  environment: string;
  storage: StorageConfig;
  nodes: StorageNode[];
  managerConnection?: pulumi.Input<Connection>;
  hcloudToken?: pulumi.Input<string>;
  dependsOn?: pulumi.Input<pulumi.Resource>[];
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

export class PersistentStorage extends pulumi.ComponentResource {
  readonly driver: string;
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
    this.registerOutputs({ driver: this.driver });
  }
}
