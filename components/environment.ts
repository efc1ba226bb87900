// The one composition of the platform. Every stack (development, staging, production, local) builds
// exactly this, from its validated config, so the environments cannot drift apart in shape.
import * as pulumi from "@pulumi/pulumi";
import { ValidatedConfig } from "./config/load";
import { GitlabRunner } from "./gitlab-runner";
import { ControlPlane } from "./control-plane";
import { DemoService } from "./demo-service";
import { EdgeDns } from "./dns";
import { Edge } from "./edge";
import { EdgeLoadBalancer } from "./edge-load-balancer";
import { NodeInfo } from "./machines/types";
import { S3Backup } from "./s3-backup";
import { PersistentStorage, StatefulVolumeName, volumePlacement } from "./persistent-storage";
import { SwarmCluster } from "./swarm-cluster";
import { INFLUX_USERS, TigMonitoring } from "./tig-monitoring";

export interface EnvironmentArgs {
  config: ValidatedConfig;
  /** hcloud:endpoint: another Hetzner Cloud API than Hetzner's (the emulator). */
  hcloudEndpoint?: string;
  secrets: {
    sshPrivateKey: pulumi.Input<string>;
    /** Needed when backup.enabled. */
    resticPassword?: pulumi.Input<string>;
    raftResticPassword?: pulumi.Input<string>;
    backupS3AccessKeyId?: pulumi.Input<string>;
    backupS3SecretAccessKey?: pulumi.Input<string>;
    /** Needed when config.registry is set. */
    registryPassword?: pulumi.Input<string>;
    /** Needed for machineSource hetzner (servers' power state) and storage.driver hetzner-csi (HCLOUD_TOKEN or hcloud:token). */
    hcloudToken?: pulumi.Input<string>;
    /** Needed when monitoring.enabled. */
    influxdbAdminPassword?: pulumi.Input<string>;
    influxdbWriterPassword?: pulumi.Input<string>;
    influxdbReaderPassword?: pulumi.Input<string>;
    grafanaAdminPassword?: pulumi.Input<string>;
    /** Needed when gitlab.enabled: creates the runner (mbio-cloud:gitlabToken or GITLAB_TOKEN). */
    gitlabToken?: pulumi.Input<string>;
    /** Edge dashboard and Portainer admin password (validated present). */
    adminPassword?: pulumi.Input<string>;
    /** Needed when dns.provider is cloudflare or edge.acme.challenge is dns-cloudflare. */
    cloudflareApiToken?: pulumi.Input<string>;
  };
}

/** DNS namespace: production owns the bare domain, every other environment a sub-domain named after it. */
export function dnsNamespace(environment: string, domain: string): string {
  return environment === "production" ? domain : `${environment}.${domain}`;
}

export class Environment extends pulumi.ComponentResource {
  readonly cluster: SwarmCluster;
  readonly storage: PersistentStorage;
  readonly backup: S3Backup;
  readonly monitoring: TigMonitoring;
  readonly runner: GitlabRunner;
  readonly nodes: pulumi.Output<NodeInfo[]>;
  readonly dnsNamespace: string;
  readonly edge: Edge;
  readonly dns: EdgeDns;
  readonly controlPlane?: ControlPlane;
  readonly demo?: DemoService;

