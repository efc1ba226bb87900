// GitlabRunner: the dynamic provider against a local HTTP server that answers as GitLab's REST API documents
// (POST /user/runners, GET/PUT/DELETE /runners/:id), the runner stack under Pulumi mocks, and bad input.
import * as http from "http";
import { AddressInfo } from "net";
import { validateConfig } from "../../components/config/load";
import { runnerCompose, runnerConfigToml, runnerRegistration } from "../../components/gitlab-runner";
import { RunnerInputs, RunnerOutputs, runnerProvider } from "../../components/dynamic-providers/gitlab-runner";
import { asSecret, byType, deployableConfig, PIPELINE_IMAGES, runProgram, TEST_GITLAB_GROUP_ID, TEST_SECRETS } from "./support/harness";

const ADMIN = "glpat-valid-admin-token-000000";
const EXPIRED = "glpat-expired-admin-token-00000";
const NO_SCOPE = "glpat-read-api-only-token-00000";
const RUNNER_TOKEN = "glrt-t1_fakeRunnerToken0123456789"; // what the stand-in hands out

interface FakeState {
  calls: { method: string; path: string; token?: string; body?: Record<string, unknown> }[];
  runners: Map<number, Record<string, unknown>>;
  url: string;
}
// The stand-in is plain CommonJS so tests/real/gitlab-runner.sh can run it as a process too.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startFakeGitlab } = require("../support/fake-gitlab.js") as { startFakeGitlab: () => Promise<{ state: FakeState; close: () => Promise<void> }> };
let gitlab: FakeState;
let close: () => Promise<void>;
beforeAll(async () => ({ state: gitlab, close } = await startFakeGitlab()));
afterAll(() => close());
beforeEach(() => (gitlab.calls = []));

const GITLAB_CONFIG = { enabled: true, url: "http://placeholder", groupId: 77, concurrency: 3, maximumTimeout: 3600, docker: { socketInJobs: true, privileged: false } };
const inputs = (over: Partial<RunnerInputs> = {}): RunnerInputs => ({ ...runnerRegistration("staging", { ...GITLAB_CONFIG, url: gitlab.url }), adminToken: ADMIN, ...over });
/** create() with its outputs required (the provider always returns them). */
const create = async (i: RunnerInputs): Promise<{ id: string; outs: RunnerOutputs }> => {
  const r = await runnerProvider.create!(i);
  return { id: r.id, outs: r.outs as RunnerOutputs };
};

