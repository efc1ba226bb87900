// Renders the edge and demo stacks exactly as the Pulumi components build them (components/edge.ts,
// components/demo-service.ts), and the control plane (components/control-plane.ts) when images.portainer
// and images.portainer-agent are given, for the real tests and the benchmark that deploy them on a private Swarm.
//   node tests/real/lib/render-edge.mjs '<json options>'  → JSON on stdout
// Options: environment, namespace, networkName, publishMode, endpointMode, images {traefik, demo, portainer,
//          portainer-agent}, edge (EdgeConfig), adminPassword, release, replicas, overlayEncrypted.
import { createRequire } from "node:module";
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const require = createRequire(path.join(root, "package.json"));
const ts = require("typescript");
const { stringify } = require("yaml");

// Transpile the components next to node_modules so their imports resolve.
const out = path.join(root, "node_modules", ".cache", "mbio-edge-render");
// Every module of components/ (a fixed list broke when swarm-stack.ts gained its provider modules).
const files = readdirSync(path.join(root, "components"), { recursive: true })
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.slice(0, -3));
for (const f of files) {
  const src = readFileSync(path.join(root, "components", `${f}.ts`), "utf8");
  const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
  mkdirSync(path.dirname(path.join(out, "components", `${f}.js`)), { recursive: true });
  writeFileSync(path.join(out, "components", `${f}.js`), js.outputText);
}
// The scripts the components read at load time (components/files.ts) sit beside them, as in the repository.
cpSync(path.join(root, "components", "files"), path.join(out, "components", "files"), { recursive: true });
// components/providers.ts reads the plugin versions from ../package.json.
cpSync(path.join(root, "package.json"), path.join(out, "package.json"));
const load = (f) => require(path.join(out, "components", `${f}.js`));
const edge = load("edge");
const demo = load("demo-service");
const controlPlane = load("control-plane");
const conv = load("service-conventions");
const stack = load("swarm-stack");
const { htpasswdLine } = load("htpasswd");
const { edgeSchema } = load("config/edge");
const { createHmac } = await import("node:crypto");

const o = JSON.parse(process.argv[2]);
const edgeConfig = edgeSchema.parse(o.edge ?? {});
const traefikYml = stringify(edge.traefikStaticConfig({ edge: edgeConfig, networkName: o.networkName }), { lineWidth: 0 });
const users = `${htpasswdLine(edgeConfig.dashboardUser, o.adminPassword, o.environment)}\n`;
const secretName = (prefix, c) => `${prefix}-${createHmac("sha256", o.environment).update(c).digest("hex").slice(0, 12)}`;
const names = {
  traefik: conv.contentName("edge-traefik-yml", traefikYml),
  acmeCa: edgeConfig.acme.caCertificate ? conv.contentName("edge-acme-ca", edgeConfig.acme.caCertificate) : undefined,
  users: secretName("edge-dashboard-users", users),
};
const edgeCompose = edge.edgeCompose({
  image: o.images.traefik,
  namespace: o.namespace,
  edge: edgeConfig,
  networkName: o.networkName,
  publishMode: o.publishMode,
  configNames: { traefik: names.traefik, ...(names.acmeCa ? { acmeCa: names.acmeCa } : {}) },
  secretNames: { users: names.users },
});
// The control plane: its admin password secret (named like the edge's users secret here; the component keys
// the name with the deploy key instead) and a random agent secret (the component's GeneratedSecret).
const portainerImages = o.images.portainer && o.images["portainer-agent"] ? { server: o.images.portainer, agent: o.images["portainer-agent"] } : undefined;
if (portainerImages) names.portainerAdmin = secretName("portainer-admin-password", o.adminPassword);
const portainerCompose = portainerImages
  ? controlPlane.controlPlaneCompose({
      environment: o.environment,
      images: portainerImages,
      namespace: o.namespace,
      networkName: o.networkName,
      overlayEncrypted: o.overlayEncrypted ?? false,
      agentSecret: randomBytes(32).toString("hex"),
      adminPasswordSecret: names.portainerAdmin,
    })
  : undefined;
const demoCompose = demo.demoCompose({ environment: o.environment, image: o.images.demo, namespace: o.namespace, networkName: o.networkName, replicas: o.replicas ?? 2, release: String(o.release ?? "1") });
console.log(
  JSON.stringify({
    objects: [
      { kind: "config", name: names.traefik, content: traefikYml },
      ...(names.acmeCa ? [{ kind: "config", name: names.acmeCa, content: edgeConfig.acme.caCertificate }] : []),
      { kind: "secret", name: names.users, content: users },
      ...(portainerCompose ? [{ kind: "secret", name: names.portainerAdmin, content: o.adminPassword }] : []),
    ],
    edge: stack.withEndpointMode(edgeCompose, o.endpointMode),
    demo: stack.withEndpointMode(demoCompose, o.endpointMode),
    // Two stacks, deployed in this order (components/control-plane.ts says why).
    ...(portainerCompose
      ? { "portainer-agent": stack.withEndpointMode(portainerCompose.agent, o.endpointMode), portainer: stack.withEndpointMode(portainerCompose.server, o.endpointMode) }
      : {}),
  }),
);
