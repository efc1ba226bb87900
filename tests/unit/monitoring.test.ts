// TigMonitoring under Pulumi mocks (the whole program, every environment) and its pure parts: the
// Compose document, the provisioning files, config validation. Real proof: tests/real/monitoring.sh.
import { validateConfig } from "../../components/config/load";
import { monitoringSchema } from "../../components/config/monitoring";
import { alertRulesFile, backupMaxAgeSeconds, contactPointsFile } from "../../components/monitoring/alerts";
import { dashboardFiles } from "../../components/monitoring/dashboards";
import { INFLUXDB_URL, monitoringCompose, monitoringFiles, requireImage } from "../../components/tig-monitoring";
import { asSecret, deployableConfig, PIPELINE_IMAGES, ProgramRun, runProgram } from "./support/harness";

const monitoring = monitoringSchema.parse({ contactPoints: [{ name: "ops", type: "webhook", url: "https://hooks.example.test/a" }] });
const base = { environment: "staging", dnsNamespace: "staging.mbiosphere.com", monitoring, backupSchedule: "15 2 * * *" };
const names = (files: Record<string, unknown>) => Object.fromEntries(Object.keys(files).map((k) => [k, `monitoring-${k}-hash`]));
function compose(m = monitoring, images: Record<string, string> = PIPELINE_IMAGES) {
  const files = monitoringFiles({ ...base, monitoring: m });
  return monitoringCompose({ ...base, monitoring: m, images, networkName: "staging-platform", files, configNames: names(files), secretNames: { influxdb_admin_password: "a", influxdb_writer_password: "w", influxdb_reader_password: "r", grafana_admin_password: "g" } });
}
const unprefixed = (c: Record<string, unknown>) => Object.fromEntries(Object.entries(c).map(([k, v]) => [k.replace(/^mbio-cloud:/, ""), v]));
const allSecrets = { sshPrivateKey: "secret", influxdbAdminPassword: "secret", influxdbWriterPassword: "secret", influxdbReaderPassword: "secret", grafanaAdminPassword: "secret", backupS3AccessKeyId: "secret", backupS3SecretAccessKey: "secret", resticPassword: "secret", raftResticPassword: "secret", registryPassword: "secret" } as const;

describe("monitoring Compose document", () => {
  const doc = compose();
  const services = Object.entries(doc.services);

  test("four services: influxdb, telegraf (global), telegraf-cluster, grafana", () => {
    expect(Object.keys(doc.services).sort()).toEqual(["grafana", "influxdb", "telegraf", "telegraf-cluster"]);
    expect((doc.services.telegraf.deploy as { mode: string }).mode).toBe("global");
  });

  test.each(services)("%s: pinned image, healthcheck, limits and reservations, restart policy, rolling update with rollback, placement, stdout logs", (_name, svc) => {
    expect(String(svc.image)).toMatch(/:[^:@]+@sha256:[0-9a-f]{64}$/);
    const hc = svc.healthcheck as { test: string[]; interval: string };
    expect(hc.test.length).toBeGreaterThan(1);
    expect(hc.interval).toMatch(/^\d+s$/);
    const d = svc.deploy as Record<string, Record<string, unknown>>;
    expect(d.resources.limits).toEqual({ cpus: expect.any(String), memory: expect.any(String) });
    expect(d.resources.reservations).toEqual({ cpus: expect.any(String), memory: expect.any(String) });
    expect(d.restart_policy.condition).toBe("any");
    expect(d.update_config).toMatchObject({ failure_action: "rollback", monitor: expect.stringMatching(/^\d+s$/) });
    expect((d.placement.constraints as string[]).length).toBeGreaterThan(0);
    expect(svc.logging).toEqual({ driver: "json-file" });
    expect(svc.networks).toEqual(["platform"]);
  });

  test("start-first everywhere except InfluxDB's single-writer volume (stop-first)", () => {
    const order = Object.fromEntries(services.map(([n, s]) => [n, ((s.deploy as Record<string, { order: string }>).update_config).order]));
    expect(order).toEqual({ influxdb: "stop-first", telegraf: "start-first", "telegraf-cluster": "start-first", grafana: "start-first" });
  });

  test("named volumes only for data; host paths only read-only system mounts and the Docker socket", () => {
    for (const [, svc] of services) {
      for (const v of (svc.volumes ?? []) as { type: string; source: string; read_only?: boolean }[]) {
        if (v.type === "volume") expect(Object.keys(doc.volumes ?? {})).toContain(v.source);
        else expect(v).toMatchObject({ type: "bind", read_only: true });
      }
    }
    expect(doc.networks).toEqual({ platform: { external: true, name: "staging-platform" } });
  });

  test("Telegraf: user telegraf:<docker gid>, host filesystems, gather_services only in the cluster task", () => {
    const t = doc.services.telegraf;
    expect(t.user).toBe("telegraf:999");
    expect(compose(monitoringSchema.parse({ dockerGid: 988 })).services.telegraf.user).toBe("telegraf:988");
    expect(t.environment).toMatchObject({ HOST_PROC: "/hostfs/proc", HOST_SYS: "/hostfs/sys", HOST_MOUNT_PREFIX: "/hostfs" });
    const files = monitoringFiles(base);
    expect(files.telegraf_node.content).toMatch(/gather_services = false/);
    expect(files.telegraf_cluster.content).toMatch(/gather_services = true/);
    expect(files.telegraf_cluster.content).toContain('urls = ["http://tasks.edge_traefik:8082/metrics"]');
    expect(files.telegraf_cluster.content).toContain("https://monitoring.staging.mbiosphere.com:443");
    for (const f of [files.telegraf_node, files.telegraf_cluster]) {
      expect(f.content).toContain(`urls = ["${INFLUXDB_URL}"]`);
      expect(f.content).toContain('password = "${INFLUX_PASSWORD}"');
      for (const input of ["internal", "docker"]) expect(f.content).toContain(`[[inputs.${input}]]`);
    }
    for (const input of ["cpu", "mem", "disk", "diskio", "net", "system"]) expect(files.telegraf_node.content).toContain(`[[inputs.${input}]]`);
  });

  test("Grafana: Traefik labels for monitoring.<namespace>, admin password from a secret file", () => {
    const g = doc.services.grafana;
    const labels = (g.deploy as { labels: Record<string, string> }).labels;
    expect(labels).toMatchObject({
      "traefik.enable": "true",
      "traefik.http.routers.grafana.rule": "Host(`monitoring.staging.mbiosphere.com`)",
      "traefik.http.services.grafana.loadbalancer.server.port": "3000",
    });
    expect(Object.keys(labels).some((k) => k.startsWith("traefik.docker."))).toBe(false);
    expect(g.environment).toMatchObject({ GF_SECURITY_ADMIN_PASSWORD__FILE: "/run/secrets/grafana_admin_password" });
    expect(JSON.stringify(doc)).not.toMatch(/unit-test|password"\s*:\s*"[^$/]/);
  });

  test("without Grafana (offline sandbox) the rest runs and no Grafana image is needed", () => {
    const noGrafana = monitoringSchema.parse({ grafana: false });
    const d = compose(noGrafana, { influxdb: PIPELINE_IMAGES.influxdb, telegraf: PIPELINE_IMAGES.telegraf });
    expect(Object.keys(d.services).sort()).toEqual(["influxdb", "telegraf", "telegraf-cluster"]);
    expect(Object.keys(d.configs ?? {}).some((k) => k.startsWith("grafana_") || k.startsWith("dashboard_"))).toBe(false);
  });

  test("a missing image is an error naming the key", () => {
    expect(() => requireImage({}, "telegraf")).toThrow("mbio-cloud:images.telegraf is missing");
  });
});

