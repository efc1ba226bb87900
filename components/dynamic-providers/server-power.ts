// Dynamic provider for a Hetzner server's power state. The hcloud provider does not own it (its `status` is an
// output only), so a server powered off in Hetzner's console or API went unseen by `pulumi refresh` and stayed off
// after `pulumi up`. Here `read` asks the API for the status (refresh reports `status: "running" => "off"`) and
// `update` powers the server on and waits for Hetzner's action (tests/real/hetzner-apply.sh, "power off").
// The API token is a secret input; the endpoint is hcloud:endpoint (the emulator in tests) or Hetzner's.
import * as pulumi from "@pulumi/pulumi";

export const HCLOUD_API = "https://api.hetzner.cloud/v1";

interface PowerInputs {
  endpoint: string;
  token: string;
  serverId: number;
}
interface PowerOutputs extends PowerInputs {
  status: string;
}

/** One API call; a refusal names the call and Hetzner's error (the token never appears). */
async function hcloudCall(inputs: PowerInputs, method: string, path: string, body?: unknown): Promise<Record<string, unknown> | undefined> {
  const res = await fetch(`${inputs.endpoint}${path}`, {
    method,
    headers: { Authorization: `Bearer ${inputs.token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 404 && method === "GET") return undefined;
  const text = await res.text();
  if (!res.ok) throw new Error(`Hetzner API ${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

async function serverStatus(inputs: PowerInputs): Promise<string | undefined> {
  const body = await hcloudCall(inputs, "GET", `/servers/${inputs.serverId}`);
  return (body?.server as { status?: string } | undefined)?.status;
}

/** Powers the server on when it is off and waits (at most 5 minutes) for Hetzner's action to succeed. */
async function powerOn(inputs: PowerInputs): Promise<PowerOutputs> {
  if ((await serverStatus(inputs)) === "off") {
    const started = await hcloudCall(inputs, "POST", `/servers/${inputs.serverId}/actions/poweron`, {});
    const actionId = (started?.action as { id?: number } | undefined)?.id;
    const deadline = Date.now() + 5 * 60_000;
    for (;;) {
      const action = (await hcloudCall(inputs, "GET", `/actions/${actionId}`))?.action as { status?: string; error?: { message?: string } } | undefined;
      if (action?.status === "success") break;
      if (action?.status === "error") throw new Error(`Hetzner could not power on server ${inputs.serverId}: ${action.error?.message ?? "no message"}`);
      if (Date.now() > deadline) throw new Error(`server ${inputs.serverId} was not powered on within 5 minutes (action ${actionId})`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  return { ...inputs, status: (await serverStatus(inputs)) ?? "unknown" };
}

export const serverPowerProvider: pulumi.dynamic.ResourceProvider<PowerInputs, PowerOutputs> = {
  async create(inputs) {
    return { id: String(inputs.serverId), outs: await powerOn(inputs) };
  },
  async read(id, props) {
    const p = props as PowerOutputs;
    const status = await serverStatus(p);
    // The server is gone: so is its power state (the engine sees the server's own deletion too).
    if (status === undefined) return {};
    return { id, props: { ...p, status } };
  },
  async diff(_id, olds, news) {
    const replaces = olds.serverId !== news.serverId ? ["serverId"] : [];
    const changes = replaces.length > 0 || olds.status !== "running" || olds.endpoint !== news.endpoint;
    return { changes, replaces };
  },
  async update(_id, _olds, news) {
    return { outs: await powerOn(news) };
  },
  // Nothing to undo: the server's own deletion powers it off.
  async delete() {},
};

export interface ServerPowerArgs {
  /** The server's id (hcloud.Server id as a number). */
  serverId: pulumi.Input<number>;
  /** The Hetzner Cloud API token (a Pulumi secret). */
  token: pulumi.Input<string>;
  /** The API's base URL (hcloud:endpoint); default Hetzner's. */
  endpoint?: pulumi.Input<string>;
}

/** A Hetzner server kept powered on: refresh sees it off, up turns it on. */
export class ServerPower extends pulumi.dynamic.Resource {
  declare readonly status: pulumi.Output<string>;

  constructor(name: string, args: ServerPowerArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      serverPowerProvider,
      name,
      { serverId: args.serverId, token: pulumi.secret(args.token), endpoint: args.endpoint ?? HCLOUD_API, status: undefined },
      { ...opts, additionalSecretOutputs: ["token"] },
      "mbio",
      "ServerPower",
    );
  }
}
