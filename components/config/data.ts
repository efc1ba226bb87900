// Config for the data layer: which storage driver backs named volumes, and how they are backed up.
// Secrets (S3 keys, restic password) are not here: they are Pulumi secrets read by the loader.
import { z } from "zod";

// Five cron fields, each *, N, N-M, */S or N-M/S (lists of those with commas), within the field's range:
// minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-7. A typo such as "15 25 * * *" stops here
// instead of in a container's crontab at 2 a.m.
const CRON_RANGES: [number, number][] = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];
export function isCron(expr: string): boolean {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) return false;
  return fields.every((field, i) => {
    const [lo, hi] = CRON_RANGES[i];
    const inRange = (n: string) => /^\d+$/.test(n) && Number(n) >= lo && Number(n) <= hi;
    return field.split(",").every((part) => {
      const m = /^(\*|\d+|\d+-\d+)(\/(\d+))?$/.exec(part);
      if (!m) return false;
      if (m[3] !== undefined && !(Number(m[3]) >= 1 && Number(m[3]) <= hi)) return false;
      if (m[1] === "*") return true;
      const [a, b] = m[1].split("-");
      return inRange(a) && (b === undefined || (inRange(b) && Number(a) <= Number(b)));
    });
  });
}

// Storidge was the plan's driver; it is gone (unmaintained, no Debian 12, `curl | bash`): docs/storage.md.
const HETZNER_CSI_PLUGIN = /^hetznercloud\/hcloud-csi-driver:v\d+\.\d+\.\d+-swarm@sha256:[0-9a-f]{64}$/;
const DRIVERS_ALLOWED =
  "hetzner-volumes (a Hetzner volume per stateful named volume, attached to the node its service is pinned to; Hetzner stacks), hetzner-csi (Hetzner's CSI driver as a Docker managed plugin, Swarm cluster volumes; Hetzner stacks, Docker ≥ 26) or local (node-pinned named volumes; existing servers only)";

/**
 * The platform's stateful named volumes (`<stack>_<compose key>`), each a Hetzner volume with hetzner-volumes.
 * Kept here, beside the config that sizes them, so validation can name a key that is not one of them.
 * persistent-storage.ts STATEFUL_VOLUMES says where each one's tasks run.
 */
export const STATEFUL_VOLUME_NAMES = ["edge_acme", "monitoring_influxdb", "monitoring_grafana", "portainer_data", "gitlab-runner_state"] as const;

const volumeSizeGb = z
  .number({ message: "must be a whole number of GB from 10 to 10240" })
  .int({ message: "must be a whole number of GB from 10 to 10240" })
  .min(10, { message: "must be at least 10 (GB, Hetzner's minimum volume size)" })
  .max(10240, { message: "must be at most 10240 (GB, Hetzner's largest volume)" });

