// SwarmCluster: machines from one of two sources (Hetzner servers or existing hosts), then a Docker Swarm
// bootstrapped over SSH. Every step is a script under components/files/ that changes nothing when run twice.
//
//   per machine:  harden ─► docker engine ─┬─► (first manager) swarm init ─► overlay network
//                                          └─► (others) join ─► membership (labels; drain + remove on delete)
//
// Memberships and the network are Swarm provider resources (swarm-provider/): they read the live Swarm, so a
// drained node, a hand-edited label or a removed network shows in `pulumi refresh`; they act through any
// reachable manager.
//
// Joins depend only on the init and their own engine, so Pulumi runs them in parallel; adding a node adds
// only its own chain, and removing one drains it and takes it out of the Swarm before its server goes.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { ValidatedConfig } from "./config/load";
import { remoteScript } from "./files";
import { hostFirewallEnv, privateSources } from "./host-firewall";
import { existingMachines } from "./machines/existing";
import { HetznerMachines } from "./machines/hetzner";
import { knownHostsLine } from "./machines/host-keys";
import { deployPublicKey } from "./machines/ssh-keys";
import { Machine, NodeInfo } from "./machines/types";
import { SwarmNetwork } from "./swarm-provider/network";
import { SwarmNode } from "./swarm-provider/node";
import { ManagerConnection } from "./swarm-provider/ssh";
import { managerConnections, type Connection } from "./swarm-stack";

export interface SwarmClusterArgs {
  config: ValidatedConfig;
  /** OpenSSH private key for every machine (a Pulumi secret). */
  sshPrivateKey: pulumi.Input<string>;
  /** Password of `config.registry` (a Pulumi secret); managers log in with it. */
  registryPassword?: pulumi.Input<string>;
}

interface JoinTokens {
  managerToken: string;
  workerToken: string;
  nodeId: string;
}

export class SwarmCluster extends pulumi.ComponentResource {
  /** Every node: name, role, public and private address. */
  readonly nodes: pulumi.Output<NodeInfo[]>;
  /** SSH connection to the first manager (secret: it holds the private key). */
  readonly managerConnection: pulumi.Output<Connection>;
  /** SSH connections to every manager, first manager first (secret): Swarm changes go through any of them. */
  readonly managerConnections: pulumi.Output<ManagerConnection[]>;
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
        ? new HetznerMachines(`${name}-hetzner`, { config: cfg, sshPrivateKey: args.sshPrivateKey }, { parent: this }).machines
        : existingMachines({ hosts: cfg.hosts ?? [], managers: cfg.managers, workers: cfg.workers, sshUser: cfg.sshUser, sshPrivateKey: args.sshPrivateKey }));

    const run = (id: string, connection: pulumi.Input<Connection>, script: string, env: Record<string, pulumi.Input<string>>, extra: Partial<command.remote.CommandArgs>, dependsOn: pulumi.Resource[], secretStdout = false) =>
      new command.remote.Command(
        `${name}-${id}`,
        { connection, create: remoteScript(script, env), logging: "stderr", ...extra },
        { parent: this, dependsOn, additionalSecretOutputs: secretStdout ? ["stdout"] : [] },
      );

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
      const engine = run(`${m.name}-docker`, m.connection, "swarm/install-docker.sh", { DOCKER_PACKAGE: cfg.dockerEngine.package, DOCKER_VERSION: cfg.dockerEngine.version }, {}, [harden]);
      engines.set(m.name, engine);
      // Every manager can deploy a stack, so every manager holds the registry login (password on stdin).
      if (cfg.registry && m.role === "manager") {
        if (!args.registryPassword) throw new Error("mbio-cloud:registry is set but mbio-cloud:registryPassword is not");
        registryLogins.push(run(`${m.name}-registry-login`, m.connection, "swarm/registry-login.sh", { REGISTRY: cfg.registry.server, REGISTRY_USER: cfg.registry.username }, { stdin: pulumi.secret(args.registryPassword) }, [engine]));
      }
    }

    const [first, ...others] = machines;
    // Joins try every manager in order: the first one being down does not block a join.
    const managerAddresses = pulumi.all(machines.filter((m) => m.role === "manager").map((m) => m.privateIp)).apply((ips) => ips.join(" "));
    const otherManagerAddresses = pulumi.all(others.filter((m) => m.role === "manager").map((m) => m.privateIp)).apply((ips) => ips.join(" "));
    // No delete: a replaced init (join-token runbook, `--replace`) must never take the first manager out of the
    // Swarm — in a one-manager environment that is the whole cluster. The Swarm goes with its machines.
    const init = run("init", first.connection, "swarm/swarm-init.sh", { ADVERTISE_ADDR: first.privateIp, OTHER_MANAGERS: otherManagerAddresses }, {}, [engines.get(first.name)!], true);
    const tokens = init.stdout.apply((s) => JSON.parse(s) as JoinTokens);
    this.joinTokens = pulumi.secret(tokens.apply((t) => ({ manager: t.managerToken, worker: t.workerToken })));
    this.managerConnection = first.connection;

    const managers = machines.filter((m) => m.role === "manager");
    this.managerConnections = pulumi.secret(managerConnections(managers.map((m) => m.connection)));
    const nodeLabels = (m: Machine) => ({ ...cfg.labels, "mbio.environment": env, "mbio.role": m.role, "mbio.name": m.name });
    const membership = (m: Machine, nodeId: pulumi.Input<string>, removeOnDelete: boolean, dependsOn: pulumi.Resource[]) =>
      new SwarmNode(`${name}-${m.name}-membership`, { connections: this.managerConnections, nodeId, role: m.role, labels: nodeLabels(m), removeOnDelete }, { parent: this, dependsOn });

    // The node the Swarm was initialised on is never removed by a delete: it holds the Swarm.
    const firstLabels = membership(first, pulumi.unsecret(tokens.apply((t) => t.nodeId)), false, [init]);
    const memberships: pulumi.Resource[] = [firstLabels];
    let lastManagerMembership: pulumi.Resource = firstLabels;
    for (const m of others) {
      const join = run(
        `${m.name}-join`,
        m.connection,
        "swarm/swarm-join.sh",
        { MANAGER_ADDR: managerAddresses, ADVERTISE_ADDR: m.privateIp },
        // The token travels on stdin: never on a command line, never in a log.
        { delete: remoteScript("swarm/swarm-leave.sh"), stdin: pulumi.secret(tokens.apply((t) => (m.role === "manager" ? t.managerToken : t.workerToken))) },
        [engines.get(m.name)!, init],
      );
      const nodeId = join.stdout.apply((s) => s.trim());
      // Manager memberships form a chain, so managers are demoted one at a time when several go (scale in,
      // destroy): each demotion changes the Raft membership, and parallel ones race for the leader.
      const previousManager = m.role === "manager" ? [lastManagerMembership] : [];
      const member = membership(m, nodeId, true, [join, ...previousManager]);
      if (m.role === "manager") lastManagerMembership = member;
      memberships.push(member);
    }

    const network = new SwarmNetwork(
      `${name}-network`,
      { connections: this.managerConnections, name: this.networkName, encrypted: cfg.swarm.overlayEncrypted, mtu: String(cfg.swarm.overlayMtu ?? "") },
      { parent: this, dependsOn: [init] },
    );
    this.ready = [network, ...memberships, ...registryLogins];

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
