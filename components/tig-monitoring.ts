// TigMonitoring: Telegraf → InfluxDB 1.x → Grafana, with dashboards and alert rules provisioned as code.
//
//   stack `monitoring` (SwarmStack on a manager, platform overlay network)
//     influxdb          1 task on a manager; its entrypoint creates database, retention policy and the
//                       admin/writer/reader users before it reports healthy; volume monitoring_influxdb
//     telegraf          global: host resources (host /proc, /sys, / mounted read-only) and containers
//     telegraf-cluster  1 task on a manager: Swarm services (gather_services), Traefik metrics, certificates
//     grafana           1 task on a manager, routed by Traefik at monitoring.<namespace>; datasource (uid
//                       mbio-influxdb), dashboards, alert rules and contact points from files
//
// Every file is a Swarm config and every password a Swarm secret, named by a hash of the content, so a
// change rolls the services that use it. Passwords come from Pulumi secrets (docs/monitoring.md).
import * as pulumi from "@pulumi/pulumi";
import type { VolumePlacement } from "./persistent-storage";
import type { MonitoringConfig } from "./config/monitoring";
import { edgeHosts } from "./edge";
import { scriptFile } from "./files";
import { alertRulesFile, contactPointsFile } from "./monitoring/alerts";
import { dashboardFiles } from "./monitoring/dashboards";
import { DATASOURCE_UID } from "./monitoring/influxql";
import { EDGE_METRICS_URL, TELEGRAF_HEALTH_PORT, telegrafConfig } from "./monitoring/telegraf";
import { contentName, serviceDeploy, STDOUT_LOGGING, traefikRouteLabels } from "./service-conventions";
import { ComposeFile, ManagerConnections, SwarmStack } from "./swarm-stack";
import { secretObjectName, swarmNamedObject } from "./swarm-objects";

export const MONITORING_STACK = "monitoring";
export const INFLUXDB_PORT = 8086;
export const GRAFANA_PORT = 3000;
/** How services on the platform network reach InfluxDB (backup agents, Telegraf). */
export const INFLUXDB_URL = `http://${MONITORING_STACK}_influxdb:${INFLUXDB_PORT}`;
export const INFLUX_USERS = { admin: "admin", writer: "writer", reader: "reader" } as const;
const FILES = "/opt/mbio-monitoring";
const PROVISIONING = "/etc/grafana/provisioning";
const SECRET_KEYS = ["influxdb_admin_password", "influxdb_writer_password", "influxdb_reader_password", "grafana_admin_password"] as const;
type SecretKey = (typeof SECRET_KEYS)[number];

export interface TigMonitoringArgs {
  /** Where its named volumes live (PersistentStorage's placement; storage.driver hetzner-volumes). */
  volumes?: VolumePlacement;
  environment: string;
  /** DNS namespace of the environment: Grafana is served at monitoring.<namespace>. */
  dnsNamespace: string;
  monitoring: MonitoringConfig;
  images: Record<string, string>;
  managerConnection: ManagerConnections;
  networkName: pulumi.Input<string>;
  /** The backup schedule (cron): the stale-backup alert allows one interval plus grace. */
  backupSchedule: string;
  secrets: Record<"influxdbAdminPassword" | "influxdbWriterPassword" | "influxdbReaderPassword" | "grafanaAdminPassword", pulumi.Input<string>>;
  endpointMode?: "vip" | "dnsrr";
}

/** The image of a role, or an error naming the stack key (validation normally stops earlier). */
export function requireImage(images: Record<string, string>, key: string): string {
  const image = images[key];
  if (!image) throw new Error(`mbio-cloud:images.${key} is missing: the monitoring stack needs the pinned ${key} image (name:version@sha256:<digest>)`);
  return image;
}

