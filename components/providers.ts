// Explicit provider instances, so every route (official installer, offline build) runs the same plugin
// version: the engine otherwise asks for the version the npm SDK names, and npm has no @pulumi/hcloud at
// the version of the upstream sources we build (docs/toolchain.md, "Versions").
import * as pulumi from "@pulumi/pulumi";
import * as hcloud from "@pulumi/hcloud";
import packageJson from "../package.json";

/** Plugin versions that differ from their npm SDK (package.json `mbio.pluginVersions`). */
export const PLUGIN_VERSIONS: Record<string, string> = packageJson.mbio.pluginVersions;

/** What `hcloud:endpoint` must look like: the API's base URL, e.g. https://api.hetzner.cloud/v1. */
export const HCLOUD_ENDPOINT = /^https?:\/\/[^\s/]+(\/[^\s]*)?$/;

/**
 * The Hetzner Cloud provider at the pinned plugin version. Passed as `providers` to the Environment, every
 * hcloud resource below it (servers, networks, firewalls, volumes) uses it. `endpoint` (stack config
 * `hcloud:endpoint`) points it at another API than Hetzner's: the emulator (tests/real/hetzner-apply.sh).
 * An explicit provider does not read the stack's `hcloud:*` keys by itself, so it is passed here.
 */
export function hcloudProvider(name: string, token: pulumi.Input<string> | undefined, endpoint?: string, opts?: pulumi.CustomResourceOptions): hcloud.Provider {
  return new hcloud.Provider(name, { token: token ? pulumi.secret(token) : undefined, ...(endpoint ? { endpoint } : {}) }, { ...opts, version: PLUGIN_VERSIONS.hcloud });
}
