// The Swarm provider's read view and diff logic: which live differences are drift, which field each one is
// named by, and which changes update in place versus replace (and what a delete after a replace does).
// SSH is mocked; the scripts are the real ones.
jest.mock("../../components/dynamic-providers/ssh", () => {
  const runOnManager = jest.fn();
  // runOnHost is runOnManager on one host without the manager guard; routed through the mock.
  return { ...jest.requireActual("../../components/dynamic-providers/ssh"), runOnManager, runOnHost: (c: unknown, script: string, env = {}, stdin = "") => runOnManager([c], script, env, stdin, false) };
});
import { diffNetwork, networkProvider, NetworkOutputs } from "../../components/dynamic-providers/network";
import { diffJoin, joinProvider, JoinOutputs, mustLeaveFirst } from "../../components/dynamic-providers/join";
import { CLAIM_LABEL, diffNode, nodeProvider, NodeOutputs, removeNode } from "../../components/dynamic-providers/node";
import { ManagerAttempt, runOnManager } from "../../components/dynamic-providers/ssh";
import { diffSwarm, mayInitialise, swarmProvider } from "../../components/dynamic-providers/swarm";
import { diffStack, stackProvider, StackInputs, StackOutputs } from "../../components/dynamic-providers/stack";
import { changedPaths, serviceView } from "../../components/dynamic-providers/view";
import { PROVIDER_REVISION } from "../../components/dynamic-providers/resource";
import { diffPortainerEnvironment, portainerEnvironmentProvider, PortainerEnvironmentOutputs } from "../../components/dynamic-providers/portainer-environment";
import { createHash } from "crypto";
import { spawnSync } from "child_process";

const run = runOnManager as jest.MockedFunction<typeof runOnManager>;
const managers = [{ host: "192.0.2.1" }, { host: "192.0.2.2" }];
const NET_ID = "f".repeat(25);
const KEY = "k".repeat(64);

/** One service as `docker service inspect` reports it (fields the view reads, plus noise it ignores). */
function inspect(name: string, over: { replicas?: number; image?: string; networks?: string[]; configs?: string[] } = {}) {
  return {
    ID: `id-${name}`,
    Version: { Index: 42 },
    UpdatedAt: "2026-11-26T22:00:00Z",
    Spec: {
      Name: name,
      Labels: { "com.docker.stack.namespace": "backup", "com.docker.stack.image": "agent:1" },
      Mode: { Replicated: { Replicas: over.replicas ?? 1 } },
      UpdateConfig: { Parallelism: 1, Delay: 10_000_000_000, FailureAction: "rollback", Monitor: 30_000_000_000, Order: "start-first" },
      TaskTemplate: {
        ContainerSpec: {
          Image: over.image ?? "agent:1@sha256:" + "a".repeat(64),
          Env: ["B=2", "A=1"],
          Mounts: [{ Type: "volume", Source: "backup_cache", Target: "/cache" }],
          Configs: (over.configs ?? ["backup-run-abc"]).map((c) => ({ ConfigName: c, ConfigID: "x" })),
          Secrets: [{ SecretName: "backup-restic-password-123", SecretID: "y" }],
        },
        RestartPolicy: { Condition: "any", Delay: 5_000_000_000, MaxAttempts: 0 },
        Networks: (over.networks ?? [NET_ID]).map((Target) => ({ Target, Aliases: ["maintenance"] })),
      },
    },
  };
}
const liveStack = (...services: ReturnType<typeof inspect>[]) => ({ stdout: JSON.stringify({ services, networks: { [NET_ID]: "local-platform" } }), stderr: "", host: "192.0.2.1" });

const stackInputs: StackInputs = { connections: managers, stackName: "backup", document: '{"version":"3.9"}', digest: "d1", timeout: 300 };

beforeEach(() => run.mockReset());

