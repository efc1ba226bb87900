// CI nodes hold no platform secret (docs/security.md, "What a CI job can reach"): this walks every service of
// every stack the program deploys on each real stack file and fails on one that could land on a CI node, and
// on a runner placed anywhere else. Swarm delivers a secret only to a node running a task that uses it, so
// placement is what keeps the backup password, S3 keys, InfluxDB and Portainer secrets off CI nodes.
import { NOT_ON_CI_NODES, ON_CI_NODES } from "../../components/service-conventions";
import { asSecret, byType, deployableConfig, runProgram, type ProgramRun } from "./support/harness";

interface Service {
  deploy?: { mode?: string; placement?: { constraints?: string[] } };
  volumes?: ({ type?: string; source?: string } | string)[];
}
function renderedServices(run: ProgramRun): { stack: string; service: string; svc: Service }[] {
  return byType(run, "pulumi-nodejs:dynamic/swarm:Stack").flatMap((r) => {
    const doc = JSON.parse(String(asSecret(r.inputs.document).value)) as { services: Record<string, Service> };
    return Object.entries(doc.services).map(([service, svc]) => ({ stack: String(r.inputs.stackName), service, svc }));
  });
}

describe.each(["development", "staging", "production"])("placement in %s", (stack) => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram(stack, deployableConfig(stack));
    expect(run.error).toBeUndefined();
  }, 180_000);

  test("the stack file has a CI node and the program deploys the platform's stacks", () => {
    const stacks = new Set(renderedServices(run).map((s) => s.stack));
    // What this test walks: if a stack disappears from the plan, the test says so instead of passing on less.
    // Development runs no backups (its stack file), the other two do.
    expect([...stacks].sort()).toEqual(expect.arrayContaining(["edge", "gitlab-runner", "monitoring", "portainer", ...(stack === "development" ? [] : ["backup"])]));
  });

  test("every platform service, global ones included, is kept off CI nodes; the runner is placed only there", () => {
    const wrong = renderedServices(run)
      .map(({ stack: s, service, svc }) => {
        const constraints = svc.deploy?.placement?.constraints ?? [];
        const want = s === "gitlab-runner" ? ON_CI_NODES : NOT_ON_CI_NODES;
        return constraints.includes(want) && !constraints.includes(s === "gitlab-runner" ? NOT_ON_CI_NODES : ON_CI_NODES) ? undefined : `${s}_${service} (${svc.deploy?.mode ?? "replicated"}): ${JSON.stringify(constraints)}`;
      })
      .filter((x) => x !== undefined);
    expect(wrong).toEqual([]);
  });

  test("CI nodes hold no platform data: the only Hetzner volume there is the runner's own state, and no CSI plugin (it holds the Hetzner token)", () => {
    const volumes = byType(run, "hcloud:index/volume:Volume").map((v) => String(v.inputs.name));
    expect(volumes.length).toBeGreaterThan(0);
    expect(volumes.filter((n) => /-ci-\d+-/.test(n) && !n.endsWith("-gitlab-runner-state"))).toEqual([]);
    expect(byType(run, "command:remote:Command").filter((c) => /-ci-\d+-csi-plugin$/.test(c.name)).map((c) => c.name)).toEqual([]);
  });

  test("the runner's jobs get no host Docker socket by default", () => {
    const secret = byType(run, "docker:index/secret:Secret").find((c) => c.name.endsWith("-gitlab-runner-config-secret"))!;
    const toml = Buffer.from(String(asSecret(secret.inputs.data).value), "base64").toString("utf8");
    expect(toml).toMatch(/^ {4}volumes = \["\/cache"\]$/m);
    expect(toml).not.toContain("docker.sock");
    expect(toml).toMatch(/^ {4}privileged = false$/m);
  });

  test("the CI node joins as a Swarm worker labelled mbio.role=ci", () => {
    const member = byType(run, "pulumi-nodejs:dynamic/swarm:Node").find((n) => /-ci-1-membership$/.test(n.name))!;
    expect(member).toBeDefined();
    expect(member.inputs.role).toBe("worker");
    expect(member.inputs.labels).toMatchObject({ "mbio.role": "ci", "mbio.environment": stack });
  });
});
