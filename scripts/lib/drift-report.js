// Reads `pulumi refresh --preview-only --diff` on stdin (the JSON form carries no refreshed state) and prints
// one line per drifted object and field:
//   drift: <stack> <resource name> (<type>) <field path>: <state → live>
// Exit 0 when nothing drifted, 7 when something did (the convention of --expect-no-changes), 1 when the input
// is not a refresh preview.
"use strict";
const stack = process.argv[2] || "?";
let text = "";
process.stdin.on("data", (d) => (text += d));
process.stdin.on("end", () => {
  if (!/Resources:/.test(text)) {
    console.error(`drift: ${stack}: could not read the refresh preview`);
    process.exit(1);
  }
  const found = new Map();
  let resource = null; // { type, op, name, column }
  let path = []; // [{ column, key }]
  for (const line of text.split("\n")) {
    const header = /^(\s*)(?:([~+-]|\+-|-\+)\s+)?([\w.:/-]+): \((\w[\w-]*)\)\s*$/.exec(line);
    if (header) {
      resource = { type: header[3], op: header[4], name: "?" };
      path = [];
      continue;
    }
    if (!resource) continue;
    const urn = /^\s*\[urn=(.*)\]\s*$/.exec(line);
    if (urn) {
      resource.name = urn[1].split("::").pop();
      if (resource.op === "delete") found.set(`${resource.name} (${resource.type}) is gone from the live system`, true);
      continue;
    }
    const prop = /^(\s*)([~+-] )?\s*("[^"]*"|\[\d+\]|[^\s:][^:]*?)\s*: ?(.*)$/.exec(line);
    if (!prop) continue;
    const column = prop[1].length + (prop[2] ? 2 : 0);
    const key = prop[3].replace(/^"|"$/g, "");
    while (path.length && path[path.length - 1].column >= column) path.pop();
    const rest = prop[4].trim();
    const opening = rest === "{" || rest === "[";
    if (prop[2] && resource.op !== "same") {
      const keys = [...path.map((p) => p.key), key];
      // An element of a list names the list.
      while (keys.length && /^\[\d+\]$/.test(keys[keys.length - 1])) keys.pop();
      const field = keys.join(".");
      const how = prop[2].trim() === "~" ? "" : prop[2].trim() === "+" ? "added " : "removed ";
      if (field && !opening) found.set(`${resource.name} (${resource.type}) ${field}: ${how}${rest || "(changed)"}`, true);
      else if (field && opening && prop[2] !== "~ ") found.set(`${resource.name} (${resource.type}) ${field}: ${prop[2].trim() === "+" ? "added" : "removed"}`, true);
    }
    if (opening) path.push({ column, key });
  }
  const lines = [...found.keys()];
  // A list element reported twice (two items changed) is one field.
  const unique = [...new Set(lines.map((l) => l.replace(/: [^:]*$/, (m) => (/\[\d+\]/.test(m) ? "" : m))))];
  for (const l of unique) console.log(`drift: ${stack} ${l}`);
  const objects = new Set(unique.map((l) => l.split(" ")[0]));
  console.log(objects.size === 0 ? `drift: ${stack}: no drift` : `drift: ${stack}: ${objects.size} drifted object(s)`);
  process.exit(objects.size === 0 ? 0 : 7);
});