describe("read view", () => {
  test("a service is reduced to owned fields; network IDs become names; env order is not drift", () => {
    const view = serviceView(inspect("backup_maintenance"), { [NET_ID]: "local-platform" }, KEY);
    expect(view).toMatchObject({ image: expect.stringMatching(/^agent:1@sha256:/), mode: "replicated", replicas: 1, networks: ["local-platform"], configs: ["backup-run-abc"], secrets: ["backup-restic-password-123"] });
    expect(view.update).toMatchObject({ Order: "start-first", FailureAction: "rollback" });
    const reordered = inspect("backup_maintenance");
    reordered.Spec.TaskTemplate.ContainerSpec.Env = ["A=1", "B=2"];
    expect(serviceView(reordered, { [NET_ID]: "local-platform" }, KEY).envDigest).toBe(view.envDigest);
    // Secrets by name only: the view holds no value, and mode global has no replica count.
    expect(JSON.stringify(view)).not.toMatch(/SecretID/);
    expect(serviceView({ Spec: { Name: "x", Mode: { Global: {} } } }, {}, KEY)).toMatchObject({ mode: "global", replicas: null });
  });

  test("env and mount digests are keyed (HMAC with the stack's secret key): no unkeyed hash of an environment in state", () => {
    const live = inspect("backup_maintenance");
    live.Spec.TaskTemplate.ContainerSpec.Env = ["PASSWORD=hunter2"];
    const a = serviceView(live, {}, KEY);
    const b = serviceView(live, {}, "another-key");
    expect(a.envDigest).not.toBe(b.envDigest);
    // What the unkeyed digest was (sha256 of the sorted env's JSON): an offline guess could test it.
    const unkeyed = createHash("sha256").update(JSON.stringify(["PASSWORD=hunter2"])).digest("hex").slice(0, 16);
    expect(a.envDigest).not.toBe(unkeyed);
    expect(JSON.stringify(a)).not.toContain(unkeyed);
    expect(() => serviceView(live, {}, "")).toThrow(/digest key/);
  });

  test("the stack keeps one digest key (a secret output): create makes it, read and update reuse it; a state without one gets one", async () => {
    run.mockResolvedValueOnce({ stdout: "", stderr: "", host: "h" }).mockResolvedValueOnce(liveStack(inspect("backup_maintenance")));
    const outs = (await stackProvider.create(stackInputs)).outs!;
    expect(outs.digestKey).toMatch(/^[0-9a-f]{64}$/);
    run.mockResolvedValueOnce(liveStack(inspect("backup_maintenance")));
    const read = (await stackProvider.read!("backup", outs)).props as StackOutputs;
    expect(read.digestKey).toBe(outs.digestKey);
    expect(diffStack(read, stackInputs)).toMatchObject({ changes: false });
    run.mockResolvedValueOnce(liveStack(inspect("backup_maintenance")));
    const legacy = (await stackProvider.read!("backup", { ...outs, digestKey: undefined })).props as StackOutputs;
    expect(legacy.digestKey).toMatch(/^[0-9a-f]{64}$/);
    expect(legacy.digestKey).not.toBe(outs.digestKey);
  });

  test("changed paths name the service and field, not the whole document", () => {
    const a = { svc: serviceView(inspect("backup_maintenance"), { [NET_ID]: "p" }, KEY) };
    const b = { svc: serviceView(inspect("backup_maintenance", { replicas: 0, image: "agent:2" }), { [NET_ID]: "p" }, KEY) };
    expect(changedPaths(a, b, "services")).toEqual(["services.svc.image", "services.svc.replicas"]);
    expect(changedPaths(a, a, "services")).toEqual([]);
  });
});

