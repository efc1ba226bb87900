// Dynamic provider for the Swarm itself: which Swarm the configured managers hold, and its join tokens.
// It asks the managers in order and takes the first one that is a Swarm manager, so manager-1 is no single
// point of failure. It initialises a Swarm only when every configured manager answered and none holds one
// (a rebuilt first manager then joins the live Swarm through the others instead of starting a second one).
// Join-token rotation is configuration: a new `swarm.joinTokenRotation` is an update that rotates both
// tokens; members stay as they are. Read compares the live cluster ID with the one the resource was created
// for (its id): a Swarm re-initialised by hand is another Swarm, reported by refresh and replaced by the next
// up (the replacement finds the live Swarm; the joins then read their nodes out of it). No delete: the Swarm goes with its machines (the first manager keeps a
// one-node Swarm after a destroy, by design).
import * as pulumi from "@pulumi/pulumi";
import { scriptFile } from "../files";
import { ManagerAttempt, ManagerConnection, runOnHost, runOnManager } from "./ssh";
import { Revisioned, revisionChanged, SwarmResource } from "./resource";
import { changedPaths } from "./view";

export interface SwarmInputs extends Revisioned {
  /** Every configured manager, the one to initialise on first. */
  connections: ManagerConnection[];
  /** Private address the first manager advertises when it initialises the Swarm. */
  advertiseAddr: string;
  /** Private addresses of the other managers (space-separated): swarm-init.sh refuses while one answers. */
  otherManagers: string;
  /** Rotation generation (`mbio-cloud:swarm.joinTokenRotation`): a new value rotates both join tokens. */
  joinTokenRotation: number;
}

export interface SwarmOutputs extends SwarmInputs {
  clusterId: string;
  managerToken: string;
  workerToken: string;
}

const INIT = scriptFile("swarm/swarm-init.sh");
const TOKENS = scriptFile("swarm/swarm-tokens.sh");

interface Tokens {
  clusterId: string;
  managerToken: string;
  workerToken: string;
}

async function readTokens(connections: ManagerConnection[], rotate: boolean): Promise<Tokens> {
  const out = await runOnManager(connections, TOKENS, { ROTATE: String(rotate) });
  return JSON.parse(out.stdout) as Tokens;
}

/**
 * May a new Swarm be initialised, given why no manager did the work? Only when every configured manager
 * was reached and answered that it is not a Swarm manager: an unreachable one may hold the live Swarm.
 */
export function mayInitialise(attempts: ManagerAttempt[], configured: number): boolean {
  return attempts.length === configured && attempts.every((a) => a.reason === "not-a-manager");
}

/** The Swarm's tokens through any manager; a first Swarm on the first manager when none exists anywhere. */
export async function ensureSwarm(inputs: SwarmInputs, rotate: boolean): Promise<SwarmOutputs> {
  let tokens: Tokens;
  try {
    tokens = await readTokens(inputs.connections, rotate);
  } catch (e) {
    const attempts = (e as { attempts?: ManagerAttempt[] }).attempts;
    if (!attempts) throw e;
    if (!mayInitialise(attempts, inputs.connections.length)) {
      throw new Error(`${(e as Error).message}. No Swarm was initialised: a manager that could not be reached may hold the live Swarm (start it, or remove it from the configuration)`, { cause: e });
    }
    await runOnHost(inputs.connections[0], INIT, { ADVERTISE_ADDR: inputs.advertiseAddr, OTHER_MANAGERS: inputs.otherManagers });
    tokens = await readTokens(inputs.connections, false);
  }
  return { ...inputs, ...tokens };
}

/**
 * A new rotation generation rotates, other input changes only record the new inputs. A replace only when a
 * refresh found another Swarm than the one this resource was created for (`id`, its cluster ID).
 */
export function diffSwarm(olds: SwarmOutputs, news: SwarmInputs, id?: string): pulumi.dynamic.DiffResult & { fields: string[] } {
  if (id !== undefined && olds.clusterId !== id) return { changes: true, replaces: ["clusterId"], fields: ["clusterId"] };
  const fields = [
    ...revisionChanged(olds, news),
    ...changedPaths(news.joinTokenRotation, olds.joinTokenRotation, "joinTokenRotation"),
    ...changedPaths(news.connections, olds.connections, "connections"),
    ...changedPaths(news.advertiseAddr, olds.advertiseAddr, "advertiseAddr"),
    ...changedPaths(news.otherManagers, olds.otherManagers, "otherManagers"),
  ];
  return { changes: fields.length > 0, replaces: [], fields };
}

export const swarmProvider: pulumi.dynamic.ResourceProvider<SwarmInputs, SwarmOutputs> = {
  async create(inputs) {
    const outs = await ensureSwarm(inputs, false);
    return { id: outs.clusterId, outs };
  },
  async read(id, props) {
    // Tokens rotated by hand show up here (refresh); the joins then use the live ones. A live cluster ID other
    // than `id` (re-initialised by hand) shows as a changed clusterId, and diff replaces the resource.
    const p = props as SwarmOutputs;
    return { id, props: { ...p, ...(await readTokens(p.connections, false)) } };
  },
  async diff(id, olds, news) {
    const { changes, replaces } = diffSwarm(olds, news, id);
    return { changes, replaces };
  },
  async update(_id, olds, news) {
    return { outs: await ensureSwarm(news, news.joinTokenRotation !== olds.joinTokenRotation) };
  },
  // No delete: leaving the Swarm is each node's membership's job, on a real removal only.
};

export interface SwarmArgs {
  connections: pulumi.Input<ManagerConnection[]>;
  advertiseAddr: pulumi.Input<string>;
  otherManagers: pulumi.Input<string>;
  joinTokenRotation: pulumi.Input<number>;
}

/** The environment's Swarm: found through any manager (initialised once), with its join tokens (secret). */
export class Swarm extends SwarmResource {
  declare readonly clusterId: pulumi.Output<string>;
  declare readonly managerToken: pulumi.Output<string>;
  declare readonly workerToken: pulumi.Output<string>;

  constructor(name: string, args: SwarmArgs, opts?: pulumi.CustomResourceOptions) {
    super(swarmProvider, "Swarm", name, args, ["clusterId", "managerToken", "workerToken"], opts, ["managerToken", "workerToken"]);
  }
}
