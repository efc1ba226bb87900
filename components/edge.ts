// Edge: Traefik v3 in front of every service of an environment.
//
//   stack `edge`, service `traefik` (Swarm name edge_traefik), global on the managers:
//     entry points  web :80 (redirects to HTTPS), websecure :443, metrics :8082 (Prometheus /metrics and
//                   /ping, internal: reached over the platform network as http://tasks.edge_traefik:8082)
//     provider      swarm only (exposedByDefault false, the platform network), Swarm API through the
//                   managers' docker socket (read-only bind)
//     certificates  ACME resolver `acme`: Let's Encrypt + Cloudflare DNS challenge (token as a Swarm secret,
//                   CF_DNS_API_TOKEN_FILE), or another ACME server (the sandbox's Pebble) with the http or
//                   tls-alpn challenge; storage on the named volume edge_acme
//     middlewares   security-headers@swarm, retry@swarm, dashboard-auth@swarm (basic auth, htpasswd file
//                   as a Swarm secret computed from the adminPassword secret)
//     dashboard     https://traefik.<namespace> (api@internal) behind dashboard-auth
//
// Metrics: Traefik v3 writes InfluxDB v2 only (its InfluxDB 1.x output was removed in v3), so it exposes
// Prometheus metrics and Telegraf (monitoring) scrapes them into InfluxDB 1.x.
import * as pulumi from "@pulumi/pulumi";
import type { VolumePlacement } from "./persistent-storage";
import { stringify } from "yaml";
import type { EdgeConfig } from "./config/edge";
import { htpasswdLine } from "./htpasswd";
import {
  CERT_RESOLVER,
  EDGE_ENTRYPOINT,
  EDGE_METRICS_PORT,
  EDGE_SERVICE,
  EDGE_STACK,
  serviceDeploy,
  STDOUT_LOGGING,
  traefikRouteLabels,
} from "./service-conventions";
import { swarmObject } from "./swarm-objects";
import { ComposeFile, ManagerConnections, SwarmStack } from "./swarm-stack";

const CONFIG_PATH = "/etc/traefik/traefik.yml";
const ACME_CA_PATH = "/etc/traefik/acme-ca.pem";
const USERS_SECRET = "edge-dashboard-users";
const CF_TOKEN_SECRET = "cf-dns-api-token";

/** The host names the edge serves in an environment's DNS namespace. */
export function edgeHosts(namespace: string) {
  return {
    dashboard: `traefik.${namespace}`,
    monitoring: `monitoring.${namespace}`,
    portainer: `portainer.${namespace}`,
    demo: `whoami.${namespace}`,
  };
}

export interface TraefikStaticOptions {
  edge: EdgeConfig;
  networkName: string;
}

/** Traefik's static configuration (traefik.yml), shipped as a Swarm config named by its content. */
export function traefikStaticConfig(o: TraefikStaticOptions): Record<string, unknown> {
  const acme = o.edge.acme;
  const challenge =
    acme.challenge === "dns-cloudflare"
      ? { dnsChallenge: { provider: "cloudflare", resolvers: ["1.1.1.1:53", "1.0.0.1:53"] } }
      : acme.challenge === "http"
        ? { httpChallenge: { entryPoint: "web" } }
        : { tlsChallenge: {} };
  return {
    global: { checkNewVersion: false, sendAnonymousUsage: false },
    log: { level: o.edge.logLevel },
    // Access log to stdout (no filePath), one JSON object per request.
    accessLog: { format: "json" },
    api: { dashboard: true },
    ping: { entryPoint: "metrics" },
    metrics: { prometheus: { entryPoint: "metrics", addEntryPointsLabels: true, addRoutersLabels: true, addServicesLabels: true } },
    entryPoints: {
      web: { address: ":80", http: { redirections: { entryPoint: { to: EDGE_ENTRYPOINT, scheme: "https", permanent: true } } } },
      [EDGE_ENTRYPOINT]: { address: ":443" },
      metrics: { address: `:${EDGE_METRICS_PORT}` },
    },
    providers: {
      swarm: {
        endpoint: "unix:///var/run/docker.sock",
        exposedByDefault: false,
        network: o.networkName,
        // Polled: a task Swarm stops leaves the pool within this; services drain longer than that.
        refreshSeconds: "5s",
      },
    },
    certificatesResolvers: {
      [CERT_RESOLVER]: {
        acme: { ...(acme.email ? { email: acme.email } : {}), storage: "/data/acme.json", caServer: acme.caServer, ...challenge },
      },
    },
  };
}

