// The platform's security rules as Pulumi policies. Each check is a plain function over resource inputs
// so the unit tests run it on bad resources and on every resource the real stacks register
// (tests/unit/policy.test.ts); policy/index.ts packs them for `pulumi preview --policy-pack policy`.
//
// Where a Compose document is found (the stable contract with components/swarm-stack.ts): a resource
// input named `compose` or `document` (an object or its JSON text; `document` is the Swarm provider's
// SwarmStackDeployment) or, for the `command:remote:Command` that runs `docker stack deploy`, its `stdin`
// when that is a JSON document with `services`. Values unknown during
// a preview are skipped; they are checked on `pulumi up`.
import type { ResourceValidationPolicy, StackValidationPolicy, ResourceValidationArgs, StackValidationArgs, ReportViolation } from "@pulumi/policy";
import { Secret } from "@pulumi/policy";
// @pulumi/policy/proxy's getSpecialProxyTarget (exported by the module, missing from its typings).
const getSpecialProxyTarget = "__getSpecialProxyTarget";

type Props = Record<string, unknown>;
type Service = Record<string, unknown>;
export interface ComposeDocument {
  services: Record<string, Service>;
}

const FIREWALL = "hcloud:index/firewall:Firewall";
const SERVER = "hcloud:index/server:Server";
const COMMAND = "command:remote:Command";
/** Bind mounts a platform agent may hold: the engine it drives (backup agent, Traefik's swarm provider, the control plane's agent). */
export const ENGINE_BIND_SOURCES = ["/var/run/docker.sock", "/var/lib/docker/swarm", "/var/lib/docker/volumes"];
/** Read-only views of the host that host metrics need (Telegraf's HOST_PROC, HOST_SYS, HOST_MOUNT_PREFIX). */
export const HOST_VIEW_SOURCES = ["/proc", "/sys", "/"];
const PINNED = /^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*:(?!latest@)[A-Za-z0-9._-]+@sha256:[a-f0-9]{64}$/;

/** The Compose document a resource deploys, or undefined when it deploys none (or it is not known yet). */
export function composeOf(type: string, props: Props): ComposeDocument | undefined {
  const parse = (v: unknown): ComposeDocument | undefined => {
    let doc = v;
    if (typeof v === "string") {
      if (!v.trimStart().startsWith("{")) return undefined;
      try {
        doc = JSON.parse(v);
      } catch {
        return undefined;
      }
    }
    if (doc !== null && typeof doc === "object" && typeof (doc as Props).services === "object") return doc as ComposeDocument;
    return undefined;
  };
  return parse(props.compose) ?? parse(props.document) ?? (type === COMMAND ? parse(props.stdin) : undefined);
}

/**
 * The one exception to "every service has a healthcheck": `healthcheck: { disable: true }` with a label
 * saying why (service or deploy labels). Swarm leaves a task out of its DNS until its healthcheck passes, so a
 * service that must resolve its own peers at start (Portainer's agent: tasks.<service>) cannot have one.
 */
export const NO_HEALTHCHECK_LABEL = "mbio.no-healthcheck";
const NO_HEALTHCHECK_REASON_MIN = 20;
function noHealthcheckReason(svc: Props): string {
  const find = (labels: unknown): string | undefined => {
    if (Array.isArray(labels)) return labels.map(String).find((l) => l.startsWith(`${NO_HEALTHCHECK_LABEL}=`))?.slice(NO_HEALTHCHECK_LABEL.length + 1);
    if (labels && typeof labels === "object") return (labels as Props)[NO_HEALTHCHECK_LABEL] as string | undefined;
    return undefined;
  };
  return String(find((svc.deploy as Props | undefined)?.labels) ?? find(svc.labels) ?? "").trim();
}

