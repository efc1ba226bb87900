// Swarm secret names say nothing about the secret: a keyed HMAC (key derived from the stack's SSH deploy key),
// so the name in plain state cannot be tested against a guessed value; it still changes with the value.
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { secretObjectName } from "../../components/swarm-objects";
import { byType, deployableConfig, runProgram, TEST_SECRETS, TEST_SSH_KEY } from "./support/harness";

const resolve = (o: pulumi.Output<string>) => new Promise<string>((r) => o.apply((v) => r(v)));
const conn = (privateKey: string) => ({ host: "192.0.2.1", privateKey });

describe("Swarm secret names", () => {
  it("change with the value, are stable, depend on the stack's key and hide the value's hash", async () => {
    const a = await resolve(secretObjectName("backup-restic-password", conn(TEST_SSH_KEY.private), "hunter2"));
    expect(a).toMatch(/^backup-restic-password-[0-9a-f]{16}$/);
    expect(await resolve(secretObjectName("backup-restic-password", conn(TEST_SSH_KEY.private), "hunter2"))).toBe(a);
    expect(await resolve(secretObjectName("backup-restic-password", conn(TEST_SSH_KEY.private), "hunter3"))).not.toBe(a);
    expect(await resolve(secretObjectName("backup-restic-password", conn("another stack's key"), "hunter2"))).not.toBe(a);
    // A guess of the value does not reproduce the name without the key.
    expect(a).not.toContain(createHash("sha256").update("hunter2").digest("hex").slice(0, 12));
  });

  it("no Swarm secret created by the program carries an unkeyed hash of any secret value", async () => {
    const run = await runProgram("staging", deployableConfig("staging"));
    expect(run.error).toBeUndefined();
    const secrets = byType(run, "docker:index/secret:Secret");
    expect(secrets.length).toBeGreaterThanOrEqual(4);
    const names = secrets.map((c) => String(c.inputs.name));
    const text = JSON.stringify(run.resources.map((r) => r.inputs));
    for (const [key, value] of Object.entries(TEST_SECRETS)) {
      for (const seed of [value, `staging\0${value}`]) {
        const unkeyed = createHash("sha256").update(seed).digest("hex").slice(0, 12);
        expect({ key, hit: text.includes(unkeyed) }).toEqual({ key, hit: false });
      }
    }
    for (const n of names) expect(n).toMatch(/-[0-9a-f]{16}$/);
  });
});
