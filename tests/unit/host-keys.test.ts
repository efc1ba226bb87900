// Pinned host keys: the generated pair is a real OpenSSH key (ssh-keygen and ssh2 read it back), cloud-init
// gets it as ssh_keys, and host keys are validated.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { utils } from "ssh2";
import { parse } from "yaml";
import { cloudInitUserData } from "../../components/machines/cloud-init";
import { generateHostKey, hostKeyUserData, knownHostsLine, normalizeHostKey } from "../../components/dynamic-providers/host-keys";

describe("host keys", () => {
  const pair = generateHostKey("node-1");

  it("generates an OpenSSH ed25519 key that ssh-keygen and ssh2 read back to the same public key", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mbio-hostkey-"));
    try {
      fs.writeFileSync(path.join(dir, "key"), pair.privateKey, { mode: 0o600 });
      const derived = execFileSync("ssh-keygen", ["-y", "-f", path.join(dir, "key")], { encoding: "utf8" }).trim();
      expect(derived.split(" ").slice(0, 2).join(" ")).toBe(pair.publicKey);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const parsed = utils.parseKey(pair.privateKey);
    expect(parsed).not.toBeInstanceOf(Error);
    const key = (Array.isArray(parsed) ? parsed[0] : parsed) as Exclude<ReturnType<typeof utils.parseKey>, Error | unknown[]>;
    expect(`${key.type} ${key.getPublicSSH().toString("base64")}`).toBe(pair.publicKey);
    expect(generateHostKey().publicKey).not.toBe(pair.publicKey);
  });

  it("renders cloud-init ssh_keys that parse as YAML with the exact private key", () => {
    const doc = parse(cloudInitUserData() + hostKeyUserData(pair)) as { ssh_keys: Record<string, string>; runcmd: unknown[]; ssh_deletekeys: boolean };
    expect(doc.ssh_keys).toEqual({ ed25519_private: pair.privateKey, ed25519_public: pair.publicKey });
    expect(doc.runcmd.length).toBeGreaterThan(0);
    // Keys that exist are kept (the sandbox pins its machines' keys before cloud-init runs).
    expect(doc.ssh_deletekeys).toBe(false);
  });

  it("accepts ed25519 public keys (comment dropped) and refuses others", () => {
    expect(normalizeHostKey(`${pair.publicKey} root@node-1`)).toBe(pair.publicKey);
    expect(() => normalizeHostKey("ecdsa-sha2-nistp256 AAAAE2VjZHNh")).toThrow(/not an ed25519 host public key/);
    expect(() => normalizeHostKey("ssh-ed25519 short")).toThrow(/not an ed25519 host public key/);
    expect(knownHostsLine("10.0.0.1", 22, pair.publicKey)).toBe(`10.0.0.1 ${pair.publicKey}`);
    expect(knownHostsLine("10.0.0.1", 2222, pair.publicKey)).toBe(`[10.0.0.1]:2222 ${pair.publicKey}`);
  });
});
