// The policy pack (policy/rules.ts): every policy fails on a bad resource and passes on every resource the
// real stacks register (the program run under mocks, as `pulumi preview --policy-pack policy` would see it).
import { Secret } from "@pulumi/policy";
import type { ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { secretsPreservingProxy } from "@pulumi/policy/secret";
import { policies } from "../../policy/rules";
import { deployableConfig, runProgram, PIPELINE_IMAGES } from "./support/harness";

// The SDK's server wraps remediation inputs in this too; it is exported by the module, missing from its typings.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { unknownCheckingProxy } = require("@pulumi/policy/proxy") as { unknownCheckingProxy<T>(v: T): T };

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
/** Mock inputs as the policy SDK deserializes them for remediation: secrets as Secret instances. */
function withSecrets(v: unknown): unknown {
  if (v === null || typeof v !== "object") return v;
  if (SECRET_SIG in (v as object)) return new Secret(withSecrets((v as { value: unknown }).value));
  if (Array.isArray(v)) return v.map(withSecrets);
  return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, withSecrets(x)]));
}
/** The plain view validations get: secrets unwrapped. */
function plain(v: unknown): unknown {
  if (v instanceof Secret) return plain(v.value);
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(plain);
  return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, plain(x)]));
}

interface Res {
  type: string;
  name: string;
  urn: string;
  props: Record<string, unknown>;
}
const policy = (name: string) => policies.find((p) => p.name === name)!;
/** A remediation called as the policy SDK's server calls it: the inputs behind both of its proxies. */
const remediate = (p: ResourceValidationPolicy, r: Res) =>
  p.remediateResource!({ type: r.type, name: r.name, urn: r.urn, props: unknownCheckingProxy(secretsPreservingProxy(r.props)) } as unknown as ResourceValidationArgs);

/** Violations of one policy over a set of resources (resource policies per resource, stack policies once). */
async function violations(name: string, resources: Res[]): Promise<string[]> {
  const p = policy(name);
  const found: string[] = [];
  const report = (m: string) => found.push(m);
  if ("validateStack" in p) {
    await (p as StackValidationPolicy).validateStack!({ resources: resources.map((r) => ({ ...r, props: plain(r.props) })) } as unknown as StackValidationArgs, report);
  } else if ("validateResource" in p && p.validateResource) {
    for (const r of resources) {
      const v = (p as ResourceValidationPolicy).validateResource as (a: ResourceValidationArgs, rep: (m: string) => void) => void;
      v({ type: r.type, name: r.name, urn: r.urn, props: plain(r.props) } as unknown as ResourceValidationArgs, (m) => report(`${r.name}: ${m}`));
    }
  } else {
    for (const r of resources) {
      const fixed = await remediate(p as ResourceValidationPolicy, r);
      if (fixed) found.push(`${r.name}: made secret ${JSON.stringify(Object.keys(fixed))}`);
    }
  }
  return found;
}

const realStacks: Record<string, Res[]> = {};
beforeAll(async () => {
  for (const stack of ["development", "staging", "production"]) {
    const run = await runProgram(stack, deployableConfig(stack));
    if (run.error) throw run.error;
    realStacks[stack] = run.resources.map((r) => ({ type: r.type, name: r.name, urn: `urn:pulumi:${stack}::mbio-cloud::${r.type}::${r.name}`, props: withSecrets(r.inputs) as Record<string, unknown> }));
  }
});

