// Runner registration on GitLab's REST API, as a Pulumi dynamic provider (@pulumi/gitlab is not in our npm
// registry). The four calls (docs.gitlab.com/api/users/#create-a-runner-linked-to-a-user, /api/runners/):
//   create  POST   /api/v4/user/runners   → { id, token: "glrt-…", token_expires_at }  (the token is shown once)
//   read    GET    /api/v4/runners/:id    → 404 means someone deleted the runner: refresh and drift see it gone
//   update  PUT    /api/v4/runners/:id    (description, tags, untagged, locked, access level, timeout, paused)
//   delete  DELETE /api/v4/runners/:id    (404: already gone)
// /api/v4/runners/verify is never called: it would mark the runner as contacted.
//
// The provider is serialized into the Pulumi state by the engine, so it only uses Node's own modules and
// the functions of this file. Errors say what to fix; they never contain a token.
import type * as dynamic from "@pulumi/pulumi/dynamic";

export interface RunnerInputs {
  /** GitLab base URL, e.g. https://gitlab.com */
  url: string;
  /**
   * Admin token (glpat-…, scope create_runner); kept secret. A new one is an update (no GitLab change beyond
   * the PUT that proves it works): read and delete use the token in state, so the rotated one must get there
   * before the old one is revoked.
   */
  adminToken: string;
  runnerType: "group_type" | "project_type";
  groupId?: number;
  projectId?: number;
  description: string;
  tagList: string[];
  runUntagged: boolean;
  locked: boolean;
  accessLevel: "not_protected" | "ref_protected";
  maximumTimeout: number;
  paused: boolean;
}

export interface RunnerOutputs extends RunnerInputs {
  runnerId: number;
  /** The runner authentication token (glrt-…): a secret output. */
  token: string;
  tokenExpiresAt: string | null;
}

export interface GitlabResponse {
  status: number;
  body: unknown;
}

/** Where the token is configured, for messages. */
const TOKEN_SOURCE = "mbio-cloud:gitlabToken (pulumi config set --secret) or GITLAB_TOKEN";

/** One JSON request to GitLab's REST API v4; resolves with any HTTP status, rejects only on network failure. */
export function gitlabRequest(baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<GitlabResponse> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const http = require("http") as typeof import("http");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const https = require("https") as typeof import("https");
  const url = new URL(`${baseUrl.replace(/\/+$/, "")}/api/v4${path}`);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const client = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method,
        timeout: 30_000,
        headers: {
          "PRIVATE-TOKEN": token,
          Accept: "application/json",
          ...(payload ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON (a proxy's HTML page): keep the text for the message
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("no answer within 30 s")));
    req.on("error", (e: NodeJS.ErrnoException) =>
      reject(new Error(`could not reach GitLab at ${baseUrl} (${e.code ?? e.message}): check mbio-cloud:gitlab.url and that this machine reaches it`)),
    );
    if (payload) req.write(payload);
    req.end();
  });
}

/** GitLab's own words from an error body: { message } (string or field → messages) or { error }. */
export function gitlabMessage(body: unknown): string {
  if (body && typeof body === "object") {
    const b = body as { message?: unknown; error?: unknown; error_description?: unknown };
    const m = b.message ?? b.error_description ?? b.error;
    if (typeof m === "string") return m;
    if (m && typeof m === "object") {
      return Object.entries(m as Record<string, unknown>)
        .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(", ") : String(v)}`)
        .join("; ");
    }
  }
  return typeof body === "string" && body ? body.slice(0, 200) : "no message";
}

/** The operator-facing error for a failed call: what GitLab said and what to fix. */
export function describeFailure(what: string, inputs: Pick<RunnerInputs, "url" | "groupId" | "projectId">, res: GitlabResponse): Error {
  const scope = inputs.groupId !== undefined ? `group ${inputs.groupId}` : `project ${inputs.projectId}`;
  const said = gitlabMessage(res.body);
  switch (res.status) {
    case 400:
      return new Error(`${what}: GitLab at ${inputs.url} refused the request (400: ${said}); check mbio-cloud:gitlab (groupId/projectId, tags, accessLevel, maximumTimeout)`);
    case 401:
      return new Error(`${what}: GitLab at ${inputs.url} answered 401 Unauthorized (${said}): the admin token is invalid, revoked or expired; create a new one (docs/ci.md) and set ${TOKEN_SOURCE}`);
    case 403:
      return new Error(`${what}: GitLab at ${inputs.url} answered 403 Forbidden (${said}): the admin token needs the scope create_runner (or api) and its user the Owner or Maintainer role in ${scope}`);
    case 404:
      return new Error(`${what}: GitLab at ${inputs.url} answered 404 (${said}): ${scope} does not exist or the token's user cannot see it; check mbio-cloud:gitlab.groupId/projectId`);
    default:
      return new Error(`${what}: GitLab at ${inputs.url} answered ${res.status} (${said}); try again later or check the GitLab instance`);
  }
}

