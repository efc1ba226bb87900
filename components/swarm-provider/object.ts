// Dynamic provider for one Swarm config or secret: created by backup/swarm-object.sh through any reachable
// manager (content on stdin, never on a command line), read back with `docker <kind> inspect`, so an object
// removed by hand shows in `pulumi refresh` and the next `pulumi up` creates it again. Names carry a hash of
// the content (swarm-objects.ts), so a new content is a new object (replace) and the services using it roll;
// Swarm objects are immutable, so there is nothing to update in place.
import * as pulumi from "@pulumi/pulumi";
import { scriptFile } from "../files";
import { diffResult, SwarmResource } from "./resource";
import { ManagerConnection, runOnManager } from "./ssh";

export type ObjectKind = "config" | "secret";

export interface ObjectInputs {
  connections: ManagerConnection[];
  kind: ObjectKind;
  name: string;
  /** The object's content; a secret for kind `secret`. */
  content: string;
  /** `key=value` label the platform finds its objects by. */
  label: string;
}

export interface ObjectOutputs extends ObjectInputs {
  /** The Swarm's ID of the object (a new one when it was recreated). */
  objectId: string;
}

const CREATE = scriptFile("backup/swarm-object.sh");

async function objectId(p: ObjectInputs): Promise<string | undefined> {
  const out = await runOnManager(p.connections, 'docker "$KIND" inspect --format "{{.ID}}" "$NAME" 2>/dev/null || true', { KIND: p.kind, NAME: p.name });
  return out.stdout.trim() || undefined;
}

async function ensure(inputs: ObjectInputs): Promise<ObjectOutputs> {
  await runOnManager(inputs.connections, CREATE, { KIND: inputs.kind, NAME: inputs.name, LABEL: inputs.label }, inputs.content);
  const id = await objectId(inputs);
  if (!id) throw new Error(`Swarm ${inputs.kind} ${inputs.name} is missing right after it was created`);
  return { ...inputs, objectId: id };
}

/** Kind, name (content hash) or label changed: a new object. Only the manager list updates in place. */
export function diffObject(olds: ObjectOutputs, news: ObjectInputs): pulumi.dynamic.DiffResult {
  const replaces = (["kind", "name", "label"] as const).filter((k) => olds[k] !== news[k]);
  const connections = JSON.stringify(olds.connections) !== JSON.stringify(news.connections);
  // Same name, other label: the old object must go first (two objects cannot share a name).
  return diffResult({ changes: replaces.length > 0 || connections, replaces, deleteBeforeReplace: replaces.length > 0 && olds.name === news.name ? true : undefined });
}

export const objectProvider: pulumi.dynamic.ResourceProvider<ObjectInputs, ObjectOutputs> = {
  async create(inputs) {
    return { id: `${inputs.kind}/${inputs.name}`, outs: await ensure(inputs) };
  },
  async read(id, props) {
    const p = props as ObjectOutputs;
    const live = await objectId(p);
    return live ? { id, props: { ...p, objectId: live } } : {};
  },
  async diff(_id, olds, news) {
    return diffObject(olds, news);
  },
  async update(_id, _olds, news) {
    return { outs: await ensure(news) };
  },
  async delete(_id, props) {
    // Removing fails while a service still uses the object; the replacement stack has moved on by then.
    await runOnManager(props.connections, 'docker "$KIND" rm "$NAME" >/dev/null 2>&1 || true', { KIND: props.kind, NAME: props.name });
  },
};

export interface SwarmObjectArgs {
  connections: pulumi.Input<ManagerConnection[]>;
  kind: ObjectKind;
  name: pulumi.Input<string>;
  content: pulumi.Input<string>;
  label: string;
}

/** One Swarm config or secret, read back from the live Swarm. */
export class SwarmObject extends SwarmResource {
  declare readonly name: pulumi.Output<string>;
  declare readonly objectId: pulumi.Output<string>;

  constructor(name: string, args: SwarmObjectArgs, opts?: pulumi.CustomResourceOptions) {
    const inputs = { ...args, content: args.kind === "secret" ? pulumi.secret(args.content) : args.content };
    super(objectProvider, "Object", name, inputs, ["objectId"], opts, args.kind === "secret" ? ["content"] : []);
  }
}
