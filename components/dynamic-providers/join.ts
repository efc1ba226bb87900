// Dynamic provider for one machine's join to the Swarm. It replaced a `command:remote` join, which had no
// read: a node removed from the Swarm by hand (`docker node rm --force`) dropped its membership on refresh,
// and the next `pulumi up` re-applied the join's stale node id and failed. Read asks the managers whether
// the joined node is still a node of the Swarm; when it is not, the join is gone from the state and the next
// up joins the machine again — after it left the Swarm it still believes it is in — and the membership
// follows with the new node id.
//
// The token reaches swarm-join.sh on stdin only. A member needs no token, so a rotated token is no change
// here: a rotation goes through while a node is down. No delete: a replaced join never takes a node out
// (that is the membership's delete, on a real removal only).
import * as pulumi from "@pulumi/pulumi";
import { scriptFile } from "../files";
import { ManagerConnection, runOnHost, runOnManager } from "./ssh";
import { Revisioned, revisionChanged, SwarmResource } from "./resource";
import { changedPaths } from "./view";

export interface JoinInputs extends Revisioned {
  /** The managers, asked whether the joined node is (still) a node of the Swarm. */
  connections: ManagerConnection[];
  /** The joining machine's own connection. */
  node: ManagerConnection;
  /** Every manager's private address (space-separated): the join goes through the first that answers. */
  managerAddr: string;
  advertiseAddr: string;
  /** The join token for the node's role (secret; only a join that runs uses it). */
  token: string;
}

export interface JoinOutputs extends JoinInputs {
  nodeId: string;
}

const JOIN = scriptFile("swarm/swarm-join.sh");
const LOCAL_STATE = "docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}}'";
const KNOWN = 'if docker node inspect "$NODE_ID" >/dev/null 2>&1; then echo known; else echo unknown; fi';

/** Is node `nodeId` a node of the Swarm, as the first manager that answers sees it? Throws when none answers. */
async function known(connections: ManagerConnection[], nodeId: string): Promise<boolean> {
  if (!nodeId) return false;
  const out = await runOnManager(connections, KNOWN, { NODE_ID: nodeId });
  return out.stdout.trim() === "known";
}

/**
 * Should the machine leave the Swarm before it joins? Only when it believes it is in one (any state but
 * inactive) under a node id that the Swarm's managers no longer know: it was removed by hand.
 */
export function mustLeaveFirst(localState: string, localNodeId: string, knownToManagers: boolean): boolean {
  return localState !== "inactive" && localState !== "" && !(localNodeId && knownToManagers);
}

async function join(inputs: JoinInputs): Promise<JoinOutputs> {
  const [state = "", localId = ""] = (await runOnHost(inputs.node, LOCAL_STATE)).stdout.trim().split(/\s+/);
  const leave = mustLeaveFirst(state, localId, state === "inactive" ? false : await known(inputs.connections, localId));
  const out = await runOnHost(inputs.node, JOIN, { MANAGER_ADDR: inputs.managerAddr, ADVERTISE_ADDR: inputs.advertiseAddr, LEAVE_FIRST: String(leave) }, inputs.token);
  return { ...inputs, nodeId: out.stdout.trim().split("\n").pop() ?? "" };
}

/** Another machine (host) is another join: replace. Addresses update in place; the token is never a change. */
export function diffJoin(olds: JoinOutputs, news: JoinInputs): pulumi.dynamic.DiffResult & { fields: string[] } {
  if (olds.node.host !== news.node.host || (olds.node.port ?? 22) !== (news.node.port ?? 22)) return { changes: true, replaces: ["node"], fields: ["node"] };
  const fields = [
    ...revisionChanged(olds, news),
    ...changedPaths(news.managerAddr, olds.managerAddr, "managerAddr"),
    ...changedPaths(news.advertiseAddr, olds.advertiseAddr, "advertiseAddr"),
    ...changedPaths(news.connections, olds.connections, "connections"),
    ...changedPaths(news.node, olds.node, "node"),
  ];
  return { changes: fields.length > 0, replaces: [], fields };
}

export const joinProvider: pulumi.dynamic.ResourceProvider<JoinInputs, JoinOutputs> = {
  async create(inputs) {
    const outs = await join(inputs);
    return { id: outs.nodeId, outs };
  },
  async read(id, props) {
    const p = props as JoinOutputs;
    // No manager answering is an error (refresh fails), never "the node is gone".
    if (!(await known(p.connections, p.nodeId))) return {};
    return { id, props: p };
  },
  async diff(_id, olds, news) {
    const { changes, replaces } = diffJoin(olds, news);
    return { changes, replaces };
  },
  async update(_id, _olds, news) {
    // Keeps the node id unless the machine had to join again (it is idempotent: "unchanged: already in the Swarm").
    return { outs: await join(news) };
  },
  // No delete: see the header.
};

export interface SwarmJoinArgs {
  connections: pulumi.Input<ManagerConnection[]>;
  node: pulumi.Input<ManagerConnection>;
  managerAddr: pulumi.Input<string>;
  advertiseAddr: pulumi.Input<string>;
  token: pulumi.Input<string>;
}

/** One machine in the Swarm: joined once, re-joined when the Swarm lost its node. */
export class SwarmJoin extends SwarmResource {
  declare readonly nodeId: pulumi.Output<string>;

  constructor(name: string, args: SwarmJoinArgs, opts?: pulumi.CustomResourceOptions) {
    const inputs = { ...args, node: pulumi.secret(args.node), token: pulumi.secret(args.token) };
    super(joinProvider, "Join", name, inputs, ["nodeId"], opts, ["node", "token"]);
  }
}
