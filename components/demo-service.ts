// DemoService: the example service every operator copies — a static page and /health from images/demo,
// routed by the edge at https://whoami.<namespace>. Stack `demo`, service `whoami` (Swarm name demo_whoami).
//
// What makes its updates lossless (bench/edge-rollout.sh measures it):
//   - start-first: the new task is healthy (and so in Traefik's pool) before the old one is told to stop;
//   - Traefik drops a task once Swarm marks it for shutdown (it lists tasks with desired-state running,
//     polled every 5 s); the image keeps serving for DRAIN_SECONDS after SIGTERM, longer than one poll;
//   - retry@swarm retries on another task when a connection fails anyway.
import * as pulumi from "@pulumi/pulumi";
import { edgeHosts } from "./edge";
import { RETRY_MIDDLEWARE, serviceDeploy, STDOUT_LOGGING, traefikRouteLabels } from "./service-conventions";
import { ComposeFile, ManagerConnections, SwarmStack } from "./swarm-stack";

export const DEMO_STACK = "demo";
export const DEMO_SERVICE = "whoami";
const DEMO_PORT = 8080;

export interface DemoComposeOptions {
  environment: string;
  image: string;
  namespace: string;
  networkName: string;
  replicas: number;
  /** Shown on the page; a new value rolls the service (the benchmark's "new version"). */
  release: string;
}

export function demoCompose(o: DemoComposeOptions): ComposeFile {
  return {
    version: "3.9",
    services: {
      [DEMO_SERVICE]: {
        image: o.image,
        environment: { DEMO_RELEASE: o.release, DEMO_PORT: String(DEMO_PORT), DRAIN_SECONDS: "12" },
        networks: ["platform"],
        healthcheck: { test: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${DEMO_PORT}/health`], interval: "5s", timeout: "3s", retries: 3, start_period: "5s" },
        stop_grace_period: "30s",
        logging: STDOUT_LOGGING,
        deploy: serviceDeploy({
          replicas: o.replicas,
          constraints: [`node.labels.mbio.environment == ${o.environment}`],
          limits: { cpus: 0.25, memory: "64M" },
          reservations: { cpus: 0.01, memory: "8M" },
          monitorSeconds: 10,
          labels: {
            ...traefikRouteLabels({ name: DEMO_SERVICE, host: edgeHosts(o.namespace).demo, port: DEMO_PORT, middlewares: [RETRY_MIDDLEWARE] }),
            "mbio.component": "demo",
          },
        }),
      },
    },
    networks: { platform: { external: true, name: o.networkName } },
  };
}

export interface DemoServiceArgs {
  environment: string;
  namespace: string;
  image: string;
  replicas: number;
  release?: string;
  networkName: string;
  endpointMode?: "vip" | "dnsrr";
  managerConnection: ManagerConnections;
}

export class DemoService extends pulumi.ComponentResource {
  readonly url: string;
  readonly stack: SwarmStack;

  constructor(name: string, args: DemoServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mbio-cloud:platform:DemoService", name, {}, opts);
    this.url = `https://${edgeHosts(args.namespace).demo}/`;
    const compose = demoCompose({ environment: args.environment, image: args.image, namespace: args.namespace, networkName: args.networkName, replicas: args.replicas, release: args.release ?? "1" });
    this.stack = new SwarmStack(`${name}-stack`, { connection: args.managerConnection, stackName: DEMO_STACK, compose, convergeTimeoutSeconds: 180, endpointMode: args.endpointMode }, { parent: this });
    this.registerOutputs({ url: this.url, stackDigest: this.stack.digest });
  }
}
