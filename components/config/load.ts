// Reads a stack's configuration, validates all of it before any resource exists, and reports every
// problem at once in the operator's terms: stack file, key, value, what is allowed.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ADMIN_TOKEN_ENV, ADMIN_TOKEN_SHAPE } from "./gitlab";
import { ENVIRONMENTS, EnvironmentName, PlatformConfig, platformSchema } from "./schema";

export const NAMESPACE = "mbio-cloud";

/** Secret keys: set with `pulumi config set --secret`, never validated by value, never echoed. */
export const SECRET_KEYS = {
  sshPrivateKey: "the OpenSSH private key Pulumi uses to reach every machine",
  backupS3AccessKeyId: "the S3 access key id of the backup bucket",
  backupS3SecretAccessKey: "the S3 secret access key of the backup bucket",
  resticPassword: "the password that encrypts the restic backup repository",
  raftResticPassword: "the password of the Raft backup's own restic repository (<environment>-raft): held by the managers' maintenance task and tools/mbio-restore only, never by a node's backup agent",
  adminPassword: "the password of the admin UIs: the edge dashboard (user edge.dashboardUser) and Portainer (user admin)",
  cloudflareApiToken: "a Cloudflare API token with Zone.DNS edit on the zone (DNS records and the ACME DNS challenge)",
  registryPassword: "the password (GitLab deploy token) of the private registry in mbio-cloud:registry",
  influxdbAdminPassword: "the password of InfluxDB's admin user (monitoring stack)",
  influxdbWriterPassword: "the password of InfluxDB's writer user (Telegraf, backup agents)",
  influxdbReaderPassword: "the password of InfluxDB's reader user (Grafana's datasource)",
  grafanaAdminPassword: "the password of Grafana's admin user",
  gitlabToken: "a GitLab access token (glpat-…, scope create_runner, Owner/Maintainer of gitlab.groupId/projectId) that creates the runner; or export GITLAB_TOKEN",
} as const;
export type SecretKey = keyof typeof SECRET_KEYS;

/** What each top-level key accepts, said when the key is missing. */
const ALLOWED: Record<string, string> = {
  domain: "the environment's DNS domain, e.g. mbiosphere.com",
  machineSource: "hetzner or existing",
  managers: "1, 3 or 5",
  workers: "a whole number from 0 to 50",
  sshPublicKeys: "a list of OpenSSH public keys",
  adminCidrs: "a list of CIDRs allowed to reach SSH, e.g. [203.0.113.0/24]",
  dockerEngine: "{ package: docker-ce | docker.io, version: <exact apt version> }",
  swarm: "{ overlayEncrypted: true|false, endpointMode: vip|dnsrr, publishMode: ingress|host, overlayMtu?: 1280-1450, joinTokenRotation?: whole number ≥ 0 }",
};

export interface ValidatedConfig extends PlatformConfig {
  environment: EnvironmentName;
  stackFile: string;
}

