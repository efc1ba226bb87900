// Runs the real Pulumi program (index.ts) under Pulumi mocks: no cloud, no CLI. Each run gets a fresh
// module registry so the program is imported after setMocks and with its own config.
import * as fs from "fs";
import * as path from "path";
import { execFileSync } from "child_process";
import * as os from "os";
import { parse } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { generateHostKey } from "../../../components/dynamic-providers/host-keys";
import { ConfigError, loadConfig } from "../../../components/config/load";

export const REPO = path.resolve(__dirname, "../../..");
// The Docker provider's ssh files (components/swarm-docker.ts) go to a scratch directory, not ~/.cache.
process.env.MBIO_DOCKER_SSH_HOME ??= fs.mkdtempSync(path.join(os.tmpdir(), "mbio-unit-docker-ssh-"));

export interface MockResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  /** The resource's `ignoreChanges` option (property paths an update leaves alone). */
  ignoreChanges: string[];
  /** Names of the resources it waits for (explicit dependsOn and the outputs among its inputs). */
  dependsOn: string[];
  /** Name of its parent resource ("" for the stack's root). */
  parent: string;
}

export interface ProgramRun {
  resources: MockResource[];
  outputs: Record<string, unknown>;
  /** Outputs with their secretness, for asserting what is secret. */
  secretOutputs: Set<string>;
  error?: Error;
  consoleErrors: string[];
}

