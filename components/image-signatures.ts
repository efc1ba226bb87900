// Refuses to deploy a platform image that carries no valid signature. The platform's own images (those under
// mbio-cloud:imageSignatures.repository, where the image pipeline pushes and signs them by digest) are verified
// with the real cosign against the configured public key, each by its pinned digest, before the program
// creates anything: one refused image stops the preview or up with a message naming it.
//
// Transparency log off: the platform has no Rekor (the pipeline signs with --tlog-upload=false and the build
// machines reach no sigstore service), so verification is by key only (--insecure-ignore-tlog=true). What that
// gives up: no public, timestamped record of each signature, so a stolen key's signatures cannot be told
// apart by time; the key stays a protected CI secret and rotating it (new key pair, new publicKey) re-signs.
//
// This module imports only Node's own modules: index.ts and tests/real/image-signatures.sh (through
// tests/real/lib/verify-images.mjs) run the same code.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** The part of the stack config the check reads (ValidatedConfig has it). */
export interface ImageSignatureInputs {
  images: Record<string, string>;
  imageSignatures?: { publicKey: string; repository: string };
  registry?: { server: string; username: string };
}

export interface OwnImage {
  /** The key under mbio-cloud:images. */
  role: string;
  /** As pinned: name:version@sha256:<digest>. */
  reference: string;
  /** What cosign verifies: name@sha256:<digest> (the tag dropped: a tag can move, a digest cannot). */
  byDigest: string;
}

/** name:version@sha256:<digest> → name@sha256:<digest>. The tag is the part after the last ':' of the last path segment. */
export function digestReference(reference: string): string {
  const at = reference.indexOf("@");
  if (at < 0 || !/^sha256:[a-f0-9]{64}$/.test(reference.slice(at + 1))) throw new Error(`${reference} is not pinned by digest (name:version@sha256:<64 hex>)`);
  const name = reference.slice(0, at);
  const slash = name.lastIndexOf("/");
  const colon = name.lastIndexOf(":");
  return `${colon > slash ? name.slice(0, colon) : name}${reference.slice(at)}`;
}

/** The pinned images under `repository`: the ones the image pipeline builds and signs. */
export function ownImages(images: Record<string, string>, repository: string): OwnImage[] {
  const prefix = `${repository.replace(/\/+$/, "")}/`;
  return Object.entries(images)
    .filter(([, reference]) => reference.startsWith(prefix))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([role, reference]) => ({ role, reference, byDigest: digestReference(reference) }));
}

/**
 * cosign v2.6.5's `verify` for one image by digest with a public key file. --insecure-ignore-tlog=true: no
 * Rekor (see the header); --offline=true: no transparency-log lookups either. The signature itself is still
 * checked against the key and the image's digest.
 */
export function cosignVerifyArgs(byDigest: string, keyFile: string): string[] {
  return ["verify", "--key", keyFile, "--insecure-ignore-tlog=true", "--offline=true", "--output", "json", byDigest];
}

/**
 * cosign v2.6.5 asks sigstore's public TUF repository for a trusted root even when it verifies with a key (and
 * goes on with the key when that fails). An empty TUF_ROOT and a TUF_MIRROR on the loopback discard port make
 * that lookup fail at once, on this machine: no verification depends on, or reaches, a sigstore service.
 */
export function cosignEnvironment(dir: string): Record<string, string> {
  return { TUF_ROOT: path.join(dir, "tuf"), TUF_MIRROR: "http://127.0.0.1:9" };
}

/** The repository's root: the directory holding scripts/lib/ci-tools.sh (components/ or its compiled copy's parent). */
function repositoryRoot(): string {
  // Under Node's type stripping the file is an ES module without __dirname: its callers pass the binary.
  if (typeof __dirname === "undefined") throw new Error("cosignBinary() needs CommonJS (__dirname): pass the cosign binary instead");
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "scripts", "lib", "ci-tools.sh"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`scripts/lib/ci-tools.sh not found above ${__dirname}`);
  }
}