export class ConfigError extends Error {
  constructor(
    readonly stackFile: string,
    readonly problems: string[],
  ) {
    super(`${stackFile} has ${problems.length} problem(s); fix them and run again (nothing was created):\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

function keyPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), "");
}

function valueAt(obj: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  return path.reduce<unknown>((o, p) => (o !== null && typeof o === "object" ? (o as Record<PropertyKey, unknown>)[p] : undefined), obj);
}

function show(v: unknown): string {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function describeIssue(stackFile: string, raw: Record<string, unknown>, issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    return issue.keys
      .map((k) => `${stackFile}: ${NAMESPACE}:${keyPath([...issue.path, k])} is not a known key — check its spelling (see docs/configuration.md)`)
      .join("\n  - ");
  }
  const key = `${NAMESPACE}:${keyPath(issue.path)}`;
  const value = valueAt(raw, issue.path);
  if (value === undefined) {
    const top = String(issue.path[0] ?? "");
    if (issue.path.length === 1 && ALLOWED[top]) return `${stackFile}: ${key} is missing — set it to ${ALLOWED[top]}`;
    return `${stackFile}: ${key} is missing — ${issue.message}`;
  }
  return `${stackFile}: ${key} is ${show(value)} — ${issue.message}`;
}

/** Config values arrive as strings; structured ones are JSON. */
export function parseConfigValue(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/**
 * Validates one stack's raw values (keys without the namespace). `secretState` says, for each secret key
 * that has a value, whether it was set as a secret or in plain text. Throws ConfigError listing every problem.
 */
export function validateConfig(
  stack: string,
  raw: Record<string, unknown>,
  secretState: Partial<Record<SecretKey, "secret" | "plain">> = {},
  /** Secrets whose shape is checked (never echoed): gitlabToken from config or the GITLAB_TOKEN variable. */
  secretValues: Partial<Record<SecretKey, string>> = {},
): ValidatedConfig {
  const stackFile = `Pulumi.${stack}.yaml`;
  const problems: string[] = [];
  if (!(ENVIRONMENTS as readonly string[]).includes(stack)) {
    problems.push(`${stackFile}: the stack name ${stack} is not an environment — use one of ${ENVIRONMENTS.join(", ")} (spelled out, never dev/stage/prod)`);
  }
  const values: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (!(k in SECRET_KEYS)) values[k] = v;

  const parsed = platformSchema.safeParse(values);
  if (!parsed.success) problems.push(...parsed.error.issues.map((i) => describeIssue(stackFile, values, i)));

  const requireSecret = (k: SecretKey, why: string) => {
    const state = secretState[k];
    if (state === undefined) problems.push(`${stackFile}: ${NAMESPACE}:${k} is missing — ${why}: pulumi config set --secret ${NAMESPACE}:${k} --stack ${stack} (${SECRET_KEYS[k]})`);
  };
  for (const [k, state] of Object.entries(secretState)) {
    if (state === "plain") problems.push(`${stackFile}: ${NAMESPACE}:${k} is stored in plain text — it must be a secret: pulumi config set --secret ${NAMESPACE}:${k} --stack ${stack}`);
  }
  requireSecret("sshPrivateKey", "Pulumi bootstraps every machine over SSH");
  // Even when other keys are invalid, say which secrets the enabled backup will need.
  const backupEnabled = parsed.success ? parsed.data.backup.enabled : (values.backup as { enabled?: unknown } | undefined)?.enabled === true;
  if (backupEnabled) {
    requireSecret("backupS3AccessKeyId", "backup.enabled is true");
    requireSecret("backupS3SecretAccessKey", "backup.enabled is true");
    requireSecret("resticPassword", "backup.enabled is true");
    requireSecret("raftResticPassword", "backup.enabled is true (the Raft backup's own repository)");
  }
  const monitoringEnabled = parsed.success ? parsed.data.monitoring.enabled : (values.monitoring as { enabled?: unknown } | undefined)?.enabled !== false;
  if (monitoringEnabled) {
    for (const k of ["influxdbAdminPassword", "influxdbWriterPassword", "influxdbReaderPassword", "grafanaAdminPassword"] as const) requireSecret(k, "monitoring.enabled is true");
  }
  requireSecret("adminPassword", "the edge dashboard and Portainer are behind it");
  const section = (k: string) => (parsed.success ? (parsed.data as unknown as Record<string, Record<string, unknown>>)[k] : (values[k] as Record<string, unknown> | undefined)) ?? {};
  if (section("dns").provider === "cloudflare") requireSecret("cloudflareApiToken", "dns.provider is cloudflare");
  else if (((section("edge").acme as Record<string, unknown> | undefined)?.challenge ?? "dns-cloudflare") === "dns-cloudflare") requireSecret("cloudflareApiToken", "edge.acme.challenge is dns-cloudflare");
  const registrySet = parsed.success ? parsed.data.registry !== undefined : values.registry !== undefined;
  if (registrySet) requireSecret("registryPassword", "mbio-cloud:registry is set");
  const gitlabEnabled = parsed.success ? parsed.data.gitlab.enabled : (values.gitlab as { enabled?: unknown } | undefined)?.enabled === true;
  if (gitlabEnabled) {
    const token = secretValues.gitlabToken;
    if (secretState.gitlabToken === undefined && token === undefined) {
      requireSecret("gitlabToken", `gitlab.enabled is true (or export ${ADMIN_TOKEN_ENV})`);
    } else if (token !== undefined && !ADMIN_TOKEN_SHAPE.test(token)) {
      const source = secretState.gitlabToken === undefined ? `the environment variable ${ADMIN_TOKEN_ENV}` : `${NAMESPACE}:gitlabToken`;
      problems.push(`${stackFile}: ${source} has the wrong shape — it must be a GitLab personal, group or project access token (glpat-…, scope create_runner); a runner token (glrt-…), registration token or job token cannot create runners`);
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(stackFile, problems);
  return { ...parsed.data, environment: stack as EnvironmentName, stackFile };
}

/** Reads the current stack's `mbio-cloud:*` config from the Pulumi runtime and validates it. */
// isConfigSecret exists at runtime in @pulumi/pulumi but is missing from its type declarations.
const isConfigSecret = (k: string): boolean =>
  (pulumi.runtime as unknown as { isConfigSecret(k: string): boolean }).isConfigSecret(k);

export function loadConfig(): ValidatedConfig {
  const stack = pulumi.getStack();
  const all = pulumi.runtime.allConfig();
  const raw: Record<string, unknown> = {};
  const secretState: Partial<Record<SecretKey, "secret" | "plain">> = {};
  for (const [fullKey, value] of Object.entries(all)) {
    if (!fullKey.startsWith(`${NAMESPACE}:`)) continue;
    const key = fullKey.slice(NAMESPACE.length + 1);
    if (key in SECRET_KEYS) {
      secretState[key as SecretKey] = isConfigSecret(fullKey) ? "secret" : "plain";
    } else {
      raw[key] = parseConfigValue(value);
    }
  }
  const secretValues: Partial<Record<SecretKey, string>> = {};
  const token = all[`${NAMESPACE}:gitlabToken`] ?? process.env[ADMIN_TOKEN_ENV];
  if (token !== undefined) secretValues.gitlabToken = token;
  return validateConfig(stack, raw, secretState, secretValues);
}

/** The secrets as Pulumi secret outputs; only call after loadConfig() succeeded. */
export function secret(key: SecretKey): pulumi.Output<string> {
  return new pulumi.Config(NAMESPACE).requireSecret(key);
}
export function optionalSecret(key: SecretKey): pulumi.Output<string> | undefined {
  return new pulumi.Config(NAMESPACE).getSecret(key);
}
