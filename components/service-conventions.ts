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
/**
 * Middleware that retries a request on another task when the connection to one fails (a task that just
 * went away between two polls of the Swarm API). For idempotent services; defined on the Traefik service.
 */
export const RETRY_MIDDLEWARE = "retry@swarm";
/** The edge's stack and service (Telegraf scrapes http://tasks.edge_traefik:8082/metrics). */
export const EDGE_STACK = "edge";
export const EDGE_SERVICE = "traefik";
export const EDGE_METRICS_PORT = 8082;

export interface RouteOptions {
  /** Router and service name in Traefik, unique in the environment, e.g. `grafana`. */
  name: string;
  /** Full host name, e.g. `monitoring.staging.mbiosphere.com`. */
  host: string;
  /** Port the container listens on (Traefik needs it: Swarm services expose no ports of their own). */
  port: number;
  /** Extra middlewares (`name@swarm`), applied after the security headers. */
  middlewares?: string[];
  /** A Traefik internal service (e.g. `api@internal`) instead of the container's port. */
  internalService?: string;
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
    [`${r}.service`]: o.internalService ?? o.name,
    [`traefik.http.services.${o.name}.loadbalancer.server.port`]: String(o.port),
  };
}

/**
 * CI nodes (node label mbio.role=ci) run GitLab jobs, which run code from any branch: no platform service is
 * placed there, so no platform secret is ever delivered to one (Swarm hands a node only its own tasks'
 * secrets). Every deploy block carries one of these two constraints; tests/unit/placement.test.ts walks every
 * service the platform renders and fails on one without.
 */
export const NOT_ON_CI_NODES = "node.labels.mbio.role != ci";
export const ON_CI_NODES = "node.labels.mbio.role == ci";

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
  /**
   * start-first (default) keeps the old task until the new one is healthy. stop-first for single-writer
   * volumes and for global services publishing host-mode ports (two tasks cannot bind one port).
   */
  order?: "start-first" | "stop-first";
  /** Only the GitLab runner: placed on CI nodes instead of kept off them. */
  onCiNodes?: boolean;
}

/**
 * The deploy block of a platform service: limits and reservations, restart on failure, rolling updates
 * that start the new task before stopping the old one and roll back when it does not become healthy.
 * Services holding a single-writer volume (databases) must pass order stop-first themselves.
 */
export function serviceDeploy(o: DeployOptions): Record<string, unknown> {
  const monitor = `${o.monitorSeconds ?? 30}s`;
  const order = o.order ?? "start-first";
  return {
    mode: o.mode ?? "replicated",
    ...(o.mode === "global" ? {} : { replicas: o.replicas ?? 1 }),
    placement: { constraints: [...o.constraints, o.onCiNodes ? ON_CI_NODES : NOT_ON_CI_NODES] },
    resources: {
      limits: { cpus: String(o.limits.cpus), memory: o.limits.memory },
      reservations: { cpus: String(o.reservations.cpus), memory: o.reservations.memory },
    },
    restart_policy: { condition: "any", delay: "5s", window: "60s" },
    update_config: { parallelism: 1, delay: "5s", order, failure_action: "rollback", monitor },
    rollback_config: { parallelism: 1, order, monitor },
    ...(o.labels ? { labels: o.labels } : {}),
  };
}

/** Logs go to stdout/stderr and the engine's json-file driver (rotation set in daemon.json). */
export const STDOUT_LOGGING = { driver: "json-file" } as const;

/** A Swarm config or secret name carrying a hash of its content: a new content is a new object. */
export function contentName(prefix: string, content: string): string {
  return `${prefix}-${createHash("sha256").update(content).digest("hex").slice(0, 16)}`;
}
