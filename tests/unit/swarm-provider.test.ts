// The Swarm provider's read view and diff logic: which live differences are drift, which field each one is
// named by, and which changes update in place versus replace. SSH is mocked; the scripts are the real ones.
jest.mock("../../components/swarm-provider/ssh", () => ({ ...jest.requireActual("../../components/swarm-provider/ssh"), runOnManager: jest.fn() }));
import { diffNetwork, networkProvider, NetworkOutputs } from "../../components/swarm-provider/network";
import { diffNode, nodeProvider, NodeOutputs } from "../../components/swarm-provider/node";
import { runOnManager } from "../../components/swarm-provider/ssh";
import { diffStack, stackProvider, StackInputs, StackOutputs } from "../../components/swarm-provider/stack";
import { changedPaths, serviceView } from "../../components/swarm-provider/view";

const run = runOnManager as jest.MockedFunction<typeof runOnManager>;
const managers = [{ host: "192.0.2.1" }, { host: "192.0.2.2" }];
const NET_ID = "f".repeat(25);

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
    const view = serviceView(inspect("backup_maintenance"), { [NET_ID]: "local-platform" });
    expect(view).toMatchObject({ image: expect.stringMatching(/^agent:1@sha256:/), mode: "replicated", replicas: 1, networks: ["local-platform"], configs: ["backup-run-abc"], secrets: ["backup-restic-password-123"] });
    expect(view.update).toMatchObject({ Order: "start-first", FailureAction: "rollback" });
    const reordered = inspect("backup_maintenance");
    reordered.Spec.TaskTemplate.ContainerSpec.Env = ["A=1", "B=2"];
    expect(serviceView(reordered, { [NET_ID]: "local-platform" }).envDigest).toBe(view.envDigest);
    // Secrets by name only: the view holds no value, and mode global has no replica count.
    expect(JSON.stringify(view)).not.toMatch(/SecretID/);
    expect(serviceView({ Spec: { Name: "x", Mode: { Global: {} } } }, {})).toMatchObject({ mode: "global", replicas: null });
  });

  test("changed paths name the service and field, not the whole document", () => {
    const a = { svc: serviceView(inspect("backup_maintenance"), { [NET_ID]: "p" }) };
    const b = { svc: serviceView(inspect("backup_maintenance", { replicas: 0, image: "agent:2" }), { [NET_ID]: "p" }) };
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
  const wanted = { connections: managers, nodeId: "n1", role: "worker", availability: "active", labels: { "mbio.role": "worker", "mbio.name": "worker-1" }, removeOnDelete: true };

  test("create sends the exact label set; read shows a drain and a tampered label as fields that update", async () => {
    run.mockResolvedValueOnce(nodeInspect(wanted.labels));
    const outs = (await nodeProvider.create(wanted)).outs!;
    expect(run.mock.calls[0][2]).toEqual({ NODE_ID: "n1", ROLE: "worker", AVAILABILITY: "active", LABELS: "mbio.name=worker-1 mbio.role=worker" });
    expect(run.mock.calls[0][1]).toContain("--label-rm");
    expect(diffNode(outs, wanted)).toMatchObject({ changes: false });
    run.mockResolvedValueOnce(nodeInspect({ ...wanted.labels, "mbio.role": "tampered", extra: "x" }, "drain"));
    const refreshed = (await nodeProvider.read!("n1", outs)).props as NodeOutputs;
    const diff = diffNode(refreshed, wanted);
    expect(diff).toMatchObject({ changes: true, replaces: [] });
    expect(diff.fields).toEqual(["availability", "labels.extra", "labels.mbio.role"]);
  });

  test("a node gone from the Swarm reads as deleted; only a new node id replaces", async () => {
    run.mockResolvedValueOnce({ stdout: "[]\n", stderr: "", host: "h" });
    expect(await nodeProvider.read!("n1", { ...wanted, hostname: "worker-1" })).toEqual({});
    expect(diffNode({ ...wanted, hostname: "w" }, { ...wanted, nodeId: "n2" })).toMatchObject({ replaces: ["nodeId"] });
    expect(diffNode({ ...wanted, hostname: "w" }, { ...wanted, role: "manager" })).toMatchObject({ changes: true, replaces: [], fields: ["role"] });
  });

  test("delete drains and removes a joined node, never the node the Swarm was initialised on", async () => {
    run.mockResolvedValue({ stdout: "", stderr: "", host: "h" });
    await nodeProvider.delete!("n1", { ...wanted, hostname: "w", removeOnDelete: false });
    expect(run).not.toHaveBeenCalled();
    await nodeProvider.delete!("n1", { ...wanted, hostname: "w" });
    expect(run.mock.calls[0][1]).toContain("docker node rm --force");
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
});
