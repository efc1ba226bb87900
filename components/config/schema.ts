// The one typed schema every stack file is validated against. Each rule carries the sentence an operator
// reads when it fails, so messages say what is allowed, not what zod expected.
import { z } from "zod";
import { backupSchema, storageSchema } from "./data";
import { MONITORING_IMAGES, monitoringSchema } from "./monitoring";
import { gitlabSchema } from "./gitlab";
import { imageSignaturesSchema } from "./image-signatures";
import { CONTROL_PLANE_IMAGES, controlPlaneSchema, DEMO_IMAGES, demoSchema, dnsSchema, EDGE_IMAGES, edgeSchema } from "./edge";

export const ENVIRONMENTS = ["development", "staging", "production", "local"] as const;
export type EnvironmentName = (typeof ENVIRONMENTS)[number];

const HETZNER_LOCATIONS = ["fsn1", "nbg1", "hel1", "ash", "hil", "sin"] as const;
const MANAGER_COUNTS = [1, 3, 5] as const;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
export const isIpv4 = (s: string): boolean => IPV4.test(s);
export const isIpv4Cidr = (s: string): boolean => {
  const [ip, bits, extra] = s.split("/");
  return extra === undefined && isIpv4(ip) && bits !== undefined && /^\d{1,2}$/.test(bits) && Number(bits) <= 32;
};
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;
const NODE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
// An image is pinned when it names a version tag other than latest and a sha256 digest.
const PINNED_IMAGE = /^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*:(?!latest@)[A-Za-z0-9._-]+@sha256:[a-f0-9]{64}$/;

const cidr = z.string().refine(isIpv4Cidr, { message: "must be an IPv4 CIDR such as 203.0.113.0/24" });

export const dockerEngineSchema = z.strictObject({
  package: z.enum(["docker-ce", "docker.io"], { message: "must be docker-ce (Docker's apt repository) or docker.io (Debian's package)" }),
  version: z
    .string({ message: "must be the exact apt version string, e.g. 5:27.5.1-1~debian.12~bookworm" })
    .regex(/^[0-9][A-Za-z0-9.+:~-]*$/, { message: "must be the exact apt version string, e.g. 5:27.5.1-1~debian.12~bookworm (no wildcards, no latest)" }),
  // containerd.io (docker-ce) or containerd (docker.io): the engine's runtime moves only with this pin.
  containerdVersion: z
    .string({ message: "must be the exact apt version of containerd.io (docker-ce) or containerd (docker.io), e.g. 1.7.25-1" })
    .regex(/^[0-9][A-Za-z0-9.+:~-]*$/, { message: "must be the exact apt version of containerd.io (docker-ce) or containerd (docker.io), e.g. 1.7.25-1 (no wildcards)" })
    .optional(),
}).superRefine((e, ctx) => {
  if (e.package === "docker-ce" && e.containerdVersion === undefined) {
    ctx.addIssue({ code: "custom", path: ["containerdVersion"], message: "required with docker-ce: the exact containerd.io version (e.g. 1.7.25-1), or apt installs whatever is newest on each node" });
  }
});

export const swarmSchema = z.strictObject({
  // IPsec-encrypted overlays need kernel xfrm support; the local sandbox kernel passes no traffic over them.
  overlayEncrypted: z.boolean({ message: "must be true or false" }),
  // Service VIPs need IPVS; the sandbox kernel has none, so it resolves tasks with DNS round-robin.
  endpointMode: z.enum(["vip", "dnsrr"], { message: "must be vip (Swarm virtual IPs, needs IPVS) or dnsrr (DNS round-robin)" }),
  // Ports published by the edge: ingress (routing mesh, needs IPVS) or host (bound on the node running the task).
  publishMode: z.enum(["ingress", "host"], { message: "must be ingress (routing mesh, needs IPVS) or host" }),
  // MTU of the overlay networks (platform network and ingress). Hetzner's private network has MTU 1450;
  // VXLAN takes 50 bytes and IPsec (overlayEncrypted) up to ~50 more, so Hetzner stacks set 1350.
  overlayMtu: z
    .number({ message: "must be a whole number from 1280 to 1450: the underlay MTU minus VXLAN (50) and IPsec (~50) overhead, e.g. 1350 on Hetzner" })
    .int({ message: "must be a whole number from 1280 to 1450" })
    .min(1280, { message: "must be a whole number from 1280 to 1450" })
    .max(1450, { message: "must be a whole number from 1280 to 1450" })
    .optional(),
  // Join-token rotation generation: raise it (0 → 1 → 2 …) and `pulumi up` rotates the worker and manager
  // join tokens; nodes already in the Swarm are not touched. Absent: 0.
  joinTokenRotation: z
    .number({ message: "must be a whole number ≥ 0, the join-token rotation generation: raise it by one and pulumi up to rotate both join tokens" })
    .int({ message: "must be a whole number ≥ 0 (raise it by one to rotate the join tokens)" })
    .min(0, { message: "must be a whole number ≥ 0 (raise it by one to rotate the join tokens)" })
    .optional(),
});

