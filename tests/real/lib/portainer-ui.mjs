// The Portainer UI check of tests/real/portainer.sh: the Debian chromium package, headless, driven by the pinned
// playwright-core (tools/playwright-core), loads the UI through the edge, logs in as admin and looks for the
// Swarm environment's node count on the home page ("1 node"), then saves a screenshot.
//   PW_TOOL_DIR=<dir holding node_modules/playwright-core> PORTAINER_PASSWORD=… node portainer-ui.mjs '<json>'
// Options: url, host, ip (the edge's address: the host name resolves to it), spki (base64 SHA-256 of the
// served certificate's public key, checked by the test against Pebble's root first), nodes, screenshot,
// profile (a fresh user-data-dir), chromium (the executable). Prints one JSON line of what it saw.
import { createRequire } from "node:module";
import path from "node:path";

const o = JSON.parse(process.argv[2]);
const password = process.env.PORTAINER_PASSWORD;
if (!password) throw new Error("PORTAINER_PASSWORD is not set");
const { chromium } = createRequire(path.join(process.env.PW_TOOL_DIR, "package.json"))("playwright-core");

const seen = { loaded: false, loggedIn: false, nodeText: null, screenshot: o.screenshot, error: null };
const context = await chromium.launchPersistentContext(o.profile, {
  executablePath: o.chromium,
  headless: true,
  viewport: { width: 1440, height: 900 },
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    // The name resolves to the edge, as DNS does in an environment; only this host is mapped.
    `--host-resolver-rules=MAP ${o.host} ${o.ip}`,
    // Trust exactly the certificate the test verified against Pebble's root (not every certificate).
    `--ignore-certificate-errors-spki-list=${o.spki}`,
  ],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(o.url, { waitUntil: "domcontentloaded", timeout: 60_000 });
  const user = page.locator('[data-cy="auth-usernameInput"]');
  await user.waitFor({ timeout: 60_000 });
  seen.loaded = true;
  await user.fill("admin");
  await page.locator('[data-cy="auth-passwordInput"]').fill(password);
  await page.locator('[data-cy="auth-loginButton"]').click();
  // The home page lists the environments; a Swarm one shows its node count (EnvironmentStatsDocker.tsx).
  await page.waitForURL(/#!\/home/, { timeout: 60_000 });
  seen.loggedIn = true;
  const want = `${o.nodes} node${o.nodes === 1 ? "" : "s"}`;
  const stat = page.getByText(want, { exact: true }).first();
  await stat.waitFor({ timeout: 60_000 });
  seen.nodeText = (await stat.textContent())?.trim() ?? null;
  await page.screenshot({ path: o.screenshot, fullPage: true });
} catch (e) {
  seen.error = String(e.message ?? e).split("\n")[0];
  const page = context.pages()[0];
  if (page) await page.screenshot({ path: o.screenshot, fullPage: true }).catch(() => {});
} finally {
  await context.close();
}
console.log(JSON.stringify(seen));
