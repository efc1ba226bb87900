// The three environments must be the same platform: same resource types, same resources per node role, same
// Swarm stacks with the same services, same storage driver. What may differ are the documented seams, each
// named below and in the stack files' headers; any other difference fails here.
//   sizes      server types, node counts (managers/workers), volume size, runner concurrency
//   addresses  network ranges; the DNS name under the domain (production owns the apex)
//   backups    on/off and their schedule, bucket and retention (development runs none: the plan allows it)
// Existing-server stacks (local, on-premise) are a separate seam, the machine source: docs/storage.md.
import { asSecret, deployableConfig, ProgramRun, runProgram, stackFileConfig } from "./support/harness";

const ENVIRONMENTS = ["development", "staging", "production"] as const;
/** Resources only a stack with backups has (the backup seam). */
const BACKUP_SEAM = (env: string) => `${env}-backup`;
/** Stack-file keys (dotted paths below mbio-cloud:) whose values may differ, with the seam each belongs to. */
const CONFIG_SEAMS: Record<string, string> = {
  serverTypes: "sizes",
  managers: "sizes",
  workers: "sizes",
  "storage.hetznerVolumes.defaultSizeGb": "sizes",
  "gitlab.concurrency": "sizes",
  privateNetwork: "addresses",
  backup: "backups",
};

interface Shape {
  perRole: Record<string, string[]>;
  shared: Record<string, number>;
}

function shape(env: string, run: ProgramRun): Shape {
  const perNode: Record<string, Set<string>> = {};
  const roleOf: Record<string, string> = {};
  const shared: Record<string, number> = {};
  for (const r of run.resources) {
    if (r.name.startsWith(BACKUP_SEAM(env))) continue;
    const m = r.name.match(new RegExp(`${env}-(manager|worker)-(\\d+)`));
    const normal = r.name.split(env).join("ENV");
    if (m) {
      const node = `${m[1]}-${m[2]}`;
      // The first manager initialises the Swarm; the others join: two kinds of manager.
      roleOf[node] = node === "manager-1" ? "first-manager" : m[1];
      (perNode[node] ??= new Set()).add(`${r.type} ${normal.replace(/(manager|worker)-\d+/g, "$1-N")}`);
    } else {
      const key = `${r.type} ${normal}`;
      shared[key] = (shared[key] ?? 0) + 1;
    }
  }
  const perRole: Record<string, string[]> = {};
  for (const [node, types] of Object.entries(perNode)) {
    const sig = [...types].sort();
    const role = roleOf[node];
    if (perRole[role] && JSON.stringify(perRole[role]) !== JSON.stringify(sig)) throw new Error(`${env}: ${node} differs from other ${role}s`);
    perRole[role] = sig;
  }
  return { perRole, shared };
}

/** Swarm stack name → its service names, from the documents the program deploys. */
function services(run: ProgramRun): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of run.resources.filter((x) => x.type === "pulumi-nodejs:dynamic/swarm:Stack")) {
    const doc = JSON.parse(String(asSecret(r.inputs.document).value)) as { services: Record<string, unknown> };
    out[String(r.inputs.stackName)] = Object.keys(doc.services).sort();
  }
  return out;
}

/** Every leaf of a stack file's config as dotted path → JSON value (arrays are leaves). */
function leaves(value: unknown, prefix = ""): Record<string, string> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return { [prefix]: JSON.stringify(value) };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) Object.assign(out, leaves(v, prefix ? `${prefix}.${k}` : k.replace(/^mbio-cloud:/, "")));
  return out;
}
const seamOf = (key: string) => Object.keys(CONFIG_SEAMS).find((s) => key === s || key.startsWith(`${s}.`));

