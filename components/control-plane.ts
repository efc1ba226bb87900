// ControlPlane: Portainer CE on the Swarm, behind the edge.
//
//   stack `portainer-agent`, deployed and converged first
//     agent      global: one per node, the Docker API of its node; agents find each other at
//                tasks.portainer-agent_agent (AGENT_CLUSTER_ADDR) on the stack's own overlay network
//                portainer-agent_agents
//   stack `portainer`, after it
//     portainer  the server, one task on a manager (its BoltDB on the named volume portainer_data, so
//                updates stop the old task first), reached at https://portainer.<namespace> through Traefik,
//                and at the agents over portainer-agent_agents
//
// Two stacks because of the server's first start: it creates the admin user from --admin-password-file,
// then the environment from -H, and that environment is created only at the start that created the admin
// (api/internal/endpointutils InitEndpoint waits for the admin's creation). In one stack the server often
// starts before any agent task resolves, fails the environment (log.Fatal), and every restart then skips it:
// Portainer came up with no environment (tests/real/portainer.sh saw it). With the agents converged first,
// the first start finds them.
//
// Agent and server share AGENT_SECRET: 32 random bytes (GeneratedSecret, a Pulumi secret), so neither the
// state nor the admin password lets anyone derive it. Portainer 2.21.4 reads it only from that environment
// variable (server: os.Getenv in api/cmd/portainer/main.go; agent: the AGENT_SECRET env or its --secret flag,
// an argv; their images carry no shell that could read a Swarm secret file into the environment), so it
// sits in both service specs: readable with `docker service inspect` by whoever holds a manager's Docker
// API, which already controls the whole Swarm (accepted risk, docs/security.md). In Pulumi state the whole
// stack document is a secret. `pulumi up --replace` of the GeneratedSecret rotates it; both services roll
// together. The admin password reaches the server as a Swarm secret (--admin-password-file).
//
// No registry serves Portainer's images here: the sandbox runs Portainer built from its upstream sources
// (scripts/portainer-build.sh, images/portainer, images/portainer-agent), with the same layout as upstream's
// images so this spec runs either. tests/real/portainer.sh deploys this stack on a private Swarm behind the
// edge; tests/unit/edge.test.ts checks it with mocks.
import * as pulumi from "@pulumi/pulumi";
import type { VolumePlacement } from "./persistent-storage";
import { edgeHosts } from "./edge";
import { GeneratedSecret } from "./dynamic-providers/generated-secret";
import { serviceDeploy, STDOUT_LOGGING, traefikRouteLabels } from "./service-conventions";
import { swarmObject } from "./swarm-objects";
import { ComposeFile, ManagerConnections, managerConnections, SwarmStack } from "./swarm-stack";
import { PortainerEnvironment } from "./dynamic-providers/portainer-environment";

export const CONTROL_PLANE_STACK = "portainer";
export const CONTROL_PLANE_AGENT_STACK = "portainer-agent";
const PORTAINER_PORT = 9000;
const AGENT_PORT = 9001;

export interface ControlPlaneComposeOptions {
  environment: string;
  images: { server: string; agent: string };
  namespace: string;
  networkName: string;
  overlayEncrypted: boolean;
  agentSecret: string;
  adminPasswordSecret: string;
}

/**
 * The agents' overlay network, created by the agent stack and joined by the server's. Not named like the
 * service (`portainer-agent_agent`): with a network of the service's own name, tasks.portainer-agent_agent did
 * not resolve and every agent stopped at start (tests/real/portainer.sh saw it).
 */
const AGENT_NETWORK = `${CONTROL_PLANE_AGENT_STACK}_agents`;

const AGENT_ADDR = `tasks.${CONTROL_PLANE_AGENT_STACK}_agent`;

/** The environment's address as the server reaches the agents (every agent task, by Swarm DNS). */
export function agentUrl(): string {
  return `tcp://${AGENT_ADDR}:${AGENT_PORT}`;
}

