// The plan of every real stack under mocks: which resources (type and name) the program registers, how many
// of each type (tests/unit/expected/plan-counts.json, committed: a change of the plan is a reviewed change of
// that file, never rewritten by a test) and the orderings that matter. The real-provider preview
// (tests/real/preview.sh) compares the real engine's plan with this one, so what the mock tests assert on is
// what `pulumi preview` would create. MBIO_PLAN_OUT=DIR writes <stack>.json there.
import * as fs from "fs";
import * as path from "path";
import { deployableConfig, MockResource, ProgramRun, runProgram, stackFileConfig, typeCounts } from "./support/harness";

const EXPECTED = JSON.parse(fs.readFileSync(path.join(__dirname, "expected/plan-counts.json"), "utf8")) as Record<string, Record<string, number>>;
/** The sizing each stack file sets: managers, workers and the CI nodes runner jobs run on (no platform service). */
const size = (stack: string) => {
  const c = stackFileConfig(stack);
  return { managers: Number(c["mbio-cloud:managers"]), workers: Number(c["mbio-cloud:workers"] ?? 0) + Number(c["mbio-cloud:ciNodes"] ?? 0) };
};

/** Everything a resource waits for: its own dependencies and those of its component ancestors, transitively. */
function waitsFor(run: ProgramRun, r: MockResource): Set<string> {
  const byName = new Map(run.resources.map((x) => [x.name, x]));
  const seen = new Set<string>();
  const todo = [...r.dependsOn];
  for (let p = byName.get(r.parent); p; p = byName.get(p.parent)) todo.push(...p.dependsOn);
  while (todo.length) {
    const n = todo.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    const x = byName.get(n);
    if (!x) continue;
    todo.push(...x.dependsOn);
    for (let p = byName.get(x.parent); p; p = byName.get(p.parent)) todo.push(...p.dependsOn);
  }
  return seen;
}

describe.each(["development", "staging", "production"])("plan of %s", (stack) => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram(stack, deployableConfig(stack));
  });
  const named = (type: string) => run.resources.filter((r) => r.type === type);

  test("registers every resource without error, each (type, name) once", () => {
    expect(run.error).toBeUndefined();
    const plan = run.resources.map((r) => `${r.type}::${r.name}`).sort();
    expect(new Set(plan).size).toBe(plan.length);
    expect(plan).toContain(`mbio-cloud:platform:Environment::${stack}`);
    const out = process.env.MBIO_PLAN_OUT;
    if (out) {
      fs.mkdirSync(out, { recursive: true });
      fs.writeFileSync(path.join(out, `${stack}.json`), JSON.stringify(plan, null, 1));
    }
  });

  test("resources per type are the reviewed plan (tests/unit/expected/plan-counts.json)", () => {
    expect(typeCounts(run)).toEqual(EXPECTED[stack]);
  });

  test("one server, host key, membership and engine rollout per machine of the stack file's size", () => {
    const machines = size(stack).managers + size(stack).workers;
    for (const t of ["hcloud:index/server:Server", "pulumi-nodejs:dynamic/mbio:SshHostKey", "pulumi-nodejs:dynamic/swarm:Join", "pulumi-nodejs:dynamic/swarm:Node", "pulumi-nodejs:dynamic/swarm:EngineRollout"]) {
      expect([t, named(t).length]).toEqual([t, machines]);
    }
    expect(named("pulumi-nodejs:dynamic/swarm:Swarm")).toHaveLength(1);
  });

  test("the Swarm waits for every manager's engine; every join for the Swarm and its own engine", () => {
    const swarm = named("pulumi-nodejs:dynamic/swarm:Swarm")[0];
    const joins = named("pulumi-nodejs:dynamic/swarm:Join");
    expect(joins).toHaveLength(size(stack).managers + size(stack).workers);
    for (let i = 1; i <= size(stack).managers; i++) expect(swarm.dependsOn).toContain(`${stack}-swarm-${stack}-manager-${i}-docker`);
    for (const j of joins) {
      expect(j.dependsOn).toContain(swarm.name);
      expect(j.dependsOn).toContain(j.name.replace(/-join$/, "-docker"));
    }
  });

  test("each node's chain runs in order: first boot → harden → engine; the platform network after the Swarm", () => {
    for (const r of run.resources.filter((x) => x.name.endsWith("-harden"))) expect(r.dependsOn).toContain(r.name.replace(/-harden$/, "-first-boot"));
    for (const r of run.resources.filter((x) => x.type === "command:remote:Command" && x.name.endsWith("-docker"))) expect(r.dependsOn).toContain(r.name.replace(/-docker$/, "-harden"));
    expect(named("pulumi-nodejs:dynamic/swarm:Network")[0].dependsOn).toContain(named("pulumi-nodejs:dynamic/swarm:Swarm")[0].name);
  });

  test("every platform stack deploys only after the platform network and every node's membership", () => {
    const network = named("pulumi-nodejs:dynamic/swarm:Network")[0].name;
    const memberships = named("pulumi-nodejs:dynamic/swarm:Node").map((n) => n.name);
    const deploys = named("pulumi-nodejs:dynamic/swarm:Stack");
    expect(deploys.length).toBeGreaterThanOrEqual(4);
    for (const d of deploys) {
      const waits = waitsFor(run, d);
      expect([d.name, waits.has(network)]).toEqual([d.name, true]);
      for (const m of memberships) expect([d.name, m, waits.has(m)]).toEqual([d.name, m, true]);
    }
  });

  test("every DNS record waits for the server it points at", () => {
    const servers = new Set(named("hcloud:index/server:Server").map((s) => s.name));
    for (const r of named("cloudflare:index/dnsRecord:DnsRecord")) expect(r.dependsOn.filter((d) => servers.has(d))).toHaveLength(1);
  });
});
