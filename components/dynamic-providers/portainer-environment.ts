// Dynamic provider for Portainer's one environment: the Swarm, reached through its agents. The server starts
// without -H (an environment given there is created only at its first start, often before the agents resolve;
// components/control-plane.ts), and this resource creates it through the API once server and agents answer:
// components/files/portainer/environment.sh, run on a manager, idempotent (an environment with the agents' URL
// is kept as it is). Read logs in and reports the environment as Portainer has it (id, name, URL, status), so
// `pulumi refresh` sees one deleted or re-pointed by hand and the next `pulumi up` creates it again. A new admin
// password is an update: the script logs in with the previous one and changes it. The password travels only as
// a secret input and on the script's stdin.
import * as pulumi from "@pulumi/pulumi";
import { scriptFile } from "../files";
import { ManagerConnection, runOnManager } from "./ssh";
import { diffResult, Revisioned, revisionChanged, SwarmResource } from "./resource";
import { changedPaths } from "./view";

export interface PortainerEnvironmentInputs extends Revisioned {
  connections: ManagerConnection[];
  /** The server's Swarm service, e.g. portainer_portainer. */
  service: string;
  /** An overlay network the server is on and that every manager has a container on (the platform network). */
  network: string;
  /** The environment's name in Portainer's UI. */
  environmentName: string;
  /** tcp://tasks.<agent stack>_agent:9001: what identifies the environment. */
  agentUrl: string;
  adminPassword: string;
  timeout: number;
}

/** What Portainer reports about the environment; `environmentId` 0 when it has none with `agentUrl`. */
export interface PortainerEnvironmentState {
  environmentId: number;
  url: string;
  name: string;
  /** Portainer's environment type: 2 is "agent on Docker". */
  type: number;
  /** 1 up, 2 down (as of Portainer's last check of the agents). */
  status: number;
}

export type PortainerEnvironmentOutputs = PortainerEnvironmentInputs & PortainerEnvironmentState;

interface ScriptResult {
  /** No running server task to ask (it is moving between nodes, or its stack is gone). */
  unreachable?: boolean;
  id: number;
  name: string;
  url: string;
  type: number;
  status: number;
  created: boolean;
  admin: string;
  passwordChanged: boolean;
}

const SCRIPT = scriptFile("portainer/environment.sh");

async function run(p: PortainerEnvironmentInputs, mode: "apply" | "read" | "delete", previousPassword = ""): Promise<ScriptResult> {
  const out = await runOnManager(
    p.connections,
    SCRIPT,
    { MODE: mode, SERVICE: p.service, NETWORK: p.network, ENV_NAME: p.environmentName, AGENT_URL: p.agentUrl, TIMEOUT: String(p.timeout) },
    `${p.adminPassword}\n${previousPassword}\n`,
  );
  return JSON.parse(out.stdout.trim().split("\n").pop() ?? "{}") as ScriptResult;
}

function outputs(p: PortainerEnvironmentInputs, r: ScriptResult): PortainerEnvironmentOutputs {
  return { ...p, environmentId: r.id, url: r.url, name: r.name, type: r.type, status: r.status };
}

async function apply(p: PortainerEnvironmentInputs, previousPassword = ""): Promise<PortainerEnvironmentOutputs> {
  const r = await run(p, "apply", previousPassword);
  if (!r.id) throw new Error(`Portainer (${p.service}) has no environment for ${p.agentUrl} right after it was created`);
  return outputs(p, r);
}

/**
 * Update when the environment is gone or points elsewhere (what refresh found), or the password, URL or name
 * asked for changed. Nothing is replaced: the environment is Portainer's, this resource only sees to it.
 */
export function diffPortainerEnvironment(olds: PortainerEnvironmentOutputs, news: PortainerEnvironmentInputs): pulumi.dynamic.DiffResult & { fields: string[] } {
  const fields = [
    ...revisionChanged(olds, news),
    ...(olds.environmentId ? [] : ["environmentId"]),
    ...changedPaths(news.agentUrl, olds.url, "url"),
    ...changedPaths(news.agentUrl, olds.agentUrl, "agentUrl"),
    ...changedPaths(news.environmentName, olds.environmentName, "environmentName"),
    ...changedPaths(news.service, olds.service, "service"),
    ...changedPaths(news.network, olds.network, "network"),
    ...(olds.adminPassword !== news.adminPassword ? ["adminPassword"] : []),
    ...changedPaths(news.connections, olds.connections, "connections"),
    ...(olds.timeout !== news.timeout ? ["timeout"] : []),
  ];
  return { changes: fields.length > 0, replaces: [], fields };
}

export const portainerEnvironmentProvider: pulumi.dynamic.ResourceProvider<PortainerEnvironmentInputs, PortainerEnvironmentOutputs> = {
  async create(inputs) {
    const outs = await apply(inputs);
    return { id: `${inputs.service}/${inputs.agentUrl}`, outs };
  },
  async read(id, props) {
    // With no server task running (a drained node moves it; e2e's drift case saw that as "environment gone"),
    // the read knows nothing new and keeps what it had: the Stack resource reports a server that is gone.
    const p = props as PortainerEnvironmentOutputs;
    const r = await run(p, "read");
    return { id, props: r.unreachable ? p : outputs(p, r) };
  },
  async diff(_id, olds, news) {
    return diffResult(diffPortainerEnvironment(olds, news));
  },
  async update(_id, olds, news) {
    return { outs: await apply(news, olds.adminPassword !== news.adminPassword ? olds.adminPassword : "") };
  },
  async delete(_id, props) {
    await run({ ...props, timeout: Math.min(props.timeout, 60) }, "delete");
  },
};

export interface PortainerEnvironmentArgs {
  connections: pulumi.Input<ManagerConnection[]>;
  service: pulumi.Input<string>;
  network: pulumi.Input<string>;
  environmentName: pulumi.Input<string>;
  agentUrl: pulumi.Input<string>;
  adminPassword: pulumi.Input<string>;
  timeout: pulumi.Input<number>;
}

/** Portainer's environment for the Swarm, created through its API and read back from it. */
export class PortainerEnvironment extends SwarmResource {
  declare readonly environmentId: pulumi.Output<number>;
  declare readonly status: pulumi.Output<number>;
  declare readonly url: pulumi.Output<string>;

  constructor(name: string, args: PortainerEnvironmentArgs, opts?: pulumi.CustomResourceOptions) {
    const inputs: PortainerEnvironmentArgs = { ...args, adminPassword: pulumi.secret(args.adminPassword) };
    super(portainerEnvironmentProvider, "PortainerEnvironment", name, inputs, ["environmentId", "url", "name", "type", "status"], opts, ["adminPassword"]);
  }
}
