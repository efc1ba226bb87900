import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { dockerSshOpts, MISSING_SSH_FILES } from "../../components/swarm-docker";
import { diffJoin, type JoinInputs, type JoinOutputs } from "../../components/dynamic-providers/join";
import { asSecret, byType, deployableConfig, MockResource, mockId, runProgram, TEST_HOST_KEY, TEST_SSH_KEY } from "./support/harness";

const SERVER = "hcloud:index/server:Server";
const COMMAND = "command:remote:Command";
const NODE = "pulumi-nodejs:dynamic/swarm:Node";
const NETWORK = "pulumi-nodejs:dynamic/swarm:Network";
const SWARM = "pulumi-nodejs:dynamic/swarm:Swarm";
const JOIN = "pulumi-nodejs:dynamic/swarm:Join";

function withWorkers(stack: string, workers: number) {
  return { ...deployableConfig(stack), "mbio-cloud:workers": workers };
}
const serversByName = (rs: MockResource[]) => Object.fromEntries(byType({ resources: rs } as never, SERVER).map((s) => [s.inputs.name as string, s]));

describe("SwarmCluster on Hetzner", () => {
  test("staging: 3 managers, 2 workers and 1 CI node with role labels, spread placement, private IPs derived from names", async () => {
    const run = await runProgram("staging", deployableConfig("staging"));
    expect(run.error).toBeUndefined();
    const servers = byType(run, SERVER);
    expect(servers.map((s) => s.inputs.name).sort()).toEqual(["staging-ci-1", "staging-manager-1", "staging-manager-2", "staging-manager-3", "staging-worker-1", "staging-worker-2"]);
    const byName = serversByName(run.resources);
    expect((byName["staging-manager-2"].inputs.networks as { ip: string }[])[0].ip).toBe("10.20.1.12");
    expect((byName["staging-worker-1"].inputs.networks as { ip: string }[])[0].ip).toBe("10.20.1.101");
    expect(byName["staging-worker-1"].inputs.labels).toMatchObject({ environment: "staging", role: "worker", "managed-by": "pulumi" });
    // The CI node: .201, the worker server type, the base firewall only (no web ports).
    expect((byName["staging-ci-1"].inputs.networks as { ip: string }[])[0].ip).toBe("10.20.1.201");
    expect(byName["staging-ci-1"].inputs).toMatchObject({ serverType: "cx42", labels: { role: "ci" } });
    expect(byName["staging-ci-1"].inputs.firewallIds).toHaveLength(1);
    expect(byName["staging-manager-1"].inputs).toMatchObject({ serverType: "cx32", image: "debian-12", location: "fsn1", deleteProtection: false, rebuildProtection: false });
    // The user-data holds the server's private host key: a secret.
    const userData = asSecret(byName["staging-manager-1"].inputs.userData);
    expect(userData.secret).toBe(true);
    expect(String(userData.value)).toMatch(/^#cloud-config/);
    expect(String(userData.value)).toContain("PasswordAuthentication no");
    const groups = byType(run, "hcloud:index/placementGroup:PlacementGroup");
    expect(groups.every((g) => g.inputs.type === "spread")).toBe(true);
    expect(groups.map((g) => g.inputs.name).sort()).toEqual(["staging-ci-1", "staging-manager-1", "staging-worker-1"]);
    expect(byType(run, "hcloud:index/network:Network")[0].inputs).toMatchObject({ name: "staging", ipRange: "10.20.0.0/16" });
    expect(byType(run, "hcloud:index/networkSubnet:NetworkSubnet")[0].inputs).toMatchObject({ networkZone: "eu-central", ipRange: "10.20.1.0/24", type: "cloud" });
  });

  test("host firewall on every server: the Swarm ports from the private network, as the Hetzner firewall says", async () => {
    const run = await runProgram("staging", deployableConfig("staging"));
    const fw = (n: string) => String(byType(run, COMMAND).find((c) => c.name === `staging-swarm-${n}-firewall`)!.inputs.create);
    for (const n of ["staging-manager-1", "staging-manager-2", "staging-manager-3", "staging-worker-1", "staging-worker-2", "staging-ci-1"]) expect(fw(n)).toContain("PRIVATE_CIDR='10.20.0.0/16'");
    expect(fw("staging-ci-1")).toContain("MANAGER='false'");
    expect(fw("staging-manager-1")).toContain("MANAGER='true'");
    expect(fw("staging-manager-1")).toContain("EDGE='true'");
    expect(fw("staging-worker-1")).toContain("EDGE='false'");
    const base = byType(run, "hcloud:index/firewall:Firewall").find((f) => f.inputs.name === "staging-base")!.inputs.rules as { port?: string; protocol: string; sourceIps: string[] }[];
    const admin = base.find((r) => r.port === "22")!.sourceIps.join(" ");
    expect(fw("staging-worker-1")).toContain(`ADMIN_CIDRS='${admin}'`);
    for (const r of base.filter((x) => x.port && x.port !== "22")) expect(r.sourceIps).toEqual(["10.20.0.0/16"]);
  });

  test("host keys: one generated key per server, installed by cloud-init, pinned on every connection", async () => {
    const run = await runProgram("staging", deployableConfig("staging"));
    const keys = byType(run, "pulumi-nodejs:dynamic/mbio:SshHostKey");
    expect(keys.map((k) => k.name).sort()).toEqual(["ci-1", "manager-1", "manager-2", "manager-3", "worker-1", "worker-2"].map((n) => `staging-swarm-hetzner-staging-${n}-host-key`));
    const userData = String(asSecret(serversByName(run.resources)["staging-worker-1"].inputs.userData).value);
    expect(userData).toContain(`ed25519_public: ${TEST_HOST_KEY.publicKey}`);
    expect(userData).toContain("BEGIN OPENSSH PRIVATE KEY");
    for (const c of byType(run, COMMAND)) expect((asSecret(c.inputs.connection).value as { hostKey?: string }).hostKey).toBe(TEST_HOST_KEY.publicKey);
    // The private host key is in no output.
    expect(JSON.stringify(run.outputs)).not.toContain("OPENSSH PRIVATE KEY");
  });

  test("firewall: inbound SSH only from admin CIDRs, web only on edge nodes, Swarm ports only from the private network", async () => {
    const run = await runProgram("staging", deployableConfig("staging"));
    const firewalls = Object.fromEntries(byType(run, "hcloud:index/firewall:Firewall").map((f) => [f.inputs.name as string, f.inputs]));
    type Rule = { direction: string; protocol: string; port?: string; sourceIps: string[] };
    const base = firewalls["staging-base"].rules as Rule[];
    const edge = firewalls["staging-edge"].rules as Rule[];
    expect(base.every((r) => r.direction === "in")).toBe(true);
    expect(base.filter((r) => r.port === "22")).toEqual([expect.objectContaining({ protocol: "tcp", sourceIps: ["203.0.113.0/24"] })]);
    for (const [protocol, port] of [["tcp", "2377"], ["tcp", "7946"], ["udp", "7946"], ["udp", "4789"]]) {
      expect(base).toContainEqual(expect.objectContaining({ protocol, port, sourceIps: ["10.20.0.0/16"] }));
    }
    // Nothing but ICMP is open to the world on the base firewall.
    expect(base.filter((r) => r.sourceIps.includes("0.0.0.0/0")).map((r) => r.protocol)).toEqual(["icmp"]);
    expect(edge.map((r) => r.port).sort()).toEqual(["443", "80"]);
    // Attached by id at server creation (no window without a firewall): managers take web traffic, workers not.
    const ids = Object.fromEntries(byType(run, "hcloud:index/firewall:Firewall").map((f) => [f.inputs.name as string, Number(mockId(f.type, f.name))]));
    expect(Object.values(firewalls).every((f) => f.applyTos === undefined)).toBe(true);
    for (const s of byType(run, SERVER)) {
      const want = s.name.includes("manager") ? [ids["staging-base"], ids["staging-edge"]] : [ids["staging-base"]];
      expect([s.name, s.inputs.firewallIds]).toEqual([s.name, want]);
    }
  });

  test("SSH keys as code: authorized_keys on every node follows sshPublicKeys; a key change replaces no server", async () => {
    const cfg = deployableConfig("staging");
    const run = await runProgram("staging", cfg);
    const keySteps = byType(run, COMMAND).filter((c) => c.name.endsWith("-ssh-keys"));
    expect(keySteps).toHaveLength(6);
    const deployKey = TEST_SSH_KEY.public.split(" ").slice(0, 2).join(" ");
    for (const step of keySteps) {
      expect(step.inputs.create).toContain("authorized-keys.sh");
      expect(step.inputs.create).toContain(`DEPLOY_KEY='${deployKey}'`);
      expect(step.inputs.stdin).toBe((cfg["mbio-cloud:sshPublicKeys"] as string[]).join("\n"));
    }
    // The private key reaches no command line.
    expect(JSON.stringify(byType(run, COMMAND).map((c) => c.inputs.create))).not.toContain("PRIVATE KEY");
    const rotated = await runProgram("staging", { ...cfg, "mbio-cloud:sshPublicKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIRotatedOpsKey000000000000000000000000000 ops-2026"] });
    const before = new Map(run.resources.map((r) => [`${r.type}/${r.name}`, JSON.stringify(r.inputs)]));
    const changed = rotated.resources.filter((r) => before.get(`${r.type}/${r.name}`) !== JSON.stringify(r.inputs)).map((r) => r.name);
    // Only the keys themselves and the per-node key steps change; servers ignore sshKeys after creation.
    expect(changed.every((n) => n.endsWith("-ssh-keys") || n.includes("ssh-key-"))).toBe(true);
  });

  test("production servers and network have delete and rebuild protection", async () => {
    const run = await runProgram("production", deployableConfig("production"));
    const servers = byType(run, SERVER);
    expect(servers).toHaveLength(8);
    expect(servers.every((s) => s.inputs.deleteProtection === true && s.inputs.rebuildProtection === true)).toBe(true);
    expect(byType(run, "hcloud:index/network:Network")[0].inputs.deleteProtection).toBe(true);
  });

  test("bootstrap: every node hardened and gets the pinned engine; one init; joins and memberships for the others", async () => {
    const run = await runProgram("staging", deployableConfig("staging"));
    const commands = byType(run, COMMAND);
    const joins = byType(run, JOIN);
    const names = [...commands, ...byType(run, NODE), ...joins].map((c) => c.name);
    for (const node of ["staging-manager-1", "staging-manager-2", "staging-manager-3", "staging-worker-1", "staging-worker-2", "staging-ci-1"]) {
      expect(names).toContain(`staging-swarm-${node}-first-boot`);
      expect(names).toContain(`staging-swarm-${node}-harden`);
      expect(names).toContain(`staging-swarm-${node}-docker`);
      expect(names).toContain(`staging-swarm-${node}-membership`);
    }
    // Every node joins, the first manager too (a no-op on the Swarm's first node; a rebuilt one joins the
    // live Swarm through the others). Joins are Swarm provider resources that read their node back (no delete:
    // a replaced join never takes a node out; tests/unit/swarm-provider.test.ts).
    expect(joins.map((c) => c.name).sort()).toEqual(["staging-swarm-staging-ci-1-join", "staging-swarm-staging-manager-1-join", "staging-swarm-staging-manager-2-join", "staging-swarm-staging-manager-3-join", "staging-swarm-staging-worker-1-join", "staging-swarm-staging-worker-2-join"]);
    expect(commands.filter((c) => String(c.inputs.create).includes("swarm-join.sh"))).toEqual([]);
    expect(names).not.toContain("staging-swarm-init");
    // One Swarm resource: found through every manager (first manager first), initialised only when none has one.
    const [swarm] = byType(run, SWARM);
    expect(swarm.name).toBe("staging-swarm-swarm");
    expect(swarm.inputs).toMatchObject({ advertiseAddr: "10.20.1.11", otherManagers: "10.20.1.12 10.20.1.13", joinTokenRotation: 0 });
    expect((asSecret(swarm.inputs.connections) as { value: { host: string }[] }).value).toHaveLength(3);
    const docker = commands.find((c) => c.name === "staging-swarm-staging-worker-1-docker")!;
    expect(docker.inputs.create).toContain("DOCKER_PACKAGE='docker-ce' DOCKER_VERSION='5:27.5.1-1~debian.12~bookworm'");
    const workerJoin = joins.find((c) => c.name === "staging-swarm-staging-worker-1-join")!;
    // Join tokens are secret inputs (swarm-join.sh reads them on stdin), never on a command line.
    expect(asSecret(workerJoin.inputs.token)).toEqual({ secret: true, value: "SWMTKN-1-worker-0" });
    expect(workerJoin.inputs).toMatchObject({ managerAddr: "10.20.1.11 10.20.1.12 10.20.1.13", advertiseAddr: "10.20.1.101" });
    expect(asSecret(joins.find((c) => c.name === "staging-swarm-staging-manager-2-join")!.inputs.token)).toEqual({ secret: true, value: "SWMTKN-1-manager-0" });
    // The machine's own connection holds the deploy key: secret.
    expect(asSecret(workerJoin.inputs.node).secret).toBe(true);
    // Memberships are Swarm provider resources: exact labels, removal on a real removal only, any manager.
    const nodes = byType(run, NODE);
    const membership = nodes.find((c) => c.name === "staging-swarm-staging-worker-2-membership")!;
    expect(membership.inputs).toMatchObject({ nodeId: "node-staging-swarm-staging-worker-2-join", role: "worker", availability: "active", removeOnDelete: true });
    expect(membership.inputs.labels).toEqual({ "cost-center": "mbio-cloud", "mbio.environment": "staging", "mbio.role": "worker", "mbio.name": "staging-worker-2" });
    const first = nodes.find((c) => c.name === "staging-swarm-staging-manager-1-membership")!;
    // The first manager's membership removes too (a rebuilt manager-1's dead node); node-remove.sh keeps the last manager.
    expect(first.inputs).toMatchObject({ nodeId: "node-staging-swarm-staging-manager-1-join", removeOnDelete: true });
    // A removed node's machine leaves the Swarm through its own connection (secret: it holds the key).
    expect(asSecret(membership.inputs.nodeConnection)).toEqual({ secret: true, value: expect.objectContaining({ host: (asSecret(joins.find((c) => c.name === "staging-swarm-staging-worker-2-join")!.inputs.node) as { value: { host: string } }).value.host }) });
    const managerHosts = (asSecret(membership.inputs.connections) as { secret: boolean; value: { host: string }[] });
    expect(managerHosts.secret).toBe(true);
    expect(managerHosts.value).toHaveLength(3);
    const network = byType(run, NETWORK).find((c) => c.name === "staging-swarm-network")!;
    expect(network.inputs).toMatchObject({ name: "staging-platform", encrypted: true, mtu: "1350" });
    // Every manager logs in to the private registry, the password on stdin (never on the command line).
    const logins = commands.filter((c) => c.name.endsWith("-registry-login"));
    expect(logins.map((c) => c.name).sort()).toEqual(["staging-swarm-staging-manager-1-registry-login", "staging-swarm-staging-manager-2-registry-login", "staging-swarm-staging-manager-3-registry-login"]);
    expect(logins[0].inputs.create).toContain("REGISTRY='registry.gitlab.com' REGISTRY_USER='mbio-cloud-deploy'");
    expect(String(logins[0].inputs.create)).not.toContain("unit-test-registry-password");
    expect(asSecret(logins[0].inputs.stdin)).toEqual({ secret: true, value: "unit-test-registry-password" });
  });

  test("join-token rotation is config: a new swarm.joinTokenRotation changes the Swarm's generation; the joins do not re-run", async () => {
    const cfg = deployableConfig("staging");
    const before = await runProgram("staging", cfg);
    const swarmCfg = cfg["mbio-cloud:swarm"] as Record<string, unknown>;
    const after = await runProgram("staging", { ...cfg, "mbio-cloud:swarm": { ...swarmCfg, joinTokenRotation: 1 } });
    expect(after.error).toBeUndefined();
    expect(byType(after, SWARM)[0].inputs.joinTokenRotation).toBe(1);
    const b = new Map(before.resources.map((r) => [`${r.type}/${r.name}`, JSON.stringify(r.inputs)]));
    const changed = after.resources.filter((r) => b.get(`${r.type}/${r.name}`) !== JSON.stringify(r.inputs)).map((r) => r.name).sort();
    expect(changed).toEqual(["staging-swarm-staging-ci-1-join", "staging-swarm-staging-manager-1-join", "staging-swarm-staging-manager-2-join", "staging-swarm-staging-manager-3-join", "staging-swarm-staging-worker-1-join", "staging-swarm-staging-worker-2-join", "staging-swarm-swarm"]);
    const joinOf = (r: typeof after, n: string) => byType(r, JOIN).find((c) => c.name === `staging-swarm-staging-${n}-join`)!;
    expect(asSecret(joinOf(after, "worker-1").inputs.token)).toEqual({ secret: true, value: "SWMTKN-1-worker-1" });
    // The joins carry the new token for a join that runs from now on, but their diff ignores it: members need no
    // token, so a rotation re-runs no join (and goes through while a node is down).
    const plainInputs = (r: typeof after, n: string) => Object.fromEntries(Object.entries(joinOf(r, n).inputs).map(([k, v]) => [k, asSecret(v).value]));
    const olds = { ...plainInputs(before, "worker-1"), nodeId: "n1" } as unknown as JoinOutputs;
    expect(diffJoin(olds, plainInputs(after, "worker-1") as unknown as JoinInputs)).toMatchObject({ changes: false, replaces: [] });
  });

  test("the Docker provider's ProxyCommand, run by a shell as ssh runs it, says what to run when the program never wrote its files here", () => {
    const dir = path.join(os.tmpdir(), `mbio-no-docker-ssh-${process.pid}`);
    const proxyCommand = dockerSshOpts(dir).find((o) => o.startsWith("ProxyCommand="))!.slice("ProxyCommand=".length);
    const missing = spawnSync("sh", ["-c", `exec ${proxyCommand}`], { encoding: "utf8" });
    expect([missing.status, missing.stderr.trim()]).toEqual([2, `docker-ssh-proxy: ${dir}: ${MISSING_SSH_FILES}`]);
    // With the files there it runs the proxy script with the directory (a stand-in script here).
    fs.mkdirSync(dir, { recursive: true });
    try {
      fs.writeFileSync(path.join(dir, "docker-ssh-proxy.sh"), 'echo "proxy for $1"\n');
      const found = spawnSync("sh", ["-c", `exec ${proxyCommand}`], { encoding: "utf8" });
      expect([found.status, found.stdout.trim()]).toEqual([0, `proxy for ${dir}`]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("every stack deploy goes through every manager (first manager first); swarm objects run on the first manager", async () => {
    const run = await runProgram("staging", deployableConfig("staging"));
    const stacks = byType(run, "pulumi-nodejs:dynamic/swarm:Stack");
    expect(stacks.length).toBeGreaterThan(0);
    const first = (asSecret(byType(run, JOIN).find((c) => c.name === "staging-swarm-staging-manager-1-join")!.inputs.node) as { value: { host: string } }).value.host;
    const second = (asSecret(byType(run, JOIN).find((c) => c.name === "staging-swarm-staging-manager-2-join")!.inputs.node) as { value: { host: string } }).value.host;
    for (const s of stacks) {
      const hosts = (asSecret(s.inputs.connections) as { value: { host: string }[] }).value.map((c) => c.host);
      expect([s.name, hosts.length, hosts[0], hosts[1]]).toEqual([s.name, 3, first, second]);
    }
    // Swarm configs and secrets: the one Docker provider, whose proxy tries every manager in order.
    expect(byType(run, "docker:index/secret:Secret").length).toBeGreaterThan(0);
    const docker = byType(run, "pulumi:providers:docker");
    expect(docker.map((p) => p.name)).toEqual(["staging-swarm-docker"]);
    // The provider's inputs hold sshOpts as a JSON array (a string).
    const sshOpts = JSON.parse(String(docker[0].inputs.sshOpts)) as string[];
    expect(sshOpts.find((o) => o.startsWith("ProxyCommand="))).toMatch(/^ProxyCommand=bash -c '[^']+' ~\/\.cache\/mbio-cloud\/docker-ssh\/[^ ]+-staging$/);
    const base = path.join(process.env.MBIO_DOCKER_SSH_HOME!, ".cache/mbio-cloud/docker-ssh");
    const dir = fs.readdirSync(base).find((d) => d.endsWith("-staging"))!;
    const managers = fs.readFileSync(path.join(base, dir, "managers"), "utf8").trim().split("\n").map((l) => l.split(" ")[0]);
    expect([managers.length, managers[0], managers[1]]).toEqual([3, first, second]);
    expect(fs.statSync(path.join(base, dir, "key")).mode & 0o777).toBe(0o600);
  });

  test("scale out 2 → 4 workers adds only the new machines and their joins; nothing existing changes", async () => {
    const before = await runProgram("staging", withWorkers("staging", 2));
    const after = await runProgram("staging", withWorkers("staging", 4));
    const beforeByName = new Map(before.resources.map((r) => [`${r.type}/${r.name}`, JSON.stringify(r.inputs)]));
    const afterByName = new Map(after.resources.map((r) => [`${r.type}/${r.name}`, JSON.stringify(r.inputs)]));
    for (const [key, inputs] of beforeByName) expect([key, afterByName.get(key)]).toEqual([key, inputs]);
    const added = [...afterByName.keys()].filter((k) => !beforeByName.has(k));
    expect(added.length).toBeGreaterThan(0);
    expect(added.every((k) => /staging-worker-[34]/.test(k))).toBe(true);
    // 3 managers, 4 workers, the CI node.
    expect(byType(after, SERVER)).toHaveLength(8);
  });

  test("scale in 4 → 2 workers removes only the last workers; the others keep their names and addresses", async () => {
    const big = await runProgram("staging", withWorkers("staging", 4));
    const small = await runProgram("staging", withWorkers("staging", 2));
    const bigKeys = new Map(big.resources.map((r) => [`${r.type}/${r.name}`, JSON.stringify(r.inputs)]));
    const smallKeys = new Map(small.resources.map((r) => [`${r.type}/${r.name}`, JSON.stringify(r.inputs)]));
    const removed = [...bigKeys.keys()].filter((k) => !smallKeys.has(k));
    expect(removed.every((k) => /staging-worker-[34]/.test(k))).toBe(true);
    for (const [key, inputs] of smallKeys) expect(bigKeys.get(key)).toEqual(inputs);
  });

  test("more than 10 workers spill into a second spread placement group without moving the first ten", async () => {
    const run = await runProgram("staging", withWorkers("staging", 12));
    expect(byType(run, "hcloud:index/placementGroup:PlacementGroup").map((g) => g.inputs.name).sort()).toEqual(["staging-ci-1", "staging-manager-1", "staging-worker-1", "staging-worker-2"]);
  });
});

describe("SwarmCluster on existing hosts", () => {
  const hosts = [1, 2, 3, 4].map((i) => ({ name: `onprem-${i}`, address: `192.0.2.${i}`, privateAddress: `10.99.0.${i}`, port: 22, hostKey: TEST_HOST_KEY.publicKey }));
  const existing = (workers: number) => {
    const cfg = { ...deployableConfig("staging") };
    for (const k of ["location", "osImage", "serverTypes", "privateNetwork"]) delete cfg[`mbio-cloud:${k}`];
    // No CI node and so no runner: these cases are about managers and workers taking the listed hosts in order.
    return { ...cfg, "mbio-cloud:machineSource": "existing", "mbio-cloud:hosts": hosts, "mbio-cloud:managers": 3, "mbio-cloud:workers": workers, "mbio-cloud:ciNodes": 0, "mbio-cloud:gitlab": { enabled: false }, "mbio-cloud:storage": { driver: "local" } };
  };

  test("creates no cloud resources and runs the same bootstrap on the hosts", async () => {
    const run = await runProgram("staging", existing(0));
    expect(run.error).toBeUndefined();
    expect(run.resources.filter((r) => r.type.startsWith("hcloud:"))).toEqual([]);
    const names = [...byType(run, COMMAND), ...byType(run, JOIN)].map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(["staging-swarm-onprem-1-harden", "staging-swarm-onprem-1-docker", "staging-swarm-onprem-1-join", "staging-swarm-onprem-3-join"]));
    expect(names.some((n) => n.includes("onprem-4"))).toBe(false);
    const join = byType(run, JOIN).find((c) => c.name === "staging-swarm-onprem-2-join")!;
    // The connection carries the private key, so it is stored as a secret in state.
    expect(asSecret(join.inputs.node)).toEqual({ secret: true, value: expect.objectContaining({ host: "192.0.2.2", port: 22, user: "root" }) });
    expect(join.inputs.advertiseAddr).toBe("10.99.0.2");
    expect(run.outputs.nodes).toEqual(hosts.slice(0, 3).map((h) => ({ name: h.name, role: "manager", publicIp: h.address, privateIp: h.privateAddress })));
    expect(run.outputs.dockerHost).toBe("ssh://root@192.0.2.1:22");
    // Every connection pins the host key from the stack file; the ssh2 provider gets it too.
    expect(asSecret(join.inputs.node).value).toMatchObject({ hostKey: TEST_HOST_KEY.publicKey });
    const member = byType(run, NODE).find((n) => n.name === "staging-swarm-onprem-2-membership")!;
    for (const c of asSecret(member.inputs.connections).value as { hostKey: string }[]) expect(c.hostKey).toBe(TEST_HOST_KEY.publicKey);
    expect(run.outputs.sshKnownHosts).toBe(hosts.slice(0, 3).map((h) => `${h.address} ${TEST_HOST_KEY.publicKey}\n`).join(""));
    expect(run.secretOutputs.has("sshKnownHosts")).toBe(false);
    // The host firewall admits the Swarm ports from exactly the stack's hosts.
    const fw = String(byType(run, COMMAND).find((c) => c.name === "staging-swarm-onprem-3-firewall")!.inputs.create);
    expect(fw).toContain("PRIVATE_CIDR='10.99.0.1/32 10.99.0.2/32 10.99.0.3/32 10.99.0.4/32'");
    expect(fw).toContain("MANAGER='true'");
  });

  test("raising workers takes the next host as a worker and changes nothing else", async () => {
    const before = await runProgram("staging", existing(0));
    const after = await runProgram("staging", existing(1));
    const b = new Map(before.resources.map((r) => [r.name, JSON.stringify(r.inputs)]));
    const added = after.resources.filter((r) => !b.has(r.name)).map((r) => r.name);
    expect(added.sort()).toEqual(["staging-swarm-onprem-4-docker", "staging-swarm-onprem-4-engine", "staging-swarm-onprem-4-firewall", "staging-swarm-onprem-4-first-boot", "staging-swarm-onprem-4-harden", "staging-swarm-onprem-4-join", "staging-swarm-onprem-4-membership", "staging-swarm-onprem-4-ssh-keys"]);
    for (const r of after.resources.filter((x) => b.has(x.name))) expect(JSON.stringify(r.inputs)).toBe(b.get(r.name));
    expect(asSecret(byType(after, JOIN).find((c) => c.name === "staging-swarm-onprem-4-join")!.inputs.token)).toEqual({ secret: true, value: "SWMTKN-1-worker-0" });
  });
});

describe("secrets", () => {
  test("join tokens are no stack output at all; addresses are not secret", async () => {
    const run = await runProgram("staging", deployableConfig("staging"));
    expect(Object.keys(run.outputs)).not.toContain("joinTokens");
    expect(JSON.stringify(run.outputs)).not.toContain("SWMTKN");
    expect(run.secretOutputs.has("nodes")).toBe(false);
  });

  test("no stack file holds a private key or a token", () => {
    for (const stack of ["development", "staging", "production"]) {
      const text = fs.readFileSync(`${__dirname}/../../Pulumi.${stack}.yaml`, "utf8");
      expect(text).not.toMatch(/PRIVATE KEY|SWMTKN|secure:/);
    }
  });
});

describe("invalid config", () => {
  test("creates nothing and lists every problem with the stack file and key", async () => {
    const cfg = { ...deployableConfig("staging"), "mbio-cloud:managers": 2, "mbio-cloud:location": "mars" };
    const run = await runProgram("staging", cfg);
    expect(run.error).toBeDefined();
    expect(run.resources).toEqual([]);
    const printed = run.consoleErrors.join("\n");
    expect(printed).toContain("Pulumi.staging.yaml: mbio-cloud:managers is 2 — a Swarm needs an odd number of managers (1, 3 or 5)");
    expect(printed).toContain("Pulumi.staging.yaml: mbio-cloud:location is mars");
  });
});
