// Dynamic provider for the platform's overlay network: created by swarm/network.sh, read back with
// `docker network inspect`, so a network removed or re-created with other options shows in `pulumi refresh`.
// A difference in encryption or MTU is never fixed by replacing the network (that would detach every
// service): the update runs network.sh, which stops and tells the operator how to recreate it.
import * as pulumi from "@pulumi/pulumi";
import { scriptFile } from "../files";
import { ManagerConnection, runOnManager } from "./ssh";
import { diffResult, Revisioned, revisionChanged, SwarmResource } from "./resource";
import { changedPaths } from "./view";

export interface NetworkInputs extends Revisioned {
  connections: ManagerConnection[];
  name: string;
  encrypted: boolean;
  /** Empty: Docker's default. */
  mtu: string;
}

export interface NetworkOutputs extends NetworkInputs {
  driver: string;
  attachable: boolean;
}

const CREATE = scriptFile("swarm/network.sh");
const REMOVE = scriptFile("swarm/network-remove.sh");

async function readNetwork(p: NetworkInputs): Promise<NetworkOutputs | undefined> {
  const out = await runOnManager(p.connections, 'docker network inspect "$NETWORK" 2>/dev/null || echo "[]"', { NETWORK: p.name });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const [net] = JSON.parse(out.stdout) as any[];
  if (!net) return undefined;
  const options = (net.Options ?? {}) as Record<string, string>;
  return { ...p, driver: String(net.Driver), attachable: Boolean(net.Attachable), encrypted: "encrypted" in options, mtu: options["com.docker.network.driver.mtu"] ?? "" };
}

async function ensure(inputs: NetworkInputs): Promise<NetworkOutputs> {
  await runOnManager(inputs.connections, CREATE, { NETWORK: inputs.name, ENCRYPTED: String(inputs.encrypted), MTU: inputs.mtu });
  const live = await readNetwork(inputs);
  if (!live) throw new Error(`network ${inputs.name} is missing right after it was created`);
  return live;
}

/** A new name is a new network (replace); the rest is reconciled in place by network.sh. */
export function diffNetwork(olds: NetworkOutputs, news: NetworkInputs): pulumi.dynamic.DiffResult & { fields: string[] } {
  if (olds.name !== news.name) return { changes: true, replaces: ["name"], fields: ["name"] };
  const fields = [
    ...revisionChanged(olds, news),
    ...changedPaths(news.encrypted, olds.encrypted, "encrypted"),
    ...changedPaths(news.mtu, olds.mtu, "mtu"),
    ...changedPaths("overlay", olds.driver, "driver"),
    ...changedPaths(true, olds.attachable, "attachable"),
    ...changedPaths(news.connections, olds.connections, "connections"),
  ];
  return { changes: fields.length > 0, replaces: [], fields };
}

export const networkProvider: pulumi.dynamic.ResourceProvider<NetworkInputs, NetworkOutputs> = {
  async create(inputs) {
    return { id: inputs.name, outs: await ensure(inputs) };
  },
  async read(id, props) {
    const live = await readNetwork(props as NetworkOutputs);
    return live ? { id, props: live } : {};
  },
  async diff(_id, olds, news) {
    return diffResult(diffNetwork(olds, news));
  },
  async update(_id, _olds, news) {
    return { outs: await ensure(news) };
  },
  async delete(_id, props) {
    // Loud: a network still in use fails the destroy naming its services (a gone one is fine).
    await runOnManager(props.connections, REMOVE, { NETWORK: props.name });
  },
};

export interface SwarmNetworkArgs {
  connections: pulumi.Input<ManagerConnection[]>;
  name: pulumi.Input<string>;
  encrypted: pulumi.Input<boolean>;
  mtu: pulumi.Input<string>;
}

/** The platform's attachable overlay network, read back from the live Swarm. */
export class SwarmNetwork extends SwarmResource {
  declare readonly name: pulumi.Output<string>;

  constructor(name: string, args: SwarmNetworkArgs, opts?: pulumi.CustomResourceOptions) {
    super(networkProvider, "Network", name, args, ["driver", "attachable"], opts);
  }
}
