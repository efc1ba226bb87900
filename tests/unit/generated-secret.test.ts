// GeneratedSecret's provider (components/dynamic-providers/generated-secret.ts): random on create, stable across updates.
import { generatedSecretProvider } from "../../components/dynamic-providers/generated-secret";

describe("GeneratedSecret provider", () => {
  test("create: the hex of `bytes` random bytes, a different value each time", async () => {
    const a = await generatedSecretProvider.create({ bytes: 32 });
    const b = await generatedSecretProvider.create({ bytes: 32 });
    expect(a.outs!.value).toMatch(/^[0-9a-f]{64}$/);
    expect(b.outs!.value).toMatch(/^[0-9a-f]{64}$/);
    expect(a.outs!.value).not.toBe(b.outs!.value);
    expect(a.id).not.toBe(b.id);
    expect((await generatedSecretProvider.create({ bytes: 16 })).outs!.value).toMatch(/^[0-9a-f]{32}$/);
  });

  test("diff: the same length changes nothing (stable across updates); another length replaces", async () => {
    const olds = { bytes: 32, value: "x".repeat(64) };
    expect(await generatedSecretProvider.diff!("id", olds, { bytes: 32 })).toMatchObject({ changes: false, replaces: [] });
    expect(await generatedSecretProvider.diff!("id", olds, { bytes: 48 })).toMatchObject({ changes: true, replaces: ["bytes"] });
  });
});