/** Flattens a stack file's `config:` block into the runtime's `project:key` → string form. */
export function stackFileConfig(stack: string): Record<string, unknown> {
  const doc = parse(fs.readFileSync(path.join(REPO, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
  return doc.config;
}

/**
 * The platform's own images are published by the image pipeline, which pins their digests into the stack
 * files; until it has run, staging and production stop at validation. Tests stand in for that step with a
 * value that is visibly a test digest.
 */
export const PIPELINE_IMAGES = {
  "backup-agent": `registry.gitlab.com/mbio/mbio-cloud/backup-agent:1.0.0@sha256:${"0123456789abcdef".repeat(4)}`,
  // Upstream images with no citable digest yet (docs/monitoring.md): visibly fake test digests.
  influxdb: `influxdb:1.11.8@sha256:${"0123456789abcdef".repeat(4)}`,
  telegraf: `telegraf:1.39.3@sha256:${"0123456789abcdef".repeat(4)}`,
  grafana: `grafana/grafana:12.3.1@sha256:${"0123456789abcdef".repeat(4)}`,
  // No citable upstream digest of gitlab/gitlab-runner yet: the stack files leave it out (docs/ci.md).
  "gitlab-runner": `gitlab/gitlab-runner:v0.0.0-test@sha256:${"fedcba9876543210".repeat(4)}`,
};
/** The GitLab group the operator puts into each stack file (gitlab.groupId); a test value. */
export const TEST_GITLAB_GROUP_ID = 4242;

/** A stack file as it is once the image pipeline has pinned the platform's own images. */
/** Upstream images the stack files cannot pin yet (no citable digest): visibly fake test digests. */
export const UNPINNED_UPSTREAM_IMAGES = {
  portainer: `portainer/portainer-ce:2.33.6@sha256:${"fedcba9876543210".repeat(4)}`,
  "portainer-agent": `portainer/agent:2.33.6@sha256:${"fedcba9876543210".repeat(4)}`,
};
/** The Hetzner CSI plugin has no citable digest of a -swarm release yet (docs/storage.md): a visibly fake test digest. */
export const TEST_HETZNER_CSI_PLUGIN = `hetznercloud/hcloud-csi-driver:v0.0.0-swarm@sha256:${"fedcba9876543210".repeat(4)}`;
/** Stands in for the operator's Cloudflare zone id (stack files leave dns.zoneId to be set). */
export const TEST_ZONE_ID = "0123456789abcdef0123456789abcdef";

export function deployableConfig(stack: string): Record<string, unknown> {
  const config = stackFileConfig(stack);
  const gitlab = config["mbio-cloud:gitlab"] as object | undefined;
  const dns = config["mbio-cloud:dns"] as Record<string, unknown> | undefined;
  const storage = config["mbio-cloud:storage"] as { driver?: string; hetznerCsi?: Record<string, unknown> } | undefined;
  return {
    ...config,
    "mbio-cloud:images": { ...(config["mbio-cloud:images"] as object), ...PIPELINE_IMAGES, ...UNPINNED_UPSTREAM_IMAGES },
    ...(gitlab ? { "mbio-cloud:gitlab": { ...gitlab, groupId: TEST_GITLAB_GROUP_ID } } : {}),
    ...(dns?.provider === "cloudflare" && !dns.zoneId ? { "mbio-cloud:dns": { ...dns, zoneId: TEST_ZONE_ID } } : {}),
    ...(storage?.driver === "hetzner-csi" && !storage.hetznerCsi?.pluginImage ? { "mbio-cloud:storage": { ...storage, hetznerCsi: { ...storage.hetznerCsi, pluginImage: TEST_HETZNER_CSI_PLUGIN } } } : {}),
  };
}

/**
 * A throwaway OpenSSH key pair for the mocks, made once per test process by ssh-keygen, as operators make
 * theirs (ssh2's own generator writes about 1 in 400 ed25519 keys that its parser then rejects).
 */
export const TEST_SSH_KEY = (() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mbio-test-key-"));
  try {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "unit-test", "-f", path.join(dir, "key")]);
    return { private: fs.readFileSync(path.join(dir, "key"), "utf8"), public: fs.readFileSync(path.join(dir, "key.pub"), "utf8").trim() };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
})();

export const TEST_SECRETS = {
  // A real (throwaway) key: the program derives its public half for authorized_keys.
  "mbio-cloud:sshPrivateKey": TEST_SSH_KEY.private,
  "mbio-cloud:backupS3AccessKeyId": "unit-test-access-key",
  "mbio-cloud:backupS3SecretAccessKey": "unit-test-secret-key",
  "mbio-cloud:resticPassword": "unit-test-restic-password",
  "mbio-cloud:raftResticPassword": "unit-test-raft-restic-password",
  "mbio-cloud:adminPassword": "unit-test-admin-password",
  "mbio-cloud:cloudflareApiToken": "unit-test-cloudflare-token",
  "mbio-cloud:registryPassword": "unit-test-registry-password",
  "mbio-cloud:influxdbAdminPassword": "unit-test-influxdb-admin",
  "mbio-cloud:influxdbWriterPassword": "unit-test-influxdb-writer",
  "mbio-cloud:influxdbReaderPassword": "unit-test-influxdb-reader",
  "mbio-cloud:grafanaAdminPassword": "unit-test-grafana-admin",
  "mbio-cloud:gitlabToken": "glpat-unit-test-admin-token-0000",
  // The Hetzner API token: the hcloud provider's and the CSI plugin's (storage.driver hetzner-csi).
  "hcloud:token": "unit-test-hcloud-token",
};

/** A host key pair for the mocks' Hetzner servers and existing hosts, made once per test run. */
export const TEST_HOST_KEY = generateHostKey("mock");

/** A deterministic fake public address per server name, so two runs of a program compare equal. */
function fakeIp(name: string): string {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) % 250;
  return `198.51.100.${h + 1}`;
}

function mockState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case "hcloud:index/server:Server":
      return { ...inputs, ipv4Address: fakeIp(name), ipv6Address: "2001:db8::1", status: "running" };
    case "command:remote:Command":
      return { ...inputs, stdout: "", stderr: "" };
    case "pulumi-nodejs:dynamic/mbio:SshHostKey":
      return { ...inputs, ...TEST_HOST_KEY };
    case "pulumi-nodejs:dynamic/mbio:GeneratedSecret":
      return { ...inputs, value: `generated-${name}` };
    case "pulumi-nodejs:dynamic/swarm:Join":
      return { ...inputs, nodeId: `node-${name}` };
    case "pulumi-nodejs:dynamic/swarm:Swarm":
      return { ...inputs, clusterId: "swarm-cluster-id", managerToken: `SWMTKN-1-manager-${inputs.joinTokenRotation ?? 0}`, workerToken: `SWMTKN-1-worker-${inputs.joinTokenRotation ?? 0}` };
    case "pulumi-nodejs:dynamic/gitlab:RunnerRegistration":
      return { ...inputs, runnerId: 9171, token: "glrt-mock-runner-token", tokenExpiresAt: null };
    default:
      return { ...inputs };
  }
}

