// Config of the edge (Traefik, certificates), DNS, the control plane (Portainer) and the demo service.
// Secrets (Cloudflare token, admin password) are not here: they are Pulumi secrets read by the loader.
import { z } from "zod";

export const ACME_CHALLENGES = ["dns-cloudflare", "http", "tls-alpn"] as const;
export const LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory";

const PEM = /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n?$/;

export const edgeSchema = z
  .strictObject({
    acme: z
      .strictObject({
        // dns-cloudflare proves control of the names through Cloudflare (works before DNS points at the
        // edge, and behind a proxy); http and tls-alpn need the edge reachable on 80/443 (the sandbox's Pebble).
        challenge: z.enum(ACME_CHALLENGES, { message: `must be one of ${ACME_CHALLENGES.join(", ")} (dns-cloudflare for real stacks)` }).default("dns-cloudflare"),
        caServer: z.string().regex(/^https:\/\/[^\s]+$/, { message: `must be the https URL of an ACME directory, e.g. ${LETS_ENCRYPT}` }).default(LETS_ENCRYPT),
        // A CA the ACME client trusts in addition to the system's (a local ACME server's listener).
        caCertificate: z.string().regex(PEM, { message: "must be one PEM certificate (-----BEGIN CERTIFICATE----- …)" }).optional(),
        email: z.string().regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { message: "must be an e-mail address for the ACME account" }).optional(),
      })
      .default({ challenge: "dns-cloudflare", caServer: LETS_ENCRYPT }),
    dashboardUser: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, { message: "must be a user name (a-z, 0-9, _ -)" }).default("admin"),
    logLevel: z.enum(["DEBUG", "INFO", "WARN", "ERROR"], { message: "must be DEBUG, INFO, WARN or ERROR" }).default("INFO"),
  })
  .default({ acme: { challenge: "dns-cloudflare", caServer: LETS_ENCRYPT }, dashboardUser: "admin", logLevel: "INFO" });

export const dnsSchema = z
  .strictObject({
    provider: z.enum(["cloudflare", "none"], { message: "must be cloudflare (records managed with @pulumi/cloudflare) or none (records are someone else's job)" }),
    zoneId: z.string().regex(/^[a-f0-9]{32}$/, { message: "must be the Cloudflare zone id (32 hex characters, dashboard → the domain → Overview → API)" }).optional(),
    // Cloudflare's proxy (orange cloud) in front of the edge; off by default: the edge terminates TLS itself.
    proxied: z.boolean({ message: "must be true or false" }).default(false),
    // Where the records point: every manager's public address, or a Hetzner load balancer in front of them.
    target: z.enum(["managers", "load-balancer"], { message: "must be managers (A records for every manager) or load-balancer (a Hetzner load balancer)" }).default("managers"),
    ttl: z.number({ message: "must be a number of seconds (1 = automatic)" }).int().min(1).max(86400).default(300),
  })
  .superRefine((d, ctx) => {
    if (d.provider === "cloudflare" && !d.zoneId) ctx.addIssue({ code: "custom", path: ["zoneId"], message: "required when dns.provider is cloudflare (the zone id of the domain, 32 hex characters)" });
    if (d.provider === "none" && d.proxied) ctx.addIssue({ code: "custom", path: ["proxied"], message: "only applies to dns.provider cloudflare" });
  })
  .default({ provider: "none", proxied: false, target: "managers", ttl: 300 });

export const controlPlaneSchema = z
  .strictObject({
    enabled: z.boolean({ message: "must be true or false" }),
  })
  .default({ enabled: true });

export const demoSchema = z
  .strictObject({
    enabled: z.boolean({ message: "must be true or false" }),
    replicas: z.number().int().min(1).max(10).default(2),
  })
  .default({ enabled: false, replicas: 2 });

export type EdgeConfig = z.infer<typeof edgeSchema>;
export type DnsConfig = z.infer<typeof dnsSchema>;
export type ControlPlaneConfig = z.infer<typeof controlPlaneSchema>;
export type DemoConfig = z.infer<typeof demoSchema>;

/** Images each part needs, with what to pin (said when one is missing). */
export const EDGE_IMAGES = {
  traefik: "the upstream Traefik image (traefik:v3.x ≥ 3.6.1 for Docker Engine 29), or the sandbox build of images/traefik",
} as const;
export const CONTROL_PLANE_IMAGES = {
  portainer: "the upstream Portainer CE server image (portainer/portainer-ce:<version>)",
  "portainer-agent": "the upstream Portainer agent image of the same version (portainer/agent:<version>)",
} as const;
export const DEMO_IMAGES = { demo: "the image built from images/demo (sandbox registry or the GitLab image pipeline)" } as const;