/** The labels on the Traefik service: shared middlewares and the dashboard's router. */
export function edgeLabels(namespace: string): Record<string, string> {
  const mw = "traefik.http.middlewares";
  return {
    [`${mw}.security-headers.headers.stsSeconds`]: "31536000",
    [`${mw}.security-headers.headers.stsIncludeSubdomains`]: "true",
    [`${mw}.security-headers.headers.contentTypeNosniff`]: "true",
    [`${mw}.security-headers.headers.frameDeny`]: "true",
    [`${mw}.security-headers.headers.referrerPolicy`]: "strict-origin-when-cross-origin",
    [`${mw}.security-headers.headers.permissionsPolicy`]: "camera=(), microphone=(), geolocation=()",
    [`${mw}.retry.retry.attempts`]: "3",
    [`${mw}.retry.retry.initialInterval`]: "100ms",
    [`${mw}.dashboard-auth.basicauth.usersfile`]: `/run/secrets/${USERS_SECRET}`,
    [`${mw}.dashboard-auth.basicauth.realm`]: "mbio-cloud edge",
    // The port is what the swarm provider demands of every service it sees; api@internal serves the router.
    ...traefikRouteLabels({ name: "edge-dashboard", host: edgeHosts(namespace).dashboard, port: 8080, middlewares: ["dashboard-auth@swarm"], internalService: "api@internal" }),
  };
}

export interface EdgeComposeOptions {
  image: string;
  namespace: string;
  edge: EdgeConfig;
  networkName: string;
  publishMode: "ingress" | "host";
  configNames: { traefik: string; acmeCa?: string };
  secretNames: { users: string; cloudflareToken?: string };
}