/** Hetzner ids are numbers (the program converts them with Number); others are named after the resource. */
export function mockId(type: string, name: string): string {
  if (!type.startsWith("hcloud:")) return `${name}-id`;
  let h = 7;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) % 1_000_000_007;
  return String(h);
}

/** Resources that depend on outputs register late: resolves once `count()` has been stable for 100 ms. */
export async function settle(count: () => number): Promise<void> {
  let last = -1;
  for (let stable = 0; stable < 5; ) {
    await new Promise((r) => setTimeout(r, 20));
    if (count() === last) stable++;
    else {
      stable = 0;
      last = count();
    }
  }
}

/** Makes a run read-only: runs are shared between the tests of a file (runProgram), none may change one. */
function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as object)) deepFreeze(x);
  }
  return v;
}

/** The config as the Pulumi runtime holds it (what `pulumi up` hands the program): namespaced keys, JSON values, the secrets. */
export function runtimeConfig(config: Record<string, unknown>, secrets: Record<string, string> = TEST_SECRETS): Record<string, string> {
  const all: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) {
    const key = k.includes(":") ? k : `mbio-cloud:${k}`;
    all[key] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return Object.assign(all, secrets);
}

/**
 * The program's first step alone: loadConfig() reading `config` from the Pulumi runtime, as index.ts does before
 * it creates anything. Returns the ConfigError it raised (the list index.ts prints), or fails the test. For
 * tables of bad values: a whole-program render (runProgram) loads the program and every provider SDK afresh,
 * seconds each; tests/unit/bad-input.test.ts renders a few of them whole to prove the program stops on it.
 */