describe("runner registration on GitLab's REST API (local server)", () => {
  test("create: POST /api/v4/user/runners as a locked group runner with the environment's tag; id and glrt- token back", async () => {
    const r = await create(inputs());
    expect(gitlab.calls).toEqual([
      {
        method: "POST",
        path: "/api/v4/user/runners",
        token: ADMIN,
        body: { runner_type: "group_type", group_id: 77, description: "mbio-cloud staging", tag_list: ["staging"], run_untagged: false, locked: true, access_level: "not_protected", maximum_timeout: 3600, paused: false },
      },
    ]);
    expect(r.id).toMatch(/^\d+$/);
    expect(r.outs.runnerId).toBe(Number(r.id));
    expect(r.outs.token).toBe(RUNNER_TOKEN);
    expect(gitlab.calls.some((c) => c.path.includes("verify"))).toBe(false);
  });

  test("production defaults to ref_protected; a project runner sends project_id", async () => {
    expect(runnerRegistration("production", GITLAB_CONFIG).accessLevel).toBe("ref_protected");
    await create({ ...runnerRegistration("development", { ...GITLAB_CONFIG, groupId: undefined, projectId: 12, url: gitlab.url }), adminToken: ADMIN });
    expect(gitlab.calls[0].body).toMatchObject({ runner_type: "project_type", project_id: 12, tag_list: ["development"] });
    expect(gitlab.calls[0].body).not.toHaveProperty("group_id");
  });

  test("read: GET /api/v4/runners/:id returns GitLab's values (drift), and 404 reports the runner gone", async () => {
    const r = await create(inputs());
    gitlab.runners.get(Number(r.id))!.tag_list = ["staging", "added-in-ui"];
    const read = await runnerProvider.read!(r.id, r.outs);
    expect(read.id).toBe(r.id);
    expect(read.props!.tagList).toEqual(["added-in-ui", "staging"]);
    expect(read.props!.token).toBe(RUNNER_TOKEN);
    const diff = await runnerProvider.diff!(r.id, read.props as RunnerOutputs, inputs());
    expect(diff).toMatchObject({ changes: true, replaces: [] });

    gitlab.runners.delete(Number(r.id)); // deleted in GitLab's UI
    const gone = await runnerProvider.read!(r.id, r.outs);
    expect(gone.id).toBe("");
    expect(gitlab.calls.filter((c) => c.method === "GET").map((c) => c.path)).toEqual([`/api/v4/runners/${r.id}`, `/api/v4/runners/${r.id}`]);
  });

  test("update: PUT /api/v4/runners/:id with the new attributes; the token stays", async () => {
    const r = await create(inputs());
    const news = inputs({ tagList: ["staging", "docker"].sort(), maximumTimeout: 7200 });
    const u = await runnerProvider.update!(r.id, r.outs, news);
    const put = gitlab.calls.find((c) => c.method === "PUT")!;
    expect(put.path).toBe(`/api/v4/runners/${r.id}`);
    expect(put.body).toMatchObject({ tag_list: ["docker", "staging"], maximum_timeout: 7200 });
    expect(put.body).not.toHaveProperty("runner_type");
    expect(u.outs!.token).toBe(RUNNER_TOKEN);
    expect(gitlab.runners.get(Number(r.id))!.maximum_timeout).toBe(7200);
  });

  test("diff: a rotated admin token is an update (never a replace) that stores the new token; tags update in place; another group replaces", async () => {
    const r = await create(inputs());
    expect(await runnerProvider.diff!(r.id, r.outs, inputs())).toMatchObject({ changes: false });
    const rotated = inputs({ adminToken: "glpat-rotated-token-000000000" });
    expect(await runnerProvider.diff!(r.id, r.outs, rotated)).toMatchObject({ changes: true, replaces: [] });
    const updated = (await runnerProvider.update!(r.id, r.outs, rotated)).outs!;
    expect(updated).toMatchObject({ adminToken: "glpat-rotated-token-000000000", runnerId: r.outs.runnerId, token: r.outs.token });
    expect(await runnerProvider.diff!(r.id, r.outs, inputs({ tagList: ["staging", "x"] }))).toMatchObject({ changes: true, replaces: [] });
    expect(await runnerProvider.diff!(r.id, r.outs, inputs({ groupId: 78 }))).toMatchObject({ changes: true, replaces: ["groupId"] });
  });

  test("delete: DELETE /api/v4/runners/:id (204); a runner already deleted (404) is fine", async () => {
    const r = await create(inputs());
    await runnerProvider.delete!(r.id, r.outs);
    expect(gitlab.runners.has(Number(r.id))).toBe(false);
    await expect(runnerProvider.delete!(r.id, r.outs)).resolves.toBeUndefined();
    expect(gitlab.calls.filter((c) => c.method === "DELETE")).toHaveLength(2);
  });

  const failures: [string, Partial<RunnerInputs>, RegExp][] = [
    ["401: token invalid or expired", { adminToken: EXPIRED }, /401 Unauthorized .*the admin token is invalid, revoked or expired; create a new one \(docs\/ci\.md\) and set mbio-cloud:gitlabToken/],
    ["403: scope or role missing", { adminToken: NO_SCOPE }, /403 Forbidden .*needs the scope create_runner \(or api\) and its user the Owner or Maintainer role in group 77/],
    ["400: GitLab's message", { groupId: undefined }, /refused the request \(400: group_id is missing\); check mbio-cloud:gitlab/],
    ["404: group not visible", { groupId: 404404 }, /404 \(404 Group Not Found\): group 404404 does not exist or the token's user cannot see it/],
    ["500: server error", { groupId: 500 }, /answered 500 \(500 Internal Server Error\); try again later/],
  ];
  test.each(failures)("create fails with %s, naming what to fix and never the token", async (_name, over, message) => {
    const i = inputs(over);
    const error = await create(i).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(i.adminToken);
  });

  test("update with a timeout GitLab refuses shows GitLab's field message", async () => {
    const r = await create(inputs());
    await expect(runnerProvider.update!(r.id, r.outs, inputs({ maximumTimeout: 60 }))).rejects.toThrow(/400: maximum_timeout needs to be at least 10 minutes/);
  });

  test("network failure names the URL to check", async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await expect(create(inputs({ url: `http://127.0.0.1:${port}` }))).rejects.toThrow(new RegExp(`could not reach GitLab at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\): check mbio-cloud:gitlab\\.url`));
  });
});