describe("stack provider", () => {
  test("create deploys the document on stdin through the managers and records the live view as the reference", async () => {
    run.mockResolvedValueOnce({ stdout: "", stderr: "", host: "192.0.2.1" }).mockResolvedValueOnce(liveStack(inspect("backup_maintenance")));
    const { id, outs: created } = await stackProvider.create(stackInputs);
    const outs = created!;
    expect(id).toBe("backup");
    expect(run.mock.calls[0][0]).toBe(managers);
    expect(run.mock.calls[0][1]).toContain("docker stack deploy --prune");
    expect(run.mock.calls[0][2]).toEqual({ STACK: "backup", TIMEOUT: "300" });
    expect(run.mock.calls[0][3]).toBe(stackInputs.document);
    expect(Object.keys(outs.services)).toEqual(["backup_maintenance"]);
    expect(outs.deployed).toEqual(outs.services);
    expect(JSON.stringify(outs)).not.toContain("3.9");
  });

  test("a hand scale and image change show in read, and the next diff is an update naming them, never a replace", async () => {
    run.mockResolvedValueOnce({ stdout: "", stderr: "", host: "h" }).mockResolvedValueOnce(liveStack(inspect("backup_maintenance")));
    const outs = (await stackProvider.create(stackInputs)).outs!;
    run.mockResolvedValueOnce(liveStack(inspect("backup_maintenance", { replicas: 0, image: "agent:tampered" })));
    const read = await stackProvider.read!("backup", outs);
    const refreshed = read.props as StackOutputs;
    expect(refreshed.services.backup_maintenance.replicas).toBe(0);
    expect(refreshed.deployed.backup_maintenance.replicas).toBe(1);
    const diff = diffStack(refreshed, stackInputs);
    expect(diff).toMatchObject({ changes: true, replaces: [] });
    expect(diff.fields).toEqual(["services.backup_maintenance.image", "services.backup_maintenance.replicas"]);
    expect(await stackProvider.diff!("backup", refreshed, stackInputs)).toEqual({ changes: true, replaces: [] });
  });

  test("a removed network attachment or config is drift; an unchanged Swarm is no change", async () => {
    run.mockResolvedValueOnce({ stdout: "", stderr: "", host: "h" }).mockResolvedValueOnce(liveStack(inspect("backup_maintenance")));
    const outs = (await stackProvider.create(stackInputs)).outs!;
    expect(diffStack(outs, stackInputs)).toMatchObject({ changes: false, fields: [] });
    run.mockResolvedValueOnce(liveStack(inspect("backup_maintenance", { networks: [], configs: [] })));
    const refreshed = (await stackProvider.read!("backup", outs)).props as StackOutputs;
    expect(diffStack(refreshed, stackInputs).fields).toEqual(["services.backup_maintenance.configs", "services.backup_maintenance.networks"]);
    run.mockResolvedValueOnce(liveStack());
    const removed = (await stackProvider.read!("backup", outs)).props as StackOutputs;
    expect(diffStack(removed, stackInputs).fields).toEqual(["services.backup_maintenance"]);
  });

  test("a new document is an update (redeploy); only a new stack name replaces", () => {
    const olds = { ...stackInputs, services: {}, deployed: {} } as StackOutputs;
    expect(diffStack(olds, { ...stackInputs, digest: "d2" })).toMatchObject({ changes: true, replaces: [], fields: ["document"] });
    expect(diffStack(olds, { ...stackInputs, connections: [managers[1]] })).toMatchObject({ changes: true, replaces: [], fields: ["connections"] });
    expect(diffStack(olds, { ...stackInputs, stackName: "other" })).toMatchObject({ changes: true, replaces: ["stackName"], deleteBeforeReplace: true });
  });
});

