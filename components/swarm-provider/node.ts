// Dynamic provider for one node's membership: role, availability and the exact label set, read back from
// `docker node inspect`, so a drained node or a hand-edited label shows in `pulumi refresh` and `pulumi up`
// puts it back. Delete (drain, demote, remove) runs only when the node really leaves the configuration.
import * as pulumi from "@pulumi/pulumi";
import { scriptFile } from "../files";
import { ManagerConnection, runOnManager } from "./ssh";
import { changedPaths, nodeView } from "./view";

export interface NodeInputs {
  connections: ManagerConnection[];
  nodeId: string;
  role: string;
  availability: string;
  labels: Record<string, string>;
  /** False for the node the Swarm was initialised on: it is never removed by a delete. */
  removeOnDelete: boolean;
}

export interface NodeOutputs extends NodeInputs {
  hostname: string;
}

const APPLY = scriptFile("swarm/node-apply.sh");
const REMOVE = scriptFile("swarm/node-remove.sh");

function outputs(inputs: NodeInputs, inspectJson: string): NodeOutputs {
  const [node] = JSON.parse(inspectJson) as unknown[];
  const view = nodeView(node);
  return { ...inputs, hostname: view.hostname, role: view.role, availability: view.availability, labels: view.labels };
}

async function apply(inputs: NodeInputs): Promise<NodeOutputs> {
  const labels = Object.keys(inputs.labels)
    .sort()
    .map((k) => `${k}=${inputs.labels[k]}`)
    .join(" ");
  const out = await runOnManager(inputs.connections, APPLY, { NODE_ID: inputs.nodeId, ROLE: inputs.role, AVAILABILITY: inputs.availability, LABELS: labels });
  return outputs(inputs, out.stdout);
}

/** A different node id is a different node (replace); role, availability and labels are updated in place. */
export function diffNode(olds: NodeOutputs, news: NodeInputs): pulumi.dynamic.DiffResult & { fields: string[] } {
  if (olds.nodeId !== news.nodeId) return { changes: true, replaces: ["nodeId"], fields: ["nodeId"] };
  const fields = [
    ...changedPaths(news.role, olds.role, "role"),
    ...changedPaths(news.availability, olds.availability, "availability"),
    ...changedPaths(news.labels, olds.labels, "labels"),
    ...changedPaths(news.connections, olds.connections, "connections"),
    ...changedPaths(news.removeOnDelete, olds.removeOnDelete, "removeOnDelete"),
  ];
  return { changes: fields.length > 0, replaces: [], fields };
}

export const nodeProvider: pulumi.dynamic.ResourceProvider<NodeInputs, NodeOutputs> = {
  async create(inputs) {
    return { id: inputs.nodeId, outs: await apply(inputs) };
  },
  async read(id, props) {
    const p = props as NodeOutputs;
    const out = await runOnManager(p.connections, 'docker node inspect "$NODE_ID" 2>/dev/null || echo "[]"', { NODE_ID: p.nodeId });
    if (JSON.parse(out.stdout).length === 0) return {};
    return { id, props: outputs(p, out.stdout) };
  },
  async diff(_id, olds, news) {
    const { changes, replaces, deleteBeforeReplace } = diffNode(olds, news);
    return deleteBeforeReplace === undefined ? { changes, replaces } : { changes, replaces, deleteBeforeReplace };
  },
  async update(_id, _olds, news) {
    return { outs: await apply(news) };
  },
  async delete(_id, props) {
    if (props.removeOnDelete) await runOnManager(props.connections, REMOVE, { NODE_ID: props.nodeId });
  },
};

export interface SwarmNodeArgs {
  connections: pulumi.Input<ManagerConnection[]>;
  nodeId: pulumi.Input<string>;
  role: pulumi.Input<string>;
  availability?: pulumi.Input<string>;
  labels: pulumi.Input<Record<string, pulumi.Input<string>>>;
  removeOnDelete: pulumi.Input<boolean>;
}

/** One Swarm node's membership, read back from the live Swarm. */
export class SwarmNode extends pulumi.dynamic.Resource {
  declare readonly hostname: pulumi.Output<string>;
  declare readonly nodeId: pulumi.Output<string>;

  constructor(name: string, args: SwarmNodeArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      nodeProvider,
      name,
      { ...args, availability: args.availability ?? "active", connections: pulumi.secret(args.connections), hostname: undefined },
      { ...opts, additionalSecretOutputs: ["connections"] },
      "swarm",
      "Node",
    );
  }
}
