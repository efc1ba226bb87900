// htpasswd lines for Traefik's basicAuth middleware, computed in the program so that only the hash (in a
// Swarm secret, a Pulumi secret in state) ever leaves it. Apache's apr1 (MD5-crypt) is the format Traefik,
// htpasswd and `openssl passwd -apr1` agree on without a native dependency (bcrypt would need one).
import { createHash, createHmac } from "crypto";

const ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const md5 = (...parts: Buffer[]) => {
  const h = createHash("md5");
  for (const p of parts) h.update(p);
  return h.digest();
};

/** Apache apr1 (MD5-crypt) hash of `password` with an 8-character salt from ITOA64. */
export function apr1(password: string, salt: string): string {
  if (!/^[./0-9A-Za-z]{1,8}$/.test(salt)) throw new Error("apr1 salt must be 1 to 8 characters of [./0-9A-Za-z]");
  const magic = Buffer.from("$apr1$");
  const pw = Buffer.from(password, "utf8");
  const s = Buffer.from(salt);
  let alt = md5(pw, s, pw);
  const ctx: Buffer[] = [pw, magic, s];
  for (let n = pw.length; n > 0; n -= 16) ctx.push(alt.subarray(0, Math.min(16, n)));
  for (let i = pw.length; i > 0; i >>= 1) ctx.push(i & 1 ? Buffer.from([0]) : pw.subarray(0, 1));
  let fin = md5(...ctx);
  for (let i = 0; i < 1000; i++) {
    const parts: Buffer[] = [];
    parts.push(i & 1 ? pw : fin);
    if (i % 3) parts.push(s);
    if (i % 7) parts.push(pw);
    parts.push(i & 1 ? fin : pw);
    fin = md5(...parts);
  }
  alt = fin;
  const to64 = (v: number, n: number) => {
    let out = "";
    for (let i = 0; i < n; i++, v >>= 6) out += ITOA64[v & 0x3f];
    return out;
  };
  const f = alt;
  const encoded =
    to64((f[0] << 16) | (f[6] << 8) | f[12], 4) +
    to64((f[1] << 16) | (f[7] << 8) | f[13], 4) +
    to64((f[2] << 16) | (f[8] << 8) | f[14], 4) +
    to64((f[3] << 16) | (f[9] << 8) | f[15], 4) +
    to64((f[4] << 16) | (f[10] << 8) | f[5], 4) +
    to64(f[11], 2);
  return `$apr1$${salt}$${encoded}`;
}

/**
 * `user:hash` for an htpasswd file. The salt is derived from the password and a context (the environment),
 * so the same password gives the same line on every run (no diff, no needless roll of the edge) and
 * different lines in different environments.
 */
export function htpasswdLine(user: string, password: string, context: string): string {
  const digest = createHmac("sha256", password).update(`mbio-htpasswd:${context}:${user}`).digest();
  const salt = Array.from(digest.subarray(0, 8), (b) => ITOA64[b & 0x3f]).join("");
  return `${user}:${apr1(password, salt)}`;
}
