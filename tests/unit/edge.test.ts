// Edge, DNS, control plane and demo service under Pulumi mocks: the whole program per environment (what is
// created, the Compose documents SwarmStack deploys, the DNS records), plus the builders directly. The
// stacks run for real in tests/real/edge.sh; Portainer cannot run here, so its stack is validated only here.
import { execFileSync } from "child_process";
import { stringify } from "yaml";
import { edgeSchema } from "../../components/config/edge";
import { controlPlaneCompose } from "../../components/control-plane";
import { demoCompose } from "../../components/demo-service";
import { dnsRecordNames } from "../../components/dns";
import { edgeCompose, edgeHosts, traefikStaticConfig } from "../../components/edge";
import { apr1, htpasswdLine } from "../../components/htpasswd";
import { contentName } from "../../components/service-conventions";
import { asSecret, byType, configError, deployableConfig, ProgramRun, runProgram, TEST_HOST_KEY, TEST_SECRETS, TEST_ZONE_ID } from "./support/harness";

const ENVIRONMENTS = ["development", "staging", "production"] as const;
const PINNED = /^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*:(?!latest@)[A-Za-z0-9._-]+@sha256:[a-f0-9]{64}$/;
type Compose = { services: Record<string, Record<string, unknown>>; volumes?: Record<string, unknown>; networks?: Record<string, Record<string, unknown>>; configs?: Record<string, { name: string }>; secrets?: Record<string, { name: string }> };

/** The Swarm configs and secrets (Docker provider resources) and their content, secret or not. */
const swarmObjects = (run: ProgramRun) => [...byType(run, "docker:index/serviceConfig:ServiceConfig"), ...byType(run, "docker:index/secret:Secret")];
const objectContent = (o: { inputs: Record<string, unknown> }) => {
  const d = asSecret(o.inputs.data);
  return { secret: d.secret, value: Buffer.from(String(d.value), "base64").toString("utf8") };
};
/** SwarmStack's deploy of stack `name`: the Swarm provider's stack resource. */
const stackDeploy = (run: ProgramRun, stack: string) => byType(run, "pulumi-nodejs:dynamic/swarm:Stack").find((c) => c.inputs.stackName === stack);
/** The Compose document SwarmStack deployed as stack `name`, secret or not. */
function stackDoc(run: ProgramRun, stack: string): Compose | undefined {
  const deploy = stackDeploy(run, stack);
  return deploy ? (JSON.parse(String(asSecret(deploy.inputs.document).value)) as Compose) : undefined;
}

/** What every platform service must have (issue 9 / the brief's standards). */
function expectPlatformService(where: string, svc: Record<string, unknown>, networks: string[]) {
  const deploy = svc.deploy as Record<string, Record<string, unknown>>;
  const label = `${where}`;
  expect([label, String(svc.image)]).toEqual([label, expect.stringMatching(PINNED)]);
  // The policy's one exception: no healthcheck, with a mbio.no-healthcheck label saying why (the Portainer agent).
  const waived = (svc.healthcheck as { disable?: boolean }).disable === true && String((deploy.labels ?? {})["mbio.no-healthcheck"] ?? "").length >= 20;
  if (!waived) expect([label, (svc.healthcheck as { test: string[] }).test[0]]).toEqual([label, "CMD"]);
  expect([label, deploy.resources.limits]).toEqual([label, { cpus: expect.any(String), memory: expect.stringMatching(/^\d+M$/) }]);
  expect([label, deploy.resources.reservations]).toEqual([label, { cpus: expect.any(String), memory: expect.stringMatching(/^\d+M$/) }]);
  expect([label, deploy.restart_policy.condition]).toEqual([label, "any"]);
  expect([label, deploy.update_config]).toEqual([label, expect.objectContaining({ order: expect.stringMatching(/^(start|stop)-first$/), failure_action: "rollback", monitor: expect.stringMatching(/^\d+s$/) })]);
  expect([label, (deploy.placement as { constraints: string[] }).constraints]).toEqual([label, expect.arrayContaining([expect.stringMatching(/^node\.(role|labels\.)/)])]);
  expect([label, (svc.logging as { driver: string }).driver]).toEqual([label, "json-file"]);
  expect([label, svc.networks]).toEqual([label, networks]);
  for (const v of (svc.volumes as { type: string; source: string }[] | undefined) ?? []) {
    // Named volumes only; the docker socket (and the agent's view of volumes) are the documented binds.
    if (v.type === "bind") expect([label, v.source]).toEqual([label, expect.stringMatching(/^\/var\/(run\/docker\.sock|lib\/docker\/volumes)$/)]);
    else expect([label, v.type]).toEqual([label, "volume"]);
  }
}

