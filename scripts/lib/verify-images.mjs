// The program's image signature check (components/image-signatures.ts, the code index.ts runs before it creates
// anything) as a command: scripts/sign-image.sh verifies what it signed with it, and
// tests/real/image-signatures.sh proves the check with it.
//
//   node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON scripts/lib/verify-images.mjs COSIGN < inputs.json
//
// COSIGN: the cosign binary (scripts/lib/ci-tools.sh: ci_tool_path cosign). inputs.json is the stack config's
// part the check reads: { "images": { role: reference }, "imageSignatures": { "publicKey", "repository" },
// "registry"?: { "server", "username" } }; the registry's password comes from REGISTRY_PASSWORD in the
// environment, never an argument. Prints "verified <role> <reference>" per image; a refusal prints the
// program's error (naming each refused image) on stderr and exits 1.
import { readFileSync } from "node:fs";
import { verifyImageSignatures } from "../../components/image-signatures.ts";

const cosign = process.argv[2];
if (!cosign) {
  console.error("usage: node scripts/lib/verify-images.mjs COSIGN < inputs.json");
  process.exit(2);
}
const inputs = JSON.parse(readFileSync(0, "utf8"));
try {
  for (const image of verifyImageSignatures(inputs, process.env.REGISTRY_PASSWORD, cosign)) console.log(`verified ${image.role} ${image.reference}`);
} catch (e) {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
}