/** Every file the stack mounts, by Swarm config key: target path and content. */
export function monitoringFiles(a: { environment: string; dnsNamespace: string; monitoring: MonitoringConfig; backupSchedule: string }): Record<string, { target: string; content: string }> {
  const { influxdb } = a.monitoring;
  const telegraf = (role: "node" | "cluster") =>
    telegrafConfig({
      role,
      influxUrl: INFLUXDB_URL,
      database: influxdb.database,
      retentionPolicy: influxdb.retentionPolicy.name,
      writerUser: INFLUX_USERS.writer,
      prometheusUrls: [EDGE_METRICS_URL],
      // The edge hosts whose certificates Traefik obtains (docs/edge.md).
      certificateSources: Object.values(edgeHosts(a.dnsNamespace)).map((h) => `https://${h}:443`),
    });
  const datasource = {
    apiVersion: 1,
    datasources: [
      {
        name: "InfluxDB",
        uid: DATASOURCE_UID,
        type: "influxdb",
        access: "proxy",
        url: INFLUXDB_URL,
        database: influxdb.database,
        user: INFLUX_USERS.reader,
        isDefault: true,
        editable: false,
        jsonData: { httpMode: "GET", timeInterval: "10s" },
        // Grafana reads the password from the Swarm secret file when it provisions.
        secureJsonData: { password: "$__file{/run/secrets/influxdb_reader_password}" },
      },
    ],
  };
  const dashboardsProvider = {
    apiVersion: 1,
    providers: [{ name: "mbio-cloud", orgId: 1, folder: "MBIO platform", type: "file", disableDeletion: true, allowUiUpdates: false, options: { path: `${PROVISIONING}/dashboards/json` } }],
  };
  const files: Record<string, { target: string; content: string }> = {
    influxdb_sh: { target: `${FILES}/influxdb.sh`, content: scriptFile("monitoring/influxdb.sh") },
    telegraf_sh: { target: `${FILES}/telegraf.sh`, content: scriptFile("monitoring/telegraf.sh") },
    telegraf_node: { target: "/etc/telegraf/node.conf", content: telegraf("node") },
    telegraf_cluster: { target: "/etc/telegraf/cluster.conf", content: telegraf("cluster") },
    grafana_datasource: { target: `${PROVISIONING}/datasources/influxdb.yaml`, content: JSON.stringify(datasource, null, 2) },
    grafana_dashboards: { target: `${PROVISIONING}/dashboards/mbio-cloud.yaml`, content: JSON.stringify(dashboardsProvider, null, 2) },
    grafana_rules: { target: `${PROVISIONING}/alerting/rules.json`, content: JSON.stringify(alertRulesFile({ backupSchedule: a.backupSchedule }), null, 2) },
    grafana_contacts: { target: `${PROVISIONING}/alerting/contact-points.json`, content: JSON.stringify(contactPointsFile(a.monitoring.contactPoints), null, 2) },
  };
  for (const [name, content] of Object.entries(dashboardFiles())) {
    files[`dashboard_${name.replace(/\W/g, "_")}`] = { target: `${PROVISIONING}/dashboards/json/${name}`, content };
  }
  return files;
}