/** The body of POST /user/runners and PUT /runners/:id (the settable attributes, in GitLab's names). */
export function runnerAttributes(i: RunnerInputs): Record<string, unknown> {
  return {
    description: i.description,
    tag_list: i.tagList,
    run_untagged: i.runUntagged,
    locked: i.locked,
    access_level: i.accessLevel,
    maximum_timeout: i.maximumTimeout,
    paused: i.paused,
  };
}

/** Attributes an update can change in place; the others (instance, type, owner) need a new runner. */
export const UPDATABLE = ["description", "tagList", "runUntagged", "locked", "accessLevel", "maximumTimeout", "paused"] as const;
export const REPLACING = ["url", "runnerType", "groupId", "projectId"] as const;

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export const runnerProvider: dynamic.ResourceProvider<RunnerInputs, RunnerOutputs> = {
  async diff(_id, olds, news) {
    const replaces = REPLACING.filter((k) => !same(olds[k], news[k]));
    const changed = UPDATABLE.filter((k) => !same(olds[k], news[k]));
    // A rotated admin token changes nothing at GitLab, but it must reach the state: refresh and destroy call
    // GitLab with the token stored there, and once the old one is revoked they would fail with 401.
    const rotated = olds.adminToken !== news.adminToken;
    return { changes: replaces.length + changed.length > 0 || rotated, replaces, deleteBeforeReplace: false };
  },

  async create(inputs) {
    const owner = inputs.runnerType === "group_type" ? { group_id: inputs.groupId } : { project_id: inputs.projectId };
    const res = await gitlabRequest(inputs.url, inputs.adminToken, "POST", "/user/runners", { runner_type: inputs.runnerType, ...owner, ...runnerAttributes(inputs) });
    if (res.status !== 201) throw describeFailure("creating the GitLab runner", inputs, res);
    const b = res.body as { id?: number; token?: string; token_expires_at?: string | null };
    if (typeof b?.id !== "number" || typeof b.token !== "string" || !b.token.startsWith("glrt-")) {
      throw new Error(`creating the GitLab runner: GitLab at ${inputs.url} answered 201 without an id and a glrt- token; is the URL a GitLab instance (16.0 or later)?`);
    }
    return { id: String(b.id), outs: { ...inputs, runnerId: b.id, token: b.token, tokenExpiresAt: b.token_expires_at ?? null } };
  },

  async read(id, props) {
    const p = props as RunnerOutputs;
    const res = await gitlabRequest(p.url, p.adminToken, "GET", `/runners/${encodeURIComponent(id)}`);
    // Deleted in GitLab (UI or API): an empty id tells the engine the resource is gone.
    if (res.status === 404) return { id: "", props: {} as RunnerOutputs };
    if (res.status !== 200) throw describeFailure(`reading GitLab runner ${id}`, p, res);
    const r = res.body as { description?: string; tag_list?: string[]; run_untagged?: boolean; locked?: boolean; access_level?: string; maximum_timeout?: number | null; paused?: boolean; active?: boolean };
    return {
      id,
      props: {
        ...p,
        description: r.description ?? p.description,
        tagList: r.tag_list ? [...r.tag_list].sort() : p.tagList,
        runUntagged: r.run_untagged ?? p.runUntagged,
        locked: r.locked ?? p.locked,
        accessLevel: (r.access_level as RunnerInputs["accessLevel"]) ?? p.accessLevel,
        maximumTimeout: r.maximum_timeout ?? p.maximumTimeout,
        paused: r.paused ?? (r.active === undefined ? p.paused : !r.active),
      },
    };
  },

  async update(id, olds, news) {
    const res = await gitlabRequest(news.url, news.adminToken, "PUT", `/runners/${encodeURIComponent(id)}`, runnerAttributes(news));
    if (res.status !== 200) throw describeFailure(`updating GitLab runner ${id}`, news, res);
    return { outs: { ...news, runnerId: olds.runnerId, token: olds.token, tokenExpiresAt: olds.tokenExpiresAt } };
  },

  async delete(id, props) {
    const res = await gitlabRequest(props.url, props.adminToken, "DELETE", `/runners/${encodeURIComponent(id)}`);
    if (res.status === 204 || res.status === 200 || res.status === 404) return;
    throw describeFailure(`deleting GitLab runner ${id}`, props, res);
  },
};
