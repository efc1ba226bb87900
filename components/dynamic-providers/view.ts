// The read view of Swarm objects: what `docker service inspect` / `docker node inspect` report, reduced to the
// fields the platform owns, and the field-by-field comparison that names what drifted. Pure functions (unit
// tested); serialized with the providers.

import { canonicalJson } from "./text";

/**
 * One service as the platform owns it. Env and mounts as digests keyed with the stack's secret digest key
 * (HMAC-SHA256): the view is a plain output, and an unkeyed hash of an environment that holds a password
 * would let anyone with the state test guesses offline.
 */
export interface ServiceView {
  image: string;
  mode: string;
  replicas: number | null;
  update: Record<string, unknown>;
  restart: Record<string, unknown>;
  labels: Record<string, string>;
  envDigest: string;
  mountsDigest: string;
  networks: string[];
  configs: string[];
  secrets: string[];
}

export interface StackView {
  services: Record<string, ServiceView>;
}

function keyedDigest(key: string, v: unknown): string {
  if (!key) throw new Error("serviceView needs the stack's digest key (an unkeyed digest of an environment would be guessable offline)");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createHmac } = require("crypto") as typeof import("crypto");
  return createHmac("sha256", key).update(canonicalJson(v)).digest("hex").slice(0, 16);
}

/** A fresh digest key (kept as a secret output of the stack resource). */
export function newDigestKey(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require("crypto") as typeof import("crypto")).randomBytes(32).toString("hex");
}

/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * A service's view from one `docker service inspect` entry. `networkNames` maps network IDs to names (the
 * spec holds IDs), so a re-created network with the same name is not drift.
 */
export function serviceView(inspect: any, networkNames: Record<string, string>, digestKey: string): ServiceView {
  const spec = inspect?.Spec ?? {};
  const task = spec.TaskTemplate ?? {};
  const container = task.ContainerSpec ?? {};
  const mode = spec.Mode ?? {};
  const modeName = Object.keys(mode)[0] ?? "replicated";
  return {
    image: String(container.Image ?? ""),
    mode: modeName.toLowerCase(),
    replicas: mode.Replicated ? Number(mode.Replicated.Replicas ?? 0) : null,
    update: { ...(spec.UpdateConfig ?? {}) },
    restart: { ...(task.RestartPolicy ?? {}) },
    labels: { ...(spec.Labels ?? {}) },
    envDigest: keyedDigest(digestKey, [...(container.Env ?? [])].sort()),
    mountsDigest: keyedDigest(digestKey, container.Mounts ?? []),
    networks: (task.Networks ?? spec.Networks ?? []).map((n: any) => networkNames[n.Target] ?? n.Target).sort(),
    configs: (container.Configs ?? []).map((c: any) => String(c.ConfigName)).sort(),
    secrets: (container.Secrets ?? []).map((s: any) => String(s.SecretName)).sort(),
  };
}

/** A node as the platform owns it. */
export interface NodeView {
  hostname: string;
  role: string;
  availability: string;
  labels: Record<string, string>;
}

export function nodeView(inspect: any): NodeView {
  const spec = inspect?.Spec ?? {};
  return {
    hostname: String(inspect?.Description?.Hostname ?? ""),
    role: String(spec.Role ?? ""),
    availability: String(spec.Availability ?? ""),
    labels: { ...(spec.Labels ?? {}) },
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * Paths (`services.backup_maintenance.replicas`) where `live` differs from `wanted`; objects are compared key
 * by key so the path names the field, arrays and scalars as a whole.
 */
export function changedPaths(wanted: unknown, live: unknown, prefix: string): string[] {
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  if (isObject(wanted) && isObject(live)) {
    const keys = [...new Set([...Object.keys(wanted), ...Object.keys(live)])].sort();
    return keys.flatMap((k) => changedPaths(wanted[k], live[k], prefix ? `${prefix}.${k}` : k));
  }
  return canonicalJson(wanted) === canonicalJson(live) ? [] : [prefix];
}