/** One message per service that breaks a Compose rule; `rule` picks which. */
export function composeProblems(doc: ComposeDocument, rule: "pinned-images" | "healthcheck-and-limits" | "named-volumes"): string[] {
  const problems: string[] = [];
  for (const [name, svc] of Object.entries(doc.services)) {
    if (rule === "pinned-images") {
      const image = String(svc.image ?? "");
      if (!PINNED.test(image)) problems.push(`service ${name}: image "${image}" is not pinned as name:version@sha256:<digest>`);
    } else if (rule === "healthcheck-and-limits") {
      const hc = svc.healthcheck as Props | undefined;
      const waived = hc?.disable === true && noHealthcheckReason(svc).length >= NO_HEALTHCHECK_REASON_MIN;
      if (!waived && (!hc || hc.disable === true || !hc.test)) {
        problems.push(`service ${name}: no healthcheck${hc?.disable === true ? ` (healthcheck.disable needs a label ${NO_HEALTHCHECK_LABEL} saying why, at least ${NO_HEALTHCHECK_REASON_MIN} characters)` : ""}`);
      }
      const res = ((svc.deploy as Props | undefined)?.resources ?? {}) as Props;
      const limits = (res.limits ?? {}) as Props;
      const reservations = (res.reservations ?? {}) as Props;
      if (!limits.cpus || !limits.memory) problems.push(`service ${name}: deploy.resources.limits needs cpus and memory`);
      if (!reservations.memory) problems.push(`service ${name}: deploy.resources.reservations needs memory`);
    } else {
      for (const v of (svc.volumes ?? []) as unknown[]) {
        const source = typeof v === "string" ? v.split(":")[0] : String((v as Props).source ?? "");
        const type = typeof v === "string" ? (/^[./~]/.test(source) ? "bind" : "volume") : String((v as Props).type ?? "volume");
        const readOnly = typeof v === "string" ? /:ro$/.test(v) : (v as Props).read_only === true;
        const allowed = ENGINE_BIND_SOURCES.includes(source) || (readOnly && HOST_VIEW_SOURCES.includes(source));
        if (type === "bind" && !allowed) problems.push(`service ${name}: bind mount ${source} (only named volumes; engine paths ${ENGINE_BIND_SOURCES.join(", ")} and read-only host views ${HOST_VIEW_SOURCES.join(", ")} excepted)`);
      }
    }
  }
  return problems;
}

function composeRule(name: string, rule: Parameters<typeof composeProblems>[1], description: string): ResourceValidationPolicy {
  return {
    name,
    description,
    enforcementLevel: "mandatory",
    validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
      const doc = composeOf(args.type, args.props);
      if (doc) for (const p of composeProblems(doc, rule)) report(p);
    },
  };
}

const WORLD = new Set(["0.0.0.0/0", "::/0"]);
/** Firewall rules that let SSH in from anywhere (port 22, a range holding it, or every port). */
export function sshOpenToWorld(props: Props): string[] {
  const rules = (props.rules ?? []) as Props[];
  return rules
    .filter((r) => r.direction === "in" && r.protocol === "tcp")
    .filter((r) => {
      const port = String(r.port ?? "any");
      if (port === "any") return true;
      const [lo, hi] = port.split("-").map(Number);
      return lo <= 22 && 22 <= (hi ?? lo);
    })
    .filter((r) => ((r.sourceIps ?? []) as string[]).some((ip) => WORLD.has(ip)))
    .map((r) => `rule "${r.description ?? r.port}" lets SSH (port ${r.port ?? "any"}) in from ${((r.sourceIps ?? []) as string[]).join(", ")}`);
}

/** Input names that hold credentials, wherever they appear in a resource's inputs. */
export const CREDENTIAL_KEY = /(password|passphrase|privatekey|secretaccesskey|accesskeyid|token|apikey|secret)$/i;

/**
 * Paths of credential-like inputs whose value is plain (not a Pulumi secret). `props` must keep secrets
 * as `Secret` instances, as the policy SDK does in remediation (deserialize with secrets proxied).
 */
export function plainCredentials(props: unknown, at = ""): string[] {
  const v = unwrap(props);
  if (v instanceof Secret || v === null || typeof v !== "object") return [];
  const found: string[] = [];
  for (const k of Object.keys(v as Props)) {
    const x = unwrap((v as Props)[k]);
    const path = at ? `${at}.${k}` : k;
    if (CREDENTIAL_KEY.test(k) && typeof x === "string" && x !== "") found.push(path);
    else found.push(...plainCredentials(x, path));
  }
  return found;
}