export function configError(stack: string, config: Record<string, unknown>, secrets: Record<string, string> = TEST_SECRETS): ConfigError {
  pulumi.runtime.setMocks({ newResource: () => ({ id: undefined, state: {} }), call: (a) => a.inputs }, "mbio-cloud", stack, false);
  pulumi.runtime.setAllConfig(runtimeConfig(config, secrets), Object.keys(secrets));
  try {
    loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error(`loadConfig accepted the ${stack} config: a ConfigError was expected`);
}

const runs = new Map<string, Promise<ProgramRun>>();
/**
 * Runs the program for `stack` with `config` (keys without namespace are put under mbio-cloud:), plus
 * the given secrets. Resolves when no resource has registered for a while. A render takes seconds (the
 * whole program and the Pulumi SDK in a fresh module registry), and many tests of a file read the same
 * stack: identical renders are done once per test file and shared, frozen so no test can change another's.
 */
export function runProgram(stack: string, config: Record<string, unknown>, secrets: Record<string, string> = TEST_SECRETS): Promise<ProgramRun> {
  const key = JSON.stringify([stack, config, secrets]);
  let run = runs.get(key);
  if (!run) {
    run = renderProgram(stack, config, secrets).then(deepFreeze);
    runs.set(key, run);
  }
  return run;
}

async function renderProgram(stack: string, config: Record<string, unknown>, secrets: Record<string, string>): Promise<ProgramRun> {
  const resources: MockResource[] = [];
  const consoleErrors: string[] = [];
  const ignoreChanges = new Map<string, string[]>();
  const dependencies = new Map<string, string[]>();
  const parents = new Map<string, string>();
  const all = runtimeConfig(config, secrets);

  let program: Record<string, unknown> = {};
  let error: Error | undefined;
  let pulumi!: typeof import("@pulumi/pulumi");
  const origError = console.error;
  console.error = (...a: unknown[]) => consoleErrors.push(a.map(String).join(" "));
  // The SDK takes a full stack trace for every resource (its source position) and every internal promise;
  // jest's source-mapping formatter made that about a third of a render's time (measured with --cpu-prof).
  // Mocks never look at source positions: V8's plain format while the program registers its resources (a
  // function here, as Node falls back to the main context's formatter, jest's, when this one is unset).
  const prepareStackTrace = Error.prepareStackTrace;
  Error.prepareStackTrace = (error: Error, frames: NodeJS.CallSite[]) => [String(error), ...frames.map((f) => `    at ${f}`)].join("\n");
  try {
    jest.isolateModules(() => {
      // The program must be imported after setMocks, in its own module registry: require is the tool for that.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      pulumi = require("@pulumi/pulumi");
      pulumi.runtime.setMocks(
        {
          newResource: (args) => {
            const key = `${args.type}/${args.name}`;
            resources.push({ type: args.type, name: args.name, inputs: args.inputs, ignoreChanges: ignoreChanges.get(key) ?? [], dependsOn: dependencies.get(key) ?? [], parent: parents.get(key) ?? "" });
            return { id: mockId(args.type, args.name), state: mockState(args.type, args.name, args.inputs) };
          },
          call: (args) => args.inputs,
        },
        "mbio-cloud",
        stack,
        false,
      );
      pulumi.runtime.setAllConfig(all, Object.keys(secrets));
      // The mocks hand newResource no resource options; ignoreChanges and dependencies are read off the registration itself.
      type Registration = { getType(): string; getName(): string; getIgnorechangesList(): string[]; getDependenciesList(): string[]; getParent(): string };
      const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: Registration, cb: unknown): Promise<void> };
      const register = monitor.registerResource.bind(monitor);
      monitor.registerResource = (req, cb) => {
        ignoreChanges.set(`${req.getType()}/${req.getName()}`, req.getIgnorechangesList());
        // A URN ends with "::<name>": the plan test asserts on names.
        const nameOf = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);
        dependencies.set(`${req.getType()}/${req.getName()}`, req.getDependenciesList().map(nameOf));
        parents.set(`${req.getType()}/${req.getName()}`, req.getParent() && !req.getParent().includes("pulumi:pulumi:Stack") ? nameOf(req.getParent()) : "");
        return register(req, cb);
      };
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        program = require(path.join(REPO, "index.ts"));
      } catch (e) {
        error = e as Error;
      }
    });
  } finally {
    console.error = origError;
  }

  const outputs: Record<string, unknown> = {};
  const secretOutputs = new Set<string>();
  try {
    await settle(() => resources.length);
    for (const [k, v] of Object.entries(program)) {
      if (pulumi.Output.isInstance(v)) {
        outputs[k] = await new Promise((resolve) => (v as import("@pulumi/pulumi").Output<unknown>).apply((x) => resolve(x)));
        if (await (v as unknown as { isSecret: Promise<boolean> }).isSecret) secretOutputs.add(k);
      } else outputs[k] = v;
    }
  } finally {
    Error.prepareStackTrace = prepareStackTrace;
  }
  return { resources, outputs, secretOutputs, error, consoleErrors };
}

/** The value of an input that may be a plain value (mocks resolve outputs before newResource). */
export function byType(run: ProgramRun, type: string): MockResource[] {
  return run.resources.filter((r) => r.type === type);
}

/** Counts resources per type, for parity comparisons. */
export function typeCounts(run: ProgramRun): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of run.resources) counts[r.type] = (counts[r.type] ?? 0) + 1;
  return counts;
}

/** Pulumi's marker for a secret value in serialized resource inputs. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
export function asSecret(v: unknown): { secret: boolean; value: unknown } {
  if (v !== null && typeof v === "object" && SECRET_SIG in (v as object)) return { secret: true, value: (v as { value: unknown }).value };
  return { secret: false, value: v };
}
