// Runs a bash script on one given host over SSH (ssh2): the node-side half of a rolling change. The manager
// side goes through swarm-provider/ssh.ts (any reachable manager); a node's own engine can only be changed
// on the node itself. Serialized with the dynamic providers that use it: plain functions, requires inside.
import type { ManagerConnection } from "../swarm-provider/ssh";

/** Runs `script` with `env` on `host`; resolves with stdout, rejects with the last lines of stderr. */
export async function runOnHost(host: ManagerConnection, script: string, env: Record<string, string> = {}, tries = 3): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Client } = require("ssh2") as typeof import("ssh2");
  const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  const assignments = Object.keys(env)
    .sort()
    .map((k) => `${k}=${quote(env[k])}`)
    .join(" ");
  const commandLine = `${assignments} bash -c ${quote(script)}`;
  let lastError = "";
  for (let i = 0; i < tries; i++) {
    const r = await new Promise<{ code: number; stdout: string; stderr: string; unreachable?: string }>((resolve) => {
      const client = new Client();
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
            stream.end();
          }),
        )
        .on("error", (e: Error) => resolve({ code: -1, stdout, stderr, unreachable: e.message }))
        .connect({ host: host.host, port: host.port ?? 22, username: host.user ?? "root", privateKey: host.privateKey, readyTimeout: (host.perDialTimeout ?? 15) * 1000 });
    });
    if (r.unreachable === undefined) {
      if (r.code === 0) return r.stdout;
      // The script ran and failed: retrying would repeat the failure.
      throw new Error(`on ${host.host}: exit ${r.code}: ${r.stderr.trim().split("\n").slice(-5).join(" | ")}`);
    }
    lastError = r.unreachable;
    await new Promise((res) => setTimeout(res, 3000 * (i + 1)));
  }
  throw new Error(`${host.host} did not answer over SSH: ${lastError}`);
}
