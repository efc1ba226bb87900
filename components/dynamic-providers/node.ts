// Dynamic provider for one node's membership: role, availability and the exact label set, read back from
// `docker node inspect`, so a drained node or a hand-edited label shows in `pulumi refresh` and `pulumi up`
// puts it back. Delete (drain, demote, remove, then the machine leaves) runs only when the node really leaves
// the configuration: every membership writes its own claim (a random id) into the node's `mbio.membership`
// label, and a delete acts only while the node still carries its claim. A replace creates the new membership
// first, which claims the node, so the old one's delete finds another claim and leaves the node alone.
import * as pulumi from "@pulumi/pulumi";
import { scriptFile } from "../files";
import { ManagerAttempt, ManagerConnection, runOnHost, runOnManager } from "./ssh";
import { diffResult, Revisioned, revisionChanged, SwarmResource } from "./resource";
import { changedPaths, nodeView } from "./view";

export interface NodeInputs extends Revisioned {
  connections: ManagerConnection[];
  nodeId: string;
  role: string;
  availability: string;
  labels: Record<string, string>;
  /** False: a delete never removes the node (a node this program does not own). The last manager never goes. */
  removeOnDelete: boolean;
  /** The node's own SSH connection: a removed node's machine leaves the Swarm through it. */
  nodeConnection?: ManagerConnection;
}

export interface NodeOutputs extends NodeInputs {
  hostname: string;
  /** This membership's claim on the node (the `mbio.membership` label it wrote). */
  claim: string;
}

/** The label a membership claims its node with; part of the node's exact label set. */
export const CLAIM_LABEL = "mbio.membership";

const APPLY = scriptFile("swarm/node-apply.sh");
const REMOVE = scriptFile("swarm/node-remove.sh");
const LEAVE = scriptFile("swarm/swarm-leave.sh");

function newClaim(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require("crypto") as typeof import("crypto")).randomUUID();
}

function outputs(inputs: NodeInputs, claim: string, inspectJson: string): NodeOutputs {
  const [node] = JSON.parse(inspectJson) as unknown[];
  const view = nodeView(node);
  return { ...inputs, hostname: view.hostname, role: view.role, availability: view.availability, labels: view.labels, claim };
}

/** The exact label set a membership puts on its node: the configured labels and its claim. */
export function wantedLabels(labels: Record<string, string>, claim: string): Record<string, string> {
  return { ...labels, [CLAIM_LABEL]: claim };
}

async function apply(inputs: NodeInputs, claim: string): Promise<NodeOutputs> {
  const wanted = wantedLabels(inputs.labels, claim);
  const labels = Object.keys(wanted)
    .sort()
    .map((k) => `${k}=${wanted[k]}`)
    .join(" ");
  const out = await runOnManager(inputs.connections, APPLY, { NODE_ID: inputs.nodeId, ROLE: inputs.role, AVAILABILITY: inputs.availability, LABELS: labels });
  return outputs(inputs, claim, out.stdout);
}

/**
 * A different node id is a different node (replace); role, availability and labels (with this membership's
 * claim) are updated in place. A state from before claims has none: the update writes one.
 */
export function diffNode(olds: NodeOutputs, news: NodeInputs): pulumi.dynamic.DiffResult & { fields: string[] } {
  if (olds.nodeId !== news.nodeId) return { changes: true, replaces: ["nodeId"], fields: ["nodeId"] };
  const fields = [
    ...revisionChanged(olds, news),
    ...changedPaths(news.role, olds.role, "role"),
    ...changedPaths(news.availability, olds.availability, "availability"),
    ...changedPaths(wantedLabels(news.labels, olds.claim ?? ""), olds.labels, "labels"),
    ...changedPaths(news.connections, olds.connections, "connections"),
    ...changedPaths(news.nodeConnection ?? null, olds.nodeConnection ?? null, "nodeConnection"),
    ...changedPaths(news.removeOnDelete, olds.removeOnDelete, "removeOnDelete"),
  ];
  return { changes: fields.length > 0, replaces: [], fields };
}

/**
 * A real removal: drain, demote and remove the node through any manager — only while it still carries this
 * membership's claim — then the machine leaves the Swarm. A machine that can no longer be reached (its
 * server is gone) has nothing to leave; that is a warning, not a failure.
 */
export async function removeNode(props: NodeOutputs): Promise<"removed" | "kept" | "absent"> {
  const out = await runOnManager(props.connections, REMOVE, { NODE_ID: props.nodeId, CLAIM: props.claim ?? "" });
  const result = (out.stdout.trim().split("\n").pop() ?? "") as "removed" | "kept" | "absent";
  if (result !== "kept" && props.nodeConnection) {
    try {
      // NODE_ID: a machine rebuilt at the same address is a new node by now and stays in the Swarm.
      await runOnHost(props.nodeConnection, LEAVE, { NODE_ID: props.nodeId });
    } catch (e) {
      if (!(e as { attempts?: ManagerAttempt[] }).attempts) throw e;
      // Best effort: the node is out of the Swarm either way.
      console.error(`warning: node ${props.nodeId} is out of the Swarm; its machine could not be reached to leave it: ${(e as Error).message}`);
    }
  }
  return result;
}

export const nodeProvider: pulumi.dynamic.ResourceProvider<NodeInputs, NodeOutputs> = {
  async create(inputs) {
    return { id: inputs.nodeId, outs: await apply(inputs, newClaim()) };
  },
  async read(id, props) {
    const p = props as NodeOutputs;
    // `docker node inspect` of a node that is gone prints "[]" itself and exits 1: keep its output, whatever the
    // status (an `|| echo "[]"` made that "[]\n[]", and the refresh of a node removed by hand failed to parse).
    const out = await runOnManager(p.connections, 'docker node inspect "$NODE_ID" 2>/dev/null || true', { NODE_ID: p.nodeId });
    const found = out.stdout.trim() === "" ? [] : (JSON.parse(out.stdout) as unknown[]);
    if (found.length === 0) return {};
    return { id, props: outputs(p, p.claim ?? "", out.stdout) };
  },
  async diff(_id, olds, news) {
    return diffResult(diffNode(olds, news));
  },
  async update(_id, olds, news) {
    return { outs: await apply(news, olds.claim || newClaim()) };
  },
  async delete(_id, props) {
    if (props.removeOnDelete) await removeNode(props);
  },
};

export interface SwarmNodeArgs {
  connections: pulumi.Input<ManagerConnection[]>;
  nodeId: pulumi.Input<string>;
  role: pulumi.Input<string>;
  availability?: pulumi.Input<string>;
  labels: pulumi.Input<Record<string, pulumi.Input<string>>>;
  removeOnDelete: pulumi.Input<boolean>;
  nodeConnection?: pulumi.Input<ManagerConnection>;
}

/** One Swarm node's membership, read back from the live Swarm. */
export class SwarmNode extends SwarmResource {
  declare readonly hostname: pulumi.Output<string>;
  declare readonly nodeId: pulumi.Output<string>;

  constructor(name: string, args: SwarmNodeArgs, opts?: pulumi.CustomResourceOptions) {
    const nodeConnection = args.nodeConnection === undefined ? undefined : pulumi.secret(args.nodeConnection);
    const inputs = { ...args, availability: args.availability ?? "active", nodeConnection };
    super(nodeProvider, "Node", name, inputs, ["hostname", "claim"], opts, ["nodeConnection"]);
  }
}