/** Traefik labels: swarm provider only, under deploy.labels, every router on websecure with acme, every service with a port. */
function expectTraefikLabels(where: string, svc: Record<string, unknown>) {
  expect([where, svc.labels]).toEqual([where, undefined]);
  const labels = (svc.deploy as { labels: Record<string, string> }).labels;
  expect(labels["traefik.enable"]).toBe("true");
  expect(Object.keys(labels).filter((k) => k.startsWith("traefik.docker.") || k.startsWith("traefik.swarm."))).toEqual([]);
  const routers = new Set(Object.keys(labels).flatMap((k) => k.match(/^traefik\.http\.routers\.([^.]+)\./)?.[1] ?? []));
  expect(routers.size).toBeGreaterThan(0);
  for (const r of routers) {
    expect([where, r, labels[`traefik.http.routers.${r}.entrypoints`]]).toEqual([where, r, "websecure"]);
    expect([where, r, labels[`traefik.http.routers.${r}.tls.certresolver`]]).toEqual([where, r, "acme"]);
    expect([where, r, labels[`traefik.http.routers.${r}.middlewares`].split(",")[0]]).toEqual([where, r, "security-headers@swarm"]);
    expect(labels[`traefik.http.routers.${r}.rule`]).toMatch(/^Host\(`[a-z0-9.-]+`\)$/);
  }
  const services = new Set(Object.keys(labels).flatMap((k) => k.match(/^traefik\.http\.services\.([^.]+)\./)?.[1] ?? []));
  expect(services.size).toBeGreaterThan(0);
  for (const s of services) expect([where, s, labels[`traefik.http.services.${s}.loadbalancer.server.port`]]).toEqual([where, s, expect.stringMatching(/^\d+$/)]);
}

