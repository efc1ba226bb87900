// SwarmCluster: machines from one of two sources (Hetzner servers or existing hosts), then a Docker Swarm
// bootstrapped over SSH. Every step is a script under components/files/ that changes nothing when run twice.
//
//   per machine:  harden ─► docker engine ─┬─► Swarm (found through any manager; init only if none has one)
//                                          └─► join ─► membership (exact labels; drain + remove + leave on a
//                                                      real removal only) ─► overlay network
//
// The Swarm, joins, memberships and the network are Swarm provider resources (dynamic-providers/): they read
// the live Swarm, so a drained node, a hand-edited label, rotated tokens, a node removed by hand or a removed
// network show in `pulumi refresh`; they act through any reachable manager, so manager-1 is no single point
// of failure.
//
// Joins depend only on the Swarm and their own engine, so Pulumi runs them in parallel; adding a node adds
// only its own chain, and removing one drains it and takes it out of the Swarm before its server goes.
// Replacing a join or a membership (`--replace`) never takes a node out: see dynamic-providers/node.ts.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { ValidatedConfig } from "./config/load";
import { remoteScript } from "./files";
import { hostFirewallEnv, privateSources } from "./host-firewall";
import { existingMachines } from "./machines/existing";
import { HetznerMachines } from "./machines/hetzner";
import { knownHostsLine } from "./dynamic-providers/host-keys";
import { deployPublicKey } from "./machines/ssh-keys";
import { Machine, NodeInfo, swarmRole } from "./machines/types";
import { EngineRollout, rollingOrder } from "./dynamic-providers/engine";
import { SwarmNetwork } from "./dynamic-providers/network";
import { SwarmJoin } from "./dynamic-providers/join";
import { SwarmNode } from "./dynamic-providers/node";
import { Swarm } from "./dynamic-providers/swarm";
import { managerConnections, type Connection } from "./swarm-stack";

export interface SwarmClusterArgs {
  config: ValidatedConfig;
  /** OpenSSH private key for every machine (a Pulumi secret). */
  sshPrivateKey: pulumi.Input<string>;
  /** Password of `config.registry` (a Pulumi secret); managers log in with it. */
  registryPassword?: pulumi.Input<string>;
  /** Hetzner stacks: the API token (a Pulumi secret) and hcloud:endpoint (HetznerMachines). */
  hcloudToken?: pulumi.Input<string>;
  hcloudEndpoint?: string;
}

export class SwarmCluster extends pulumi.ComponentResource {
  /** Every node: name, role, public and private address. */
  readonly nodes: pulumi.Output<NodeInfo[]>;
  /** SSH connection to the first manager (secret: it holds the private key). */
  readonly managerConnection: pulumi.Output<Connection>;
  /** SSH connections to every manager, first manager first (secret): Swarm changes go through any of them. */
  readonly managerConnections: pulumi.Output<Connection[]>;
  /** user@host:port of the first manager, for operators. */
  readonly managerSshAddress: pulumi.Output<string>;
  /** known_hosts lines of every machine's pinned host key, for OpenSSH clients (tools/mbio-restore). */
  readonly sshKnownHosts: pulumi.Output<string>;
  /** DOCKER_HOST for a docker client or provider: ssh://user@host:port. */
  readonly dockerHost: pulumi.Output<string>;
  /** The platform's attachable overlay network; every stack joins it. */
  readonly networkName: string;
  /** Join tokens (secret). */
  readonly joinTokens: pulumi.Output<{ manager: string; worker: string }>;
  /** The machines, for components that act on every node (storage). */
  readonly machines: Machine[];
  /** Resolves once the Swarm, every node and the network exist: later components depend on it. */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: SwarmClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mbio-cloud:platform:SwarmCluster", name, {}, opts);
    const cfg = args.config;
    const env = cfg.environment;
    this.networkName = `${env}-platform`;

    const machines: Machine[] = (this.machines =
      cfg.machineSource === "hetzner"
        ? new HetznerMachines(`${name}-hetzner`, { config: cfg, sshPrivateKey: args.sshPrivateKey, hcloudToken: args.hcloudToken, hcloudEndpoint: args.hcloudEndpoint }, { parent: this }).machines
        : existingMachines({ hosts: cfg.hosts ?? [], managers: cfg.managers, workers: cfg.workers, ciNodes: cfg.ciNodes, sshUser: cfg.sshUser, sshPrivateKey: args.sshPrivateKey }));