/** A private registry the managers log in to, so `docker stack deploy --with-registry-auth` can pull. */
export const registrySchema = z.strictObject({
  server: z.string().regex(/^[a-z0-9.-]+(:\d+)?$/, { message: "must be a registry host name, e.g. registry.gitlab.com" }),
  username: z.string().min(1, { message: "must be the registry user (a GitLab deploy token's user name)" }),
});

const HOST_KEY_MESSAGE = "must be the host's ed25519 public key, \"ssh-ed25519 AAAA…\" (ssh-keyscan -t ed25519 <address>, or /etc/ssh/ssh_host_ed25519_key.pub on the host)";
export const hostSchema = z.strictObject({
  name: z.string().regex(NODE_NAME, { message: "must be a lowercase DNS label (a-z, 0-9, -)" }),
  address: z.string().min(1, { message: "must be the address Pulumi reaches the host's sshd on" }),
  privateAddress: z.string().refine(isIpv4, { message: "must be the IPv4 address the Swarm advertises on the private network" }),
  port: z.number().int().min(1).max(65535).optional(),
  user: z.string().min(1).optional(),
  // Pinned: every SSH client checks it (components/dynamic-providers/host-keys.ts).
  hostKey: z.string({ message: HOST_KEY_MESSAGE }).regex(/^ssh-ed25519 [A-Za-z0-9+/]{68}( .*)?$/, { message: HOST_KEY_MESSAGE }),
});
export type HostConfig = z.infer<typeof hostSchema>;