describe("node provider", () => {
  const nodeInspect = (labels: Record<string, string>, availability = "active", role = "worker") =>
    ({ stdout: JSON.stringify([{ ID: "n1", Description: { Hostname: "worker-1" }, Spec: { Labels: labels, Role: role, Availability: availability } }]), stderr: "", host: "h" });
  const self = { host: "198.51.100.7", port: 22, user: "root" };
  const wanted = { connections: managers, nodeId: "n1", role: "worker", availability: "active", labels: { "mbio.role": "worker", "mbio.name": "worker-1" }, removeOnDelete: true, nodeConnection: self };
  /** What `docker node inspect` shows after apply: the configured labels and the claim the call wrote. */
  const applied = () => {
    const labels = Object.fromEntries(String(run.mock.calls[run.mock.calls.length - 1]?.[2]?.LABELS ?? "").split(" ").filter(Boolean).map((p) => p.split("=")));
    return nodeInspect(labels);
  };
  const create = async () => {
    run.mockImplementationOnce(async () => applied());
    return (await nodeProvider.create(wanted)).outs!;
  };

  test("create sends the exact label set with a fresh claim; read shows a drain and a tampered label as fields that update", async () => {
    const outs = await create();
    expect(run.mock.calls[0][2]).toMatchObject({ NODE_ID: "n1", ROLE: "worker", AVAILABILITY: "active" });
    expect(run.mock.calls[0][2]!.LABELS).toBe(`mbio.membership=${outs.claim} mbio.name=worker-1 mbio.role=worker`);
    expect(outs.claim).toMatch(/^[0-9a-f-]{36}$/);
    expect(run.mock.calls[0][1]).toContain("--label-rm");
    expect(diffNode(outs, wanted)).toMatchObject({ changes: false });
    run.mockResolvedValueOnce(nodeInspect({ ...wanted.labels, [CLAIM_LABEL]: outs.claim, "mbio.role": "tampered", extra: "x" }, "drain"));
    const refreshed = (await nodeProvider.read!("n1", outs)).props as NodeOutputs;
    expect(refreshed.claim).toBe(outs.claim);
    const diff = diffNode(refreshed, wanted);
    expect(diff).toMatchObject({ changes: true, replaces: [] });
    expect(diff.fields).toEqual(["availability", "labels.extra", "labels.mbio.role"]);
  });

  test("exact labels: a label removed from config is a diff, and the update sends a set without it (node-apply removes the rest)", async () => {
    const outs = await create();
    const fewer = { ...wanted, labels: { "mbio.role": "worker" } };
    expect(diffNode(outs, fewer)).toMatchObject({ changes: true, replaces: [], fields: ["labels.mbio.name"] });
    run.mockResolvedValueOnce(nodeInspect({ "mbio.role": "worker", [CLAIM_LABEL]: outs.claim }));
    const updated = (await nodeProvider.update!("n1", outs, fewer)).outs!;
    // The update keeps the membership's claim: it is the same membership.
    expect(run.mock.calls[1][2]!.LABELS).toBe(`mbio.membership=${outs.claim} mbio.role=worker`);
    expect(updated.claim).toBe(outs.claim);
    expect(diffNode(updated, fewer)).toMatchObject({ changes: false });
  });

  test("a node gone from the Swarm reads as deleted; only a new node id replaces; role, labels and connections update", async () => {
    const outs = { ...wanted, hostname: "worker-1", claim: "c1", labels: { ...wanted.labels, [CLAIM_LABEL]: "c1" } };
    // The read's own script, run by bash against a docker that answers as the real one does for a removed node:
    // "[]" on stdout and exit 1 (an `|| echo "[]"` once doubled that and the refresh failed to parse it).
    run.mockImplementationOnce(async (_c, script, env) => {
      const r = spawnSync("bash", ["-c", `docker() { echo "[]"; echo "Error: No such node: $NODE_ID" >&2; return 1; }\nset -euo pipefail\n${script}`], { env: { ...process.env, ...env }, encoding: "utf8" });
      if (r.status !== 0) throw new Error(`exit ${r.status}`);
      return { stdout: r.stdout, stderr: r.stderr, host: "h" };
    });
    expect(await nodeProvider.read!("n1", outs)).toEqual({});
    expect(diffNode(outs, { ...wanted, nodeId: "n2" })).toMatchObject({ replaces: ["nodeId"] });
    expect(diffNode(outs, { ...wanted, role: "manager" })).toMatchObject({ changes: true, replaces: [], fields: ["role"] });
    expect(diffNode(outs, { ...wanted, connections: [managers[1]] })).toMatchObject({ changes: true, replaces: [], fields: ["connections"] });
    expect(diffNode(outs, { ...wanted, nodeConnection: { ...self, host: "198.51.100.8" } })).toMatchObject({ changes: true, replaces: [], fields: ["nodeConnection.host"] });
    expect(await nodeProvider.diff!("n1", outs, { ...wanted, labels: { a: "b" } })).toEqual({ changes: true, replaces: [] });
  });

  test("a membership from before claims gets one by an update, never a replace", async () => {
    const legacy = { ...wanted, hostname: "worker-1", labels: { ...wanted.labels } } as unknown as NodeOutputs;
    expect(diffNode(legacy, wanted)).toMatchObject({ changes: true, replaces: [], fields: ["labels.mbio.membership"] });
    run.mockResolvedValueOnce(nodeInspect(wanted.labels));
    const outs = (await nodeProvider.update!("n1", legacy, wanted)).outs!;
    expect(outs.claim).toMatch(/^[0-9a-f-]{36}$/);
    expect(run.mock.calls[0][2]!.LABELS).toContain(`mbio.membership=${outs.claim}`);
  });

  test("delete on a real removal: drain + remove through the managers with this claim, then the machine leaves", async () => {
    const props = { ...wanted, hostname: "w", claim: "c1" };
    run.mockResolvedValueOnce({ stdout: "removed\n", stderr: "", host: "h" }).mockResolvedValueOnce({ stdout: "", stderr: "", host: self.host });
    await nodeProvider.delete!("n1", props);
    expect(run.mock.calls[0][0]).toBe(managers);
    expect(run.mock.calls[0][1]).toContain("docker node rm --force");
    expect(run.mock.calls[0][2]).toEqual({ NODE_ID: "n1", CLAIM: "c1" });
    // runOnHost: the node itself, no manager guard, the leave script.
    expect(run.mock.calls[1][0]).toEqual([self]);
    expect(run.mock.calls[1][1]).toContain("docker swarm leave --force");
    // Only while the machine is still that node (a rebuilt machine at the same address has a new one).
    expect(run.mock.calls[1][2]).toEqual({ NODE_ID: "n1" });
    expect(run.mock.calls[1][4]).toBe(false);
  });

  test("delete after a replace: the node carries the new membership's claim, so it is kept and does not leave", async () => {
    run.mockResolvedValueOnce({ stdout: "kept\n", stderr: "", host: "h" });
    expect(await removeNode({ ...wanted, hostname: "w", claim: "old-claim" })).toBe("kept");
    expect(run).toHaveBeenCalledTimes(1);
  });

  test("delete never touches the node the Swarm was initialised on; an unreachable machine after its removal is a warning", async () => {
    await nodeProvider.delete!("n1", { ...wanted, hostname: "w", claim: "c1", removeOnDelete: false });
    expect(run).not.toHaveBeenCalled();
    run.mockResolvedValueOnce({ stdout: "removed\n", stderr: "", host: "h" }).mockRejectedValueOnce(Object.assign(new Error("no Swarm manager answered"), { attempts: [{ host: self.host, reason: "unreachable", detail: "timeout" }] }));
    const warn = jest.spyOn(console, "error").mockImplementation(() => undefined);
    expect(await removeNode({ ...wanted, hostname: "w", claim: "c1" })).toBe("removed");
    expect(warn.mock.calls[0][0]).toMatch(/could not be reached to leave/);
    warn.mockRestore();
    // A leave that ran and failed is an error.
    run.mockResolvedValueOnce({ stdout: "removed\n", stderr: "", host: "h" }).mockRejectedValueOnce(new Error("on 198.51.100.7: exit 1: swarm-leave: error"));
    await expect(removeNode({ ...wanted, hostname: "w", claim: "c1" })).rejects.toThrow(/swarm-leave: error/);
  });
});