    const run = (id: string, connection: pulumi.Input<Connection>, script: string, env: Record<string, pulumi.Input<string>>, extra: Partial<command.remote.CommandArgs>, dependsOn: pulumi.Resource[], secretStdout = false, ignoreChanges?: string[]) =>
      new command.remote.Command(
        `${name}-${id}`,
        { connection, create: remoteScript(script, env), logging: "stderr", ...extra },
        { parent: this, dependsOn, additionalSecretOutputs: secretStdout ? ["stdout"] : [], ignoreChanges },
      );
    const engineEnv: Record<string, string> = { DOCKER_PACKAGE: cfg.dockerEngine.package, DOCKER_VERSION: cfg.dockerEngine.version, CONTAINERD_VERSION: cfg.dockerEngine.containerdVersion ?? "" };

    const deployKey = deployPublicKey(args.sshPrivateKey);
    const engines = new Map<string, command.remote.Command>();
    const registryLogins: command.remote.Command[] = [];
    for (const m of machines) {
      // A new Hetzner server runs cloud-init (package_update, harden.sh) while sshd already answers.
      const cloudInit = run(`${m.name}-first-boot`, m.connection, "cloud-init/wait.sh", {}, {}, m.readyAfter);
      const harden = run(`${m.name}-harden`, m.connection, "cloud-init/harden.sh", {}, {}, [cloudInit]);
      // The host firewall behind the Hetzner one (which sees only the public interface); the same rules on existing hosts.
      run(`${m.name}-firewall`, m.connection, "cloud-init/firewall.sh", hostFirewallEnv(cfg, m.role, privateSources(cfg)), {}, [harden]);
      // authorized_keys follows sshPublicKeys: rotation is an edit and `pulumi up` (servers are not replaced).
      run(`${m.name}-ssh-keys`, m.connection, "swarm/authorized-keys.sh", { DEPLOY_KEY: deployKey }, { stdin: cfg.sshPublicKeys.join("\n") }, [cloudInit]);
      // The first install only (ignoreChanges): every later engine change goes node by node through the
      // EngineRollout chain below; re-running this command would restart every engine at once.
      const engine = run(`${m.name}-docker`, m.connection, "swarm/install-docker.sh", engineEnv, {}, [harden], false, ["create"]);
      engines.set(m.name, engine);
      // Every manager can deploy a stack, so every manager holds the registry login (password on stdin).
      if (cfg.registry && m.role === "manager") {
        if (!args.registryPassword) throw new Error("mbio-cloud:registry is set but mbio-cloud:registryPassword is not");
        registryLogins.push(run(`${m.name}-registry-login`, m.connection, "swarm/registry-login.sh", { REGISTRY: cfg.registry.server, REGISTRY_USER: cfg.registry.username }, { stdin: pulumi.secret(args.registryPassword) }, [engine]));
      }
    }

    const [first, ...others] = machines;
    const managers = machines.filter((m) => m.role === "manager");
    this.managerConnections = pulumi.secret(pulumi.all(managers.map((m) => m.connection)));
    // What the Swarm provider resources take: host, port, user, key (ssh2).
    const viaManagers = pulumi.secret(managerConnections(managers.map((m) => m.connection)));
    // Joins try every manager in order: the first one being down does not block a join.
    const managerAddresses = pulumi.all(managers.map((m) => m.privateIp)).apply((ips) => ips.join(" "));
    const otherManagerAddresses = pulumi.all(others.filter((m) => m.role === "manager").map((m) => m.privateIp)).apply((ips) => ips.join(" "));
    // The Swarm is found through any manager; it is initialised on the first manager only when every
    // configured manager answered without one, so it waits for every manager's engine. Token rotation is
    // swarm.joinTokenRotation (an update, members untouched). No delete: the Swarm goes with its machines.
    const swarm = new Swarm(
      `${name}-swarm`,
      { connections: viaManagers, advertiseAddr: first.privateIp, otherManagers: otherManagerAddresses, joinTokenRotation: cfg.swarm.joinTokenRotation ?? 0 },
      { parent: this, dependsOn: managers.map((m) => engines.get(m.name)!) },
    );
    this.joinTokens = pulumi.secret(pulumi.all([swarm.managerToken, swarm.workerToken]).apply(([manager, worker]) => ({ manager, worker })));
    this.managerConnection = first.connection;