  constructor(name: string, args: EnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mbio-cloud:platform:Environment", name, {}, opts);
    const cfg = args.config;
    const env = cfg.environment;
    this.dnsNamespace = dnsNamespace(env, cfg.domain);
    this.cluster = new SwarmCluster(`${name}-swarm`, { config: cfg, sshPrivateKey: args.secrets.sshPrivateKey, registryPassword: args.secrets.registryPassword, hcloudToken: args.secrets.hcloudToken, hcloudEndpoint: args.hcloudEndpoint }, { parent: this });
    this.nodes = this.cluster.nodes;

    // The stateful named volumes of the components this stack runs (hetzner-volumes makes a Hetzner volume for each).
    const statefulVolumes: StatefulVolumeName[] = [
      "edge_acme",
      ...(cfg.monitoring.enabled ? (["monitoring_influxdb", "monitoring_grafana"] as const) : []),
      ...(cfg.controlPlane.enabled ? (["portainer_data"] as const) : []),
      ...(cfg.gitlab.enabled ? (["gitlab-runner_state"] as const) : []),
    ];
    const storageNodes = this.cluster.machines.map((m) => ({ name: m.name, role: m.role, connection: m.connection, serverId: m.serverId }));
    this.storage = new PersistentStorage(
      `${name}-storage`,
      {
        environment: env,
        storage: cfg.storage,
        // Not on CI nodes: the Hetzner CSI plugin holds the project's Hetzner token (docker plugin inspect); the
        // runner's Hetzner volume (hetzner-volumes) is attached through the API and mounted over SSH, no token there.
        nodes: cfg.storage.driver === "hetzner-volumes" ? storageNodes : storageNodes.filter((m) => m.role !== "ci"),
        managerConnection: this.cluster.managerConnection,
        hcloudToken: args.secrets.hcloudToken,
        dependsOn: this.cluster.ready,
        location: cfg.location,
        production: env === "production",
        statefulVolumes,
      },
      { parent: this },
    );
    const volumes = volumePlacement(cfg.storage, storageNodes);

    // Validation guarantees the secrets exist when backups are enabled; S3Backup creates nothing otherwise.
    const need = (v: pulumi.Input<string> | undefined) => v ?? pulumi.secret("");
    // Same for monitoring: validation requires its passwords when monitoring.enabled.
    this.monitoring = new TigMonitoring(
      `${name}-monitoring`,
      {
        environment: env,
        dnsNamespace: this.dnsNamespace,
        monitoring: cfg.monitoring,
        images: cfg.images,
        managerConnection: this.cluster.managerConnections,
        networkName: this.cluster.networkName,
        backupSchedule: cfg.backup.schedule,
        endpointMode: cfg.swarm.endpointMode,
        volumes,
        secrets: {
          influxdbAdminPassword: need(args.secrets.influxdbAdminPassword),
          influxdbWriterPassword: need(args.secrets.influxdbWriterPassword),
          influxdbReaderPassword: need(args.secrets.influxdbReaderPassword),
          grafanaAdminPassword: need(args.secrets.grafanaAdminPassword),
        },
      },
      { parent: this, dependsOn: [...this.cluster.ready, this.storage] },
    );
    const monitoringDb = cfg.monitoring.influxdb;
    this.backup = new S3Backup(
      `${name}-backup`,
      {
        environment: env,
        backup: cfg.backup,
        images: cfg.images,
        managerConnection: this.cluster.managerConnections,
        networkName: this.cluster.networkName,
        endpointMode: cfg.swarm.endpointMode,
        resticPassword: need(args.secrets.resticPassword),
        raftResticPassword: need(args.secrets.raftResticPassword),
        s3AccessKeyId: need(args.secrets.backupS3AccessKeyId),
        s3SecretAccessKey: need(args.secrets.backupS3SecretAccessKey),
        // The agents write their metrics to the monitoring stack's InfluxDB (dashboards, stale-backup alert).
        metrics: this.monitoring.enabled && !cfg.backup.influx
          ? { url: this.monitoring.influxUrl, database: monitoringDb.database, retentionPolicy: monitoringDb.retentionPolicy.name, user: INFLUX_USERS.writer, password: need(args.secrets.influxdbWriterPassword) }
          : undefined,
      },
      { parent: this, dependsOn: [...this.cluster.ready, this.storage] },
    );
    this.runner = new GitlabRunner(
      `${name}-gitlab-runner`,
      {
        environment: env,
        gitlab: cfg.gitlab,
        images: cfg.images,
        managerConnection: this.cluster.managerConnections,
        adminToken: need(args.secrets.gitlabToken),
        endpointMode: cfg.swarm.endpointMode,
        volumes,
      },
      { parent: this, dependsOn: [...this.cluster.ready, this.storage] },
    );

    // Edge, DNS, control plane and the demo service (docs/edge.md).
    const adminPassword = need(args.secrets.adminPassword);
    this.edge = new Edge(
      `${name}-edge`,
      {
        environment: env,
        namespace: this.dnsNamespace,
        edge: cfg.edge,
        images: cfg.images,
        publishMode: cfg.swarm.publishMode,
        endpointMode: cfg.swarm.endpointMode,
        managerConnection: this.cluster.managerConnections,
        networkName: this.cluster.networkName,
        adminPassword,
        cloudflareApiToken: args.secrets.cloudflareApiToken,
        volumes,
      },
      { parent: this, dependsOn: [...this.cluster.ready, this.storage] },
    );
    const lb = cfg.dns.target === "load-balancer" ? new EdgeLoadBalancer(`${name}-edge-lb`, { environment: env, location: cfg.location ?? "" }, { parent: this }) : undefined;
    this.dns = new EdgeDns(
      `${name}-dns`,
      {
        environment: env,
        namespace: this.dnsNamespace,
        dns: cfg.dns,
        targets: lb ? [{ id: "load-balancer", address: lb.ipv4 }] : this.cluster.machines.filter((m) => m.role === "manager").map((m) => ({ id: m.name, address: m.publicIp })),
        cloudflareApiToken: args.secrets.cloudflareApiToken,
      },
      { parent: this },
    );
    const platform = { managerConnection: this.cluster.managerConnections, networkName: this.cluster.networkName, endpointMode: cfg.swarm.endpointMode };
    if (cfg.controlPlane.enabled) {
      this.controlPlane = new ControlPlane(
        `${name}-control-plane`,
        { environment: env, namespace: this.dnsNamespace, images: cfg.images, overlayEncrypted: cfg.swarm.overlayEncrypted, adminPassword, volumes, ...platform },
        { parent: this, dependsOn: [this.edge] },
      );
    }
    if (cfg.demo.enabled) {
      this.demo = new DemoService(`${name}-demo`, { environment: env, namespace: this.dnsNamespace, image: cfg.images.demo, replicas: cfg.demo.replicas, ...platform }, { parent: this, dependsOn: [this.edge] });
    }
    this.registerOutputs({ nodes: this.nodes, dnsNamespace: this.dnsNamespace, edgeDashboardUrl: this.edge.dashboardUrl });
  }
}