describe("swarm provider", () => {
  const wanted = { connections: managers, advertiseAddr: "10.0.0.11", otherManagers: "10.0.0.12", joinTokenRotation: 0 };
  const tokens = (gen: number) => ({ stdout: JSON.stringify({ clusterId: "cl1", managerToken: `SWMTKN-m${gen}`, workerToken: `SWMTKN-w${gen}` }), stderr: "", host: "192.0.2.2" });
  const noManager = (...attempts: ManagerAttempt[]) => Object.assign(new Error("no Swarm manager answered"), { attempts });

  test("an existing Swarm is found through any manager: no init, tokens read without rotating", async () => {
    run.mockResolvedValueOnce(tokens(0));
    const { id, outs } = await swarmProvider.create(wanted);
    expect(id).toBe("cl1");
    expect(outs).toMatchObject({ clusterId: "cl1", managerToken: "SWMTKN-m0", workerToken: "SWMTKN-w0" });
    expect(run).toHaveBeenCalledTimes(1);
    expect(run.mock.calls[0][0]).toBe(managers);
    expect(run.mock.calls[0][2]).toEqual({ ROTATE: "false" });
  });

  test("init only when every configured manager answered without a Swarm, on the first manager", async () => {
    run
      .mockRejectedValueOnce(noManager({ host: "192.0.2.1", reason: "not-a-manager", detail: "" }, { host: "192.0.2.2", reason: "not-a-manager", detail: "" }))
      .mockResolvedValueOnce({ stdout: "node-1\n", stderr: "", host: "192.0.2.1" })
      .mockResolvedValueOnce(tokens(0));
    await swarmProvider.create(wanted);
    expect(run.mock.calls[1][0]).toEqual([managers[0]]);
    expect(run.mock.calls[1][1]).toContain("docker swarm init");
    expect(run.mock.calls[1][2]).toEqual({ ADVERTISE_ADDR: "10.0.0.11", OTHER_MANAGERS: "10.0.0.12" });
    expect(run.mock.calls[1][4]).toBe(false);
  });

  test("no init while a manager cannot be reached (it may hold the Swarm): the error names every manager", async () => {
    run.mockRejectedValueOnce(
      Object.assign(new Error("no Swarm manager answered; tried 2 manager(s): 192.0.2.1: reachable, not a Swarm manager; 192.0.2.2: unreachable (timeout)"), {
        attempts: [{ host: "192.0.2.1", reason: "not-a-manager", detail: "" }, { host: "192.0.2.2", reason: "unreachable", detail: "timeout" }],
      }),
    );
    await expect(swarmProvider.create(wanted)).rejects.toThrow(/192\.0\.2\.1: reachable, not a Swarm manager; 192\.0\.2\.2: unreachable \(timeout\)\. No Swarm was initialised/);
    expect(run).toHaveBeenCalledTimes(1);
    expect(mayInitialise([{ host: "a", reason: "not-a-manager", detail: "" }], 2)).toBe(false);
  });

  test("a new joinTokenRotation is an update that rotates both tokens; other changes never rotate; nothing replaces", async () => {
    run.mockResolvedValueOnce(tokens(0));
    const outs = (await swarmProvider.create(wanted)).outs!;
    expect(diffSwarm(outs, wanted)).toMatchObject({ changes: false });
    const next = { ...wanted, joinTokenRotation: 1 };
    expect(diffSwarm(outs, next)).toMatchObject({ changes: true, replaces: [], fields: ["joinTokenRotation"] });
    run.mockResolvedValueOnce(tokens(1));
    const rotated = (await swarmProvider.update!("cl1", outs, next)).outs!;
    expect(run.mock.calls[1][2]).toEqual({ ROTATE: "true" });
    expect(run.mock.calls[1][1]).toContain("docker swarm join-token --rotate -q worker");
    expect(rotated).toMatchObject({ joinTokenRotation: 1, workerToken: "SWMTKN-w1" });
    const moved = { ...next, connections: [managers[1], managers[0]] };
    expect(diffSwarm(rotated, moved)).toMatchObject({ changes: true, replaces: [], fields: ["connections"] });
    run.mockResolvedValueOnce(tokens(1));
    await swarmProvider.update!("cl1", rotated, moved);
    expect(run.mock.calls[2][2]).toEqual({ ROTATE: "false" });
    expect(swarmProvider.delete).toBeUndefined();
  });

  test("read shows tokens rotated by hand", async () => {
    run.mockResolvedValueOnce(tokens(7));
    const read = await swarmProvider.read!("cl1", { ...wanted, clusterId: "cl1", managerToken: "SWMTKN-m0", workerToken: "SWMTKN-w0" });
    expect(read.props).toMatchObject({ managerToken: "SWMTKN-m7", workerToken: "SWMTKN-w7" });
  });

  test("a Swarm re-initialised by hand: read reports the new cluster ID, and the next diff replaces (an update would keep the old id)", async () => {
    const created = { ...wanted, clusterId: "cl1", managerToken: "SWMTKN-m0", workerToken: "SWMTKN-w0" };
    expect(diffSwarm(created, wanted, "cl1")).toMatchObject({ changes: false, replaces: [] });
    run.mockResolvedValueOnce({ stdout: JSON.stringify({ clusterId: "cl2", managerToken: "SWMTKN-x", workerToken: "SWMTKN-y" }), stderr: "", host: "192.0.2.1" });
    const read = await swarmProvider.read!("cl1", created);
    expect(read).toMatchObject({ id: "cl1", props: { clusterId: "cl2" } });
    expect(await swarmProvider.diff!("cl1", read.props as typeof created, wanted)).toEqual({ changes: true, replaces: ["clusterId"] });
    run.mockResolvedValueOnce({ stdout: JSON.stringify({ clusterId: "cl2", managerToken: "SWMTKN-x", workerToken: "SWMTKN-y" }), stderr: "", host: "192.0.2.1" });
    expect((await swarmProvider.create(wanted)).id).toBe("cl2");
  });
});

