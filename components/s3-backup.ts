// S3Backup: encrypted, deduplicated, incremental restic backups of an environment into an S3 bucket.
//
//   stack `backup` (deployed with SwarmStack on a manager)
//     agent        global: on every node, at backup.schedule, each named volume labelled mbio.backup=true
//                  and a logical dump of each container labelled mbio.backup.database=postgres|mysql
//     maintenance  one task on a manager: repository init, Swarm raft state + unlock key (schedule),
//                  forget/prune with the retention (pruneSchedule), restic check (checkSchedule)
//
// The scripts the services run (components/files/backup/*.sh, the ones tests/real/backup-drill.sh
// exercises) travel as Swarm configs and the credentials as Swarm secrets, both named by content hash:
// a change creates new objects and rolls the services; nothing secret sits in a service's environment.
//
// Args:
//   environment        environment name (repository prefix, metrics tag)
//   backup             validated `backup` config; when enabled is false nothing is created
//   images             pinned images by role; needs `backup-agent`
//   managerConnection  SSH connection to a manager (SwarmStack and the config/secret objects)
//   networkName        the platform overlay network, so agents reach InfluxDB by service name
//   resticPassword, s3AccessKeyId, s3SecretAccessKey   secrets (Pulumi secret config)
//   raftResticPassword the Raft backup's own repository (<environment>-raft): it holds the Swarm's CA key, so
//                      only the maintenance task (managers) gets it, never the agents on every node
//                      (resticPassword, which every agent holds, cannot open it)
//   influxToken        InfluxDB token for metrics (optional; needs backup.influx)
//
// Labels for services (documented in docs/storage.md):
//   volumes:    mbio.backup=true
//   databases:  container label mbio.backup.database=postgres|mysql; optional mbio.backup.name,
//               mbio.backup.database.user. The dump runs in the database container with its own credentials.
import * as pulumi from "@pulumi/pulumi";
import type { BackupConfig } from "./config/data";
import { scriptFile } from "./files";
import { contentName, NOT_ON_CI_NODES } from "./service-conventions";
import { ComposeFile, ManagerConnections, SwarmStack } from "./swarm-stack";
import { secretObjectName, swarmNamedObject } from "./swarm-objects";

export const BACKUP_LABEL = "mbio.backup";
export const BACKUP_DATABASE_LABEL = "mbio.backup.database";
export const BACKUP_STACK = "backup";
export const BACKUP_SCRIPTS = ["lib.sh", "node.sh", "agent.sh", "backup.sh", "maintain.sh", "restore.sh"] as const;
const SCRIPTS_DIR = "/opt/mbio-backup";

export interface S3BackupArgs {
  environment: string;
  backup: BackupConfig;
  images: Record<string, string>;
  managerConnection: ManagerConnections;
  networkName?: pulumi.Input<string>;
  resticPassword: pulumi.Input<string>;
  raftResticPassword: pulumi.Input<string>;
  s3AccessKeyId: pulumi.Input<string>;
  s3SecretAccessKey: pulumi.Input<string>;
  influxToken?: pulumi.Input<string>;
  /** InfluxDB 1.x of the monitoring stack (TigMonitoring): where the agents write their metrics. */
  metrics?: BackupMetricsTarget;
  /** The stack's swarm.endpointMode (dnsrr where the kernel has no IPVS). */
  endpointMode?: "vip" | "dnsrr";
}

/** An InfluxDB 1.x write target: database, retention policy and a user allowed to write (password as a secret). */
export interface BackupMetricsTarget {
  url: string;
  database: string;
  retentionPolicy: string;
  user: string;
  password: pulumi.Input<string>;
}

/** Labels a service puts on a named volume so that S3Backup backs it up. */
export function backupVolumeLabels(): Record<string, string> {
  return { [BACKUP_LABEL]: "true" };
}

/** Container labels of a database service whose logical dumps S3Backup takes. */
export function backupDatabaseLabels(kind: "postgres" | "mysql", opts: { name?: string; user?: string } = {}): Record<string, string> {
  return {
    [BACKUP_DATABASE_LABEL]: kind,
    ...(opts.name ? { "mbio.backup.name": opts.name } : {}),
    ...(opts.user ? { "mbio.backup.database.user": opts.user } : {}),
  };
}

/**
 * The Raft backup's repository: a prefix of its own with a password of its own. The archive holds the Swarm's
 * root CA key; the agents' password (on every node) must not open it.
 */
export function raftResticRepository(backup: BackupConfig, environment: string): string {
  return `${resticRepository(backup, environment)}-raft`;
}