describe("the runner service", () => {
  test("config.toml: concurrency from config, the docker executor, the token, the runner id", () => {
    const toml = runnerConfigToml({ environment: "staging", gitlab: GITLAB_CONFIG, url: "https://gitlab.com", runnerId: 9171, token: RUNNER_TOKEN, defaultImage: PIPELINE_IMAGES["gitlab-runner"] });
    expect(toml).toMatch(/^concurrent = 3$/m);
    expect(toml).toContain(`token = "${RUNNER_TOKEN}"`);
    expect(toml).toMatch(/^ {2}id = 9171$/m);
    expect(toml).toContain('executor = "docker"');
    expect(toml).toContain('volumes = ["/cache", "/var/run/docker.sock:/var/run/docker.sock"]');
    expect(toml).toContain(`image = "${PIPELINE_IMAGES["gitlab-runner"]}"`);
  });

  test("config.toml by default: no host docker socket in jobs, not privileged", () => {
    const toml = runnerConfigToml({ environment: "staging", gitlab: { ...GITLAB_CONFIG, docker: { socketInJobs: false, privileged: false } }, url: "https://gitlab.com", runnerId: 9171, token: RUNNER_TOKEN, defaultImage: PIPELINE_IMAGES["gitlab-runner"] });
    expect(toml).toContain('volumes = ["/cache"]');
    expect(toml).not.toContain("docker.sock");
    expect(toml).toMatch(/^ {4}privileged = false$/m);
  });

  test("compose: pinned image, secret config, named state volume, docker socket, healthcheck, limits, start-first, placement on CI nodes", () => {
    const c = runnerCompose({ image: PIPELINE_IMAGES["gitlab-runner"], secretName: "gitlab-runner-config-abc", environment: "staging" });
    const svc = c.services.runner as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(svc.image).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect(svc.secrets).toEqual([{ source: "config_toml", target: "config.toml", mode: 0o400 }]);
    expect(c.secrets).toEqual({ config_toml: { external: true, name: "gitlab-runner-config-abc" } });
    expect(svc.volumes).toEqual([
      { type: "volume", source: "state", target: "/etc/gitlab-runner" },
      { type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" },
    ]);
    expect(Object.keys(c.volumes!)).toEqual(["state"]);
    expect(svc.healthcheck.test).toContain("http://127.0.0.1:9252/metrics");
    // CI nodes only (tests/unit/placement.test.ts checks every other service stays off them).
    expect(svc.deploy.placement.constraints).toEqual(["node.labels.mbio.environment == staging", "node.labels.mbio.role == ci"]);
    expect(svc.deploy.update_config).toMatchObject({ order: "start-first", failure_action: "rollback" });
    expect(svc.deploy.resources.limits).toEqual({ cpus: "1", memory: "512M" });
  });

  test("staging under mocks: registration with a secret token, a content-named Swarm secret, the gitlab-runner stack", async () => {
    const run = await runProgram("staging", deployableConfig("staging"));
    expect(run.error).toBeUndefined();
    const reg = byType(run, "pulumi-nodejs:dynamic/gitlab:RunnerRegistration");
    expect(reg).toHaveLength(1);
    expect(reg[0].name).toBe("staging-gitlab-runner-registration");
    expect(asSecret(reg[0].inputs.adminToken)).toEqual({ secret: true, value: TEST_SECRETS["mbio-cloud:gitlabToken"] });
    expect(reg[0].inputs).toMatchObject({ url: "https://gitlab.com", runnerType: "group_type", groupId: TEST_GITLAB_GROUP_ID, tagList: ["staging"], accessLevel: "not_protected" });
    const secret = byType(run, "docker:index/secret:Secret").find((c) => c.name === "staging-gitlab-runner-config-secret")!;
    expect(asSecret(secret.inputs.data).secret).toBe(true);
    expect(Buffer.from(String(asSecret(secret.inputs.data).value), "base64").toString("utf8")).toMatch(/^concurrent = 2$/m);
    expect(String(secret.inputs.name)).toMatch(/^gitlab-runner-config-[0-9a-f]{16}$/);
    const deploy = byType(run, "pulumi-nodejs:dynamic/swarm:Stack").find((c) => c.name === "staging-gitlab-runner-stack-deploy")!;
    expect(deploy.inputs.stackName).toBe("gitlab-runner");
    const compose = JSON.parse(String(asSecret(deploy.inputs.document).value));
    expect(compose.services.runner.image).toBe(PIPELINE_IMAGES["gitlab-runner"]);
    expect(JSON.stringify(compose)).not.toContain("glrt-");
    expect(run.outputs.gitlabRunnerTags).toEqual(["staging"]);
  });

  test("production's runner takes only protected refs; the local sandbox (gitlab.enabled false) creates no runner", async () => {
    const prod = await runProgram("production", deployableConfig("production"));
    expect(byType(prod, "pulumi-nodejs:dynamic/gitlab:RunnerRegistration")[0].inputs).toMatchObject({ accessLevel: "ref_protected", tagList: ["production"] });
    const dev = { ...deployableConfig("development"), "mbio-cloud:gitlab": { enabled: false } };
    const run = await runProgram("development", dev);
    expect(run.error).toBeUndefined();
    expect(byType(run, "pulumi-nodejs:dynamic/gitlab:RunnerRegistration")).toHaveLength(0);
    expect(run.resources.some((r) => r.name.includes("gitlab-runner-"))).toBe(false);
  });
});

describe("bad runner input stops before anything is created", () => {
  const base = () => Object.fromEntries(Object.entries(deployableConfig("staging")).map(([k, v]) => [k.replace(/^mbio-cloud:/, ""), v])) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const secrets = { sshPrivateKey: "secret", backupS3AccessKeyId: "secret", backupS3SecretAccessKey: "secret", resticPassword: "secret", raftResticPassword: "secret", registryPassword: "secret", gitlabToken: "secret", adminPassword: "secret", cloudflareApiToken: "secret", influxdbAdminPassword: "secret", influxdbWriterPassword: "secret", influxdbReaderPassword: "secret", grafanaAdminPassword: "secret" } as const;
  const problems = (raw: Record<string, unknown>, values: Record<string, string> = { gitlabToken: ADMIN }, state: Record<string, "secret" | "plain"> = secrets): string[] => {
    try {
      validateConfig("staging", raw, state, values);
      return [];
    } catch (e) {
      return (e as { problems: string[] }).problems;
    }
  };

  test("no URL and no group", () => {
    const raw = base();
    raw.gitlab = { enabled: true, concurrency: 2 };
    expect(problems(raw)).toEqual([
      "Pulumi.staging.yaml: mbio-cloud:gitlab.url is missing — required when gitlab.enabled is true: the URL of the GitLab instance, e.g. https://gitlab.com",
      "Pulumi.staging.yaml: mbio-cloud:gitlab.groupId is missing — required when gitlab.enabled is true (or gitlab.projectId): the numeric id of the GitLab group whose pipelines this runner serves",
    ]);
  });

  test("a concurrency of 0, a timeout below GitLab's minimum, both group and project", () => {
    const raw = base();
    raw.gitlab = { ...raw.gitlab, concurrency: 0, maximumTimeout: 60, projectId: 5 };
    expect(problems(raw)).toEqual(
      expect.arrayContaining([
        "Pulumi.staging.yaml: mbio-cloud:gitlab.concurrency is 0 — must be a whole number from 1 to 50 (jobs the runner runs at once)",
        "Pulumi.staging.yaml: mbio-cloud:gitlab.maximumTimeout is 60 — must be a whole number from 600 to 604800 (seconds a job may run; GitLab's minimum is 600)",
        "Pulumi.staging.yaml: mbio-cloud:gitlab.projectId is 5 — set either gitlab.groupId (a group runner) or gitlab.projectId (a project runner), not both",
      ]),
    );
  });

  test("an admin token of the wrong shape (a runner token), from config or GITLAB_TOKEN, is refused without echoing it", () => {
    const [p] = problems(base(), { gitlabToken: RUNNER_TOKEN });
    expect(p).toBe("Pulumi.staging.yaml: mbio-cloud:gitlabToken has the wrong shape — it must be a GitLab personal, group or project access token (glpat-…, scope create_runner); a runner token (glrt-…), registration token or job token cannot create runners");
    const noSecret = { ...secrets, gitlabToken: undefined } as unknown as Record<string, "secret">;
    expect(problems(base(), { gitlabToken: "GR1348941abcdefghijklmnop" }, noSecret)[0]).toMatch(/^Pulumi\.staging\.yaml: the environment variable GITLAB_TOKEN has the wrong shape/);
    expect(problems(base(), {}, noSecret)).toEqual([
      expect.stringMatching(/^Pulumi\.staging\.yaml: mbio-cloud:gitlabToken is missing — gitlab\.enabled is true \(or export GITLAB_TOKEN\): pulumi config set --secret mbio-cloud:gitlabToken --stack staging/),
    ]);
  });

  test("the program stops with the problems and registers no resource", async () => {
    const cfg = deployableConfig("staging");
    const run = await runProgram("staging", { ...cfg, "mbio-cloud:gitlab": { enabled: true, url: "https://gitlab.com", groupId: 1, concurrency: 0 } }, { ...TEST_SECRETS, "mbio-cloud:gitlabToken": RUNNER_TOKEN });
    expect(run.error?.message).toMatch(/invalid configuration in Pulumi\.staging\.yaml \(2 problem\(s\)/);
    expect(run.consoleErrors.join("\n")).toContain("mbio-cloud:gitlab.concurrency is 0");
    expect(run.consoleErrors.join("\n")).not.toContain(RUNNER_TOKEN);
    expect(run.resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).toHaveLength(0);
  });
});