describe("join provider", () => {
  beforeEach(() => run.mockReset());
  const node = { host: "192.0.2.7" };
  const joinInputs = { connections: managers, node, managerAddr: "10.0.0.1 10.0.0.2", advertiseAddr: "10.0.0.7", token: "SWMTKN-1-worker", providerRevision: PROVIDER_REVISION };
  const joined: JoinOutputs = { ...joinInputs, nodeId: "node7" };
  const out = (stdout: string) => ({ stdout, stderr: "", host: "x" });

  test("a machine leaves before it joins only when it believes it is in a Swarm whose managers no longer know its node", () => {
    expect(mustLeaveFirst("inactive", "", false)).toBe(false);
    expect(mustLeaveFirst("active", "node7", true)).toBe(false);
    expect(mustLeaveFirst("active", "node7", false)).toBe(true);
    expect(mustLeaveFirst("error", "node7", false)).toBe(true);
    expect(mustLeaveFirst("pending", "", false)).toBe(true);
  });

  test("create on a fresh machine joins without asking the managers; the token only on stdin", async () => {
    run.mockResolvedValueOnce(out("inactive \n")).mockResolvedValueOnce(out("node7\n"));
    const { id, outs } = await joinProvider.create!(joinInputs);
    expect([id, outs!.nodeId]).toEqual(["node7", "node7"]);
    expect(run).toHaveBeenCalledTimes(2);
    const [conns, script, env, stdin] = run.mock.calls[1];
    expect(conns).toEqual([node]);
    expect(script).toContain("POST /swarm/join");
    expect(env).toEqual({ MANAGER_ADDR: "10.0.0.1 10.0.0.2", ADVERTISE_ADDR: "10.0.0.7", LEAVE_FIRST: "false" });
    expect(stdin).toBe("SWMTKN-1-worker");
    expect(JSON.stringify(env)).not.toContain("SWMTKN");
  });

  test("a machine removed from the Swarm by hand: read reports the join gone, and the next create leaves first and joins again", async () => {
    run.mockResolvedValueOnce(out("unknown\n"));
    expect(await joinProvider.read!("node7", joined)).toEqual({});
    expect(run.mock.calls[0][2]).toEqual({ NODE_ID: "node7" });
    run.mockReset();
    run.mockResolvedValueOnce(out("active node7\n")).mockResolvedValueOnce(out("unknown\n")).mockResolvedValueOnce(out("node8\n"));
    const { outs } = await joinProvider.create!(joinInputs);
    expect(outs!.nodeId).toBe("node8");
    expect(run.mock.calls[1][0]).toEqual(managers);
    expect(run.mock.calls[2][2]).toMatchObject({ LEAVE_FIRST: "true" });
  });

  test("read keeps a node the managers know; no manager answering fails the refresh instead of dropping the join", async () => {
    run.mockResolvedValueOnce(out("known\n"));
    expect(await joinProvider.read!("node7", joined)).toEqual({ id: "node7", props: joined });
    run.mockRejectedValueOnce(new Error("no Swarm manager answered; tried 2 manager(s)"));
    await expect(joinProvider.read!("node7", joined)).rejects.toThrow("no Swarm manager answered");
  });

  test("a rotated token is no change; new manager addresses update in place; another machine replaces", () => {
    expect(diffJoin(joined, { ...joinInputs, token: "SWMTKN-1-rotated" })).toMatchObject({ changes: false, replaces: [] });
    expect(diffJoin(joined, { ...joinInputs, managerAddr: "10.0.0.1 10.0.0.2 10.0.0.3" })).toMatchObject({ changes: true, replaces: [], fields: ["managerAddr"] });
    expect(diffJoin(joined, { ...joinInputs, node: { host: "192.0.2.8" } })).toMatchObject({ changes: true, replaces: ["node"] });
    expect(diffJoin({ ...joined, providerRevision: undefined }, joinInputs).fields).toEqual(["providerRevision"]);
  });
});

