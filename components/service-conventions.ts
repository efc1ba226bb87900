// Conventions every platform service shares, in one place so the edge, monitoring, control plane, runners
// and the operators' own services (templates/) agree on them:
//   - the Traefik labels that route a Swarm service (under deploy.labels, swarm provider only),
//   - the deploy block of a service (limits, reservations, restart and rolling-update policy),
//   - names of Swarm configs and secrets derived from their content, so a change rolls the service.
import { createHash } from "crypto";

/** Traefik's entry point for HTTPS traffic and the certificate resolver every router uses. */
export const EDGE_ENTRYPOINT = "websecure";
export const CERT_RESOLVER = "acme";
/** Middleware with the security headers, defined on the Traefik service itself (swarm provider). */
export const SECURITY_HEADERS_MIDDLEWARE = "security-headers@swarm";

export interface RouteOptions {
  /** Router and service name in Traefik, unique in the environment, e.g. `grafana`. */
  name: string;
  /** Full host name, e.g. `monitoring.staging.mbiosphere.com`. */
  host: string;
  /** Port the container listens on (Traefik needs it: Swarm services expose no ports of their own). */
  port: number;
  /** Extra middlewares (`name@swarm`), applied after the security headers. */
  middlewares?: string[];
}

/** The deploy.labels that publish a service through Traefik over HTTPS. */
export function traefikRouteLabels(o: RouteOptions): Record<string, string> {
  const r = `traefik.http.routers.${o.name}`;
  return {
    "traefik.enable": "true",
    [`${r}.rule`]: `Host(\`${o.host}\`)`,
    [`${r}.entrypoints`]: EDGE_ENTRYPOINT,
    [`${r}.tls.certresolver`]: CERT_RESOLVER,
    [`${r}.middlewares`]: [SECURITY_HEADERS_MIDDLEWARE, ...(o.middlewares ?? [])].join(","),
    [`${r}.service`]: o.name,
    [`traefik.http.services.${o.name}.loadbalancer.server.port`]: String(o.port),
  };
}

export interface Resources {
  /** CPUs, e.g. 0.5 */
  cpus: number;
  /** Memory, e.g. "256M" */
  memory: string;
}

export interface DeployOptions {
  limits: Resources;
  reservations: Resources;
  /** Swarm placement constraints, e.g. ["node.role == manager"]. */
  constraints: string[];
  mode?: "replicated" | "global";
  replicas?: number;
  labels?: Record<string, string>;
  /** Seconds a new task must stay healthy before the update moves on (and before a rollback is decided). */
  monitorSeconds?: number;
}

/**
 * The deploy block of a platform service: limits and reservations, restart on failure, rolling updates
 * that start the new task before stopping the old one and roll back when it does not become healthy.
 * Services holding a single-writer volume (databases) must pass order stop-first themselves.
 */
export function serviceDeploy(o: DeployOptions): Record<string, unknown> {
  const monitor = `${o.monitorSeconds ?? 30}s`;
  return {
    mode: o.mode ?? "replicated",
    ...(o.mode === "global" ? {} : { replicas: o.replicas ?? 1 }),
    placement: { constraints: o.constraints },
    resources: {
      limits: { cpus: String(o.limits.cpus), memory: o.limits.memory },
      reservations: { cpus: String(o.reservations.cpus), memory: o.reservations.memory },
    },
    restart_policy: { condition: "any", delay: "5s", window: "60s" },
    update_config: { parallelism: 1, delay: "5s", order: "start-first", failure_action: "rollback", monitor },
    rollback_config: { parallelism: 1, order: "start-first", monitor },
    ...(o.labels ? { labels: o.labels } : {}),
  };
}

/** Logs go to stdout/stderr and the engine's json-file driver (rotation set in daemon.json). */
export const STDOUT_LOGGING = { driver: "json-file" } as const;

/** A Swarm config or secret name carrying a hash of its content: a new content is a new object. */
export function contentName(prefix: string, content: string): string {
  return `${prefix}-${createHash("sha256").update(content).digest("hex").slice(0, 12)}`;
}
