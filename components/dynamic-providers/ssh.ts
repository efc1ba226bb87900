// The one way the Swarm providers reach the Swarm: a bash script run on a manager over SSH (ssh2), data on
// stdin. It tries the managers in order and moves on when one cannot be reached or is no longer a manager,
// so no single manager is a point of failure for reads or changes.
//
// This module is serialized into the state with the dynamic providers that use it (Pulumi closure
// serialization): it holds only plain functions and requires its modules inside them.
import { shellQuote } from "./text";

export interface ManagerConnection {
  host: string;
  port?: number;
  user?: string;
  privateKey?: string;
  /** The pinned host key, "ssh-ed25519 AAAA…" (components/dynamic-providers/host-keys.ts); checked before anything is sent. */
  hostKey?: string;
  perDialTimeout?: number;
}

/** Error text of a host key mismatch: names the host, both fingerprints and what to do. */
export function hostKeyMismatch(host: string, expected: string, presented: Buffer): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createHash } = require("crypto") as typeof import("crypto");
  const fp = (blob: Buffer) => `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
  return (
    `host key of ${host} does not match the pinned one (expected ${fp(Buffer.from(expected.split(" ")[1] ?? "", "base64"))}, ` +
    `${host} presented ${fp(presented)}): nothing was sent to it. If the machine was really reinstalled, check the new key ` +
    `on its console and set it in the stack file (mbio-cloud:hosts[].hostKey, or \`pulumi up --replace\` the server's SshHostKey on Hetzner); ` +
    `otherwise something else answers on that address`
  );
}

/** Exit status of a script that found itself on a node that cannot answer for the Swarm: try the next one. */
export const NOT_A_MANAGER = 97;

/** Bash prepended to every script: refuse (NOT_A_MANAGER) unless this node can change the Swarm. */
export const MANAGER_GUARD = `[ "$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null)" = true ] || { echo "$(hostname) is not a reachable Swarm manager" >&2; exit ${NOT_A_MANAGER}; }\n`;

export interface RunResult {
  stdout: string;
  stderr: string;
  host: string;
}

/** One manager asked and why it did not do the work: `unreachable` (SSH) or `not-a-manager` (it answered). */
export interface ManagerAttempt {
  host: string;
  reason: "unreachable" | "not-a-manager";
  detail: string;
}

/**
 * Runs `script` (bash) with `env` on the first manager that answers; stdin carries data and secrets. When
 * none does, the error names every manager tried and carries them as `attempts` (swarm.ts decides from them
 * whether a Swarm may be initialised). `guard: false` runs on the first reachable host, manager or not.
 */
export async function runOnManager(connections: ManagerConnection[], script: string, env: Record<string, string> = {}, stdin = "", guard = true): Promise<RunResult> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Client } = require("ssh2") as typeof import("ssh2");
  const assignments = Object.keys(env)
    .sort()
    .map((k) => `${k}=${shellQuote(env[k])}`)
    .join(" ");
  const commandLine = `${assignments} bash -c ${shellQuote(`set -euo pipefail\n${guard ? MANAGER_GUARD : ""}${script}`)}`;
  const attempt = (c: ManagerConnection) =>
    new Promise<{ code: number; stdout: string; stderr: string; unreachable?: string; mismatch?: string }>((resolve) => {
      const client = new Client();
      let mismatch: string | undefined;
      const expected = c.hostKey === undefined ? undefined : Buffer.from(c.hostKey.trim().split(/\s+/)[1] ?? "", "base64");
      const hostVerifier = (key: Buffer) => {
        if (!expected || key.equals(expected)) return true;
        mismatch = hostKeyMismatch(c.host, c.hostKey!, key);
        return false;
      };
      let stdout = "";
      let stderr = "";
      client
        .on("ready", () =>
          client.exec(commandLine, (err, stream) => {
            if (err) {
              client.end();
              return resolve({ code: -1, stdout, stderr, unreachable: String(err) });
            }
            stream.on("data", (d: Buffer) => (stdout += d.toString()));
            stream.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
            stream.on("close", (code: number | null) => {
              client.end();
              resolve({ code: code ?? -1, stdout, stderr });
            });
            stream.end(stdin);
          }),
        )
        .on("error", (e: Error) => resolve({ code: -1, stdout, stderr, unreachable: e.message, mismatch }))
        .connect({ host: c.host, port: c.port ?? 22, username: c.user ?? "root", privateKey: c.privateKey, hostVerifier, readyTimeout: (c.perDialTimeout ?? 15) * 1000 });
    });
  // Rounds over all managers, so a stopped manager costs one dial per round, not three before the next is
  // asked; a manager that is starting (sshd, Docker) gets the later rounds. "Not a manager" is final.
  const last = new Map<string, ManagerAttempt>();
  for (let round = 0; round < 3; round++) {
    for (const c of connections) {
      if (last.get(c.host)?.reason === "not-a-manager") continue;
      const r = await attempt(c);
      // Not a reason to try the next manager: a wrong host key is an alarm, not an outage.
      if (r.mismatch) throw new Error(r.mismatch);
      if (r.unreachable === undefined && r.code === 0) return { stdout: r.stdout, stderr: r.stderr, host: c.host };
      if (r.unreachable === undefined && r.code !== NOT_A_MANAGER) {
        throw new Error(`on ${c.host}: exit ${r.code}: ${r.stderr.trim().split("\n").slice(-5).join(" | ")}`);
      }
      last.set(c.host, r.code === NOT_A_MANAGER ? { host: c.host, reason: "not-a-manager", detail: r.stderr.trim() } : { host: c.host, reason: "unreachable", detail: r.unreachable ?? "" });
    }
    if (round === 2 || [...last.values()].every((a) => a.reason === "not-a-manager")) break;
    await new Promise((res) => setTimeout(res, 2000 * (round + 1)));
  }
  const attempts = connections.map((c) => last.get(c.host)!);
  const tried = attempts.map((a) => `${a.host}: ${a.reason === "unreachable" ? `unreachable (${a.detail})` : "reachable, not a Swarm manager"}`);
  throw Object.assign(new Error(`no Swarm manager answered; tried ${attempts.length} manager(s): ${tried.join("; ")}`), { attempts });
}

/** Runs `script` on this one host (a node acting on itself, e.g. leaving the Swarm), no manager guard. */
export async function runOnHost(connection: ManagerConnection, script: string, env: Record<string, string> = {}, stdin = ""): Promise<RunResult> {
  try {
    return await runOnManager([connection], script, env, stdin, false);
  } catch (e) {
    const attempts = (e as { attempts?: ManagerAttempt[] }).attempts;
    if (!attempts) throw e;
    // One host, no manager role asked of it: name the host, not "managers".
    throw Object.assign(new Error(`${connection.host} did not answer over SSH after 3 tries: ${attempts[0].detail}`), { attempts });
  }
}
