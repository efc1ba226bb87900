// The resources a Hetzner environment is made of (components/machines/hetzner.ts), one of each, created by
// the real hcloud provider against the emulator (tests/real/hcloud-emulator.sh): an SSH key, a network with
// a subnet, a firewall, a spread placement group and a labelled server using all of them.
import * as pulumi from "@pulumi/pulumi";
import * as hcloud from "@pulumi/hcloud";

const config = new pulumi.Config("lab");
const provider = new hcloud.Provider(
  "emulator",
  { endpoint: config.require("endpoint"), token: config.requireSecret("token"), pollInterval: "100ms" },
  // The plugin version the toolchain builds (package.json mbio.pluginVersions), not the npm SDK's.
  { version: config.require("hcloudVersion") },
);
const opts = { provider };

const key = new hcloud.SshKey("key", { name: "lab-key", publicKey: config.require("publicKey"), labels: { env: "lab" } }, opts);
// A second key with the same public key: Hetzner refuses it (uniqueness_error on the fingerprint).
if (config.getBoolean("duplicateKey")) {
  new hcloud.SshKey("key-again", { name: "lab-key-again", publicKey: config.require("publicKey") }, opts);
}
const network = new hcloud.Network("net", { name: "lab", ipRange: "10.0.0.0/16", labels: { env: "lab" } }, opts);
const subnet = new hcloud.NetworkSubnet("subnet", { networkId: network.id.apply(Number), type: "cloud", networkZone: "eu-central", ipRange: "10.0.1.0/24" }, opts);
const firewall = new hcloud.Firewall(
  "fw",
  {
    name: "lab-base",
    labels: { env: "lab" },
    rules: [
      { direction: "in", protocol: "tcp", port: "22", sourceIps: ["192.0.2.0/24"], description: "SSH from admin networks" },
      { direction: "in", protocol: "icmp", sourceIps: ["0.0.0.0/0", "::/0"], description: "ICMP" },
    ],
  },
  opts,
);
const group = new hcloud.PlacementGroup("pg", { name: "lab-manager-1", type: "spread", labels: { env: "lab" } }, opts);
const server = new hcloud.Server(
  "m1",
  {
    name: "lab-manager-1",
    serverType: "cx22",
    image: "debian-12",
    location: "fsn1",
    sshKeys: [key.id],
    firewallIds: [firewall.id.apply(Number)],
    placementGroupId: group.id.apply(Number),
    labels: { env: "lab", role: "manager" },
    userData: "#cloud-config\npackage_update: false\n",
    publicNets: [{ ipv4Enabled: true, ipv6Enabled: true }],
    networks: [{ networkId: network.id.apply(Number), ip: "10.0.1.5" }],
  },
  { ...opts, dependsOn: [subnet] },
);

export const serverId = server.id;
export const firewallId = firewall.id;
export const ipv4 = server.ipv4Address;