    const nodeLabels = (m: Machine) => ({ ...cfg.labels, "mbio.environment": env, "mbio.role": m.role, "mbio.name": m.name });
    const memberships: pulumi.Resource[] = [];
    const joined = new Map<string, { nodeId: pulumi.Input<string>; member: pulumi.Resource }>();
    let lastManagerMembership: pulumi.Resource | undefined;
    for (const m of machines) {
      // Every node joins, the first manager too: on the Swarm's own first node the join changes nothing; a
      // rebuilt first manager joins the live Swarm through the others. The join reads its node back: one
      // removed from the Swarm by hand is gone on refresh and joins again on the next up
      // (dynamic-providers/join.ts). The token travels on stdin, and a rotated one re-runs no join.
      const join = new SwarmJoin(
        `${name}-${m.name}-join`,
        {
          connections: viaManagers,
          node: managerConnections(m.connection).apply((c) => c[0]),
          managerAddr: managerAddresses,
          advertiseAddr: m.privateIp,
          token: m.role === "manager" ? swarm.managerToken : swarm.workerToken,
        },
        { parent: this, dependsOn: [engines.get(m.name)!, swarm] },
      );
      const nodeId = join.nodeId;
      // Manager memberships form a chain, so managers are demoted one at a time when several go (scale in,
      // destroy): each demotion changes the Raft membership, and parallel ones race for the leader.
      const previousManager = m.role === "manager" && lastManagerMembership ? [lastManagerMembership] : [];
      const member = new SwarmNode(
        `${name}-${m.name}-membership`,
        // Every node, the first manager too: a rebuilt first manager's dead node is removed once it joined
        // again; the Swarm's last manager never is (node-remove.sh), so a destroy leaves a one-node Swarm.
        { connections: viaManagers, nodeId, role: swarmRole(m.role), labels: nodeLabels(m), removeOnDelete: true, nodeConnection: managerConnections(m.connection).apply((c) => c[0]) },
        { parent: this, dependsOn: [join, ...previousManager] },
      );
      if (m.role === "manager") lastManagerMembership = member;
      memberships.push(member);
      joined.set(m.name, { nodeId, member });
    }

    const network = new SwarmNetwork(
      `${name}-network`,
      { connections: viaManagers, name: this.networkName, encrypted: cfg.swarm.overlayEncrypted, mtu: String(cfg.swarm.overlayMtu ?? "") },
      { parent: this, dependsOn: [swarm] },
    );
    this.ready = [network, ...memberships, ...registryLogins];

    // Engine changes roll: each node's EngineRollout waits for the previous one, managers first.
    let previous: { name: string; rollout: EngineRollout } | undefined;
    for (const m of rollingOrder(machines)) {
      const { nodeId, member } = joined.get(m.name)!;
      const rollout = new EngineRollout(
        `${name}-${m.name}-engine`,
        { managers: viaManagers, node: managerConnections(m.connection).apply(([c]) => c), nodeName: m.name, nodeId, engine: engineEnv, after: previous?.name ?? "" },
        { parent: this, dependsOn: [member, ...(previous ? [previous.rollout] : [])] },
      );
      previous = { name: m.name, rollout };
    }

    this.nodes = pulumi.all(machines.map((m) => pulumi.all([m.publicIp, m.privateIp]).apply(([publicIp, privateIp]) => ({ name: m.name, role: m.role, publicIp, privateIp }))));
    const address = first.connection.apply((c) => `${c.user ?? "root"}@${c.host}:${c.port ?? 22}`);
    this.managerSshAddress = pulumi.unsecret(address);
    this.dockerHost = this.managerSshAddress.apply((a) => `ssh://${a}`);
    // Host keys are public: taken out of the (secret) connections on purpose.
    this.sshKnownHosts = pulumi.unsecret(
      pulumi.all(machines.map((m) => m.connection)).apply((cs) => cs.map((c) => knownHostsLine(String(c.host), Number(c.port ?? 22), String(c.hostKey))).join("\n") + "\n"),
    );
    this.registerOutputs({ nodes: this.nodes, managerSshAddress: this.managerSshAddress, dockerHost: this.dockerHost, networkName: this.networkName });
  }
}
