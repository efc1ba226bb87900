// GitlabRunner: the environment's own GitLab runner.
//
//   registration  GitLab REST API (dynamic provider, components/dynamic-providers/gitlab-runner.ts): a group or project
//                 runner with the environment's tags; its glrt- token is a secret output
//   stack `gitlab-runner` (SwarmStack on a manager)
//     runner      gitlab/gitlab-runner (pinned), docker executor on the node's engine (docker socket),
//                 config.toml as a Swarm secret named by its content (it holds the token), a named volume
//                 for /etc/gitlab-runner state (.runner_system_id survives restarts and updates),
//                 placed on CI nodes only (node labels mbio.environment and mbio.role=ci): jobs run code
//                 from any branch, and no platform service or secret is ever placed on a CI node
//
// Jobs get no host Docker socket unless gitlab.docker.socketInJobs says so (the socket is root on the CI
// node); image builds use a per-job Docker-in-Docker service (docs/ci.md).
//
// Jobs choose the environment with `tags: [<environment>]` (docs/ci.md); production's runner takes only
// protected branches and tags (accessLevel ref_protected) unless its config says otherwise.
import * as pulumi from "@pulumi/pulumi";
import type { VolumePlacement } from "./persistent-storage";
import type { GitlabConfig } from "./config/gitlab";
import { RunnerInputs, RunnerOutputs, runnerProvider } from "./dynamic-providers/gitlab-runner";
import { serviceDeploy, STDOUT_LOGGING } from "./service-conventions";
import { ComposeFile, ManagerConnections, SwarmStack } from "./swarm-stack";
import { secretObjectName, swarmNamedObject } from "./swarm-objects";

export const RUNNER_STACK = "gitlab-runner";
const METRICS_PORT = 9252;
const CONFIG_DIR = "/etc/gitlab-runner";

export interface GitlabRunnerArgs {
  /** Where its named volumes live (PersistentStorage's placement; storage.driver hetzner-volumes). */
  volumes?: VolumePlacement;
  environment: string;
  gitlab: GitlabConfig;
  images: Record<string, string>;
  managerConnection: ManagerConnections;
  /** GitLab access token that creates the runner (glpat-…, scope create_runner). */
  adminToken: pulumi.Input<string>;
  endpointMode?: "vip" | "dnsrr";
}

/** The registration's settable attributes from config: what the dynamic resource is created with. */
export function runnerRegistration(environment: string, g: GitlabConfig): Omit<RunnerInputs, "adminToken"> {
  if (!g.url) throw new Error("gitlab.url is required when gitlab.enabled is true");
  return {
    url: g.url.replace(/\/+$/, ""),
    runnerType: g.groupId !== undefined ? "group_type" : "project_type",
    ...(g.groupId !== undefined ? { groupId: g.groupId } : { projectId: g.projectId }),
    description: `mbio-cloud ${environment}`,
    // Sorted: GitLab returns tags sorted, so refresh compares equal.
    tagList: [...(g.tags ?? [environment])].sort(),
    runUntagged: false,
    locked: true,
    accessLevel: g.accessLevel ?? (environment === "production" ? "ref_protected" : "not_protected"),
    maximumTimeout: g.maximumTimeout,
    paused: false,
  };
}

const tomlString = (s: string) => JSON.stringify(s);

/** config.toml of the runner service: one docker-executor runner with the registration's token. */
export function runnerConfigToml(args: { environment: string; gitlab: GitlabConfig; url: string; runnerId: number; token: string; defaultImage: string }): string {
  const g = args.gitlab;
  const volumes = ["/cache", ...(g.docker.socketInJobs ? ["/var/run/docker.sock:/var/run/docker.sock"] : [])];
  return [
    `concurrent = ${g.concurrency}`,
    "check_interval = 0",
    "shutdown_timeout = 0",
    'log_format = "json"',
    `listen_address = ":${METRICS_PORT}"`,
    "",
    "[session_server]",
    "  session_timeout = 1800",
    "",
    "[[runners]]",
    `  name = ${tomlString(`mbio-cloud-${args.environment}`)}`,
    `  url = ${tomlString(args.url)}`,
    `  id = ${args.runnerId}`,
    `  token = ${tomlString(args.token)}`,
    '  executor = "docker"',
    "  [runners.docker]",
    `    image = ${tomlString(args.defaultImage)}`,
    `    privileged = ${g.docker.privileged}`,
    "    tls_verify = false",
    "    disable_cache = false",
    `    volumes = [${volumes.map(tomlString).join(", ")}]`,
    '    pull_policy = ["if-not-present"]',
    "    shm_size = 0",
    "",
  ].join("\n");
}

