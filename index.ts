// Entry point: validate the stack's config (nothing is created when it is invalid), build the
// environment, export what operators and later stacks need.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, loadConfig, optionalSecret, secret } from "./components/config/load";
import { Environment } from "./components/environment";
import { ADMIN_TOKEN_ENV } from "./components/config/gitlab";
import { HCLOUD_ENDPOINT, hcloudProvider } from "./components/providers";
import { verifyImageSignatures } from "./components/image-signatures";

function load() {
  try {
    return loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      // A plain message, no stack trace: the operator needs the list of problems, not our call stack.
      console.error(e.message);
      throw new Error(`invalid configuration in ${e.stackFile} (${e.problems.length} problem(s), listed above)`, { cause: e });
    }
    throw e;
  }
}

const config = load();
// Before anything exists: every platform image under imageSignatures.repository must carry a valid cosign
// signature, or the run stops naming the image (docs/security.md, "Image signatures").
const verified = verifyImageSignatures(config, pulumi.runtime.allConfig()["mbio-cloud:registryPassword"]);
if (verified.length > 0) pulumi.log.info(`image signatures verified (cosign, key mbio-cloud:imageSignatures.publicKey): ${verified.map((i) => i.role).join(", ")}`);
const hcloudToken = new pulumi.Config("hcloud").getSecret("token") ?? (process.env.HCLOUD_TOKEN ? pulumi.secret(process.env.HCLOUD_TOKEN) : undefined);
// Another Hetzner Cloud API than Hetzner's (the emulator, docs/sandbox.md); checked before anything is created.
const hcloudEndpoint = new pulumi.Config("hcloud").get("endpoint");
if (hcloudEndpoint !== undefined && !HCLOUD_ENDPOINT.test(hcloudEndpoint)) {
  throw new Error(`invalid configuration in Pulumi.${pulumi.getStack()}.yaml: hcloud:endpoint must be the http(s) URL of a Hetzner Cloud API, e.g. https://api.hetzner.cloud/v1 (got ${JSON.stringify(hcloudEndpoint)})`);
}
// Hetzner stacks get one explicit hcloud provider at the pinned plugin version; every hcloud resource inherits it.
const providers = config.machineSource === "hetzner" ? [hcloudProvider(`${config.environment}-hcloud`, hcloudToken, hcloudEndpoint)] : [];
const environment = new Environment(config.environment, {
  config,
  hcloudEndpoint,
  secrets: {
    sshPrivateKey: secret("sshPrivateKey"),
    resticPassword: optionalSecret("resticPassword"),
    raftResticPassword: optionalSecret("raftResticPassword"),
    backupS3AccessKeyId: optionalSecret("backupS3AccessKeyId"),
    backupS3SecretAccessKey: optionalSecret("backupS3SecretAccessKey"),
    registryPassword: optionalSecret("registryPassword"),
    hcloudToken,
    influxdbAdminPassword: optionalSecret("influxdbAdminPassword"),
    influxdbWriterPassword: optionalSecret("influxdbWriterPassword"),
    influxdbReaderPassword: optionalSecret("influxdbReaderPassword"),
    grafanaAdminPassword: optionalSecret("grafanaAdminPassword"),
    gitlabToken: optionalSecret("gitlabToken") ?? (process.env[ADMIN_TOKEN_ENV] ? pulumi.secret(process.env[ADMIN_TOKEN_ENV]) : undefined),
    adminPassword: optionalSecret("adminPassword"),
    cloudflareApiToken: optionalSecret("cloudflareApiToken"),
  },
}, { providers });

export const environmentName = config.environment;
export const dnsNamespace = environment.dnsNamespace;
export const nodes = environment.nodes;
export const managerSshAddress = environment.cluster.managerSshAddress;
export const dockerHost = environment.cluster.dockerHost;
export const sshKnownHosts = environment.cluster.sshKnownHosts;
export const networkName = environment.cluster.networkName;
export const grafanaUrl = environment.monitoring.grafanaUrl;
export const gitlabRunnerId = environment.runner.runnerId;
export const gitlabRunnerTags = environment.runner.tags;
export const edgeDashboardUrl = environment.edge.dashboardUrl;
export const edgeMetricsUrl = environment.edge.metricsUrl;
// Said plainly rather than left undefined (an undefined output is dropped with a warning).
export const portainerUrl = environment.controlPlane?.url ?? "not deployed (controlPlane.enabled is false)";
export const demoUrl = environment.demo?.url ?? "not deployed (demo.enabled is false)";
