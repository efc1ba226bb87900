// S3Backup under Pulumi mocks: what it creates for each environment's config, and the Compose document
// it deploys. The scripts themselves are exercised for real by tests/real/backup-drill.sh.
import * as pulumi from "@pulumi/pulumi";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { backupSchema } from "../../components/config/data";
import { asSecret, settle as settleRegistrations } from "./support/harness";

interface Res { type: string; name: string; inputs: Record<string, unknown> }
const resources: Res[] = [];
pulumi.runtime.setMocks(
  {
    newResource: (a) => {
      resources.push({ type: a.type, name: a.name, inputs: a.inputs });
      return { id: `${a.name}-id`, state: { ...a.inputs, stdout: "", stderr: "" } };
    },
    call: (a) => a.inputs,
  },
  "mbio-cloud",
  "staging",
  false,
);

// Imported after setMocks, as the mocks require.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { S3Backup, backupCompose, resticRepository, BACKUP_SCRIPTS } = require("../../components/s3-backup") as typeof import("../../components/s3-backup");

const IMAGE = "registry.example/mbio/backup-agent:1.0.0@sha256:" + "a".repeat(64);
const enabled = backupSchema.parse({ enabled: true, schedule: "15 2 * * *", s3: { endpoint: "https://fsn1.your-objectstorage.com", bucket: "mbio-cloud-staging-backups", region: "fsn1" }, retention: { daily: 7, weekly: 4, monthly: 6 } });
const connection = { host: "198.51.100.1", user: "root", privateKey: "k", hostKey: "ssh-ed25519 AAAAtest" };

const settle = () => settleRegistrations(() => resources.length);

function build(name: string, backup = enabled, extra: Record<string, unknown> = {}) {
  resources.length = 0;
  return new S3Backup(name, { environment: "staging", backup, images: { "backup-agent": IMAGE }, managerConnection: connection, networkName: "staging-platform", resticPassword: pulumi.secret("pw"), raftResticPassword: pulumi.secret("raft-pw"), s3AccessKeyId: pulumi.secret("id"), s3SecretAccessKey: pulumi.secret("key"), ...extra });
}