describe("edge, DNS, control plane and demo in every environment (mocks)", () => {
  const runs: Record<string, ProgramRun> = {};
  beforeAll(async () => {
    for (const env of ENVIRONMENTS) runs[env] = await runProgram(env, { ...deployableConfig(env), "mbio-cloud:demo": { enabled: true, replicas: 2 }, "mbio-cloud:images": { ...(deployableConfig(env)["mbio-cloud:images"] as object), demo: `registry.gitlab.com/mbio/mbio-cloud/demo:1.0.0@sha256:${"0123456789abcdef".repeat(4)}` } });
  });

  test.each(ENVIRONMENTS)("%s: every stack is built, every service pinned, healthchecked, limited, placed, on the right networks", (env) => {
    const run = runs[env];
    expect(run.error).toBeUndefined();
    const edge = stackDoc(run, "edge")!;
    const portainer = stackDoc(run, "portainer")!;
    const agents = stackDoc(run, "portainer-agent")!;
    const demo = stackDoc(run, "demo")!;
    expect(Object.keys(edge.services)).toEqual(["traefik"]);
    expect(Object.keys(portainer.services)).toEqual(["portainer"]);
    expect(Object.keys(agents.services)).toEqual(["agent"]);
    expect(Object.keys(demo.services)).toEqual(["whoami"]);
    expectPlatformService(`${env} edge_traefik`, edge.services.traefik, ["platform"]);
    expectPlatformService(`${env} portainer_portainer`, portainer.services.portainer, ["agent", "platform"]);
    expectPlatformService(`${env} portainer-agent_agent`, agents.services.agent, ["agents"]);
    expectPlatformService(`${env} demo_whoami`, demo.services.whoami, ["platform"]);
    for (const doc of [edge, portainer, demo]) expect(doc.networks!.platform).toEqual({ external: true, name: `${env}-platform` });
    expect(agents.networks!.agents).toEqual(expect.objectContaining({ driver: "overlay" }));
    expect(portainer.networks!.agent).toEqual({ external: true, name: "portainer-agent_agents" });
    // The server's stack deploys only once the agents' has converged (its first start creates the environment).
    const serverStack = run.resources.find((r) => r.name === `${env}-control-plane-stack`)!;
    expect(serverStack.dependsOn).toContain(`${env}-control-plane-agent-stack-deploy`);
    // Global on the managers, where the Swarm API answers; the socket read-only.
    expect((edge.services.traefik.deploy as Record<string, unknown>).mode).toBe("global");
    expect((edge.services.traefik.volumes as unknown[])[0]).toEqual({ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock", read_only: true });
  });

  test.each(ENVIRONMENTS)("%s: Traefik labels route the dashboard, Portainer and the demo correctly", (env) => {
    const ns = env === "production" ? "mbiosphere.com" : `${env}.mbiosphere.com`;
    const edge = stackDoc(runs[env], "edge")!;
    const portainer = stackDoc(runs[env], "portainer")!;
    const demo = stackDoc(runs[env], "demo")!;
    expectTraefikLabels(`${env} edge`, edge.services.traefik);
    expectTraefikLabels(`${env} portainer`, portainer.services.portainer);
    expectTraefikLabels(`${env} demo`, demo.services.whoami);
    const l = (svc: Record<string, unknown>) => (svc.deploy as { labels: Record<string, string> }).labels;
    expect(l(edge.services.traefik)["traefik.http.routers.edge-dashboard.rule"]).toBe(`Host(\`traefik.${ns}\`)`);
    expect(l(edge.services.traefik)["traefik.http.routers.edge-dashboard.service"]).toBe("api@internal");
    expect(l(edge.services.traefik)["traefik.http.routers.edge-dashboard.middlewares"]).toBe("security-headers@swarm,dashboard-auth@swarm");
    expect(l(edge.services.traefik)["traefik.http.middlewares.dashboard-auth.basicauth.usersfile"]).toBe("/run/secrets/edge-dashboard-users");
    expect(l(portainer.services.portainer)["traefik.http.routers.portainer.rule"]).toBe(`Host(\`portainer.${ns}\`)`);
    expect(l(portainer.services.portainer)["traefik.http.services.portainer.loadbalancer.server.port"]).toBe("9000");
    expect(l(demo.services.whoami)["traefik.http.routers.whoami.rule"]).toBe(`Host(\`whoami.${ns}\`)`);
    expect(l(demo.services.whoami)["traefik.http.routers.whoami.middlewares"]).toBe("security-headers@swarm,retry@swarm");
  });

  test.each(ENVIRONMENTS)("%s: Traefik's static config: swarm provider only, the real network, metrics on :8082, Let's Encrypt via Cloudflare", (env) => {
    const config = swarmObjects(runs[env]).find((c) => c.name === `${env}-edge-config-traefik-yml`)!;
    const yml = objectContent(config).value;
    const edge = stackDoc(runs[env], "edge")!;
    // The config object's name is the hash of exactly this content.
    expect(edge.configs!.traefik_yml.name).toBe(contentName("edge-traefik-yml", yml));
    const cfg = traefikStaticConfig({ edge: edgeSchema.parse({ acme: { challenge: "dns-cloudflare" } }), networkName: `${env}-platform` });
    expect(yml).toBe(stringify(cfg, { lineWidth: 0 }));
    expect(Object.keys(cfg.providers as object)).toEqual(["swarm"]);
    expect((cfg.providers as { swarm: Record<string, unknown> }).swarm).toEqual(expect.objectContaining({ exposedByDefault: false, network: `${env}-platform`, endpoint: "unix:///var/run/docker.sock" }));
    expect((cfg.entryPoints as Record<string, { address: string }>).metrics.address).toBe(":8082");
    expect((cfg.metrics as { prometheus: { entryPoint: string } }).prometheus.entryPoint).toBe("metrics");
    const acme = (cfg.certificatesResolvers as { acme: { acme: Record<string, unknown> } }).acme.acme;
    expect(acme).toEqual(expect.objectContaining({ caServer: "https://acme-v02.api.letsencrypt.org/directory", storage: "/data/acme.json", dnsChallenge: expect.objectContaining({ provider: "cloudflare" }) }));
    // The token reaches Traefik as a Swarm secret file, never as a value in the service.
    const traefik = edge.services.traefik;
    expect((traefik.environment as Record<string, string>).CF_DNS_API_TOKEN_FILE).toBe("/run/secrets/cf-dns-api-token");
    expect(JSON.stringify(edge)).not.toContain(TEST_SECRETS["mbio-cloud:cloudflareApiToken"]);
    expect(edge.volumes).toEqual({ acme: expect.any(Object) });
  });

  test.each(ENVIRONMENTS)("%s: no admin password or token in plain text anywhere; the htpasswd and token are secret Swarm objects", (env) => {
    const run = runs[env];
    for (const r of run.resources) {
      for (const [k, v] of Object.entries(r.inputs)) {
        if (asSecret(v).secret) continue;
        const text = JSON.stringify(v) ?? "";
        expect([r.name, k, text.includes(TEST_SECRETS["mbio-cloud:adminPassword"])]).toEqual([r.name, k, false]);
        expect([r.name, k, text.includes(TEST_SECRETS["mbio-cloud:cloudflareApiToken"])]).toEqual([r.name, k, false]);
      }
    }
    const users = swarmObjects(run).find((c) => c.name === `${env}-edge-secret-dashboard-users`)!;
    expect(objectContent(users)).toEqual({ secret: true, value: htpasswdLine("admin", TEST_SECRETS["mbio-cloud:adminPassword"], env) + "\n" });
    expect(objectContent(users).value).toMatch(/^admin:\$apr1\$/);
    const token = swarmObjects(run).find((c) => c.name === `${env}-edge-secret-cf-token`)!;
    expect(objectContent(token)).toEqual({ secret: true, value: TEST_SECRETS["mbio-cloud:cloudflareApiToken"] });
    // Portainer's stack carries AGENT_SECRET (Portainer reads it only from the environment): the document is secret.
    for (const stack of ["portainer", "portainer-agent"]) expect([stack, asSecret(stackDeploy(run, stack)!.inputs.document).secret]).toEqual([stack, true]);
    const doc = { services: { ...stackDoc(run, "portainer")!.services, ...stackDoc(run, "portainer-agent")!.services } };
    // AGENT_SECRET is the GeneratedSecret's value (random in create(); the mocks name it), not derived from
    // the admin password; the GeneratedSecret registers `value` as a secret output.
    const generated = run.resources.find((r) => r.type === "pulumi-nodejs:dynamic/mbio:GeneratedSecret" && r.name.endsWith("-agent-secret"))!;
    expect(generated).toBeDefined();
    const agentSecret = `generated-${generated.name}`;
    expect((doc.services.agent.environment as Record<string, string>).AGENT_SECRET).toBe(agentSecret);
    expect((doc.services.portainer.environment as Record<string, string>).AGENT_SECRET).toBe(agentSecret);
    expect((doc.services.agent.environment as Record<string, string>).AGENT_CLUSTER_ADDR).toBe("tasks.portainer-agent_agent");
    // No -H: the PortainerEnvironment resource creates the environment through the API, with the admin password.
    expect(doc.services.portainer.command).toEqual(["--admin-password-file", "/run/secrets/portainer-admin-password"]);
    const environment = run.resources.find((r) => r.type === "pulumi-nodejs:dynamic/swarm:PortainerEnvironment")!;
    expect(environment.inputs.agentUrl).toBe("tcp://tasks.portainer-agent_agent:9001");
    expect(asSecret(environment.inputs.adminPassword)).toEqual({ secret: true, value: TEST_SECRETS["mbio-cloud:adminPassword"] });
    expect(doc.services.agent.healthcheck).toEqual({ disable: true });
  });

  test("DNS per stack: production owns the apex, the others <environment>.mbiosphere.com; one A record per manager and name", () => {
    for (const env of ENVIRONMENTS) {
      const records = byType(runs[env], "cloudflare:index/dnsRecord:DnsRecord");
      const managers = Number(deployableConfig(env)["mbio-cloud:managers"]);
      const ns = env === "production" ? "mbiosphere.com" : `${env}.mbiosphere.com`;
      const names = [...new Set(records.map((r) => r.inputs.name))].sort();
      expect([env, names]).toEqual([env, [`*.${ns}`, `monitoring.${ns}`, `portainer.${ns}`, `traefik.${ns}`, ns].sort()]);
      expect(records).toHaveLength(5 * managers);
      expect(records.every((r) => r.inputs.zoneId === TEST_ZONE_ID && r.inputs.type === "A" && r.inputs.proxied === false && r.inputs.ttl === 300)).toBe(true);
      expect(records.some((r) => r.inputs.name === "mbiosphere.com")).toBe(env === "production");
      // Records point at the managers' public addresses (the mock server's ipv4Address).
      const servers = byType(runs[env], "hcloud:index/server:Server").filter((s) => (s.inputs.labels as Record<string, string>).role === "manager");
      expect(servers).toHaveLength(managers);
      const providers = byType(runs[env], "pulumi:providers:cloudflare");
      expect(providers).toHaveLength(1);
      expect(asSecret(providers[0].inputs.apiToken).secret).toBe(true);
    }
  });

  test("dns.provider none creates no records; dns.target load-balancer points every name at one Hetzner load balancer", async () => {
    const none = await runProgram("staging", { ...deployableConfig("staging"), "mbio-cloud:dns": { provider: "none" } });
    expect(none.error).toBeUndefined();
    expect(byType(none, "cloudflare:index/dnsRecord:DnsRecord")).toEqual([]);
    const lb = await runProgram("production", { ...deployableConfig("production"), "mbio-cloud:dns": { provider: "cloudflare", zoneId: TEST_ZONE_ID, target: "load-balancer" } });
    expect(lb.error).toBeUndefined();
    expect(byType(lb, "cloudflare:index/dnsRecord:DnsRecord")).toHaveLength(5);
    expect(byType(lb, "hcloud:index/loadBalancer:LoadBalancer")).toHaveLength(1);
    expect(byType(lb, "hcloud:index/loadBalancerService:LoadBalancerService").map((s) => s.inputs.listenPort).sort()).toEqual([443, 80]);
    expect(byType(lb, "hcloud:index/loadBalancerTarget:LoadBalancerTarget")[0].inputs.labelSelector).toBe("environment=production,managed-by=pulumi,role=manager");
  });

  test("controlPlane.enabled false and demo off (the defaults of a stack without them) create neither stack", async () => {
    const run = await runProgram("staging", { ...deployableConfig("staging"), "mbio-cloud:controlPlane": { enabled: false } });
    expect(run.error).toBeUndefined();
    expect(stackDoc(run, "portainer")).toBeUndefined();
    expect(stackDoc(run, "demo")).toBeUndefined();
    expect(stackDoc(run, "edge")).toBeDefined();
  });
});

describe("content-named configs and secrets roll the services", () => {
  test("a changed Traefik config gives a new config name, and so a new service spec", async () => {
    const info = await runProgram("staging", deployableConfig("staging"));
    const debug = await runProgram("staging", { ...deployableConfig("staging"), "mbio-cloud:edge": { acme: { challenge: "dns-cloudflare" }, logLevel: "DEBUG" } });
    const a = stackDoc(info, "edge")!.configs!.traefik_yml.name;
    const b = stackDoc(debug, "edge")!.configs!.traefik_yml.name;
    expect(a).toMatch(/^edge-traefik-yml-[0-9a-f]{16}$/);
    expect(b).toMatch(/^edge-traefik-yml-[0-9a-f]{16}$/);
    expect(a).not.toBe(b);
    const again = await runProgram("staging", deployableConfig("staging"));
    expect(stackDoc(again, "edge")!.configs!.traefik_yml.name).toBe(a);
  });

  test("a changed admin password gives new secret names (dashboard users, Portainer); the agent secret does not follow it", async () => {
    const one = await runProgram("staging", deployableConfig("staging"));
    const two = await runProgram("staging", deployableConfig("staging"), { ...TEST_SECRETS, "mbio-cloud:adminPassword": "another-admin-password" });
    expect(stackDoc(one, "edge")!.secrets!.dashboard_users.name).not.toBe(stackDoc(two, "edge")!.secrets!.dashboard_users.name);
    expect(stackDoc(one, "portainer")!.secrets!.admin_password.name).not.toBe(stackDoc(two, "portainer")!.secrets!.admin_password.name);
    // Random (GeneratedSecret), not derived from the password: the same resource's value in both runs.
    const agentSecret = (run: ProgramRun) => (stackDoc(run, "portainer-agent")!.services.agent.environment as Record<string, string>).AGENT_SECRET;
    expect(agentSecret(one)).toMatch(/^generated-.*-agent-secret$/);
    expect(agentSecret(two)).toBe(agentSecret(one));
  });
});

describe("the builders", () => {
  const edgeCfg = edgeSchema.parse({ acme: { challenge: "http", caServer: "https://172.30.0.4:14000/dir", caCertificate: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" } });

  test("sandbox (publishMode host): host-mode ports, stop-first for the edge (two tasks cannot bind one port), the ACME CA trusted", () => {
    const doc = edgeCompose({ image: "x:1@sha256:" + "a".repeat(64), namespace: "local.mbiosphere.test", edge: edgeCfg, networkName: "local-platform", publishMode: "host", configNames: { traefik: "t", acmeCa: "c" }, secretNames: { users: "u" } });
    const t = doc.services.traefik;
    expect(t.ports).toEqual([
      { target: 80, published: 80, protocol: "tcp", mode: "host" },
      { target: 443, published: 443, protocol: "tcp", mode: "host" },
    ]);
    expect((t.deploy as { update_config: { order: string } }).update_config.order).toBe("stop-first");
    expect(t.environment).toEqual({ LEGO_CA_CERTIFICATES: "/etc/traefik/acme-ca.pem" });
    const acme = (traefikStaticConfig({ edge: edgeCfg, networkName: "local-platform" }).certificatesResolvers as { acme: { acme: Record<string, unknown> } }).acme.acme;
    expect(acme.httpChallenge).toEqual({ entryPoint: "web" });
    expect(acme.caServer).toBe("https://172.30.0.4:14000/dir");
    const ingress = edgeCompose({ image: "x:1@sha256:" + "a".repeat(64), namespace: "mbiosphere.com", edge: edgeCfg, networkName: "production-platform", publishMode: "ingress", configNames: { traefik: "t" }, secretNames: { users: "u" } });
    expect((ingress.services.traefik.deploy as { update_config: { order: string } }).update_config.order).toBe("start-first");
    expect((ingress.services.traefik.ports as { mode: string }[])[0].mode).toBe("ingress");
  });

  test("the demo service drains on stop longer than Traefik's poll and rolls start-first", () => {
    const doc = demoCompose({ environment: "local", image: "d:1@sha256:" + "b".repeat(64), namespace: "local.mbiosphere.test", networkName: "local-platform", replicas: 2, release: "7" });
    const w = doc.services.whoami;
    expect(Number((w.environment as Record<string, string>).DRAIN_SECONDS)).toBeGreaterThan(5);
    expect(w.stop_grace_period).toBe("30s");
    expect((w.deploy as { update_config: { order: string } }).update_config.order).toBe("start-first");
    expect((w.deploy as { replicas: number }).replicas).toBe(2);
    expect((w.environment as Record<string, string>).DEMO_RELEASE).toBe("7");
  });

  test("Portainer: one server on a manager (stop-first: one writer on its volume), agents global, one overlay network", () => {
    const { server, agent } = controlPlaneCompose({ environment: "staging", images: { server: "p", agent: "a" }, namespace: "staging.mbiosphere.com", networkName: "staging-platform", overlayEncrypted: true, agentSecret: "s", adminPasswordSecret: "n" });
    expect((server.services.portainer.deploy as { placement: { constraints: string[] } }).placement.constraints).toEqual(["node.role == manager", "node.labels.mbio.role != ci"]);
    expect((server.services.portainer.deploy as { update_config: { order: string } }).update_config.order).toBe("stop-first");
    expect((agent.services.agent.deploy as { mode: string }).mode).toBe("global");
    expect(agent.networks!.agents).toEqual({ driver: "overlay", attachable: false, driver_opts: { encrypted: "true" } });
    expect(server.networks!.agent).toEqual({ external: true, name: "portainer-agent_agents" });
  });

  test("edge hosts and DNS names of a namespace", () => {
    expect(edgeHosts("staging.mbiosphere.com")).toEqual({ dashboard: "traefik.staging.mbiosphere.com", monitoring: "monitoring.staging.mbiosphere.com", portainer: "portainer.staging.mbiosphere.com", demo: "whoami.staging.mbiosphere.com" });
    expect(dnsRecordNames("mbiosphere.com").map((r) => r.name)).toEqual(["mbiosphere.com", "*.mbiosphere.com", "traefik.mbiosphere.com", "monitoring.mbiosphere.com", "portainer.mbiosphere.com"]);
  });

  test("apr1 hashes equal openssl passwd -apr1 (the real tool), and htpasswd lines are stable per environment", () => {
    for (const [pw, salt] of [["s3cr3t pässword", "abcdefgh"], ["x", "Zz./09"], ["a-much-longer-password-than-sixteen-bytes", "12345678"]]) {
      expect(apr1(pw, salt)).toBe(execFileSync("openssl", ["passwd", "-apr1", "-salt", salt, pw], { encoding: "utf8" }).trim());
    }
    expect(htpasswdLine("admin", "pw", "staging")).toBe(htpasswdLine("admin", "pw", "staging"));
    expect(htpasswdLine("admin", "pw", "staging")).not.toBe(htpasswdLine("admin", "pw", "production"));
  });
});

describe("bad input stops before anything is created, naming file and key", () => {
  // The program's config step (tests/unit/bad-input.test.ts proves a ConfigError stops the whole program
  // before any resource, printing this message).
  const problems = async (env: string, config: Record<string, unknown>, secrets: Record<string, string> = TEST_SECRETS) => configError(env, config, secrets).message;

  test("bad domain", async () => {
    expect(await problems("staging", { ...deployableConfig("staging"), "mbio-cloud:domain": "mbio sphere!com" })).toContain("Pulumi.staging.yaml: mbio-cloud:domain is mbio sphere!com — must be a DNS domain such as mbiosphere.com");
  });

  test("missing Cloudflare token for dns.provider cloudflare", async () => {
    const { ["mbio-cloud:cloudflareApiToken"]: _omit, ...secrets } = TEST_SECRETS;
    expect(_omit).toBeDefined();
    expect(await problems("production", deployableConfig("production"), secrets)).toContain(
      "Pulumi.production.yaml: mbio-cloud:cloudflareApiToken is missing — dns.provider is cloudflare: pulumi config set --secret mbio-cloud:cloudflareApiToken --stack production",
    );
  });

  test("missing Cloudflare token for the ACME DNS challenge without Cloudflare DNS", async () => {
    const { ["mbio-cloud:cloudflareApiToken"]: _omit, ...secrets } = TEST_SECRETS;
    expect(_omit).toBeDefined();
    expect(await problems("staging", { ...deployableConfig("staging"), "mbio-cloud:dns": { provider: "none" } }, secrets)).toContain("mbio-cloud:cloudflareApiToken is missing — edge.acme.challenge is dns-cloudflare");
  });

  test("unpinned and missing images", async () => {
    const images = { ...(deployableConfig("staging")["mbio-cloud:images"] as Record<string, string>), traefik: "traefik:latest" };
    expect(await problems("staging", { ...deployableConfig("staging"), "mbio-cloud:images": images })).toContain(
      "Pulumi.staging.yaml: mbio-cloud:images.traefik is traefik:latest — must be pinned as name:version@sha256:<64 hex digits>, never latest",
    );
    const { traefik: _t, ...without } = images;
    expect(_t).toBeDefined();
    expect(await problems("staging", { ...deployableConfig("staging"), "mbio-cloud:images": without })).toContain("Pulumi.staging.yaml: mbio-cloud:images.traefik is missing — required (every stack runs the edge)");
  });

  test("bad edge and dns values", async () => {
    const out = await problems("staging", { ...deployableConfig("staging"), "mbio-cloud:edge": { acme: { challenge: "dns-route53", caServer: "http://insecure/dir" } }, "mbio-cloud:dns": { provider: "cloudflare", zoneId: "not-an-id" } });
    expect(out).toContain("mbio-cloud:edge.acme.challenge is dns-route53 — must be one of dns-cloudflare, http, tls-alpn");
    expect(out).toContain("mbio-cloud:edge.acme.caServer is http://insecure/dir — must be the https URL of an ACME directory");
    expect(out).toContain("mbio-cloud:dns.zoneId is not-an-id — must be the Cloudflare zone id");
  });

  test("a load balancer needs Hetzner machines", async () => {
    const cfg = { ...deployableConfig("staging"), "mbio-cloud:dns": { provider: "none", target: "load-balancer" }, "mbio-cloud:machineSource": "existing", "mbio-cloud:hosts": [{ name: "m1", address: "192.0.2.1", privateAddress: "10.0.0.1", hostKey: TEST_HOST_KEY.publicKey }] };
    expect(await problems("staging", cfg)).toContain("mbio-cloud:dns.target is load-balancer — load-balancer needs machineSource hetzner");
  });
});