/** The Compose document of the monitoring stack; exported for tests and for reading. */
export function monitoringCompose(a: {
  environment: string;
  dnsNamespace: string;
  monitoring: MonitoringConfig;
  images: Record<string, string>;
  networkName: string;
  files: Record<string, { target: string; content: string }>;
  configNames: Record<string, string>;
  secretNames: Record<SecretKey, string>;
}): ComposeFile {
  const m = a.monitoring;
  const cfg = (...keys: string[]) => keys.map((k) => ({ source: k, target: a.files[k].target, mode: k.endsWith("_sh") ? 0o555 : 0o444 }));
  const sec = (...keys: SecretKey[]) => keys.map((k) => ({ source: k, target: k, mode: 0o400 }));
  const telegrafUser = `telegraf:${m.dockerGid}`;
  // Secrets are root-owned 0400 by default: Telegraf runs as telegraf:<docker gid>, so its group reads it.
  const telegrafSecret = [{ source: "influxdb_writer_password", target: "influxdb_writer_password", uid: "0", gid: String(m.dockerGid), mode: 0o440 }];
  const telegrafHealth = {
    // Telegraf's health output answers 200 while its outputs write; bash's /dev/tcp needs no curl in the image.
    test: ["CMD", "bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${TELEGRAF_HEALTH_PORT} && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '`],
    interval: "15s",
    timeout: "5s",
    retries: 3,
    start_period: "20s",
  };
  const telegrafEnv = (config: string) => ({
    ENVIRONMENT: a.environment,
    NODE_HOSTNAME: "{{.Node.Hostname}}",
    TELEGRAF_CONFIG: config,
    INFLUX_PASSWORD_FILE: "/run/secrets/influxdb_writer_password",
    HOST_PROC: "/hostfs/proc",
    HOST_SYS: "/hostfs/sys",
    HOST_ETC: "/hostfs/etc",
    HOST_MOUNT_PREFIX: "/hostfs",
  });
  const dockerSocket = { type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock", read_only: true };
  const onManager = ["node.role == manager"];
  const services: ComposeFile["services"] = {
    influxdb: {
      image: requireImage(a.images, "influxdb"),
      entrypoint: ["/bin/sh", `${FILES}/influxdb.sh`],
      environment: {
        INFLUXDB_DB: m.influxdb.database,
        INFLUXDB_RP: m.influxdb.retentionPolicy.name,
        INFLUXDB_RP_DURATION: m.influxdb.retentionPolicy.duration,
        INFLUXDB_ADMIN_USER: INFLUX_USERS.admin,
        INFLUXDB_WRITER_USER: INFLUX_USERS.writer,
        INFLUXDB_READER_USER: INFLUX_USERS.reader,
        INFLUXDB_ADMIN_PASSWORD_FILE: "/run/secrets/influxdb_admin_password",
        INFLUXDB_WRITER_PASSWORD_FILE: "/run/secrets/influxdb_writer_password",
        INFLUXDB_READER_PASSWORD_FILE: "/run/secrets/influxdb_reader_password",
      },
      configs: cfg("influxdb_sh"),
      secrets: sec("influxdb_admin_password", "influxdb_writer_password", "influxdb_reader_password"),
      volumes: [{ type: "volume", source: "influxdb", target: "/var/lib/influxdb" }],
      networks: ["platform"],
      // Healthy only once database, retention policy and users exist (the entrypoint writes the file).
      healthcheck: { test: ["CMD", "test", "-f", "/tmp/influxdb-ready"], interval: "10s", timeout: "5s", retries: 3, start_period: "60s" },
      logging: STDOUT_LOGGING,
      deploy: influxDeploy(onManager),
    },
    telegraf: {
      image: requireImage(a.images, "telegraf"),
      entrypoint: ["/bin/sh", `${FILES}/telegraf.sh`],
      // The docker group's gid as the primary group: docker stack deploy ignores group_add.
      user: telegrafUser,
      hostname: "{{.Node.Hostname}}",
      environment: telegrafEnv("/etc/telegraf/node.conf"),
      configs: cfg("telegraf_sh", "telegraf_node"),
      secrets: telegrafSecret,
      volumes: [
        { type: "bind", source: "/proc", target: "/hostfs/proc", read_only: true },
        { type: "bind", source: "/sys", target: "/hostfs/sys", read_only: true },
        { type: "bind", source: "/", target: "/hostfs", read_only: true },
        dockerSocket,
      ],
      networks: ["platform"],
      healthcheck: telegrafHealth,
      logging: STDOUT_LOGGING,
      deploy: serviceDeploy({ mode: "global", constraints: ["node.platform.os == linux"], limits: { cpus: 0.5, memory: "256M" }, reservations: { cpus: 0.05, memory: "64M" }, labels: { "mbio.component": "monitoring" } }),
    },
    "telegraf-cluster": {
      image: requireImage(a.images, "telegraf"),
      entrypoint: ["/bin/sh", `${FILES}/telegraf.sh`],
      user: telegrafUser,
      environment: telegrafEnv("/etc/telegraf/cluster.conf"),
      configs: cfg("telegraf_sh", "telegraf_cluster"),
      secrets: telegrafSecret,
      volumes: [dockerSocket],
      networks: ["platform"],
      healthcheck: telegrafHealth,
      logging: STDOUT_LOGGING,
      deploy: serviceDeploy({ constraints: onManager, limits: { cpus: 0.5, memory: "256M" }, reservations: { cpus: 0.05, memory: "64M" }, labels: { "mbio.component": "monitoring" } }),
    },
  };
  if (m.grafana) {
    services.grafana = {
      image: requireImage(a.images, "grafana"),
      environment: {
        GF_SECURITY_ADMIN_USER: "admin",
        GF_SECURITY_ADMIN_PASSWORD__FILE: "/run/secrets/grafana_admin_password",
        GF_SERVER_ROOT_URL: `https://monitoring.${a.dnsNamespace}/`,
        GF_PATHS_PROVISIONING: PROVISIONING,
        GF_USERS_ALLOW_SIGN_UP: "false",
        GF_ANALYTICS_REPORTING_ENABLED: "false",
        GF_ANALYTICS_CHECK_FOR_UPDATES: "false",
        GF_LOG_MODE: "console",
      },
      configs: cfg(...Object.keys(a.files).filter((k) => k.startsWith("grafana_") || k.startsWith("dashboard_"))),
      secrets: sec("grafana_admin_password", "influxdb_reader_password"),
      volumes: [{ type: "volume", source: "grafana", target: "/var/lib/grafana" }],
      networks: ["platform"],
      healthcheck: { test: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${GRAFANA_PORT}/api/health`], interval: "10s", timeout: "5s", retries: 3, start_period: "60s" },
      logging: STDOUT_LOGGING,
      deploy: serviceDeploy({
        constraints: onManager,
        limits: { cpus: 1, memory: "512M" },
        reservations: { cpus: 0.1, memory: "128M" },
        labels: { "mbio.component": "monitoring", ...traefikRouteLabels({ name: "grafana", host: `monitoring.${a.dnsNamespace}`, port: GRAFANA_PORT }) },
      }),
    };
  }
  const used = new Set(Object.values(services).flatMap((s) => ((s.configs ?? []) as { source: string }[]).map((c) => c.source)));
  return {
    version: "3.9",
    services,
    networks: { platform: { external: true, name: a.networkName } },
    volumes: { influxdb: { labels: { "mbio.backup": "true" } }, grafana: {} },
    configs: Object.fromEntries(Object.keys(a.files).filter((k) => used.has(k)).map((k) => [k, { external: true, name: a.configNames[k] }])),
    secrets: Object.fromEntries(SECRET_KEYS.map((k) => [k, { external: true, name: a.secretNames[k] }])),
  };
}

/**
 * InfluxDB's deploy block: stop-first, unlike every other service. Two influxd processes on one data
 * volume would both open the same TSM and WAL files (InfluxDB 1.x takes no lock across containers), so
 * the old task must stop before the new one starts; the few seconds without InfluxDB are covered by
 * Telegraf's and the backup agents' write buffers.
 */
function influxDeploy(constraints: string[]): Record<string, unknown> {
  const d = serviceDeploy({ constraints, limits: { cpus: 1, memory: "1G" }, reservations: { cpus: 0.1, memory: "256M" }, labels: { "mbio.component": "monitoring" } });
  return {
    ...d,
    update_config: { ...(d.update_config as object), order: "stop-first" },
    rollback_config: { ...(d.rollback_config as object), order: "stop-first" },
  };
}

export class TigMonitoring extends pulumi.ComponentResource {
  readonly enabled: boolean;
  /** InfluxDB as the backup agents and Telegraf reach it on the platform network. */
  readonly influxUrl: string;
  readonly grafanaUrl?: string;
  readonly stackDigest?: pulumi.Output<string>;

  constructor(name: string, args: TigMonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mbio-cloud:platform:TigMonitoring", name, {}, opts);
    this.enabled = args.monitoring.enabled;
    this.influxUrl = INFLUXDB_URL;
    if (!this.enabled) {
      this.registerOutputs({ enabled: false });
      return;
    }
    for (const key of ["influxdb", "telegraf", ...(args.monitoring.grafana ? ["grafana"] : [])]) requireImage(args.images, key);
    if (args.monitoring.grafana) {
      this.grafanaUrl = `https://monitoring.${args.dnsNamespace}/`;
    } else {
      pulumi.log.warn("monitoring.grafana is false: Grafana is not deployed in this stack (its image cannot be had here); dashboards and alert rules are generated and validated but not served", this);
    }

    const swarmObject = (kind: "config" | "secret", id: string, objectName: pulumi.Input<string>, content: pulumi.Input<string>) =>
      swarmNamedObject(this, `${name}-${kind}-${id}`, { connection: args.managerConnection, kind, name: objectName, content, label: "mbio.component=monitoring", environment: args.environment });

    const files = monitoringFiles({ environment: args.environment, dnsNamespace: args.dnsNamespace, monitoring: args.monitoring, backupSchedule: args.backupSchedule });
    const configNames: Record<string, string> = {};
    const objects: pulumi.Resource[] = [];
    for (const [key, f] of Object.entries(files)) {
      if (!args.monitoring.grafana && (key.startsWith("grafana_") || key.startsWith("dashboard_"))) continue;
      configNames[key] = contentName(`monitoring-${key.replace(/_/g, "-")}`, f.content);
      objects.push(swarmObject("config", key.replace(/_/g, "-"), configNames[key], f.content));
    }
    const secretValues: Record<SecretKey, pulumi.Input<string>> = {
      influxdb_admin_password: args.secrets.influxdbAdminPassword,
      influxdb_writer_password: args.secrets.influxdbWriterPassword,
      influxdb_reader_password: args.secrets.influxdbReaderPassword,
      grafana_admin_password: args.secrets.grafanaAdminPassword,
    };
    const secretNames = {} as Record<SecretKey, pulumi.Output<string>>;
    for (const k of SECRET_KEYS) {
      secretNames[k] = secretObjectName(`monitoring-${k.replace(/_/g, "-")}`, args.managerConnection, secretValues[k]);
      objects.push(swarmObject("secret", k.replace(/_/g, "-"), secretNames[k], pulumi.secret(secretValues[k])));
    }
    const compose = pulumi.all([pulumi.all(secretNames), pulumi.output(args.networkName)]).apply(([names, networkName]) =>
      monitoringCompose({ environment: args.environment, dnsNamespace: args.dnsNamespace, monitoring: args.monitoring, images: args.images, networkName, files, configNames, secretNames: names as Record<SecretKey, string> }),
    );
    const stack = new SwarmStack(`${name}-stack`, { connection: args.managerConnection, volumes: args.volumes, stackName: MONITORING_STACK, compose, convergeTimeoutSeconds: 300, endpointMode: args.endpointMode }, { parent: this, dependsOn: objects });
    this.stackDigest = stack.digest;
    this.registerOutputs({ enabled: true, influxUrl: this.influxUrl, grafanaUrl: this.grafanaUrl, stackDigest: this.stackDigest });
  }
}
