// Rolling changes: engine pin changes and server resizes reach one node at a time, managers first.
import { execFileSync } from "child_process";
import * as path from "path";
import { validateConfig } from "../../components/config/load";
import { engineRolloutProvider, rollingOrder, type EngineRolloutOutputs } from "../../components/dynamic-providers/engine";
import { byType, deployableConfig, REPO, runProgram } from "./support/harness";

const ROLLOUT = "pulumi-nodejs:dynamic/swarm:EngineRollout";
const COMMAND = "command:remote:Command";
const unprefixed = (config: Record<string, unknown>) => Object.fromEntries(Object.entries(config).map(([k, v]) => [k.replace(/^mbio-cloud:/, ""), v]));

describe("rolling engine changes", () => {
  test("order: managers one by one (first manager first), then workers", () => {
    const nodes = [
      { name: "w1", role: "worker" },
      { name: "m1", role: "manager" },
      { name: "w2", role: "worker" },
      { name: "m2", role: "manager" },
    ];
    expect(rollingOrder(nodes).map((n) => n.name)).toEqual(["m1", "m2", "w1", "w2"]);
  });

  test("staging: one EngineRollout per node, chained manager-1 → manager-2 → manager-3 → ci-1 → worker-1 → worker-2 (CI nodes before the workers, so scaling workers never moves them), with the pinned engine and containerd", async () => {
    const run = await runProgram("staging", deployableConfig("staging"));
    expect(run.error).toBeUndefined();
    const rollouts = byType(run, ROLLOUT);
    const after = Object.fromEntries(rollouts.map((r) => [r.inputs.nodeName as string, r.inputs.after]));
    expect(after).toEqual({
      "staging-manager-1": "",
      "staging-manager-2": "staging-manager-1",
      "staging-manager-3": "staging-manager-2",
      "staging-ci-1": "staging-manager-3",
      "staging-worker-1": "staging-ci-1",
      "staging-worker-2": "staging-worker-1",
    });
    for (const r of rollouts) {
      expect(r.inputs.engine).toEqual({ DOCKER_PACKAGE: "docker-ce", DOCKER_VERSION: "5:27.5.1-1~debian.12~bookworm", CONTAINERD_VERSION: "1.7.25-1" });
      expect(r.inputs.scriptSha256).toMatch(/^[0-9a-f]{64}$/);
    }
    // The first install passes the containerd pin too.
    const installs = byType(run, COMMAND).filter((c) => c.name.endsWith("-docker"));
    expect(installs).toHaveLength(6);
    for (const c of installs) expect(String(c.inputs.create)).toContain("CONTAINERD_VERSION='1.7.25-1'");
  });

  test("Hetzner: every server has a health gate that re-runs when its server type changes (the next server waits for it)", async () => {
    const run = await runProgram("staging", deployableConfig("staging"));
    const gates = byType(run, COMMAND).filter((c) => c.name.endsWith("-healthy"));
    expect(gates.map((g) => g.name.replace(/^.*-(staging-(manager|worker|ci)-\d)-healthy$/, "$1")).sort()).toEqual(["staging-ci-1", "staging-manager-1", "staging-manager-2", "staging-manager-3", "staging-worker-1", "staging-worker-2"]);
    for (const g of gates) {
      expect(g.inputs.triggers).toEqual([g.name.includes("manager") ? "cx32" : "cx42"]);
      // A CI node is a Swarm worker to the health gate.
      expect(String(g.inputs.create)).toContain(g.name.includes("manager") ? "ROLE='manager'" : "ROLE='worker'");
    }
  });

  test("diff: an engine pin or script change is a change; an address-only update rolls nothing (no SSH at all)", async () => {
    const engine = { DOCKER_PACKAGE: "docker.io", DOCKER_VERSION: "1", CONTAINERD_VERSION: "a" };
    const unreachable = { host: "127.0.0.1", port: 1, user: "root", perDialTimeout: 1 };
    const olds: EngineRolloutOutputs = { managers: [unreachable], node: unreachable, nodeName: "n1", nodeId: "x", engine, scriptSha256: "s", after: "", steps: ["t n1 current"] };
    expect((await engineRolloutProvider.diff!("id", olds, { ...olds, engine: { ...engine, CONTAINERD_VERSION: "b" } })).changes).toBe(true);
    expect((await engineRolloutProvider.diff!("id", olds, { ...olds, scriptSha256: "t" })).changes).toBe(true);
    expect((await engineRolloutProvider.diff!("id", olds, { ...olds })).changes).toBe(false);
    // Read back from the state, objects may come in another key order: no change.
    const reordered = { ...olds, node: { perDialTimeout: 1, user: "root", port: 1, host: "127.0.0.1" }, engine: { CONTAINERD_VERSION: "a", DOCKER_VERSION: "1", DOCKER_PACKAGE: "docker.io" } };
    expect((await engineRolloutProvider.diff!("id", olds, reordered)).changes).toBe(false);
    const moved = { ...olds, node: { ...unreachable, port: 2 } };
    expect((await engineRolloutProvider.update!("id", olds, moved)).outs).toMatchObject({ node: moved.node, steps: ["t n1 current"] });
    // A real engine change tries to reach the node first and names it when it cannot.
    await expect(engineRolloutProvider.update!("id", olds, { ...olds, engine: { ...engine, DOCKER_VERSION: "2" } })).rejects.toThrow(/127\.0\.0\.1 did not answer over SSH/);
  });

  test("docker-ce without containerdVersion is refused, naming the key and why", () => {
    const raw = unprefixed(deployableConfig("staging"));
    raw.dockerEngine = { package: "docker-ce", version: "5:27.5.1-1~debian.12~bookworm" };
    expect(() => validateConfig("staging", raw, {})).toThrow(/mbio-cloud:dockerEngine\.containerdVersion .*required with docker-ce/);
  });

  test("install-docker.sh CHECK_ONLY reports what would change and changes nothing", () => {
    const script = path.join(REPO, "components/files/swarm/install-docker.sh");
    const out = execFileSync("bash", [script], { env: { ...process.env, CHECK_ONLY: "1", DOCKER_PACKAGE: "docker.io", DOCKER_VERSION: "0.0-not-installed", CONTAINERD_VERSION: "0.0-not-installed" }, encoding: "utf8" });
    expect(out).toMatch(/^outdated: docker\.io .* -> 0\.0-not-installed containerd .* -> 0\.0-not-installed/);
  });
});