describe("provisioning files", () => {
  test("rules: seven alerts, condition refIds present, unique uids, interval a multiple of 10 s", () => {
    const f = alertRulesFile({ backupSchedule: "15 2 * * *" });
    const rules = f.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.uid).sort()).toEqual(["backup-stale", "certificate-expiring", "disk-full", "edge-5xx-ratio", "memory-high", "node-down", "service-below-desired"]);
    for (const r of rules) expect(r.data.map((d) => d.refId)).toContain(r.condition);
    expect(new Set(rules.map((r) => r.title)).size).toBe(rules.length);
    for (const g of f.groups) expect(Number(g.interval.replace("s", "")) % 10).toBe(0);
  });

  test("the stale-backup window follows the backup schedule", () => {
    expect(backupMaxAgeSeconds("15 2 * * *")).toBe(30 * 3600);
    expect(backupMaxAgeSeconds("0 3 * * 0")).toBe(7 * 86400 + 6 * 3600);
    const rule = alertRulesFile({ backupSchedule: "0 3 * * 0" }).groups[0].rules.find((r) => r.uid === "backup-stale")!;
    expect(rule.data[0].relativeTimeRange.from).toBe(7 * 86400 + 6 * 3600);
  });

  test("contact points: webhook and e-mail from config; unknown type is a config error naming the key", () => {
    const cp = contactPointsFile(monitoringSchema.parse({ contactPoints: [{ name: "hook", type: "webhook", url: "https://h.example/x" }, { name: "mail", type: "email", addresses: ["a@b.example", "c@d.example"] }] }).contactPoints);
    expect(cp.contactPoints[0].receivers.map((r) => [r.type, r.settings])).toEqual([
      ["webhook", { url: "https://h.example/x", httpMethod: "POST" }],
      ["email", { addresses: "a@b.example;c@d.example", singleEmail: true }],
    ]);
    const raw = { ...unprefixed(deployableConfig("staging")), monitoring: { contactPoints: [{ name: "pager", type: "pagerduty" }] } };
    expect(() => validateConfig("staging", raw, allSecrets)).toThrow(/Pulumi\.staging\.yaml: mbio-cloud:monitoring\.contactPoints\[0\]\.type is pagerduty — is not a contact point type .* webhook, email/);
    const noUrl = { ...unprefixed(deployableConfig("staging")), monitoring: { contactPoints: [{ name: "hook", type: "webhook" }] } };
    expect(() => validateConfig("staging", noUrl, allSecrets)).toThrow(/mbio-cloud:monitoring\.contactPoints\[0\]\.url is missing — required for a webhook/);
  });

  test("missing monitoring secrets are named", () => {
    expect(() => validateConfig("staging", unprefixed(deployableConfig("staging")), { ...allSecrets, grafanaAdminPassword: undefined })).toThrow(/mbio-cloud:grafanaAdminPassword is missing — monitoring\.enabled is true/);
  });

  test("a changed config content gives a new config name (and the same content the same name)", () => {
    const a = monitoringFiles(base);
    const b = monitoringFiles({ ...base, monitoring: monitoringSchema.parse({ influxdb: { database: "other" } }) });
    expect(a.telegraf_node.content).not.toBe(b.telegraf_node.content);
    expect(Object.keys(dashboardFiles()).sort()).toEqual(["backups.json", "edge.json", "host-resources.json", "swarm-overview.json"]);
  });
});