describe("network provider", () => {
  const wanted = { connections: managers, name: "local-platform", encrypted: false, mtu: "1400" };
  const live = (options: Record<string, string>) => ({ stdout: JSON.stringify([{ Name: "local-platform", Driver: "overlay", Attachable: true, Options: options }]), stderr: "", host: "h" });

  test("read reports options; a different MTU is an update (network.sh explains), never a replace", async () => {
    run.mockResolvedValueOnce(live({ "com.docker.network.driver.mtu": "1400" }));
    const outs = (await networkProvider.read!("local-platform", { ...wanted, driver: "overlay", attachable: true })).props as NetworkOutputs;
    expect(diffNetwork(outs, wanted)).toMatchObject({ changes: false, fields: [] });
    expect(diffNetwork({ ...outs, mtu: "" }, wanted)).toMatchObject({ changes: true, replaces: [], fields: ["mtu"] });
    expect(diffNetwork(outs, { ...wanted, name: "x" })).toMatchObject({ replaces: ["name"] });
    run.mockResolvedValueOnce({ stdout: "[]", stderr: "", host: "h" });
    expect(await networkProvider.read!("local-platform", outs)).toEqual({});
  });

  test("delete fails loudly when the network could not be removed (it swallowed errors before)", async () => {
    run.mockRejectedValueOnce(new Error("on 192.0.2.1: exit 1: error: network local-platform could not be removed: active endpoints (services attached: web)"));
    const outs = { ...wanted, driver: "overlay", attachable: true };
    await expect(networkProvider.delete!("local-platform", outs)).rejects.toThrow(/could not be removed.*services attached: web/);
    expect(run.mock.calls[0][1]).toContain("docker network rm");
    expect(run.mock.calls[0][1]).not.toMatch(/\|\| true/);
    expect(run.mock.calls[0][2]).toEqual({ NETWORK: "local-platform" });
  });
});

describe("stack provider delete", () => {
  test("fails loudly (no `|| true`) and waits for the services to go, within the stack's timeout", async () => {
    run.mockRejectedValueOnce(new Error("on 192.0.2.1: exit 1: error: stack local_web: services or containers still there"));
    const props = { connections: managers, stackName: "local_web", digest: "d", timeout: 90, services: {}, deployed: {} };
    await expect(stackProvider.delete!("local_web", props)).rejects.toThrow(/still there/);
    expect(run.mock.calls[0][1]).toContain("docker stack rm");
    expect(run.mock.calls[0][1]).not.toMatch(/\|\| true/);
    expect(run.mock.calls[0][2]).toEqual({ STACK: "local_web", TIMEOUT: "90" });
  });
});

