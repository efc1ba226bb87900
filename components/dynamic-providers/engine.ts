// The Docker Engine of one node, changed without taking the Swarm down. A pin change (engine, containerd,
// daemon.json) goes node by node: ask the node whether anything would change (check only, so a current node
// is never drained), drain it through any reachable manager, install on the node, wait until it is Ready and
// every manager is reachable again, reactivate it. SwarmCluster chains these resources (managers first, one
// by one, then workers), so Pulumi never runs two at once: at most one manager is ever down, quorum holds.
//
// A first install is not this resource's job: the node's `-docker` command installs the engine before the
// node joins. Create and update both run the same roll: the check first, so a node already at the pins (the
// usual create, right after the `-docker` command) is left alone, and one that is not is drained, installed
// and reactivated. An update whose engine inputs did not change only records the new inputs.
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { scriptFile } from "../files";
import { ManagerConnection, runOnHost, runOnManager } from "./ssh";
import { changedPaths } from "./view";
import { PROVIDER_REVISION, Revisioned, revisionChanged } from "./resource";

export const INSTALL_SCRIPT = "swarm/install-docker.sh";

export interface EngineRolloutInputs extends Revisioned {
  managers: ManagerConnection[];
  node: ManagerConnection;
  nodeName: string;
  nodeId: string;
  /** DOCKER_PACKAGE, DOCKER_VERSION, CONTAINERD_VERSION for install-docker.sh. */
  engine: Record<string, string>;
  /** sha256 of install-docker.sh: a change of the script (daemon.json) rolls out like a version change. */
  scriptSha256: string;
  /** The node whose change must finish before this one starts ("" for the first): the chain, for readers. */
  after: string;
}

export interface EngineRolloutOutputs extends EngineRolloutInputs {
  /** What the last apply found and did, with UTC times: the ordering proof reads these. */
  steps: string[];
}

const INSTALL = scriptFile(INSTALL_SCRIPT);
const ROLLOUT = scriptFile("swarm/engine-rollout.sh");

export async function rollEngine(inputs: EngineRolloutInputs): Promise<EngineRolloutOutputs> {
  const at = (what: string) => `${new Date().toISOString()} ${inputs.nodeName} ${what}`;
  const state = (await runOnHost(inputs.node, INSTALL, { ...inputs.engine, CHECK_ONLY: "1" })).stdout.trim();
  if (state === "current") return { ...inputs, steps: [at("current")] };
  const steps = [at(state)];
  await runOnManager(inputs.managers, ROLLOUT, { ACTION: "drain", NODE_ID: inputs.nodeId });
  steps.push(at("drained"));
  const version = (await runOnHost(inputs.node, INSTALL, inputs.engine)).stdout.trim();
  steps.push(at(`engine ${version} running`));
  await runOnManager(inputs.managers, ROLLOUT, { ACTION: "activate", NODE_ID: inputs.nodeId });
  steps.push(at("ready, every manager reachable, active"));
  return { ...inputs, steps };
}

/** What the engine is made of: a change here rolls; other changes (addresses, the chain) are recorded only. */
export function engineChanged(olds: EngineRolloutInputs, news: EngineRolloutInputs): boolean {
  return [...changedPaths(news.engine, olds.engine, "engine"), ...changedPaths(news.scriptSha256, olds.scriptSha256, "scriptSha256"), ...changedPaths(news.nodeId, olds.nodeId, "nodeId")].length > 0;
}

// Compared key by key (changedPaths): inputs read back from the state need not keep their key order.
export function diffEngine(olds: EngineRolloutOutputs, news: EngineRolloutInputs): pulumi.dynamic.DiffResult {
  const other = [...revisionChanged(olds, news), ...changedPaths(news.after, olds.after, "after"), ...changedPaths(news.managers, olds.managers, "managers"), ...changedPaths(news.node, olds.node, "node"), ...changedPaths(news.nodeName, olds.nodeName, "nodeName")];
  return { changes: engineChanged(olds, news) || other.length > 0 };
}

export const engineRolloutProvider: pulumi.dynamic.ResourceProvider<EngineRolloutInputs, EngineRolloutOutputs> = {
  async create(inputs) {
    return { id: `${inputs.nodeName}-engine`, outs: await rollEngine(inputs) };
  },
  async diff(_id, olds, news) {
    return diffEngine(olds, news);
  },
  async update(_id, olds, news) {
    return { outs: engineChanged(olds, news) ? await rollEngine(news) : { ...news, steps: olds.steps } };
  },
  async delete() {
    // The engine stays with the machine; removing the node from the Swarm is the membership's job.
  },
};

export interface EngineRolloutArgs {
  managers: pulumi.Input<ManagerConnection[]>;
  node: pulumi.Input<ManagerConnection>;
  nodeName: string;
  nodeId: pulumi.Input<string>;
  engine: Record<string, string>;
  after: string;
}

/** One node's engine at the pinned versions, changed by drain → install → ready → active. */
export class EngineRollout extends pulumi.dynamic.Resource {
  declare readonly steps: pulumi.Output<string[]>;

  constructor(name: string, args: EngineRolloutArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      engineRolloutProvider,
      name,
      { ...args, managers: pulumi.secret(args.managers), node: pulumi.secret(args.node), scriptSha256: createHash("sha256").update(INSTALL).digest("hex"), providerRevision: PROVIDER_REVISION, steps: undefined },
      { ...opts, additionalSecretOutputs: ["managers", "node"] },
      "swarm",
      "EngineRollout",
    );
  }
}

/** The order of a rolling change: managers one by one (the first manager first), then workers. */
export function rollingOrder<T extends { role: string }>(machines: T[]): T[] {
  // CI nodes right after the managers: scaling the workers then never changes a CI node's place in the chain.
  const of = (role: string) => machines.filter((m) => m.role === role);
  return [...of("manager"), ...of("ci"), ...machines.filter((m) => m.role !== "manager" && m.role !== "ci")];
}