const urn = (stack: string, type: string, name: string) => `urn:pulumi:${stack}::mbio-cloud::${type}::${name}`;
const goodService = {
  image: PIPELINE_IMAGES["backup-agent"],
  healthcheck: { test: ["CMD", "true"], interval: "30s" },
  volumes: ["data:/data", { type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" }],
  deploy: { resources: { limits: { cpus: "0.5", memory: "256M" }, reservations: { cpus: "0.1", memory: "64M" } } },
};
/** A stack deploy as SwarmStack registers it: the compose document on stdin (JSON). */
const deploy = (stack: string, service: Record<string, unknown>, how: "stdin" | "compose" = "stdin"): Res => {
  const doc = { version: "3.9", services: { web: service } };
  return { type: "command:remote:Command", name: "bad-deploy", urn: urn(stack, "command:remote:Command", "bad-deploy"), props: how === "stdin" ? { create: "STACK='web' bash -c stack-deploy", stdin: JSON.stringify(doc) } : { compose: doc } };
};

/** The same deploy as the Swarm provider's dynamic resource (drift work): the document as `document`. */
const dynamicDeploy = (stack: string, service: Record<string, unknown>): Res => ({
  type: "pulumi-nodejs:dynamic:Resource",
  name: "bad-deploy",
  urn: urn(stack, "pulumi-nodejs:dynamic:Resource", "bad-deploy"),
  props: { stackName: "web", document: JSON.stringify({ version: "3.9", services: { web: service } }) },
});
const dyn = (stack: string, props: Record<string, unknown>): Res => ({ type: "pulumi-nodejs:dynamic:Resource", name: "dyn", urn: urn(stack, "pulumi-nodejs:dynamic:Resource", "dyn"), props });

const bad: [string, () => Res[], RegExp][] = [
  ["images-pinned-by-digest", () => [dynamicDeploy("staging", { ...goodService, image: "traefik" })], /image "traefik" is not pinned/],
  ["hetzner-overlays-encrypted", () => [...realStacks.staging, dyn("staging", { name: "staging-platform", encrypted: false, mtu: "1350" })], /is not encrypted/],
  ["images-pinned-by-digest", () => [deploy("staging", { ...goodService, image: "traefik:latest" })], /service web: image "traefik:latest" is not pinned/],
  ["images-pinned-by-digest", () => [deploy("staging", { ...goodService, image: "traefik:v3.3.4" }, "compose")], /not pinned/],
  ["services-have-healthcheck-and-limits", () => [deploy("staging", { ...goodService, healthcheck: undefined })], /service web: no healthcheck/],
  ["services-have-healthcheck-and-limits", () => [deploy("staging", { ...goodService, healthcheck: { disable: true } })], /no healthcheck \(healthcheck.disable needs a label mbio.no-healthcheck/],
  ["services-have-healthcheck-and-limits", () => [deploy("staging", { ...goodService, healthcheck: { disable: true }, deploy: { ...goodService.deploy, labels: { "mbio.no-healthcheck": "short" } } })], /no healthcheck/],
  ["services-have-healthcheck-and-limits", () => [deploy("staging", { ...goodService, deploy: { resources: { limits: { cpus: "1" } } } })], /limits needs cpus and memory/],
  ["named-volumes-only", () => [deploy("staging", { ...goodService, volumes: ["/srv/data:/data"] })], /bind mount \/srv\/data/],
  ["named-volumes-only", () => [deploy("staging", { ...goodService, volumes: [{ type: "bind", source: "/etc", target: "/host-etc" }] })], /bind mount \/etc/],
  ["no-ssh-open-to-the-world", () => [{ type: "hcloud:index/firewall:Firewall", name: "fw", urn: urn("staging", "hcloud:index/firewall:Firewall", "fw"), props: { rules: [{ direction: "in", protocol: "tcp", port: "22", sourceIps: ["0.0.0.0/0"], description: "ssh" }] } }], /lets SSH \(port 22\) in from 0\.0\.0\.0\/0/],
  ["no-ssh-open-to-the-world", () => [{ type: "hcloud:index/firewall:Firewall", name: "fw", urn: urn("staging", "hcloud:index/firewall:Firewall", "fw"), props: { rules: [{ direction: "in", protocol: "tcp", port: "1-1024", sourceIps: ["::/0"] }] } }], /port 1-1024\) in from ::\/0/],
  ["credential-inputs-are-secret", () => [{ type: "command:remote:Command", name: "cmd", urn: urn("staging", "command:remote:Command", "cmd"), props: { create: "true", connection: { host: "10.0.0.1", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----" } } }], /made secret \["create","connection"\]/],
  ["installers-verified", () => [{ type: "command:remote:Command", name: "cmd", urn: urn("staging", "command:remote:Command", "cmd"), props: { create: "curl -fsSL https://download.storidge.com/pub/ce/cio-ce | sudo bash" } }], /create: pipes a download into a shell/],
  ["installers-verified", () => [{ type: "command:remote:Command", name: "cmd", urn: urn("staging", "command:remote:Command", "cmd"), props: { create: "ACTION='install' PLUGIN='hetznercloud/hcloud-csi-driver:v2.9.0-swarm' bash -c x" } }], /Docker plugin hetznercloud\/hcloud-csi-driver:v2\.9\.0-swarm is not pinned by @sha256/],
  ["production-has-3-managers-and-backups", () => realStacks.production.filter((r) => !/STACK='backup'/.test(JSON.stringify(plain(r.props))) && (plain(r.props) as Record<string, unknown>).stackName !== "backup"), /production deploys no backup stack/],
  ["production-has-3-managers-and-backups", () => realStacks.production.filter((r) => !(/manager-[23]/.test(r.name) && (r.type === "hcloud:index/server:Server" || (plain(r.props) as Record<string, unknown>).role === "manager")) && !/LABELS='[^']*mbio\.role=manager[^']*mbio\.name=\S+-manager-[23]/.test(String(plain(r.props.create)))), /production has 1 Swarm manager\(s\); it needs at least 3/],
  ["hetzner-overlays-encrypted", () => realStacks.staging.map((r) => (String(plain(r.props.create)).includes("ENCRYPTED='true'") ? { ...r, props: { ...r.props, create: String(plain(r.props.create)).replace("ENCRYPTED='true'", "ENCRYPTED='false'") } } : r.props.encrypted === true ? { ...r, props: { ...r.props, encrypted: false } } : r)), /is not encrypted/],
];

describe("policy pack", () => {
  test("every policy of the pack has a failing case here", () => {
    expect(new Set(bad.map(([name]) => name))).toEqual(new Set(policies.map((p) => p.name)));
  });

  test.each(bad)("%s fails on a bad resource (%#)", async (name, resources, expected) => {
    const found = await violations(name, resources());
    expect(found.join("\n")).toMatch(expected);
  });

  test("a disabled healthcheck passes with a mbio.no-healthcheck reason of 20 characters or more, and only then", async () => {
    const reason = "resolves its own peers at start";
    const waived = { ...goodService, healthcheck: { disable: true }, deploy: { ...goodService.deploy, labels: { "mbio.no-healthcheck": reason } } };
    expect(await violations("services-have-healthcheck-and-limits", [deploy("staging", waived)])).toEqual([]);
    const bare = { ...goodService, healthcheck: { disable: true } };
    expect((await violations("services-have-healthcheck-and-limits", [deploy("staging", bare)])).join("\n")).toMatch(/service web: no healthcheck/);
  });

  test.each(["development", "staging", "production"])("every policy passes on the real %s stack", async (stack) => {
    const resources = realStacks[stack];
    expect(resources.length).toBeGreaterThan(20);
    for (const p of policies) expect([p.name, await violations(p.name, resources)]).toEqual([p.name, []]);
  });

  test("a remediation keeps the inputs that were secret already secret, nested ones included (the engine stores what it returns)", async () => {
    const r: Res = {
      type: "command:remote:Command",
      name: "cmd",
      urn: urn("staging", "command:remote:Command", "cmd"),
      props: {
        create: "true",
        stdin: new Secret("agent-secret=s3cr3t"),
        environment: { KEEP: new Secret("still-secret"), PLAIN: "visible" },
        connection: { host: "10.0.0.1", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----" },
      },
    };
    const fixed = (await remediate(policy("credential-inputs-are-secret") as ResourceValidationPolicy, r)) as Record<string, unknown>;
    expect(fixed.stdin).toBeInstanceOf(Secret);
    expect((fixed.environment as Record<string, unknown>).KEEP).toBeInstanceOf(Secret);
    expect((fixed.environment as Record<string, unknown>).PLAIN).toBe("visible");
    expect((fixed.connection as Record<string, unknown>).privateKey).toBeInstanceOf(Secret);
    expect((fixed.connection as Record<string, unknown>).host).toBe("10.0.0.1");
  });

  test("the real stacks give the policies something to check: compose documents, firewalls, managers, encrypted overlays", async () => {
    const { composeOf, managerCount, deploysStack } = await import("../../policy/rules");
    const prod = realStacks.production.map((r) => ({ ...r, props: plain(r.props) as Record<string, unknown> }));
    expect(prod.filter((r) => composeOf(r.type, r.props)).length).toBeGreaterThan(0);
    expect(prod.some((r) => r.type === "hcloud:index/firewall:Firewall")).toBe(true);
    expect(managerCount(prod)).toBe(3);
    expect(deploysStack(prod, "backup")).toBe(true);
  });

  test("the Swarm provider's dynamic resources count: manager nodes, stack deployments, encrypted networks", async () => {
    const { managerCount, deploysStack, overlayProblems } = await import("../../policy/rules");
    const nodes = [1, 2, 3].map((i) => dyn("production", { role: "manager", labels: { "mbio.role": "manager", "mbio.name": `m${i}` } }));
    expect(managerCount(nodes)).toBe(3);
    expect(deploysStack([dyn("production", { stackName: "backup", document: "{}" })], "backup")).toBe(true);
    const server = { type: "hcloud:index/server:Server", name: "s", urn: urn("staging", "hcloud:index/server:Server", "s"), props: {} };
    expect(overlayProblems([server, dyn("staging", { name: "n", encrypted: true, mtu: "1350" })])).toEqual([]);
  });
});