/** Secrets only the maintenance task (one task, on a manager) mounts. */
const MANAGER_ONLY_SECRETS = ["raft_restic_password"];

/** restic repository URL: one prefix per environment, so buckets can be shared without mixing data. */
export function resticRepository(backup: BackupConfig, environment: string): string {
  if (!backup.s3) throw new Error("backup.s3 is required to build the restic repository");
  return `s3:${backup.s3.endpoint.replace(/\/$/, "")}/${backup.s3.bucket}/${environment}`;
}

/** The Compose document of the backup stack; exported for tests and for reading. */
export function backupCompose(args: {
  environment: string;
  backup: BackupConfig;
  image: string;
  networkName?: string;
  configNames: Record<string, string>;
  secretNames: Record<string, string>;
  metrics?: Omit<BackupMetricsTarget, "password">;
}): ComposeFile {
  const { backup, environment } = args;
  const secretFile = (k: string) => `/run/secrets/${k}`;
  const env: Record<string, string> = {
    ENVIRONMENT: environment,
    RESTIC_REPOSITORY: resticRepository(backup, environment),
    RESTIC_PASSWORD_FILE: secretFile("restic_password"),
    AWS_ACCESS_KEY_ID_FILE: secretFile("s3_access_key_id"),
    AWS_SECRET_ACCESS_KEY_FILE: secretFile("s3_secret_access_key"),
    AWS_DEFAULT_REGION: backup.s3?.region ?? "us-east-1",
    AGENT_IMAGE: args.image,
    BACKUP_SCHEDULE: backup.schedule,
    PRUNE_SCHEDULE: backup.pruneSchedule,
    CHECK_SCHEDULE: backup.checkSchedule,
    CHECK_READ_DATA_SUBSET: backup.checkReadDataSubset,
    RETENTION_DAILY: String(backup.retention.daily),
    RETENTION_WEEKLY: String(backup.retention.weekly),
    RETENTION_MONTHLY: String(backup.retention.monthly),
    // Swarm fills this in per task: snapshots are grouped by the node they came from.
    NODE_NAME: "{{.Node.Hostname}}",
    ...(backup.influx ? { INFLUX_URL: backup.influx.url, INFLUX_ORG: backup.influx.org, INFLUX_BUCKET: backup.influx.bucket } : {}),
    ...(args.secretNames.influx_token ? { INFLUX_TOKEN_FILE: secretFile("influx_token") } : {}),
    ...(args.metrics
      ? { INFLUX_URL: args.metrics.url, INFLUX_DB: args.metrics.database, INFLUX_RP: args.metrics.retentionPolicy, INFLUX_USER: args.metrics.user, INFLUX_PASSWORD_FILE: secretFile("influx_password") }
      : {}),
  };
  const configs = Object.keys(args.configNames).map((file) => ({ source: file.replace(/\W/g, "_"), target: `${SCRIPTS_DIR}/${file}`, mode: 0o555 }));
  const secretsOf = (keys: string[]) => keys.map((k) => ({ source: k, target: k, mode: 0o400 }));
  const allSecrets = Object.keys(args.secretNames);
  const secrets = secretsOf(allSecrets.filter((k) => !MANAGER_ONLY_SECRETS.includes(k)));
  const networks = args.networkName ? ["platform"] : undefined;
  const common = {
    image: args.image,
    command: [`${SCRIPTS_DIR}/agent.sh`],
    configs,
    secrets,
    ...(networks ? { networks } : {}),
    // A task counts as running only after its first passing check: probe often (pgrep is cheap) so a deploy
    // converges in seconds; the start period stays the grace for slow starts.
    healthcheck: { test: ["CMD", "pgrep", "-x", "cron"], interval: "10s", timeout: "5s", retries: 3, start_period: "30s" },
    logging: { driver: "json-file", options: { "max-size": "10m", "max-file": "3" } },
  };
  return {
    version: "3.9",
    services: {
      agent: {
        ...common,
        environment: { ...env, AGENT_ROLE: "node" },
        volumes: [{ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" }],
        deploy: {
          mode: "global",
          // Every node of the platform, never a CI node (service-conventions.ts).
          placement: { constraints: [NOT_ON_CI_NODES] },
          restart_policy: { condition: "any", delay: "10s" },
          resources: { limits: { cpus: "1", memory: "1G" }, reservations: { memory: "64M" } },
          labels: { "mbio.component": "backup" },
        },
      },
      maintenance: {
        ...common,
        environment: { ...env, AGENT_ROLE: "maintenance", ...(args.secretNames.raft_restic_password ? { RAFT_RESTIC_REPOSITORY: raftResticRepository(backup, environment), RAFT_RESTIC_PASSWORD_FILE: secretFile("raft_restic_password") } : {}) },
        secrets: secretsOf(allSecrets),
        // No /var/lib/docker/swarm here: the raft backup stops the engine, so it runs over SSH (swarm-raft.sh).
        volumes: [{ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" }],
        deploy: {
          mode: "replicated",
          replicas: 1,
          placement: { constraints: ["node.role == manager", NOT_ON_CI_NODES] },
          restart_policy: { condition: "any", delay: "10s" },
          resources: { limits: { cpus: "1", memory: "1G" }, reservations: { memory: "64M" } },
          labels: { "mbio.component": "backup" },
        },
      },
    },
    configs: Object.fromEntries(Object.entries(args.configNames).map(([file, name]) => [file.replace(/\W/g, "_"), { external: true, name }])),
    secrets: Object.fromEntries(Object.entries(args.secretNames).map(([k, name]) => [k, { external: true, name }])),
    ...(args.networkName ? { networks: { platform: { external: true, name: args.networkName } } } : {}),
  };
}

export class S3Backup extends pulumi.ComponentResource {
  /** Whether backups run in this environment. */
  readonly enabled: boolean;
  /** restic repository URL (without credentials); empty when disabled. */
  readonly repository: string;
  /** Digest of the deployed backup stack; undefined when disabled. */
  readonly stackDigest?: pulumi.Output<string>;

  constructor(name: string, args: S3BackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mbio-cloud:platform:S3Backup", name, {}, opts);
    this.enabled = args.backup.enabled;
    this.repository = this.enabled ? resticRepository(args.backup, args.environment) : "";
    if (!this.enabled) {
      this.registerOutputs({ enabled: false });
      return;
    }
    const image = args.images["backup-agent"];
    if (!image) throw new Error(`images.backup-agent is required when backup.enabled is true (the pinned backup-agent image)`);
    if (args.metrics && args.backup.influx) throw new Error("backup.influx and the monitoring stack's InfluxDB are both configured; remove backup.influx (the agents write to the monitoring stack)");
    if (args.influxToken && !args.backup.influx) throw new Error("an InfluxDB token was given but backup.influx is not configured");

    // One Swarm object per script and per secret, named by content hash; creating it is idempotent.
    const swarmObject = (kind: "config" | "secret", id: string, objectName: pulumi.Input<string>, content: pulumi.Input<string>) =>
      swarmNamedObject(this, `${name}-${kind}-${id}`, { connection: args.managerConnection, kind, name: objectName, content, label: "mbio.component=backup", environment: args.environment });

    const configNames: Record<string, string> = {};
    const objects: pulumi.Resource[] = [];
    for (const file of BACKUP_SCRIPTS) {
      const text = scriptFile(`backup/${file}`);
      const objectName = contentName(`backup-${file.replace(/\.sh$/, "")}`, text);
      configNames[file] = objectName;
      objects.push(swarmObject("config", file.replace(/\W/g, "-"), objectName, text));
    }

    const secretInputs: Record<string, pulumi.Input<string> | undefined> = {
      restic_password: args.resticPassword,
      raft_restic_password: args.raftResticPassword,
      s3_access_key_id: args.s3AccessKeyId,
      s3_secret_access_key: args.s3SecretAccessKey,
      influx_token: args.influxToken,
      influx_password: args.metrics?.password,
    };
    const secretNameOutputs: Record<string, pulumi.Output<string>> = {};
    for (const [k, value] of Object.entries(secretInputs)) {
      if (value === undefined) continue;
      secretNameOutputs[k] = secretObjectName(`backup-${k.replace(/_/g, "-")}`, args.managerConnection, value);
      objects.push(swarmObject("secret", k.replace(/_/g, "-"), secretNameOutputs[k], pulumi.secret(value)));
    }

    const compose = pulumi.all([pulumi.all(secretNameOutputs), pulumi.output(args.networkName)]).apply(([secretNames, networkName]) =>
      backupCompose({ environment: args.environment, backup: args.backup, image, networkName, configNames, secretNames, metrics: args.metrics && { url: args.metrics.url, database: args.metrics.database, retentionPolicy: args.metrics.retentionPolicy, user: args.metrics.user } }),
    );
    const stack = new SwarmStack(`${name}-stack`, { connection: args.managerConnection, stackName: BACKUP_STACK, compose, convergeTimeoutSeconds: 300, endpointMode: args.endpointMode }, { parent: this, dependsOn: objects });
    this.stackDigest = stack.digest;
    this.registerOutputs({ enabled: true, repository: this.repository, stackDigest: this.stackDigest });
  }
}
