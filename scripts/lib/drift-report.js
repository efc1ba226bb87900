// Reads `pulumi refresh --preview-only --json` on stdin and prints one line per drifted object and field:
//   drift: <stack> <resource name> (<type>) <field path>: <state> → <live>
// Exit 0 when nothing drifted, 7 when something did (the convention of --expect-no-changes), 1 when the
// input is not a refresh preview.
"use strict";
const stack = process.argv[2] || "?";
let text = "";
process.stdin.on("data", (d) => (text += d));
process.stdin.on("end", () => {
  let doc;
  try {
    doc = JSON.parse(text.slice(text.indexOf("{")));
  } catch (e) {
    console.error(`drift: ${stack}: could not read the refresh preview (${e.message})`);
    process.exit(1);
  }
  const ignored = new Set(["__provider", "connections"]);
  const show = (v) => (v === undefined ? "(absent)" : JSON.stringify(v).slice(0, 120));
  const paths = (a, b, prefix) => {
    const obj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
    if (obj(a) && obj(b)) {
      return [...new Set([...Object.keys(a), ...Object.keys(b)])]
        .filter((k) => prefix || !ignored.has(k))
        .sort()
        .flatMap((k) => paths(a[k], b[k], prefix ? `${prefix}.${k}` : k));
    }
    return JSON.stringify(a) === JSON.stringify(b) ? [] : [[prefix, a, b]];
  };
  let drifted = 0;
  for (const step of doc.steps || []) {
    if (step.op === "same") continue;
    const urn = step.urn || (step.oldState || step.newState || {}).urn || "";
    const [type, name] = urn.split("::").slice(-2);
    const olds = (step.oldState || {}).outputs;
    const news = (step.newState || {}).outputs;
    if (!step.newState || step.op === "delete") {
      console.log(`drift: ${stack} ${name} (${type}) is gone from the live system`);
      drifted++;
      continue;
    }
    // A refresh step for every resource; only those whose outputs differ from the state drifted.
    const changed = paths(olds || {}, news || {}, "");
    if (changed.length === 0) continue;
    for (const [path, was, now] of changed) console.log(`drift: ${stack} ${name} (${type}) ${path}: ${show(was)} → ${show(now)}`);
    drifted++;
  }
  console.log(drifted === 0 ? `drift: ${stack}: no drift` : `drift: ${stack}: ${drifted} drifted object(s)`);
  process.exit(drifted === 0 ? 0 : 7);
});