/** The same object with every plain credential-like value wrapped as a secret. */
export function withSecretCredentials(props: unknown): unknown {
  const v = unwrap(props);
  if (v instanceof Secret || v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (let i = 0; i < v.length; i++) out.push(withSecretCredentials(v[i]));
    return out;
  }
  const out: Props = {};
  for (const k of Object.keys(v as Props)) {
    const x = unwrap((v as Props)[k]);
    out[k] = CREDENTIAL_KEY.test(k) && typeof x === "string" && x !== "" ? new Secret(x) : withSecretCredentials(x);
  }
  return out;
}

/**
 * The object behind the policy SDK's proxies, else the value. Remediations get them nested —
 * unknownCheckingProxy(secretsPreservingProxy(props)) — so one peel is not enough: the inner proxy still
 * hides the Secret wrappers, and inputs returned through it reach the engine (and its state) as plain text.
 */
function unwrap(v: unknown): unknown {
  for (let depth = 0; depth < 8; depth++) {
    if (v === null || typeof v !== "object") return v;
    let inner: unknown;
    try {
      inner = (v as Record<string, unknown>)[getSpecialProxyTarget];
    } catch {
      return v;
    }
    if (inner === undefined || inner === v) return v;
    v = inner;
  }
  return v;
}

/** The stack of a URN: urn:pulumi:<stack>::<project>::<type>::<name>. */
export const stackOf = (urn: string): string => urn.split(":")[2] ?? "";

/**
 * A property value, or undefined while it is unknown (a preview): the SDK's proxy throws on unknowns and
 * would skip the whole stack policy; one unknown input must not hide the known ones.
 */
export function known<T>(read: () => T): T | undefined {
  try {
    const v = read();
    return typeof v === "string" ? (String(v) as T) : v;
  } catch {
    return undefined;
  }
}
const createOf = (r: StackResource): string => known(() => String(r.props.create ?? "")) ?? "";

interface StackResource {
  type: string;
  urn: string;
  props: Props;
}
/**
 * Swarm managers of a stack: nodes labelled mbio.role=manager (by swarm/node-labels.sh, or a Swarm node
 * resource with `role` and `labels`), or Hetzner manager servers.
 */
export function managerCount(resources: StackResource[]): number {
  const labelled = resources.filter(
    (r) => (r.type === COMMAND && /LABELS='[^']*mbio\.role=manager/.test(createOf(r))) || (r.type !== SERVER && known(() => r.props.role) === "manager" && known(() => (r.props.labels as Props | undefined)?.["mbio.role"]) === "manager"),
  ).length;
  const servers = resources.filter((r) => r.type === SERVER && known(() => (r.props.labels as Props | undefined)?.role) === "manager").length;
  return Math.max(labelled, servers);
}
export const deploysStack = (resources: StackResource[], stack: string): boolean =>
  resources.some(
    // A Swarm stack resource counts by its name: its document may be unknown in a preview (it carries values
    // other resources produce, e.g. pinned host keys), and what is in it is the other policies' concern.
    (r) => (r.type === COMMAND && createOf(r).includes(`STACK='${stack}'`) && createOf(r).includes("stack-deploy")) || (known(() => r.props.stackName) === stack && "document" in r.props),
  );

/** Problems of a production stack: fewer than 3 managers, no backup stack. */
export function productionProblems(resources: StackResource[]): string[] {
  if (!resources.some((r) => stackOf(r.urn) === "production")) return [];
  const problems: string[] = [];
  const managers = managerCount(resources);
  if (managers < 3) problems.push(`production has ${managers} Swarm manager(s); it needs at least 3 (mbio-cloud:managers)`);
  if (!deploysStack(resources, "backup")) problems.push("production deploys no backup stack (mbio-cloud:backup.enabled must be true)");
  return problems;
}

