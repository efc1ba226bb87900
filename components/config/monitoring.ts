// Config of the `monitoring` stack (TigMonitoring): the InfluxDB database and its retention, where alerts
// go, and the Sentry DSN handed to services that report errors. Passwords are not here: they are Pulumi
// secrets (influxdbAdminPassword, influxdbWriterPassword, influxdbReaderPassword, grafanaAdminPassword).
import { z } from "zod";

export const CONTACT_POINT_TYPES = ["webhook", "email"] as const;

const DURATION = /^(\d+[hdw]|INF)$/;
const IDENT = /^[a-z][a-z0-9_]{0,62}$/;

const contactPointSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9 _.-]{1,64}$/, { message: "must be a name of 1-64 letters, digits, spaces, _ . -" }),
    type: z.enum(CONTACT_POINT_TYPES, { message: `is not a contact point type Grafana is configured for here — use one of ${CONTACT_POINT_TYPES.join(", ")}` }),
    // webhook
    url: z.string().regex(/^https?:\/\/\S+$/, { message: "must be the http(s) URL the webhook posts to" }).optional(),
    // email
    addresses: z.array(z.string().regex(/^[^\s@;,]+@[^\s@;,]+\.[^\s@;,]+$/, { message: "must be an e-mail address" })).min(1, { message: "must list at least one e-mail address" }).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.type === "webhook" && !c.url) ctx.addIssue({ code: "custom", path: ["url"], message: "required for a webhook contact point (the URL Grafana posts alerts to)" });
    if (c.type === "email" && !c.addresses) ctx.addIssue({ code: "custom", path: ["addresses"], message: "required for an email contact point (a list of e-mail addresses)" });
    if (c.type === "webhook" && c.addresses) ctx.addIssue({ code: "custom", path: ["addresses"], message: "only for type email" });
    if (c.type === "email" && c.url) ctx.addIssue({ code: "custom", path: ["url"], message: "only for type webhook" });
  });
export type ContactPointConfig = z.infer<typeof contactPointSchema>;

export const monitoringSchema = z
  .strictObject({
    enabled: z.boolean({ message: "must be true or false" }).default(true),
    // false only where Grafana's image cannot be had (the offline sandbox): the stack then runs without
    // Grafana and says so; its provisioning is still generated and validated. Never another program instead.
    grafana: z.boolean({ message: "must be true or false" }).default(true),
    influxdb: z
      .strictObject({
        database: z.string().regex(IDENT, { message: "must be a lowercase identifier (a-z, 0-9, _), e.g. mbio" }).default("mbio"),
        retentionPolicy: z
          .strictObject({
            name: z.string().regex(IDENT, { message: "must be a lowercase identifier, e.g. platform" }).default("platform"),
            duration: z.string().regex(DURATION, { message: "must be an InfluxQL duration in hours, days or weeks (e.g. 30d, 12w) or INF" }).default("30d"),
          })
          .default({ name: "platform", duration: "30d" }),
      })
      .default({ database: "mbio", retentionPolicy: { name: "platform", duration: "30d" } }),
    // Group id of the docker group on the nodes: Telegraf runs as telegraf:<gid> to read the Docker socket
    // (docker stack deploy ignores group_add). Debian's docker-ce and docker.io both create it as 999 on a new
    // server; check with `getent group docker` on an existing one.
    dockerGid: z.number({ message: "must be the numeric gid of the docker group on the nodes (getent group docker)" }).int().min(1).max(65535).default(999),
    contactPoints: z.array(contactPointSchema).default([]),
    // Sentry DSN: not a secret by Sentry's design (it is shipped to browsers); Grafana reports its own errors there.
    sentryDsn: z.string().regex(/^https:\/\/[0-9a-f]+@[^\s/]+\/\d+$/, { message: "must be a Sentry DSN such as https://<key>@o123.ingest.sentry.io/456" }).optional(),
  })
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    m.contactPoints.forEach((c, i) => {
      if (seen.has(c.name)) ctx.addIssue({ code: "custom", path: ["contactPoints", i, "name"], message: `duplicates contact point ${c.name}; names must be unique` });
      seen.add(c.name);
    });
  })
  .default({ enabled: true, grafana: true, influxdb: { database: "mbio", retentionPolicy: { name: "platform", duration: "30d" } }, dockerGid: 999, contactPoints: [] });

export type MonitoringConfig = z.infer<typeof monitoringSchema>;

/** Images the monitoring stack runs (keys of mbio-cloud:images). */
export const MONITORING_IMAGES = ["influxdb", "telegraf", "grafana"] as const;