/** The two stacks' documents: `agent` deploys first, `server` after it has converged. */
export function controlPlaneCompose(o: ControlPlaneComposeOptions): { agent: ComposeFile; server: ComposeFile } {
  const agentAddr = AGENT_ADDR;
  const server: ComposeFile = {
    version: "3.9",
    services: {
      portainer: {
        image: o.images.server,
        // No -H: an environment given there is created only at the server's first start, which often comes
        // before the agents resolve (it then exits, and every restart skips it). The environment is the
        // PortainerEnvironment resource's, created through the API once server and agents answer.
        command: ["--admin-password-file", "/run/secrets/portainer-admin-password"],
        environment: { AGENT_SECRET: o.agentSecret },
        // Owned by uid 10001: the sandbox's build runs unprivileged as that user (images/portainer); upstream's
        // image runs as root, which reads it either way.
        secrets: [{ source: "admin_password", target: "portainer-admin-password", uid: "10001", gid: "10001", mode: 0o400 }],
        volumes: [{ type: "volume", source: "data", target: "/data" }],
        networks: ["agent", "platform"],
        // The image has no shell or HTTP client; the binary answering is what Swarm can check. Traefik
        // probes the HTTP API (loadbalancer.healthcheck below) and only routes to a task that answers.
        healthcheck: { test: ["CMD", "/portainer", "--version"], interval: "10s", timeout: "5s", retries: 3, start_period: "30s" },
        logging: STDOUT_LOGGING,
        deploy: serviceDeploy({
          constraints: ["node.role == manager"],
          limits: { cpus: 1, memory: "512M" },
          reservations: { cpus: 0.1, memory: "128M" },
          order: "stop-first",
          labels: {
            ...traefikRouteLabels({ name: "portainer", host: edgeHosts(o.namespace).portainer, port: PORTAINER_PORT }),
            "traefik.http.services.portainer.loadbalancer.healthcheck.path": "/api/system/status",
            "traefik.http.services.portainer.loadbalancer.healthcheck.interval": "10s",
            "mbio.component": "control-plane",
          },
        }),
      },
    },
    networks: {
      agent: { external: true, name: AGENT_NETWORK },
      platform: { external: true, name: o.networkName },
    },
    volumes: { data: { labels: { "mbio.component": "control-plane", "mbio.backup": "true" } } },
    secrets: { admin_password: { external: true, name: o.adminPasswordSecret } },
  };
  const agent: ComposeFile = {
    version: "3.9",
    services: {
      agent: {
        image: o.images.agent,
        environment: { AGENT_CLUSTER_ADDR: agentAddr, AGENT_SECRET: o.agentSecret },
        volumes: [
          { type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" },
          { type: "bind", source: "/var/lib/docker/volumes", target: "/var/lib/docker/volumes" },
        ],
        networks: ["agents"],
        // No healthcheck, by the policy's one exception (mbio.no-healthcheck): Swarm keeps a task out of its DNS
        // until its healthcheck passes, and the agent looks up tasks.portainer-agent_agent (itself included)
        // at start and exits when that finds nothing, so with any healthcheck no agent ever started (the
        // sandbox saw 0/2 for 300 s). The image has no shell or probe tool either; the server checks the agents.
        healthcheck: { disable: true },
        logging: STDOUT_LOGGING,
        deploy: serviceDeploy({
          mode: "global",
          constraints: [`node.labels.mbio.environment == ${o.environment}`],
          limits: { cpus: 0.5, memory: "128M" },
          reservations: { cpus: 0.05, memory: "32M" },
          labels: {
            "mbio.component": "control-plane",
            "mbio.no-healthcheck": "resolves tasks.portainer-agent_agent at start: Swarm hides unhealthy tasks from DNS; no shell in the image",
          },
        }),
      },
    },
    networks: {
      agents: { driver: "overlay", attachable: false, ...(o.overlayEncrypted ? { driver_opts: { encrypted: "true" } } : {}) },
    },
  };
  return { agent, server };
}

export interface ControlPlaneArgs {
  /** Where its named volumes live (PersistentStorage's placement; storage.driver hetzner-volumes). */
  volumes?: VolumePlacement;
  environment: string;
  namespace: string;
  images: Record<string, string>;
  networkName: string;
  overlayEncrypted: boolean;
  endpointMode?: "vip" | "dnsrr";
  managerConnection: ManagerConnections;
  adminPassword: pulumi.Input<string>;
}

export class ControlPlane extends pulumi.ComponentResource {
  readonly url: string;
  readonly stack: SwarmStack;
  readonly agentStack: SwarmStack;
  readonly environment: PortainerEnvironment;

  constructor(name: string, args: ControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mbio-cloud:platform:ControlPlane", name, {}, opts);
    const server = args.images.portainer;
    const agent = args.images["portainer-agent"];
    if (!server || !agent) throw new Error("images.portainer and images.portainer-agent are required when controlPlane.enabled is true");
    this.url = `https://${edgeHosts(args.namespace).portainer}/`;
    const password = pulumi.secret(args.adminPassword);
    const adminSecret = swarmObject(this, `${name}-secret-admin-password`, {
      connection: args.managerConnection,
      kind: "secret",
      prefix: "portainer-admin-password",
      content: password,
      label: "mbio.component=control-plane",
      environment: args.environment,
    });
    const agentSecret = new GeneratedSecret(`${name}-agent-secret`, {}, { parent: this });
    const compose = pulumi.all([agentSecret.value, adminSecret.name]).apply(([agentSecretValue, secretName]) =>
      controlPlaneCompose({
        environment: args.environment,
        images: { server, agent },
        namespace: args.namespace,
        networkName: args.networkName,
        overlayEncrypted: args.overlayEncrypted,
        agentSecret: agentSecretValue,
        adminPasswordSecret: secretName,
      }),
    );
    this.agentStack = new SwarmStack(
      `${name}-agent-stack`,
      { connection: args.managerConnection, stackName: CONTROL_PLANE_AGENT_STACK, compose: pulumi.secret(compose.apply((c) => c.agent)), convergeTimeoutSeconds: 300, endpointMode: args.endpointMode },
      { parent: this },
    );
    this.stack = new SwarmStack(
      `${name}-stack`,
      { connection: args.managerConnection, volumes: args.volumes, stackName: CONTROL_PLANE_STACK, compose: pulumi.secret(compose.apply((c) => c.server)), convergeTimeoutSeconds: 300, endpointMode: args.endpointMode },
      { parent: this, dependsOn: [adminSecret.resource, this.agentStack] },
    );
    // The Swarm as Portainer's environment, through the API once server and agents run (not -H: see the top).
    this.environment = new PortainerEnvironment(
      `${name}-environment`,
      {
        connections: managerConnections(args.managerConnection),
        service: `${CONTROL_PLANE_STACK}_portainer`,
        network: args.networkName,
        environmentName: args.environment,
        agentUrl: agentUrl(),
        adminPassword: password,
        timeout: 300,
      },
      { parent: this, dependsOn: [this.stack] },
    );
    this.registerOutputs({ url: this.url, stackDigest: this.stack.digest, environmentId: this.environment.environmentId });
  }
}
