// The platform's demo service (components/demo-service.ts: healthcheck, start-first, rollback) deployed one of
// two ways on a lab Swarm, for bench/service-vs-stack.sh:
//   svc:impl = stack    a SwarmStack of demoCompose(), as the platform deploys it (docker stack deploy + read)
//   svc:impl = service  a docker.Service of @pulumi/docker with the same spec, through the Docker provider of
//                       components/swarm-docker.ts (ssh:// with the pinned host key, ProxyCommand failover)
// Both run the same Swarm service, `<svc:name>_whoami`, so the script's hand changes and checks are the same.
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { DEMO_SERVICE, demoCompose } from "../../components/demo-service";
import { swarmDockerProvider } from "../../components/swarm-docker";
import { SwarmStack, withEndpointMode, type ComposeFile } from "../../components/swarm-stack";

const cfg = new pulumi.Config("svc");
const impl = cfg.require("impl");
if (impl !== "stack" && impl !== "service") throw new Error(`svc:impl is "${impl}"; allowed: stack, service`);
const connection = { host: cfg.require("host"), port: cfg.requireNumber("port"), user: "root", privateKey: cfg.requireSecret("sshPrivateKey"), hostKey: cfg.require("hostKey") };
const name = cfg.require("name");
const networkName = cfg.require("network");
const compose = withEndpointMode(
  demoCompose({ environment: "svc", image: cfg.require("image"), namespace: "svc.test", networkName, replicas: 2, release: cfg.require("release") }),
  "dnsrr",
);

/**
 * A Compose duration ("5s", "60s") as the Docker provider reads it back ("5s", "1m"): written otherwise, every
 * preview shows it changed (restartPolicy.window "1m" => "60s", measured by the first run of the bench).
 */
function duration(v: unknown): string {
  const m = /^(\d+)s$/.exec(String(v));
  if (!m) return String(v);
  const s = Number(m[1]);
  return s >= 60 && s % 60 === 0 ? `${s / 60}m` : s > 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`;
}
/** Compose's "64M" as bytes. */
function bytes(v: string): number {
  const m = /^(\d+)([KMG]?)$/.exec(v);
  if (!m) throw new Error(`memory "${v}": expected digits with K, M or G`);
  return Number(m[1]) * 1024 ** " KMG".indexOf(m[2] || " ");
}

/** The same service as a docker.Service: every field demoCompose() sets, mapped one to one. */
function dockerServiceArgs(doc: ComposeFile, stack: string): docker.ServiceArgs {
  const svc = doc.services[DEMO_SERVICE] as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const d = svc.deploy;
  const hc = svc.healthcheck;
  const rolling = (c: Record<string, unknown>) => ({ parallelism: Number(c.parallelism), delay: c.delay === undefined ? undefined : duration(c.delay), order: String(c.order), monitor: duration(c.monitor) });
  return {
    name: `${stack}_${DEMO_SERVICE}`,
    labels: Object.entries(d.labels as Record<string, string>).map(([label, value]) => ({ label, value })),
    mode: { replicated: { replicas: d.replicas } },
    endpointSpec: { mode: d.endpoint_mode },
    updateConfig: { ...rolling(d.update_config), failureAction: d.update_config.failure_action },
    rollbackConfig: rolling(d.rollback_config),
    // What makes `pulumi up` wait for the rollout (the provider reads UpdateStatus; a rollback fails the up).
    convergeConfig: { delay: "5s", timeout: "3m" },
    taskSpec: {
      containerSpec: {
        image: svc.image,
        env: svc.environment,
        healthcheck: { tests: hc.test, interval: duration(hc.interval), timeout: duration(hc.timeout), retries: hc.retries, startPeriod: duration(hc.start_period) },
        stopGracePeriod: duration(svc.stop_grace_period),
      },
      logDriver: { name: svc.logging.driver },
      // By ID: the provider reads the ID back (a name is drift on every refresh) and deprecates `name`.
      networksAdvanceds: [{ id: cfg.require("networkId") }],
      placement: { constraints: d.placement.constraints },
      resources: {
        limits: { nanoCpus: Math.round(Number(d.resources.limits.cpus) * 1e9), memoryBytes: bytes(d.resources.limits.memory) },
        reservation: { nanoCpus: Math.round(Number(d.resources.reservations.cpus) * 1e9), memoryBytes: bytes(d.resources.reservations.memory) },
      },
      restartPolicy: { condition: d.restart_policy.condition, delay: duration(d.restart_policy.delay), window: duration(d.restart_policy.window) },
    },
  };
}

let serviceName: pulumi.Output<string>;
if (impl === "stack") {
  const stack = new SwarmStack("svc-demo", { connection: [connection], stackName: name, compose, convergeTimeoutSeconds: 180 });
  serviceName = stack.digest.apply(() => `${name}_${DEMO_SERVICE}`);
} else {
  const provider = swarmDockerProvider("svc", [connection]);
  const service = new docker.Service("svc-demo", dockerServiceArgs(compose, name), { provider });
  serviceName = service.name;
}
export const service = serviceName;
