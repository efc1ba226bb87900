// Writes Pulumi.local.yaml from the plain config sandbox/up.sh generated, keeping what others added to the
// file (secrets set with `pulumi config set --secret`, encryptionsalt, other namespaces), then validates
// the result with the project's own config validator (components/config/load.ts), so the sandbox never
// hands the program a stack file it would reject.
//
//   node sandbox/stack-config.mjs GENERATED.yaml Pulumi.local.yaml
import { createRequire } from "node:module";
import { mkdirSync, readFileSync, readdirSync, existsSync, writeFileSync, renameSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(path.join(root, "package.json"));
const YAML = require("yaml");
const ts = require("typescript");

const [generatedPath, targetPath] = process.argv.slice(2);
if (!generatedPath || !targetPath) {
  console.error("usage: node sandbox/stack-config.mjs GENERATED.yaml TARGET.yaml");
  process.exit(2);
}

const doc = YAML.parseDocument(readFileSync(generatedPath, "utf8"));
const owned = new Set(Object.keys(doc.get("config").toJSON()));

// Keep everything in the existing file that up.sh does not own.
const kept = [];
if (existsSync(targetPath)) {
  const old = YAML.parseDocument(readFileSync(targetPath, "utf8"));
  if (old.errors.length > 0) {
    console.error(`${targetPath} is not valid YAML (${old.errors[0].message}); move it away and run again`);
    process.exit(1);
  }
  for (const pair of old.contents?.items ?? []) {
    const key = String(pair.key?.value ?? pair.key);
    if (key === "config") {
      for (const item of pair.value?.items ?? []) {
        const k = String(item.key?.value ?? item.key);
        if (!owned.has(k)) {
          // Comments around a kept entry belonged to the old layout (e.g. the comment above it).
          if (item.key && typeof item.key === "object") item.key.commentBefore = undefined;
          doc.get("config").add(item);
          kept.push(k);
        }
      }
    } else {
      doc.add(pair);
      kept.push(key);
    }
  }
}

// Validate with the program's validator: transpile the config modules next to the repo's node_modules.
const out = path.join(root, "sandbox", ".state", "config-check");
mkdirSync(out, { recursive: true });
// Every module of components/config/ (the schema imports its siblings).
for (const f of readdirSync(path.join(root, "components", "config")).filter((n) => n.endsWith(".ts")).map((n) => n.slice(0, -3))) {
  const src = readFileSync(path.join(root, "components", "config", `${f}.ts`), "utf8");
  const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
  writeFileSync(path.join(out, `${f}.js`), js.outputText);
}
const { validateConfig, parseConfigValue, SECRET_KEYS, NAMESPACE } = require(path.join(out, "load.js"));

const config = doc.toJSON().config ?? {};
const raw = {};
const secretState = {};
for (const [fullKey, value] of Object.entries(config)) {
  if (!fullKey.startsWith(`${NAMESPACE}:`)) continue;
  const key = fullKey.slice(NAMESPACE.length + 1);
  const isSecret = value !== null && typeof value === "object" && "secure" in value;
  if (key in SECRET_KEYS) secretState[key] = isSecret ? "secret" : "plain";
  else raw[key] = typeof value === "string" ? parseConfigValue(value) : value;
}
// Secrets are added by another script (pulumi config set --secret); only their absence is tolerated here.
const missingSecrets = Object.keys(SECRET_KEYS).filter((k) => secretState[k] === undefined);
for (const k of missingSecrets) secretState[k] = "secret";
try {
  validateConfig("local", raw, secretState);
} catch (e) {
  console.error(e.message);
  process.exit(1);
}

const tmp = `${targetPath}.tmp`;
writeFileSync(tmp, doc.toString({ lineWidth: 0 }));
renameSync(tmp, targetPath);
const needed = missingSecrets.filter((k) => k === "sshPrivateKey" || (raw.backup?.enabled && k !== "sshPrivateKey"));
console.log(JSON.stringify({ kept, missingSecrets: needed }));