export function edgeCompose(o: EdgeComposeOptions): ComposeFile {
  const port = (p: number) => ({ target: p, published: p, protocol: "tcp", mode: o.publishMode });
  const configs: Record<string, unknown>[] = [{ source: "traefik_yml", target: CONFIG_PATH, mode: 0o444 }];
  if (o.configNames.acmeCa) configs.push({ source: "acme_ca", target: ACME_CA_PATH, mode: 0o444 });
  const secrets: Record<string, unknown>[] = [{ source: "dashboard_users", target: USERS_SECRET, mode: 0o400 }];
  if (o.secretNames.cloudflareToken) secrets.push({ source: "cf_dns_api_token", target: CF_TOKEN_SECRET, mode: 0o400 });
  const environment: Record<string, string> = {
    ...(o.secretNames.cloudflareToken ? { CF_DNS_API_TOKEN_FILE: `/run/secrets/${CF_TOKEN_SECRET}` } : {}),
    // lego (Traefik's ACME client) trusts these in addition to the system roots.
    ...(o.configNames.acmeCa ? { LEGO_CA_CERTIFICATES: ACME_CA_PATH } : {}),
  };
  return {
    version: "3.9",
    services: {
      [EDGE_SERVICE]: {
        image: o.image,
        command: ["traefik", `--configFile=${CONFIG_PATH}`],
        ...(Object.keys(environment).length ? { environment } : {}),
        configs,
        secrets,
        ports: [port(80), port(443)],
        volumes: [
          { type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock", read_only: true },
          { type: "volume", source: "acme", target: "/data" },
        ],
        networks: ["platform"],
        healthcheck: { test: ["CMD", "traefik", "healthcheck", `--configFile=${CONFIG_PATH}`], interval: "10s", timeout: "5s", retries: 3, start_period: "20s" },
        stop_grace_period: "30s",
        logging: STDOUT_LOGGING,
        deploy: serviceDeploy({
          // One Traefik per manager: the Swarm API is only answered there, and DNS points at every manager.
          mode: "global",
          constraints: ["node.role == manager"],
          limits: { cpus: 1, memory: "512M" },
          reservations: { cpus: 0.1, memory: "64M" },
          // Host-mode ports cannot be bound by two tasks on one node: the old task stops first there.
          order: o.publishMode === "host" ? "stop-first" : "start-first",
          labels: { "traefik.enable": "true", ...edgeLabels(o.namespace), "mbio.component": "edge" },
        }),
      },
    },
    volumes: { acme: { labels: { "mbio.component": "edge" } } },
    networks: { platform: { external: true, name: o.networkName } },
    configs: {
      traefik_yml: { external: true, name: o.configNames.traefik },
      ...(o.configNames.acmeCa ? { acme_ca: { external: true, name: o.configNames.acmeCa } } : {}),
    },
    secrets: {
      dashboard_users: { external: true, name: o.secretNames.users },
      ...(o.secretNames.cloudflareToken ? { cf_dns_api_token: { external: true, name: o.secretNames.cloudflareToken } } : {}),
    },
  };
}

export interface EdgeArgs {
  /** Where its named volumes live (PersistentStorage's placement; storage.driver hetzner-volumes). */
  volumes?: VolumePlacement;
  environment: string;
  /** The environment's DNS namespace (environment.ts dnsNamespace). */
  namespace: string;
  edge: EdgeConfig;
  images: Record<string, string>;
  publishMode: "ingress" | "host";
  endpointMode?: "vip" | "dnsrr";
  managerConnection: ManagerConnections;
  networkName: string;
  adminPassword: pulumi.Input<string>;
  /** Needed when edge.acme.challenge is dns-cloudflare. */
  cloudflareApiToken?: pulumi.Input<string>;
}

export class Edge extends pulumi.ComponentResource {
  /** Swarm service name, e.g. for Telegraf's scrape target. */
  readonly serviceName = `${EDGE_STACK}_${EDGE_SERVICE}`;
  /** Where Telegraf scrapes Traefik's Prometheus metrics (over the platform network). */
  readonly metricsUrl = `http://tasks.${EDGE_STACK}_${EDGE_SERVICE}:${EDGE_METRICS_PORT}/metrics`;
  readonly dashboardUrl: string;
  readonly hosts: ReturnType<typeof edgeHosts>;
  readonly stack: SwarmStack;

  constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mbio-cloud:platform:Edge", name, {}, opts);
    const image = args.images.traefik;
    if (!image) throw new Error("images.traefik is required (the pinned Traefik image)");
    const dnsChallenge = args.edge.acme.challenge === "dns-cloudflare";
    if (dnsChallenge && !args.cloudflareApiToken) throw new Error("edge.acme.challenge dns-cloudflare needs the cloudflareApiToken secret");
    this.hosts = edgeHosts(args.namespace);
    this.dashboardUrl = `https://${this.hosts.dashboard}/dashboard/`;

    const object = (id: string, kind: "config" | "secret", prefix: string, content: pulumi.Input<string>) =>
      swarmObject(this, `${name}-${kind}-${id}`, { connection: args.managerConnection, kind, prefix, content, label: "mbio.component=edge", environment: args.environment });

    const staticConfig = stringify(traefikStaticConfig({ edge: args.edge, networkName: args.networkName }), { lineWidth: 0 });
    const traefikYml = object("traefik-yml", "config", "edge-traefik-yml", staticConfig);
    const acmeCa = args.edge.acme.caCertificate ? object("acme-ca", "config", "edge-acme-ca", args.edge.acme.caCertificate) : undefined;
    const users = object(
      "dashboard-users",
      "secret",
      "edge-dashboard-users",
      pulumi.secret(args.adminPassword).apply((p) => `${htpasswdLine(args.edge.dashboardUser, p, args.environment)}\n`),
    );
    const cfToken = dnsChallenge ? object("cf-token", "secret", "edge-cf-dns-api-token", args.cloudflareApiToken!) : undefined;
    const objects = [traefikYml, acmeCa, users, cfToken].filter((o) => o !== undefined);

    const compose = pulumi
      .all([traefikYml.name, acmeCa?.name, users.name, cfToken?.name])
      .apply(([traefik, acmeCaName, usersName, cfName]) =>
        edgeCompose({
          image,
          namespace: args.namespace,
          edge: args.edge,
          networkName: args.networkName,
          publishMode: args.publishMode,
          configNames: { traefik, ...(acmeCaName ? { acmeCa: acmeCaName } : {}) },
          secretNames: { users: usersName, ...(cfName ? { cloudflareToken: cfName } : {}) },
        }),
      );
    this.stack = new SwarmStack(
      `${name}-stack`,
      { connection: args.managerConnection, volumes: args.volumes, stackName: EDGE_STACK, compose, convergeTimeoutSeconds: 300, endpointMode: args.endpointMode },
      { parent: this, dependsOn: objects.map((o) => o.resource) },
    );
    this.registerOutputs({ serviceName: this.serviceName, metricsUrl: this.metricsUrl, dashboardUrl: this.dashboardUrl, stackDigest: this.stack.digest });
  }
}
