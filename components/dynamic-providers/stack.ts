// Dynamic provider for one deployed Compose stack. Create and update run `docker stack deploy` (the stack
// file stays the deploy mechanism operators know); read asks the live Swarm (`docker service inspect`) and
// returns each service's owned fields, so `pulumi refresh` names `services.<service>.<field>` that drifted
// and the next `pulumi up` deploys the document again. Nothing is replaced unless the stack's name changes.
import * as pulumi from "@pulumi/pulumi";
import { scriptFile } from "../files";
import { ManagerConnection, runOnManager } from "./ssh";
import { diffResult, Revisioned, revisionChanged, SwarmResource } from "./resource";
import { changedPaths, newDigestKey, serviceView, ServiceView } from "./view";
import { canonicalJson } from "./text";

export interface StackInputs extends Revisioned {
  connections: ManagerConnection[];
  stackName: string;
  /** Canonical JSON of the Compose document (secret when it holds secrets). */
  document: string;
  digest: string;
  timeout: number;
}

export interface StackOutputs extends Revisioned {
  connections: ManagerConnection[];
  stackName: string;
  digest: string;
  timeout: number;
  /** What the Swarm runs now (refresh updates it). */
  services: Record<string, ServiceView>;
  /** What the Swarm ran right after the last deploy: the reference drift is measured against. */
  deployed: Record<string, ServiceView>;
  /** Key of the views' env/mount digests (secret output); absent in states from before keyed digests. */
  digestKey?: string;
}

const DEPLOY = scriptFile("swarm/stack-deploy.sh");
const READ = scriptFile("swarm/stack-read.sh");
const REMOVE = scriptFile("swarm/stack-remove.sh");

/** The live view of a stack: one entry per service, keyed by the service's full name. */
async function readStack(connections: ManagerConnection[], stackName: string, digestKey: string): Promise<Record<string, ServiceView>> {
  const out = await runOnManager(connections, READ, { STACK: stackName });
  const live = JSON.parse(out.stdout) as { services: { Spec: { Name: string } }[]; networks: Record<string, string> };
  return Object.fromEntries(live.services.map((s) => [s.Spec.Name, serviceView(s, live.networks, digestKey)]));
}

async function deploy(inputs: StackInputs, digestKey: string): Promise<StackOutputs> {
  await runOnManager(inputs.connections, DEPLOY, { STACK: inputs.stackName, TIMEOUT: String(inputs.timeout) }, inputs.document);
  const services = await readStack(inputs.connections, inputs.stackName, digestKey);
  return { connections: inputs.connections, providerRevision: inputs.providerRevision, stackName: inputs.stackName, digest: inputs.digest, timeout: inputs.timeout, services, deployed: services, digestKey };
}

/** Which fields force what: a new name replaces the stack; everything else is an update (a redeploy). */
export function diffStack(olds: StackOutputs, news: StackInputs): pulumi.dynamic.DiffResult & { fields: string[] } {
  if (olds.stackName !== news.stackName) return { changes: true, replaces: ["stackName"], deleteBeforeReplace: true, fields: ["stackName"] };
  const fields = [
    ...revisionChanged(olds, news),
    ...(olds.digest !== news.digest ? ["document"] : []),
    ...changedPaths(olds.deployed ?? {}, olds.services ?? {}, "services"),
    ...(canonicalJson(olds.connections) !== canonicalJson(news.connections) ? ["connections"] : []),
    ...(olds.timeout !== news.timeout ? ["timeout"] : []),
  ];
  return { changes: fields.length > 0, replaces: [], fields };
}

export const stackProvider: pulumi.dynamic.ResourceProvider<StackInputs, StackOutputs> = {
  async create(inputs) {
    return { id: inputs.stackName, outs: await deploy(inputs, newDigestKey()) };
  },
  async read(id, props) {
    // A state from before keyed digests has no key: a new one makes every digest differ from `deployed`
    // (the unkeyed ones), so the next up redeploys and records keyed ones; no unkeyed digest is written again.
    const p = props as StackOutputs;
    const digestKey = p.digestKey || newDigestKey();
    return { id, props: { ...p, digestKey, services: await readStack(p.connections, p.stackName, digestKey) } };
  },
  async diff(_id, olds, news) {
    return diffResult(diffStack(olds, news));
  },
  async update(_id, olds, news) {
    return { outs: await deploy(news, olds.digestKey || newDigestKey()) };
  },
  async delete(_id, props) {
    // Loud, and only done once the services and their containers are gone (the network's delete follows).
    await runOnManager(props.connections, REMOVE, { STACK: props.stackName, TIMEOUT: String(props.timeout) });
  },
};

export interface SwarmStackDeploymentArgs {
  connections: pulumi.Input<ManagerConnection[]>;
  stackName: pulumi.Input<string>;
  document: pulumi.Input<string>;
  digest: pulumi.Input<string>;
  timeout: pulumi.Input<number>;
}

/** A stack deployed with `docker stack deploy` whose services the engine can read back. */
export class SwarmStackDeployment extends SwarmResource {
  declare readonly services: pulumi.Output<Record<string, ServiceView>>;
  declare readonly digest: pulumi.Output<string>;

  constructor(name: string, args: SwarmStackDeploymentArgs, opts?: pulumi.CustomResourceOptions) {
    super(stackProvider, "Stack", name, args, ["services", "deployed", "digestKey"], opts, ["digestKey"]);
  }
}