describe("the program composes TigMonitoring in every environment", () => {
  const runs: Record<string, ProgramRun> = {};
  beforeAll(async () => {
    for (const env of ["development", "staging", "production"]) runs[env] = await runProgram(env, deployableConfig(env));
  });

  test.each(["development", "staging", "production"])("%s: monitoring stack deployed through SwarmStack, secrets only as Pulumi secrets", (env) => {
    const run = runs[env];
    expect(run.error).toBeUndefined();
    expect(run.resources.filter((r) => r.type === "mbio-cloud:platform:TigMonitoring").map((r) => r.name)).toEqual([`${env}-monitoring`]);
    // The deploy is the Swarm provider's stack resource: the document is its input, read back live.
    const deploy = run.resources.find((r) => r.name === `${env}-monitoring-stack-deploy`)!;
    expect(deploy.type).toBe("pulumi-nodejs:dynamic/swarm:Stack");
    const doc = JSON.parse(String(asSecret(deploy.inputs.document).value));
    expect(Object.keys(doc.services).sort()).toEqual(["grafana", "influxdb", "telegraf", "telegraf-cluster"]);
    // Swarm secrets of the Docker provider: the value a Pulumi secret, the name keyed (no value in it).
    const secrets = run.resources.filter((r) => r.type === "docker:index/secret:Secret" && r.name.startsWith(`${env}-monitoring-`));
    expect(secrets).toHaveLength(4);
    for (const s of secrets) {
      expect(asSecret(s.inputs.data).secret).toBe(true);
      expect(JSON.stringify(s.inputs.name)).not.toContain("unit-test-");
    }
    expect(JSON.stringify(doc)).not.toContain("unit-test-");
  });

  test("a changed config content rolls out as a new config name", async () => {
    const changed = await runProgram("staging", { ...deployableConfig("staging"), "mbio-cloud:monitoring": { influxdb: { retentionPolicy: { name: "platform", duration: "12w" } } } });
    const configNames = (run: ProgramRun) =>
      Object.fromEntries(run.resources.filter((r) => r.name.startsWith("staging-monitoring-config-")).map((r) => [r.name, JSON.stringify(r.inputs.name)]));
    const before = configNames(runs.staging);
    const after = configNames(changed);
    // Only the InfluxDB-facing files change with the retention policy: the entrypoint's env does, its script does not.
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    const deploy = (run: ProgramRun) => JSON.parse(String(asSecret(run.resources.find((r) => r.name === "staging-monitoring-stack-deploy")!.inputs.document).value));
    expect(deploy(changed).services.influxdb.environment.INFLUXDB_RP_DURATION).toBe("12w");
    const changedDb = await runProgram("staging", { ...deployableConfig("staging"), "mbio-cloud:monitoring": { influxdb: { database: "metrics" } } });
    const c2 = configNames(changedDb);
    expect(c2["staging-monitoring-config-telegraf-node"]).not.toBe(before["staging-monitoring-config-telegraf-node"]);
    expect(c2["staging-monitoring-config-grafana-datasource"]).not.toBe(before["staging-monitoring-config-grafana-datasource"]);
    expect(c2["staging-monitoring-config-influxdb-sh"]).toBe(before["staging-monitoring-config-influxdb-sh"]);
  });

  test("the backup agents write to the monitoring InfluxDB with the writer password as a Swarm secret", () => {
    const deploy = runs.staging.resources.find((r) => r.name === "staging-backup-stack-deploy")!;
    const doc = JSON.parse(String(asSecret(deploy.inputs.document).value));
    expect(doc.services.agent.environment).toMatchObject({ INFLUX_URL: INFLUXDB_URL, INFLUX_DB: "mbio", INFLUX_RP: "platform", INFLUX_USER: "writer", INFLUX_PASSWORD_FILE: "/run/secrets/influx_password" });
    expect(Object.keys(doc.secrets)).toContain("influx_password");
  });
});