export const platformSchema = z
  .strictObject({
    domain: z.string().regex(HOSTNAME, { message: "must be a DNS domain such as mbiosphere.com" }),
    machineSource: z.enum(["hetzner", "existing"], { message: "must be hetzner (create servers in Hetzner Cloud) or existing (servers reached over SSH)" }),
    managers: z
      .number({ message: "must be a number: 1, 3 or 5" })
      .refine((n) => (MANAGER_COUNTS as readonly number[]).includes(n), { message: "a Swarm needs an odd number of managers (1, 3 or 5)" }),
    workers: z.number({ message: "must be a whole number from 0 to 50" }).int({ message: "must be a whole number from 0 to 50" }).min(0, { message: "must be a whole number from 0 to 50" }).max(50, { message: "must be a whole number from 0 to 50" }),
    // CI nodes (node label mbio.role=ci): Swarm workers that run the GitLab runner and its jobs and nothing of
    // the platform, so a job finds no platform secret there (docs/security.md). Required by gitlab.enabled.
    ciNodes: z.number({ message: "must be a whole number from 0 to 10" }).int({ message: "must be a whole number from 0 to 10" }).min(0, { message: "must be a whole number from 0 to 10" }).max(10, { message: "must be a whole number from 0 to 10" }).default(0),
    sshUser: z.string().regex(/^[a-z_][a-z0-9_-]*$/, { message: "must be a Unix user name" }).default("root"),
    sshPublicKeys: z.array(z.string().regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/, { message: "must be an OpenSSH public key line (ssh-ed25519 AAAA… comment)" }), { message: "must be a list of OpenSSH public key lines (YAML: one '- ssh-ed25519 AAAA… comment' per line)" }).min(1, { message: "must list at least one SSH public key" }),
    adminCidrs: z.array(cidr, { message: "must be a list of IPv4 CIDRs (YAML: one '- 203.0.113.0/24' per line)" }).min(1, { message: "must list at least one CIDR allowed to reach SSH" }).refine((l) => !l.includes("0.0.0.0/0"), { message: "must not contain 0.0.0.0/0: SSH is never open to the world" }),
    dockerEngine: dockerEngineSchema,
    swarm: swarmSchema,
    labels: z.record(z.string().regex(/^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?$/, { message: "label keys must be lowercase (a-z, 0-9, _ . -)" }), z.string().regex(/^([a-zA-Z0-9]([a-zA-Z0-9_.-]{0,61}[a-zA-Z0-9])?)?$/, { message: "label values are at most 63 letters, digits, _ . - (starting and ending with a letter or digit), as Hetzner Cloud requires" })).default({}),
    images: z.record(z.string(), z.string().regex(PINNED_IMAGE, { message: "must be pinned as name:version@sha256:<64 hex digits>, never latest" })).default({}),
    // The cosign public key the platform's own images (those under `repository`) must be signed with (components/image-signatures.ts).
    imageSignatures: imageSignaturesSchema.optional(),
    // Hetzner machines.
    location: z.enum(HETZNER_LOCATIONS, { message: `must be a Hetzner location: ${HETZNER_LOCATIONS.join(", ")}` }).optional(),
    osImage: z.string().regex(/^[a-z]+-[0-9.]+$/, { message: "must be a Hetzner OS image with its version, e.g. debian-12" }).optional(),
    serverTypes: z.strictObject({ manager: z.string().regex(/^[a-z]+\d+$/, { message: "must be a Hetzner server type such as cx32" }), worker: z.string().regex(/^[a-z]+\d+$/, { message: "must be a Hetzner server type such as cx42" }), ci: z.string().regex(/^[a-z]+\d+$/, { message: "must be a Hetzner server type such as cx42 (CI nodes; default: the worker type)" }).optional() }).optional(),
    privateNetwork: z.strictObject({ cidr, subnet: cidr }).optional(),
    // Existing machines: the first `managers` hosts become managers, the next `workers` hosts workers.
    hosts: z.array(hostSchema).optional(),
    registry: registrySchema.optional(),
    storage: storageSchema,
    backup: backupSchema,
    monitoring: monitoringSchema,
    gitlab: gitlabSchema,
    edge: edgeSchema,
    dns: dnsSchema,
    controlPlane: controlPlaneSchema,
    demo: demoSchema,
  })
  .superRefine((c, ctx) => {
    const need = (key: string, why: string) => ctx.addIssue({ code: "custom", path: [key], message: why });
    if (c.machineSource === "hetzner") {
      if (!c.location) need("location", `required when machineSource is hetzner (one of ${HETZNER_LOCATIONS.join(", ")})`);
      if (!c.osImage) need("osImage", "required when machineSource is hetzner (e.g. debian-12)");
      if (!c.serverTypes) need("serverTypes", "required when machineSource is hetzner ({ manager: cx32, worker: cx42 })");
      if (!c.privateNetwork) need("privateNetwork", "required when machineSource is hetzner ({ cidr: 10.10.0.0/16, subnet: 10.10.1.0/24 })");
      if (c.hosts) need("hosts", "only for machineSource existing; Hetzner servers are created from managers/workers");
      if (c.swarm.overlayMtu === undefined) {
        ctx.addIssue({ code: "custom", path: ["swarm", "overlayMtu"], message: "required when machineSource is hetzner: the private network's MTU is 1450, so overlays need 1400 (1350 with overlayEncrypted)" });
      } else if (c.swarm.overlayEncrypted && c.swarm.overlayMtu > 1350) {
        ctx.addIssue({ code: "custom", path: ["swarm", "overlayMtu"], message: "must be at most 1350 with overlayEncrypted on Hetzner (1450 private MTU − 50 VXLAN − ~50 IPsec)" });
      }
      if (c.privateNetwork && isIpv4Cidr(c.privateNetwork.subnet) && isIpv4Cidr(c.privateNetwork.cidr) && !cidrContains(c.privateNetwork.cidr, c.privateNetwork.subnet)) {
        ctx.addIssue({ code: "custom", path: ["privateNetwork", "subnet"], message: `must lie inside privateNetwork.cidr ${c.privateNetwork.cidr}` });
      }
      if (c.privateNetwork && isIpv4Cidr(c.privateNetwork.subnet) && prefixLength(c.privateNetwork.subnet) > 24) {
        ctx.addIssue({ code: "custom", path: ["privateNetwork", "subnet"], message: "must be a /24 or larger: node addresses are derived from node names" });
      }
    } else {
      const hosts = c.hosts ?? [];
      if (hosts.length < c.managers + c.workers + c.ciNodes) {
        need("hosts", `lists ${hosts.length} host(s) but managers + workers + ciNodes is ${c.managers + c.workers + c.ciNodes}; add hosts or lower the counts`);
      }
      const seen = new Set<string>();
      hosts.forEach((h, i) => {
        if (seen.has(h.name)) ctx.addIssue({ code: "custom", path: ["hosts", i, "name"], message: `duplicates host name ${h.name}; names must be unique` });
        seen.add(h.name);
      });
    }
    if (c.backup.enabled && !c.images["backup-agent"]) {
      ctx.addIssue({
        code: "custom",
        path: ["images", "backup-agent"],
        message: "required when backup.enabled is true: the image built from images/backup-agent (GitLab image pipeline, or the sandbox registry), pinned as name:version@sha256:<digest>",
      });
    }
    if (c.monitoring.enabled) {
      for (const key of MONITORING_IMAGES.filter((k) => !c.images[k] && (k !== "grafana" || c.monitoring.grafana))) {
        ctx.addIssue({ code: "custom", path: ["images", key], message: `required when monitoring.enabled is true: the pinned ${key} image (name:version@sha256:<digest>; see docs/monitoring.md)` });
      }
    }
    if (c.gitlab.enabled && c.ciNodes < 1) {
      ctx.addIssue({ code: "custom", path: ["ciNodes"], message: "must be at least 1 when gitlab.enabled is true: runner jobs run only on CI nodes, where no platform service and no platform secret is (docs/security.md)" });
    }
    if (c.gitlab.enabled && !c.images["gitlab-runner"]) {
      ctx.addIssue({ code: "custom", path: ["images", "gitlab-runner"], message: "required when gitlab.enabled is true: the gitlab/gitlab-runner image, pinned as gitlab/gitlab-runner:vX.Y.Z@sha256:<digest> (docs/ci.md)" });
    }
    if (c.gitlab.docker.defaultImage !== undefined && !PINNED_IMAGE.test(c.gitlab.docker.defaultImage)) {
      ctx.addIssue({ code: "custom", path: ["gitlab", "docker", "defaultImage"], message: "must be pinned as name:version@sha256:<64 hex digits>, never latest" });
    }
    const requireImages = (images: Record<string, string>, why: string) => {
      for (const [role, what] of Object.entries(images)) {
        if (!c.images[role]) ctx.addIssue({ code: "custom", path: ["images", role], message: `required ${why}: ${what}, pinned as name:version@sha256:<digest>` });
      }
    };
    requireImages(EDGE_IMAGES, "(every stack runs the edge)");
    if (c.controlPlane.enabled) requireImages(CONTROL_PLANE_IMAGES, "when controlPlane.enabled is true");
    if (c.demo.enabled) requireImages(DEMO_IMAGES, "when demo.enabled is true");
    if (c.dns.target === "load-balancer" && c.machineSource !== "hetzner") {
      ctx.addIssue({ code: "custom", path: ["dns", "target"], message: "load-balancer needs machineSource hetzner (a Hetzner load balancer); use managers for existing servers" });
    }
    // A plugin pull by digest panics dockerd before moby#47299 (26.0): "5:27.5.1-1~debian.12~bookworm" → 27.
    const engineMajor = Number(/^(?:\d+:)?(\d+)\./.exec(c.dockerEngine.version)?.[1] ?? 0);
    if (c.storage.driver === "hetzner-csi" && engineMajor < 26) {
      ctx.addIssue({ code: "custom", path: ["dockerEngine", "version"], message: "must be Docker Engine 26.0 or later with storage.driver hetzner-csi: older engines crash on a plugin install by digest (moby#47299; docs/storage.md)" });
    }
    if ((c.storage.driver === "hetzner-csi" || c.storage.driver === "hetzner-volumes") && c.machineSource !== "hetzner") {
      ctx.addIssue({ code: "custom", path: ["storage", "driver"], message: `${c.storage.driver} needs machineSource hetzner (the Hetzner API attaches its volumes); existing servers use local (docs/storage.md)` });
    }
  });

export type PlatformConfig = z.infer<typeof platformSchema>;

export function prefixLength(c: string): number {
  return Number(c.split("/")[1]);
}

function ipToInt(ip: string): number {
  return ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function cidrContains(outer: string, inner: string): boolean {
  const [oIp, oBits] = outer.split("/");
  const [iIp, iBits] = inner.split("/");
  if (Number(iBits) < Number(oBits)) return false;
  const size = 2 ** (32 - Number(oBits));
  const base = Math.floor(ipToInt(oIp) / size) * size;
  const x = ipToInt(iIp);
  return x >= base && x < base + size;
}
