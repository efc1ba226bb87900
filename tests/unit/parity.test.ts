// The three environments must be the same platform: same components, same resources per node role.
// Only sizing (counts, server types) and the documented seams (storage driver, whether backups run)
// may differ; this test names those seams explicitly so a new difference fails loudly.
import { deployableConfig, ProgramRun, runProgram } from "./support/harness";

const ENVIRONMENTS = ["development", "staging", "production"] as const;
/** Resource name prefixes of per-stack seams (docs/storage.md, docs/disaster-recovery.md). */
const SEAMS = (env: string) => [`${env}-storage`, `${env}-backup`];

interface Shape {
  perRole: Record<string, string[]>;
  shared: Record<string, number>;
}

function shape(env: string, run: ProgramRun): Shape {
  const perNode: Record<string, Set<string>> = {};
  const roleOf: Record<string, string> = {};
  const shared: Record<string, number> = {};
  for (const r of run.resources) {
    if (SEAMS(env).some((p) => r.name.startsWith(p))) continue;
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

describe("environment parity", () => {
  let runs: Record<string, ProgramRun>;
  beforeAll(async () => {
    runs = {};
    for (const env of ENVIRONMENTS) runs[env] = await runProgram(env, deployableConfig(env));
  }, 120000); // three whole programs: on a loaded 2-core machine more than the default 30 s

  test("every stack file builds without error", () => {
    for (const env of ENVIRONMENTS) expect([env, runs[env].error]).toEqual([env, undefined]);
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

  test("only sizing differs in the swarm: node counts follow managers/workers", () => {
    const counts = ENVIRONMENTS.map((env) => runs[env].resources.filter((r) => r.type === "hcloud:index/server:Server").length);
    const expected = ENVIRONMENTS.map((env) => {
      const c = deployableConfig(env);
      return Number(c["mbio-cloud:managers"]) + Number(c["mbio-cloud:workers"]);
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
