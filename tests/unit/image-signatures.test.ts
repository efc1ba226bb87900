// The pure parts of the image signature check (components/image-signatures.ts) and its config. The check itself
// runs the real cosign against a real registry in tests/real/image-signatures.sh.
import { cosignVerifyArgs, digestReference, ImageSignatureError, ownImages, verifyImageSignatures } from "../../components/image-signatures";
import { validateConfig } from "../../components/config/load";
import { deployableConfig, runProgram, TEST_SECRETS } from "./support/harness";

const D = "0123456789abcdef".repeat(4);
const KEY = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEexampleexampleexampleexampleexampleexampleexampleexampleexampleexampleexample==\n-----END PUBLIC KEY-----\n";
const secrets = Object.fromEntries(Object.keys(TEST_SECRETS).map((k) => [k.replace(/^mbio-cloud:/, ""), "secret" as const]));
const unprefixed = (config: Record<string, unknown>) => Object.fromEntries(Object.entries(config).map(([k, v]) => [k.replace(/^mbio-cloud:/, ""), v]));

describe("image signatures", () => {
  test("cosign verifies the digest, never the tag, even behind a registry port", () => {
    expect(digestReference(`registry.gitlab.com/mbio/mbio-cloud/backup-agent:1.0.1@sha256:${D}`)).toBe(`registry.gitlab.com/mbio/mbio-cloud/backup-agent@sha256:${D}`);
    expect(digestReference(`127.0.0.1:5000/mbio/demo:2.0.0@sha256:${D}`)).toBe(`127.0.0.1:5000/mbio/demo@sha256:${D}`);
    expect(digestReference(`127.0.0.1:5000/mbio/demo@sha256:${D}`)).toBe(`127.0.0.1:5000/mbio/demo@sha256:${D}`);
    expect(() => digestReference("127.0.0.1:5000/mbio/demo:2.0.0")).toThrow(/not pinned by digest/);
  });

  test("own images are exactly those under the repository; upstream and look-alike paths are not", () => {
    const images = {
      "backup-agent": `registry.gitlab.com/mbio/mbio-cloud/backup-agent:1.0.1@sha256:${D}`,
      demo: `registry.gitlab.com/mbio/mbio-cloud/demo:1.0.0@sha256:${D}`,
      traefik: `traefik:v3.7.13@sha256:${D}`,
      lookalike: `registry.gitlab.com/mbio/mbio-cloud-fork/demo:1.0.0@sha256:${D}`,
    };
    expect(ownImages(images, "registry.gitlab.com/mbio/mbio-cloud").map((i) => i.role)).toEqual(["backup-agent", "demo"]);
  });

  test("transparency-log verification is off explicitly (no Rekor); the key and the digest are cosign's only inputs", () => {
    expect(cosignVerifyArgs(`r/x@sha256:${D}`, "/tmp/k.pub")).toEqual(["verify", "--key", "/tmp/k.pub", "--insecure-ignore-tlog=true", "--offline=true", "--output", "json", `r/x@sha256:${D}`]);
  });

  test("the refusal names every refused image with its stack-file key and reference", () => {
    const image = { role: "backup-agent", reference: `r/backup-agent:1.0.1@sha256:${D}`, byDigest: `r/backup-agent@sha256:${D}` };
    const e = new ImageSignatureError([{ image, reason: "cosign verify failed (exit 1): Error: no signatures found" }], "r");
    expect(e.message).toBe(
      `refusing to deploy: 1 platform image(s) under r carry no valid signature by mbio-cloud:imageSignatures.publicKey (nothing was created):\n  - mbio-cloud:images.backup-agent r/backup-agent:1.0.1@sha256:${D}: cosign verify failed (exit 1): Error: no signatures found`,
    );
  });

  test("without imageSignatures, or with no image under its repository, cosign is never asked", () => {
    expect(verifyImageSignatures({ images: { a: `r/a:1@sha256:${D}` } }, undefined, "/nonexistent/cosign")).toEqual([]);
    expect(verifyImageSignatures({ images: { a: `r/a:1@sha256:${D}` }, imageSignatures: { publicKey: KEY, repository: "other/repo" } }, undefined, "/nonexistent/cosign")).toEqual([]);
  });

  test("a cosign that cannot run refuses the image (fails closed)", () => {
    expect(() => verifyImageSignatures({ images: { a: `r/a:1@sha256:${D}` }, imageSignatures: { publicKey: KEY, repository: "r" } }, undefined, "/nonexistent/cosign")).toThrow(
      /mbio-cloud:images\.a r\/a:1@sha256:[0-9a-f]{64}: cosign did not run: spawnSync \/nonexistent\/cosign ENOENT/,
    );
  });

  test("config: a public key in PEM and a registry path, said in the operator's terms when wrong", () => {
    const raw = (sig: unknown) => ({ ...unprefixed(deployableConfig("staging")), imageSignatures: sig });
    expect(validateConfig("staging", raw({ publicKey: KEY, repository: "registry.gitlab.com/mbio/mbio-cloud" }), secrets).imageSignatures?.repository).toBe("registry.gitlab.com/mbio/mbio-cloud");
    const problems = (sig: unknown) => {
      try {
        validateConfig("staging", raw(sig), secrets);
        return [];
      } catch (e) {
        return (e as { problems: string[] }).problems;
      }
    };
    expect(problems({ publicKey: "ssh-ed25519 AAAA", repository: "registry.gitlab.com/mbio/mbio-cloud" })).toEqual([
      "Pulumi.staging.yaml: mbio-cloud:imageSignatures.publicKey is ssh-ed25519 AAAA — must be the cosign public key in PEM (-----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY-----), the content of cosign.pub",
    ]);
    expect(problems({ publicKey: KEY, repository: "registry.gitlab.com" }).join("\n")).toMatch(/mbio-cloud:imageSignatures\.repository is registry\.gitlab\.com — must be a registry path/);
    expect(problems({ repository: "registry.gitlab.com/mbio/mbio-cloud" }).join("\n")).toMatch(/mbio-cloud:imageSignatures\.publicKey is missing — must be the cosign public key \(PEM/);
  });

  test("the program runs as before when imageSignatures covers none of its images", async () => {
    const run = await runProgram("staging", { ...deployableConfig("staging"), "mbio-cloud:imageSignatures": { publicKey: KEY, repository: "registry.example.org/none" } });
    expect(run.error).toBeUndefined();
    expect(run.resources.length).toBeGreaterThan(10);
  });
});
