// Explicit provider instances, so every route (official installer, offline build) runs the same plugin
// version: the engine otherwise asks for the version the npm SDK names, and npm has no @pulumi/hcloud at
// the version of the upstream sources we build (docs/toolchain.md, "Versions").
import * as pulumi from "@pulumi/pulumi";
import * as hcloud from "@pulumi/hcloud";
import packageJson from "../package.json";

/** Plugin versions that differ from their npm SDK (package.json `mbio.pluginVersions`). */
export const PLUGIN_VERSIONS: Record<string, string> = packageJson.mbio.pluginVersions;

/**
 * The Hetzner Cloud provider at the pinned plugin version. Passed as `providers` to the Environment, every
 * hcloud resource below it (servers, networks, firewalls, volumes) uses it.
 */
export function hcloudProvider(name: string, token: pulumi.Input<string> | undefined, opts?: pulumi.CustomResourceOptions): hcloud.Provider {
  return new hcloud.Provider(name, { token: token ? pulumi.secret(token) : undefined }, { ...opts, version: PLUGIN_VERSIONS.hcloud });
}