describe("S3Backup", () => {
  test("disabled (development default): creates nothing", async () => {
    const b = build("development-backup", backupSchema.parse(undefined));
    await settle();
    expect(b.enabled).toBe(false);
    expect(resources.filter((r) => r.type !== "mbio-cloud:platform:S3Backup")).toEqual([]);
  });

  test("the Raft backup's password reaches the maintenance task (managers) only, with a repository of its own", async () => {
    build("staging-backup");
    await settle();
    const deploy = resources.find((r) => r.name === "staging-backup-stack-deploy")!;
    const doc = JSON.parse(String(asSecret(deploy.inputs.document).value));
    const names = (svc: { secrets: { source: string }[] }) => svc.secrets.map((s) => s.source).sort();
    // The global agent (every platform node) cannot open the Raft archive's repository.
    expect(names(doc.services.agent)).toEqual(["restic_password", "s3_access_key_id", "s3_secret_access_key"]);
    expect(doc.services.agent.environment.RAFT_RESTIC_REPOSITORY).toBeUndefined();
    expect(names(doc.services.maintenance)).toEqual(["raft_restic_password", "restic_password", "s3_access_key_id", "s3_secret_access_key"]);
    expect(doc.services.maintenance.deploy.placement.constraints).toContain("node.role == manager");
    expect(doc.services.maintenance.environment).toMatchObject({ RAFT_RESTIC_REPOSITORY: `${doc.services.maintenance.environment.RESTIC_REPOSITORY}-raft`, RAFT_RESTIC_PASSWORD_FILE: "/run/secrets/raft_restic_password" });
    const secret = resources.find((r) => r.name === "staging-backup-secret-raft-restic-password")!;
    expect(asSecret(secret.inputs.data)).toEqual({ secret: true, value: Buffer.from("raft-pw").toString("base64") });
  });

  test("enabled: configs for every script, four secrets, one stack deployed through SwarmStack", async () => {
    build("staging-backup");
    await settle();
    // Swarm objects of the Docker provider (components/swarm-objects.ts).
    const configs = resources.filter((r) => r.type === "docker:index/serviceConfig:ServiceConfig");
    const secrets = resources.filter((r) => r.type === "docker:index/secret:Secret");
    expect(configs).toHaveLength(BACKUP_SCRIPTS.length);
    expect(secrets.map((s) => s.name).sort()).toEqual(["staging-backup-secret-raft-restic-password", "staging-backup-secret-restic-password", "staging-backup-secret-s3-access-key-id", "staging-backup-secret-s3-secret-access-key"]);
    // Secret values are Pulumi secrets (encrypted in state), never plain inputs.
    for (const s of secrets) expect(asSecret(s.inputs.data).secret).toBe(true);
    expect(resources.filter((r) => r.type === "mbio-cloud:platform:SwarmStack").map((r) => r.name)).toEqual(["staging-backup-stack"]);
    // The deploy is the Swarm provider's stack resource (the document as its input, read back live).
    const deploy = resources.find((r) => r.name === "staging-backup-stack-deploy")!;
    expect(deploy.type).toBe("pulumi-nodejs:dynamic/swarm:Stack");
    const doc = JSON.parse(String(asSecret(deploy.inputs.document).value));
    expect(doc.services.agent.deploy.mode).toBe("global");
    expect(doc.services.maintenance.deploy.placement.constraints).toEqual(["node.role == manager", "node.labels.mbio.role != ci"]);
    expect(doc.services.agent.image).toBe(IMAGE);
    expect(JSON.stringify(doc)).not.toContain('"pw"');
  });

  test("the compose document: schedules, retention, repository per environment, secrets as files", () => {
    const doc = backupCompose({ environment: "production", backup: { ...enabled, influx: { url: "http://influxdb:8086", org: "mbio", bucket: "backup" } }, image: IMAGE, networkName: "production-platform", configNames: { "agent.sh": "backup-agent-x" }, secretNames: { restic_password: "p", s3_access_key_id: "i", s3_secret_access_key: "s", influx_token: "t" } });
    const env = doc.services.agent.environment as Record<string, string>;
    expect(env.RESTIC_REPOSITORY).toBe("s3:https://fsn1.your-objectstorage.com/mbio-cloud-staging-backups/production");
    expect(env.BACKUP_SCHEDULE).toBe("15 2 * * *");
    expect(env.RETENTION_DAILY).toBe("7");
    expect(env.RESTIC_PASSWORD_FILE).toBe("/run/secrets/restic_password");
    expect(env.INFLUX_URL).toBe("http://influxdb:8086");
    expect(env.INFLUX_TOKEN_FILE).toBe("/run/secrets/influx_token");
    expect(Object.keys(env).some((k) => /PASSWORD$|SECRET_ACCESS_KEY$|ACCESS_KEY_ID$/.test(k))).toBe(false);
    expect(doc.configs).toEqual({ agent_sh: { external: true, name: "backup-agent-x" } });
    expect(doc.networks).toEqual({ platform: { external: true, name: "production-platform" } });
    // The raft backup stops the engine over SSH (swarm-raft.sh): the task never sees the Swarm's CA keys.
    expect((doc.services.maintenance.volumes as { source: string }[]).map((v) => v.source)).not.toContain("/var/lib/docker/swarm");
  });

  test("one repository prefix per environment", () => {
    expect(resticRepository(enabled, "staging")).toBe("s3:https://fsn1.your-objectstorage.com/mbio-cloud-staging-backups/staging");
  });

  test("missing backup-agent image is a clear error", () => {
    expect(() => new S3Backup("x", { environment: "staging", backup: enabled, images: {}, managerConnection: connection, resticPassword: "a", raftResticPassword: "r", s3AccessKeyId: "b", s3SecretAccessKey: "c" })).toThrow(/images.backup-agent is required/);
  });

  test("schema: retention, schedules and influx are validated with operator messages", () => {
    expect(backupSchema.safeParse({ enabled: true }).error?.issues[0].message).toMatch(/required when backup.enabled is true/);
    expect(backupSchema.safeParse({ enabled: true, s3: enabled.s3, pruneSchedule: "daily" }).error?.issues[0].message).toMatch(/cron/);
    expect(backupSchema.safeParse({ enabled: true, s3: enabled.s3, checkReadDataSubset: "500%" }).success).toBe(false);
    expect(backupSchema.parse({ enabled: false }).pruneSchedule).toBe("15 5 * * *");
  });

  test("every backup script is shellcheck-clean", () => {
    const dir = path.join(__dirname, "../../components/files/backup");
    const files = [...BACKUP_SCRIPTS, "swarm-raft.sh"].map((f) => path.join(dir, f));
    expect(() => execFileSync("shellcheck", ["-x", "-P", dir, ...files], { cwd: path.join(__dirname, "../.."), stdio: "pipe" })).not.toThrow();
  });

  test("tools/mbio-restore ships every script restore.sh and swarm-raft.sh source, and is shellcheck-clean", () => {
    const root = path.join(__dirname, "../..");
    const tool = fs.readFileSync(path.join(root, "tools/mbio-restore"), "utf8");
    const shipped = (/-cf - ([\w. -]+) \|/.exec(tool)?.[1] ?? "").trim().split(/\s+/);
    const dir = path.join(root, "components/files/backup");
    for (const script of ["restore.sh", "swarm-raft.sh"]) {
      const sourced = [...fs.readFileSync(path.join(dir, script), "utf8").matchAll(/^source "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/([\w.-]+)"/gm)].map((m) => m[1]);
      expect(sourced.length).toBeGreaterThan(0);
      expect(shipped).toEqual(expect.arrayContaining([script, ...sourced]));
    }
    expect(BACKUP_SCRIPTS).toContain("node.sh");
    expect(() => execFileSync("shellcheck", ["-x", "tools/mbio-restore"], { cwd: root, stdio: "pipe" })).not.toThrow();
  });
});