describe("the drills' application stack (scripts/lib/drill-app.sh)", () => {
  const compose = (pg: string) =>
    JSON.parse(
      execFileSync("bash", ["-c", `. scripts/lib/drill-app.sh && drill_app_compose journal:1@sha256:${"a".repeat(64)} "${pg}" local-platform journal.local.mbiosphere.test dnsrr '["node.role == manager"]'`], { cwd: REPO, encoding: "utf8" }),
    ) as { services: Record<string, Record<string, unknown> & { deploy: Record<string, unknown> }>; volumes: Record<string, unknown> };

  test("every service follows the platform's conventions; one writer per volume (stop-first), routed by the edge", () => {
    const c = compose(`pg:1@sha256:${"b".repeat(64)}`);
    expect(Object.keys(c.services).sort()).toEqual(["db", "journal"]);
    for (const s of Object.values(c.services)) {
      expect(s.healthcheck).toBeDefined();
      expect(s.logging).toEqual({ driver: "json-file", options: { "max-size": "10m", "max-file": "3" } });
      expect(s.deploy).toMatchObject({ endpoint_mode: "dnsrr", placement: { constraints: ["node.role == manager"] }, restart_policy: { condition: "any" }, update_config: { order: "stop-first", failure_action: "rollback", monitor: "10s" } });
      expect(s.deploy.resources).toMatchObject({ limits: expect.any(Object), reservations: expect.any(Object) });
      for (const v of s.volumes as string[]) expect(v).toMatch(/^[a-z]+:\//);
    }
    expect((c.services.journal.deploy.labels as Record<string, string>)["traefik.http.routers.drill-journal.rule"]).toBe("Host(`journal.local.mbiosphere.test`)");
    expect(c.services.db.labels).toEqual({ "mbio.backup.database": "postgres", "mbio.backup.name": "drill-db" });
    expect(c.volumes).toEqual({ data: { labels: { "mbio.backup": "true" } }, pgdata: {} });
  });

  test("without a database image: the journal alone", () => {
    const c = compose("");
    expect(Object.keys(c.services)).toEqual(["journal"]);
    expect(Object.keys(c.volumes)).toEqual(["data"]);
  });
});