/** Problems of a Hetzner stack: an overlay network created without IPsec encryption. */
export function overlayProblems(resources: StackResource[]): string[] {
  if (!resources.some((r) => r.type === SERVER)) return [];
  // swarm/network.sh as a command (ENCRYPTED='…'), or a Swarm network resource with an `encrypted` input.
  return resources
    .filter((r) => (r.type === COMMAND && /ENCRYPTED='/.test(createOf(r))) || (r.type !== COMMAND && typeof known(() => r.props.encrypted) === "boolean" && known(() => r.props.mtu) !== undefined))
    .filter((r) => !createOf(r).includes("ENCRYPTED='true'") && known(() => r.props.encrypted) !== true)
    .map((r) => `overlay network of ${r.urn.split("::").pop()} is not encrypted (mbio-cloud:swarm.overlayEncrypted must be true on Hetzner)`);
}

/**
 * Installers that run on servers are checked: nothing downloaded is piped into a shell (`curl … | bash`, how
 * Storidge was installed), and a Docker plugin (the storage driver) is installed by digest only.
 */
export function installerProblems(props: Props): string[] {
  const problems: string[] = [];
  const text = (v: unknown) => known(() => (typeof v === "string" ? v : "")) ?? "";
  for (const key of ["create", "update", "delete"]) {
    const script = text(props[key]);
    if (/\b(curl|wget)\b[^\n|;&]*\|\s*(sudo\s+)?(ba|da|z)?sh\b/.test(script)) problems.push(`${key}: pipes a download into a shell; fetch it, verify its checksum, then run it`);
    const plugin = /\bPLUGIN='([^']*)'/.exec(script);
    if (plugin && !/@sha256:[a-f0-9]{64}$/.test(plugin[1])) problems.push(`${key}: Docker plugin ${plugin[1]} is not pinned by @sha256:<digest>`);
  }
  return problems;
}

function stackRule(name: string, description: string, check: (r: StackResource[]) => string[]): StackValidationPolicy {
  return {
    name,
    description,
    enforcementLevel: "mandatory",
    validateStack: (args: StackValidationArgs, report: ReportViolation) => {
      for (const p of check(args.resources)) report(p);
    },
  };
}

export const policies: (ResourceValidationPolicy | StackValidationPolicy)[] = [
  composeRule("images-pinned-by-digest", "pinned-images", "Every service of every Compose document runs an image pinned as name:version@sha256:<digest>."),
  composeRule("services-have-healthcheck-and-limits", "healthcheck-and-limits", "Every service has a healthcheck, CPU and memory limits and a memory reservation."),
  composeRule("named-volumes-only", "named-volumes", "Services mount named volumes only (the Docker engine's own socket and Swarm state excepted)."),
  {
    name: "no-ssh-open-to-the-world",
    description: "No Hetzner firewall lets SSH in from 0.0.0.0/0 or ::/0.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (args.type === FIREWALL) for (const p of sshOpenToWorld(args.props)) report(p);
    },
  },
  {
    name: "credential-inputs-are-secret",
    description: "Every credential-like input (password, token, private key, S3 keys) is a Pulumi secret; plain ones are made secret.",
    enforcementLevel: "remediate",
    remediateResource: (args) => {
      // The SDK hands remediations a proxy that hides Secret wrappers; its target keeps them.
      // Provider resources reach policies with their configuration unmarked (the engine keeps config
      // secrets secret itself); remediating them would only churn the provider.
      if (args.type.startsWith("pulumi:providers:")) return undefined;
      const plain = plainCredentials(args.props);
      if (plain.length === 0) return undefined;
      console.log(`credential-inputs-are-secret: ${args.urn}: made secret: ${plain.join(", ")}`);
      return withSecretCredentials(args.props) as Props;
    },
  },
  {
    name: "installers-verified",
    description: "Remote commands pipe no download into a shell and install Docker plugins by digest only.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (args.type === COMMAND) for (const p of installerProblems(args.props)) report(p);
    },
  },
  stackRule("production-has-3-managers-and-backups", "Production runs at least 3 Swarm managers and deploys the backup stack.", productionProblems),
  stackRule("hetzner-overlays-encrypted", "Stacks on Hetzner encrypt their overlay networks (IPsec).", overlayProblems),
];