/** The Compose document of the runner stack; exported for tests and for reading. */
export function runnerCompose(args: { image: string; secretName: string; environment: string }): ComposeFile {
  return {
    version: "3.9",
    services: {
      runner: {
        image: args.image,
        // --working-directory keeps builds out of the state volume; the config comes from the secret.
        command: ["run", "--user=gitlab-runner", "--working-directory=/home/gitlab-runner", `--config=/run/secrets/config.toml`],
        secrets: [{ source: "config_toml", target: "config.toml", mode: 0o400 }],
        volumes: [
          { type: "volume", source: "state", target: CONFIG_DIR },
          { type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" },
        ],
        healthcheck: { test: ["CMD", "curl", "-fsS", "-o", "/dev/null", `http://127.0.0.1:${METRICS_PORT}/metrics`], interval: "15s", timeout: "5s", retries: 3, start_period: "30s" },
        // A stopping runner gets time to finish its jobs (SIGQUIT: graceful shutdown).
        stop_signal: "SIGQUIT",
        stop_grace_period: "5m",
        logging: STDOUT_LOGGING,
        deploy: serviceDeploy({
          limits: { cpus: 1, memory: "512M" },
          reservations: { cpus: 0.1, memory: "64M" },
          // By the platform's node labels (swarm-cluster.ts): this environment's CI nodes, nowhere else.
          constraints: [`node.labels.mbio.environment == ${args.environment}`],
          onCiNodes: true,
          labels: { "mbio.component": "gitlab-runner" },
        }),
      },
    },
    volumes: { state: { labels: { "mbio.component": "gitlab-runner" } } },
    secrets: { config_toml: { external: true, name: args.secretName } },
  };
}

export class GitlabRunner extends pulumi.ComponentResource {
  readonly enabled: boolean;
  /** GitLab's id of the runner; undefined when disabled. */
  readonly runnerId?: pulumi.Output<number>;
  /** Tags jobs use to run on this environment. */
  readonly tags: string[];
  readonly stackDigest?: pulumi.Output<string>;

  constructor(name: string, args: GitlabRunnerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mbio-cloud:platform:GitlabRunner", name, {}, opts);
    const g = args.gitlab;
    this.enabled = g.enabled;
    this.tags = g.enabled ? runnerRegistration(args.environment, g).tagList : [];
    if (!g.enabled) {
      this.registerOutputs({ enabled: false });
      return;
    }
    const image = args.images["gitlab-runner"];
    if (!image) throw new Error("images.gitlab-runner is required when gitlab.enabled is true (the pinned gitlab/gitlab-runner image)");

    const registration = new RunnerRegistration(`${name}-registration`, { ...runnerRegistration(args.environment, g), adminToken: pulumi.secret(args.adminToken) }, { parent: this, additionalSecretOutputs: ["token", "adminToken"] });
    this.runnerId = registration.runnerId;

    const toml = pulumi.secret(
      pulumi.all([registration.runnerId, registration.token, registration.url]).apply(([runnerId, token, url]) =>
        runnerConfigToml({ environment: args.environment, gitlab: g, url, runnerId, token, defaultImage: g.docker.defaultImage ?? image }),
      ),
    );
    const secretName = secretObjectName("gitlab-runner-config", args.managerConnection, toml);
    const secret = swarmNamedObject(this, `${name}-config-secret`, { connection: args.managerConnection, kind: "secret", name: secretName, content: toml, label: "mbio.component=gitlab-runner", environment: args.environment });
    const compose = secretName.apply((s) => runnerCompose({ image, secretName: s, environment: args.environment }));
    const stack = new SwarmStack(`${name}-stack`, { connection: args.managerConnection, volumes: args.volumes, stackName: RUNNER_STACK, compose, convergeTimeoutSeconds: 300, endpointMode: args.endpointMode }, { parent: this, dependsOn: [secret] });
    this.stackDigest = stack.digest;
    this.registerOutputs({ enabled: true, runnerId: this.runnerId, tags: this.tags, stackDigest: this.stackDigest });
  }
}

/** The runner as GitLab knows it; created, read, updated and deleted over the REST API. */
export class RunnerRegistration extends pulumi.dynamic.Resource {
  declare readonly runnerId: pulumi.Output<number>;
  declare readonly token: pulumi.Output<string>;
  declare readonly url: pulumi.Output<string>;

  constructor(name: string, args: { [K in keyof RunnerInputs]: pulumi.Input<RunnerInputs[K]> }, opts?: pulumi.CustomResourceOptions) {
    super(runnerProvider, name, { ...args, runnerId: undefined, token: undefined, tokenExpiresAt: undefined }, opts, "gitlab", "RunnerRegistration");
  }
}

export type { RunnerOutputs };