describe("provider revision (provider code fixes reaching existing resources)", () => {
  test("a state written by older provider code (no or a lower providerRevision) diffs as an update, never a replace", () => {
    const stackOld = { connections: managers, stackName: "s", digest: "d", timeout: 60, services: {}, deployed: {} };
    expect(diffStack(stackOld, { connections: managers, stackName: "s", document: "{}", digest: "d", timeout: 60, providerRevision: PROVIDER_REVISION })).toMatchObject({ changes: true, replaces: [], fields: ["providerRevision"] });
    const net = { connections: managers, name: "n", encrypted: false, mtu: "", driver: "overlay", attachable: true };
    expect(diffNetwork(net, { ...net, providerRevision: PROVIDER_REVISION })).toMatchObject({ changes: true, replaces: [], fields: ["providerRevision"] });
    expect(diffNetwork({ ...net, providerRevision: PROVIDER_REVISION }, { ...net, providerRevision: PROVIDER_REVISION })).toMatchObject({ changes: false });
    const swarm = { connections: managers, advertiseAddr: "a", otherManagers: "", joinTokenRotation: 0, clusterId: "c", managerToken: "m", workerToken: "w" };
    expect(diffSwarm(swarm, { ...swarm, providerRevision: PROVIDER_REVISION }, "c")).toMatchObject({ changes: true, replaces: [], fields: ["providerRevision"] });
    expect(PROVIDER_REVISION).toBeGreaterThanOrEqual(1);
  });
});

describe("swarm:PortainerEnvironment", () => {
  const wanted = { connections: managers, service: "portainer_portainer", network: "local-platform", environmentName: "local", agentUrl: "tcp://tasks.portainer-agent_agent:9001", adminPassword: "pw-new-0123456789", timeout: 300, providerRevision: PROVIDER_REVISION };
  const found = (id: number, created: boolean) => ({ stdout: JSON.stringify({ id, name: "local", url: wanted.agentUrl, type: 2, status: 1, created, admin: "existing", passwordChanged: false }) + "\n", stderr: "", host: "192.0.2.1" });
  beforeEach(() => run.mockReset());

  test("create runs environment.sh in apply mode; the password only on stdin, never in the environment", async () => {
    run.mockResolvedValueOnce(found(3, true));
    const { outs } = await portainerEnvironmentProvider.create!(wanted);
    expect(outs).toMatchObject({ environmentId: 3, url: wanted.agentUrl, type: 2, status: 1 });
    const [, script, env, stdin] = run.mock.calls[0];
    expect(script).toContain("POST /endpoints");
    expect(env).toMatchObject({ MODE: "apply", AGENT_URL: wanted.agentUrl, SERVICE: "portainer_portainer", NETWORK: "local-platform" });
    expect(JSON.stringify(env)).not.toContain(wanted.adminPassword);
    expect(stdin).toBe(`${wanted.adminPassword}\n\n`);
  });

  test("read reports the environment Portainer has: one deleted by hand is id 0, which the diff turns into an update", async () => {
    run.mockResolvedValueOnce(found(0, false));
    const outs = (await portainerEnvironmentProvider.read!("x", { ...wanted, environmentId: 3, url: wanted.agentUrl, name: "local", type: 2, status: 1 })).props as PortainerEnvironmentOutputs;
    expect(run.mock.calls[0][2]).toMatchObject({ MODE: "read" });
    expect(outs.environmentId).toBe(0);
    expect(diffPortainerEnvironment(outs, wanted)).toMatchObject({ changes: true, replaces: [] });
    expect(diffPortainerEnvironment({ ...outs, environmentId: 3, url: wanted.agentUrl }, wanted)).toMatchObject({ changes: false, fields: [] });
  });

  test("with no server task to ask (it is moving), read keeps what it had: no drift claimed", async () => {
    const had = { ...wanted, environmentId: 3, url: wanted.agentUrl, name: "local", type: 2, status: 1 };
    run.mockResolvedValueOnce({ stdout: JSON.stringify({ unreachable: true, id: 0 }) + "\n", stderr: "", host: "192.0.2.1" });
    expect((await portainerEnvironmentProvider.read!("x", had)).props).toEqual(had);
  });

  test("a new admin password is an update that logs in with the previous one (second stdin line)", async () => {
    const olds = { ...wanted, adminPassword: "pw-old-0123456789", environmentId: 3, url: wanted.agentUrl, name: "local", type: 2, status: 1 };
    expect(diffPortainerEnvironment(olds, wanted)).toMatchObject({ changes: true, replaces: [], fields: ["adminPassword"] });
    run.mockResolvedValueOnce(found(3, false));
    await portainerEnvironmentProvider.update!("x", olds, wanted);
    expect(run.mock.calls[0][3]).toBe("pw-new-0123456789\npw-old-0123456789\n");
  });
});