export const storageSchema = z
  .strictObject({
    driver: z.enum(["local", "hetzner-csi", "hetzner-volumes"], {
      error: (iss) =>
        iss.input === "storidge"
          ? `storidge is no longer supported (unmaintained upstream, no Debian 12; docs/storage.md): use ${DRIVERS_ALLOWED}`
          : `must be ${DRIVERS_ALLOWED}`,
    }),
    // Accepted only to name it in a clear error instead of "unrecognized key".
    storidge: z.unknown().optional(),
    hetznerVolumes: z
      .strictObject({
        // Size of each stateful volume unless sizesGb names it. Grow only (Hetzner cannot shrink a volume).
        defaultSizeGb: volumeSizeGb.default(10),
        // Per volume (<stack>_<key>), where one needs more than the default; keys checked below, by name.
        sizesGb: z.record(z.string(), volumeSizeGb).optional(),
      })
      .optional(),
    hetznerCsi: z
      .strictObject({
        // The plugin is the installer: pinned by version and digest, and the digest is checked after install.
        // Optional here, required below: a missing pin must not hide the other problems of the stack file.
        pluginImage: z
          .string({ message: "must be a string: hetznercloud/hcloud-csi-driver:vX.Y.Z-swarm@sha256:<64 hex digits>" })
          .regex(HETZNER_CSI_PLUGIN, { message: "must be pinned as hetznercloud/hcloud-csi-driver:vX.Y.Z-swarm@sha256:<64 hex digits>, never a bare tag" })
          .optional(),
        defaultSizeGb: z
          .number({ message: "must be a whole number of GB from 10 to 10240" })
          .int({ message: "must be a whole number of GB from 10 to 10240" })
          .min(10, { message: "must be at least 10 (GB, Hetzner's minimum volume size)" })
          .max(10240, { message: "must be at most 10240 (GB, Hetzner's largest volume)" })
          .default(10),
        // How long a leaving node's volumes may take to detach before its plugin goes (scale in).
        releaseTimeoutSeconds: z.number().int().min(30, { message: "must be at least 30 (seconds)" }).max(3600, { message: "must be at most 3600 (seconds)" }).default(300),
      })
      .optional(),
  })
  .superRefine((s, ctx) => {
    if (s.storidge !== undefined) ctx.addIssue({ code: "custom", path: ["storidge"], message: "is no longer supported: Storidge was replaced by hetzner-csi (docs/storage.md); remove this key" });
    for (const key of Object.keys(s.hetznerVolumes?.sizesGb ?? {})) {
      if (!(STATEFUL_VOLUME_NAMES as readonly string[]).includes(key)) {
        ctx.addIssue({ code: "custom", path: ["hetznerVolumes", "sizesGb", key], message: `must name one of the platform's stateful volumes: ${STATEFUL_VOLUME_NAMES.join(", ")}` });
      }
    }
    if (s.hetznerVolumes && s.driver !== "hetzner-volumes") ctx.addIssue({ code: "custom", path: ["hetznerVolumes"], message: `only applies to driver hetzner-volumes (the driver is ${s.driver}); remove it or set driver: hetzner-volumes` });
    if (s.driver === "hetzner-csi" && !s.hetznerCsi) ctx.addIssue({ code: "custom", path: ["hetznerCsi"], message: "required when storage.driver is hetzner-csi ({ pluginImage, defaultSizeGb })" });
    if (s.hetznerCsi && !s.hetznerCsi.pluginImage) {
      ctx.addIssue({ code: "custom", path: ["hetznerCsi", "pluginImage"], message: "required: the plugin pinned as hetznercloud/hcloud-csi-driver:vX.Y.Z-swarm@sha256:<64 hex digits> (docs/storage.md says where to read the digest)" });
    }
  })
  .default({ driver: "local" });

export const backupSchema = z
  .strictObject({
    enabled: z.boolean({ message: "must be true or false" }),
    schedule: z.string().refine(isCron, { message: "must be a five-field cron expression such as '15 2 * * *'" }).default("15 2 * * *"),
    checkSchedule: z.string().refine(isCron, { message: "must be a five-field cron expression such as '45 4 * * 0'" }).default("45 4 * * 0"),
    s3: z
      .strictObject({
        endpoint: z.string().regex(/^https?:\/\/[^\s/]+(:\d+)?\/?$/, { message: "must be an http(s) URL of an S3-compatible endpoint, e.g. https://fsn1.your-objectstorage.com" }),
        bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: "must be an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)" }),
        region: z.string().default("us-east-1"),
      })
      .optional(),
    // forget + prune takes restic's exclusive lock: it runs apart from the nightly backups.
    pruneSchedule: z.string().refine(isCron, { message: "must be a five-field cron expression such as '15 5 * * *'" }).default("15 5 * * *"),
    // Share of pack files `restic check` downloads and verifies on each checkSchedule run.
    checkReadDataSubset: z.string().regex(/^([1-9]\d?(\.\d+)?%|100%)$/, { message: "must be a percentage such as 5% (100% reads everything)" }).default("5%"),
    retention: z
      .strictObject({
        daily: z.number().int().min(1, { message: "keep at least one daily snapshot" }),
        weekly: z.number().int().min(0),
        monthly: z.number().int().min(0),
      })
      .default({ daily: 7, weekly: 4, monthly: 6 }),
    // InfluxDB 2 that receives backup metrics (last success, duration, bytes added, errors); its token is
    // passed to S3Backup by the composition (the monitoring stack owns it).
    influx: z
      .strictObject({
        url: z.string().regex(/^https?:\/\/[^\s]+$/, { message: "must be the http(s) URL of InfluxDB as the backup agents reach it, e.g. http://influxdb:8086" }),
        org: z.string().min(1).default("mbio"),
        bucket: z.string().min(1).default("backup"),
      })
      .optional(),
  })
  .superRefine((b, ctx) => {
    if (b.enabled && !b.s3) ctx.addIssue({ code: "custom", path: ["s3"], message: "required when backup.enabled is true ({ endpoint, bucket })" });
  })
  .default({ enabled: false, schedule: "15 2 * * *", checkSchedule: "45 4 * * 0", pruneSchedule: "15 5 * * *", checkReadDataSubset: "5%", retention: { daily: 7, weekly: 4, monthly: 6 } });

export type StorageConfig = z.infer<typeof storageSchema>;
export type BackupConfig = z.infer<typeof backupSchema>;