describe("environment parity", () => {
  let runs: Record<string, ProgramRun>;
  beforeAll(async () => {
    runs = {};
    for (const env of ENVIRONMENTS) runs[env] = await runProgram(env, deployableConfig(env));
  });

  test("every stack file builds without error", () => {
    for (const env of ENVIRONMENTS) expect([env, runs[env].error]).toEqual([env, undefined]);
  });

  test("the stack files differ only in the documented seams (sizes, addresses, backups)", () => {
    const files = ENVIRONMENTS.map((env) => leaves(stackFileConfig(env)));
    const keys = new Set(files.flatMap((f) => Object.keys(f)));
    const undocumented = [...keys].filter((k) => !seamOf(k) && new Set(files.map((f) => f[k])).size > 1);
    expect(undocumented).toEqual([]);
    // The seams are real: each one does differ somewhere (a stale seam would hide nothing and mislead).
    for (const seam of Object.keys(CONFIG_SEAMS)) {
      const values = files.map((f) => JSON.stringify(Object.entries(f).filter(([k]) => seamOf(k) === seam)));
      expect([seam, new Set(values).size > 1]).toEqual([seam, true]);
    }
  });

  test("one storage driver everywhere: hetzner-volumes, the edge's volume on every manager, the other stateful volumes on the first manager or CI node", () => {
    for (const env of ENVIRONMENTS) {
      expect([env, (stackFileConfig(env)["mbio-cloud:storage"] as { driver: string }).driver]).toEqual([env, "hetzner-volumes"]);
      const volumes = runs[env].resources.filter((r) => r.type === "hcloud:index/volume:Volume").map((r) => String(r.inputs.name));
      const managers = runs[env].resources.filter((r) => r.type === "hcloud:index/server:Server" && /-manager-\d+$/.test(r.name)).length;
      expect([env, volumes.filter((v) => v.endsWith("-edge-acme")).length]).toEqual([env, managers]);
      expect([env, volumes.filter((v) => !v.endsWith("-edge-acme")).every((v) => v.startsWith(`${env}-manager-1-`) || v.startsWith(`${env}-ci-1-`))]).toEqual([env, true]);
      // Each volume attached and mounted; no CSI plugin anywhere.
      const count = (t: string, suffix: string) => runs[env].resources.filter((r) => r.type === t && r.name.endsWith(suffix)).length;
      expect([env, count("hcloud:index/volumeAttachment:VolumeAttachment", "-attachment"), count("command:remote:Command", "-mount")]).toEqual([env, volumes.length, volumes.length]);
      expect([env, count("command:remote:Command", "-csi-plugin")]).toEqual([env, 0]);
    }
  });

  test("the same resource types in all three; only backup resources are missing where backups are off", () => {
    const types = ENVIRONMENTS.map((env) => [...new Set(runs[env].resources.filter((r) => !r.name.startsWith(BACKUP_SEAM(env))).map((r) => r.type))].sort());
    expect(types[0].length).toBeGreaterThan(10);
    expect(types[1]).toEqual(types[0]);
    expect(types[2]).toEqual(types[0]);
    const backupTypes = (env: string) => runs[env].resources.filter((r) => r.name.startsWith(BACKUP_SEAM(env)) && !r.type.startsWith("mbio-cloud:")).length;
    expect(ENVIRONMENTS.map(backupTypes).map((n) => n > 0)).toEqual([false, true, true]);
  });

  test("the same Swarm stacks with the same services; development lacks only the backup stack", () => {
    const sets = ENVIRONMENTS.map((env) => services(runs[env]));
    expect(Object.keys(sets[1]).length).toBeGreaterThan(3);
    expect(sets[2]).toEqual(sets[1]);
    const { backup, ...withoutBackup } = sets[1];
    expect(backup).toEqual(expect.arrayContaining(["agent"]));
    expect(sets[0]).toEqual(withoutBackup);
  });

  test("every manager and every worker gets the same resources in all three environments", () => {
    const shapes = ENVIRONMENTS.map((env) => shape(env, runs[env]).perRole);
    expect(shapes[0]["first-manager"].length).toBeGreaterThan(3);
    // development has a single manager; the staging and production joiners must match each other.
    expect(shapes[1]).toEqual(shapes[2]);
    expect(shapes[1]["first-manager"]).toEqual(shapes[0]["first-manager"]);
    expect(shapes[1].worker).toEqual(shapes[0].worker);
  });

  test("shared resources (network, firewalls, keys, placement groups, init) are identical", () => {
    const shared = ENVIRONMENTS.map((env) => shape(env, runs[env]).shared);
    expect(Object.keys(shared[0]).length).toBeGreaterThan(5);
    expect(shared[1]).toEqual(shared[0]);
    expect(shared[2]).toEqual(shared[0]);
  });

  test("only sizing differs in the swarm: node counts follow managers/workers/ciNodes", () => {
    const counts = ENVIRONMENTS.map((env) => runs[env].resources.filter((r) => r.type === "hcloud:index/server:Server").length);
    const expected = ENVIRONMENTS.map((env) => {
      const c = deployableConfig(env);
      return Number(c["mbio-cloud:managers"]) + Number(c["mbio-cloud:workers"]) + Number(c["mbio-cloud:ciNodes"] ?? 0);
    });
    expect(counts).toEqual(expected);
  });

  test("names, labels and DNS use the full environment name", () => {
    for (const env of ENVIRONMENTS) {
      const run = runs[env];
      expect(run.outputs.environmentName).toBe(env);
      expect(run.outputs.dnsNamespace).toBe(env === "production" ? "mbiosphere.com" : `${env}.mbiosphere.com`);
      for (const r of run.resources) expect(r.name.startsWith(`${env}-`) || r.name === env).toBe(true);
      expect(JSON.stringify(run.resources.map((r) => r.name))).not.toMatch(/\b(dev|stage|prod)-/);
    }
  });
});