/**
 * The pinned cosign (scripts/lib/ci-tools.sh: built from the Go module proxy once, its sha256 checked against
 * scripts/ci-tools.sha256 before every use).
 */
export function cosignBinary(): string {
  const run = spawnSync("bash", ["-c", 'source "$1/scripts/lib/ci-tools.sh" && ci_tool_path cosign', "cosign-path", repositoryRoot()], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const bin = (run.stdout ?? "").trim().split("\n").pop() ?? "";
  if (run.status !== 0 || !bin) throw new Error("the pinned cosign is not available (scripts/lib/ci-tools.sh: ci_tool_path cosign failed, see above): image signatures cannot be verified, so nothing is deployed");
  return bin;
}

export class ImageSignatureError extends Error {
  // A plain field, not a parameter property: Node's type stripping (scripts/lib/verify-images.mjs) runs this file.
  readonly refused: { image: OwnImage; reason: string }[];
  constructor(refused: { image: OwnImage; reason: string }[], repository: string) {
    super(
      `refusing to deploy: ${refused.length} platform image(s) under ${repository} carry no valid signature by mbio-cloud:imageSignatures.publicKey (nothing was created):\n` +
        refused.map(({ image, reason }) => `  - mbio-cloud:images.${image.role} ${image.reference}: ${reason}`).join("\n"),
    );
    this.name = "ImageSignatureError";
    this.refused = refused;
  }
}

/** The last meaningful line cosign printed on failure ("Error: no matching signatures: …"). */
function cosignReason(stderr: string, status: number | null, error?: Error): string {
  if (error) return `cosign did not run: ${error.message}`;
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("WARNING"));
  const err = lines.filter((l) => l.startsWith("Error:")).pop() ?? lines.pop();
  return `cosign verify failed (exit ${status ?? "killed"}): ${err ?? "no output"}`;
}

/**
 * Verifies every own image of `inputs` with cosign; returns the verified ones, throws ImageSignatureError
 * naming each refused one. Registry credentials (registry.server with `registryPassword`) reach cosign in a
 * Docker config file (0600, in a 0700 directory removed afterwards), never on its command line.
 */
export function verifyImageSignatures(inputs: ImageSignatureInputs, registryPassword?: string, cosign?: string): OwnImage[] {
  const sig = inputs.imageSignatures;
  if (!sig) return [];
  const images = ownImages(inputs.images, sig.repository);
  if (images.length === 0) return [];
  const bin = cosign ?? cosignBinary();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mbio-cosign-"));
  try {
    const keyFile = path.join(dir, "cosign.pub");
    fs.writeFileSync(keyFile, sig.publicKey.endsWith("\n") ? sig.publicKey : `${sig.publicKey}\n`, { mode: 0o600 });
    const env: NodeJS.ProcessEnv = { ...process.env, ...cosignEnvironment(dir) };
    if (inputs.registry && registryPassword !== undefined) {
      const auth = Buffer.from(`${inputs.registry.username}:${registryPassword}`).toString("base64");
      fs.mkdirSync(path.join(dir, "docker"), { mode: 0o700 });
      fs.writeFileSync(path.join(dir, "docker", "config.json"), JSON.stringify({ auths: { [inputs.registry.server]: { auth } } }), { mode: 0o600 });
      env.DOCKER_CONFIG = path.join(dir, "docker");
    }
    const refused: { image: OwnImage; reason: string }[] = [];
    for (const image of images) {
      const run = spawnSync(bin, cosignVerifyArgs(image.byDigest, keyFile), { encoding: "utf8", env, timeout: 120_000, stdio: ["ignore", "pipe", "pipe"] });
      if (run.status !== 0) refused.push({ image, reason: cosignReason(run.stderr ?? "", run.status, run.error) });
    }
    if (refused.length > 0) throw new ImageSignatureError(refused, sig.repository);
    return images;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
