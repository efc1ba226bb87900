import { readFileSync } from "fs";
import { parse } from "yaml";
import { SECRET_KEYS, validateConfig } from "../../components/config/load";
import { platformSchema } from "../../components/config/schema";
import { deployableConfig, stackFileConfig, TEST_HOST_KEY } from "./support/harness";

const secrets = { sshPrivateKey: "secret" as const, backupS3AccessKeyId: "secret" as const, backupS3SecretAccessKey: "secret" as const, resticPassword: "secret" as const, raftResticPassword: "secret" as const, registryPassword: "secret" as const, gitlabToken: "secret" as const, adminPassword: "secret" as const, cloudflareApiToken: "secret" as const, influxdbAdminPassword: "secret" as const, influxdbWriterPassword: "secret" as const, influxdbReaderPassword: "secret" as const, grafanaAdminPassword: "secret" as const };
const monitoringImageProblems = (stack: string) =>
  ["influxdb", "telegraf", "grafana"].map((k) => expect.stringMatching(new RegExp(`^Pulumi\\.${stack}\\.yaml: mbio-cloud:images\\.${k} is missing — required when monitoring\\.enabled is true`)));
// What every committed stack file still needs from its operator for the GitLab runner (docs/ci.md).
const runnerProblems = (stack: string) => [
  expect.stringMatching(new RegExp(`^Pulumi\\.${stack}\\.yaml: mbio-cloud:gitlab\\.groupId is missing — required when gitlab\\.enabled is true`)),
  expect.stringMatching(new RegExp(`^Pulumi\\.${stack}\\.yaml: mbio-cloud:images\\.gitlab-runner is missing — required when gitlab\\.enabled is true`)),
];

const unprefixed = (config: Record<string, unknown>) => Object.fromEntries(Object.entries(config).map(([k, v]) => [k.replace(/^mbio-cloud:/, ""), v]));
const valid = () => unprefixed(deployableConfig("staging"));

function problemsFor(stack: string, raw: Record<string, unknown>, secretState: Parameters<typeof validateConfig>[2] = secrets): string[] {
  try {
    validateConfig(stack, raw, secretState);
  } catch (e) {
    return (e as { problems: string[] }).problems;
  }
  return [];
}

describe("config validation", () => {
  test.each(["development", "staging", "production"])("the real stack file Pulumi.%s.yaml is valid once the pipeline pinned its images", (stack) => {
    const cfg = validateConfig(stack, unprefixed(deployableConfig(stack)), secrets);
    expect(cfg.environment).toBe(stack);
    expect(cfg.stackFile).toBe(`Pulumi.${stack}.yaml`);
  });

  // What an operator adds before the first up: the zone id, and the Portainer images (no citable digest).
  const operatorKeys = (stack: string) => [
    `Pulumi.${stack}.yaml: mbio-cloud:dns.zoneId is missing — required when dns.provider is cloudflare (the zone id of the domain, 32 hex characters)`,
    expect.stringMatching(new RegExp(`^Pulumi\\.${stack}\\.yaml: mbio-cloud:images\\.portainer is missing — required when controlPlane\\.enabled is true`)),
    expect.stringMatching(new RegExp(`^Pulumi\\.${stack}\\.yaml: mbio-cloud:images\\.portainer-agent is missing — required when controlPlane\\.enabled is true`)),
  ];

  test("development has no backups and needs no platform image; as committed it stops only at the operator's keys, the runner's group and image and the monitoring images", () => {
    const problems = problemsFor("development", unprefixed(stackFileConfig("development")));
    expect(problems).toEqual(expect.arrayContaining([...operatorKeys("development"), ...runnerProblems("development"), ...monitoringImageProblems("development")]));
    // No storage key among them: hetzner-volumes needs no digest nobody publishes (docs/storage.md).
    expect(problems.filter((p) => p.includes("mbio-cloud:storage"))).toEqual([]);
    expect(problems).toHaveLength(8);
  });

  test.each(["staging", "production"])("Pulumi.%s.yaml as committed stops at the missing images and zone id, saying how to get them", (stack) => {
    const problems = problemsFor(stack, unprefixed(stackFileConfig(stack)));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^Pulumi\\.${stack}\\.yaml: mbio-cloud:images\\.backup-agent is missing — required when backup\\.enabled is true: the image built from images/backup-agent`)),
        ...operatorKeys(stack),
        ...runnerProblems(stack),
        ...monitoringImageProblems(stack),
      ]),
    );
    expect(problems.filter((p) => p.includes("mbio-cloud:storage"))).toEqual([]);
    expect(problems).toHaveLength(9);
  });

  const cases: [string, (r: Record<string, unknown>) => void, RegExp][] = [
    ["even manager count", (r) => (r.managers = 2), /^Pulumi\.staging\.yaml: mbio-cloud:managers is 2 — a Swarm needs an odd number of managers \(1, 3 or 5\)$/],
    ["too many workers", (r) => (r.workers = 51), /mbio-cloud:workers is 51 — must be a whole number from 0 to 50/],
    ["fractional workers", (r) => (r.workers = 1.5), /mbio-cloud:workers is 1\.5 — must be a whole number/],
    ["unknown location", (r) => (r.location = "fra1"), /mbio-cloud:location is fra1 — must be a Hetzner location: fsn1, nbg1/],
    ["bad admin CIDR", (r) => (r.adminCidrs = ["10.0.0.300/24"]), /mbio-cloud:adminCidrs\[0\] is 10\.0\.0\.300\/24 — must be an IPv4 CIDR/],
    ["SSH open to the world", (r) => (r.adminCidrs = ["0.0.0.0/0"]), /mbio-cloud:adminCidrs is \["0\.0\.0\.0\/0"\] — must not contain 0\.0\.0\.0\/0/],
    ["no SSH keys", (r) => (r.sshPublicKeys = []), /mbio-cloud:sshPublicKeys is \[\] — must list at least one SSH public key/],
    ["malformed SSH key", (r) => (r.sshPublicKeys = ["not-a-key"]), /mbio-cloud:sshPublicKeys\[0\] is not-a-key — must be an OpenSSH public key line/],
    ["docker version wildcard", (r) => (r.dockerEngine = { package: "docker-ce", version: "5:27.*" }), /mbio-cloud:dockerEngine\.version is 5:27\.\* — must be the exact apt version string/],
    ["docker package unknown", (r) => (r.dockerEngine = { package: "moby", version: "1.0" }), /mbio-cloud:dockerEngine\.package is moby — must be docker-ce .* or docker\.io/],
    ["latest image", (r) => (r.images = { restic: "restic/restic:latest" }), /mbio-cloud:images\.restic is restic\/restic:latest — must be pinned as name:version@sha256/],
    ["image without digest", (r) => (r.images = { restic: "restic/restic:0.17.3" }), /mbio-cloud:images\.restic .* must be pinned/],
    ["subnet outside the network", (r) => (r.privateNetwork = { cidr: "10.20.0.0/16", subnet: "10.30.1.0/24" }), /mbio-cloud:privateNetwork\.subnet is 10\.30\.1\.0\/24 — must lie inside privateNetwork\.cidr 10\.20\.0\.0\/16/],
    ["unknown key (typo)", (r) => (r.manager = 3), /mbio-cloud:manager is not a known key — check its spelling/],
    ["missing domain", (r) => delete r.domain, /mbio-cloud:domain is missing — set it to the environment's DNS domain/],
    ["bad endpoint mode", (r) => (r.swarm = { overlayEncrypted: true, endpointMode: "round-robin", publishMode: "host" }), /mbio-cloud:swarm\.endpointMode is round-robin — must be vip .* or dnsrr/],
    ["hosts on hetzner", (r) => (r.hosts = [{ name: "a", address: "1.2.3.4", privateAddress: "10.0.0.1", hostKey: TEST_HOST_KEY.publicKey }]), /mbio-cloud:hosts is .* — only for machineSource existing/],
    ["backup without bucket", (r) => (r.backup = { enabled: true }), /mbio-cloud:backup\.s3 is missing — required when backup\.enabled is true/],
    ["storidge (replaced)", (r) => (r.storage = { driver: "storidge" }), /mbio-cloud:storage\.driver is storidge — storidge is no longer supported .*: use hetzner-volumes .*, hetzner-csi .* or local /],
    ["storidge settings left behind", (r) => (r.storage = { driver: "local", storidge: { version: "v1.0.0-3448" } }), /mbio-cloud:storage\.storidge is .* — is no longer supported: Storidge was replaced by hetzner-csi \(docs\/storage\.md\); remove this key/],
    [
      "hetzner-csi on an old engine",
      (r) => {
        r.dockerEngine = { package: "docker.io", version: "20.10.24+dfsg1-1+deb12u1" };
        r.storage = { driver: "hetzner-csi", hetznerCsi: { pluginImage: `hetznercloud/hcloud-csi-driver:v0.0.0-swarm@sha256:${"f".repeat(64)}` } };
      }, /mbio-cloud:dockerEngine\.version is 20\.10\.24\+dfsg1-1\+deb12u1 — must be Docker Engine 26\.0 or later with storage\.driver hetzner-csi: .*moby#47299/,
    ],
    ["unknown storage driver", (r) => (r.storage = { driver: "glusterfs" }), /mbio-cloud:storage\.driver is glusterfs — must be hetzner-volumes .*, hetzner-csi .* or local /],
    ["hetzner-volumes below Hetzner's minimum", (r) => (r.storage = { driver: "hetzner-volumes", hetznerVolumes: { defaultSizeGb: 5 } }), /mbio-cloud:storage\.hetznerVolumes\.defaultSizeGb is 5 — must be at least 10 \(GB, Hetzner's minimum volume size\)/],
    ["hetzner-volumes above Hetzner's largest", (r) => (r.storage = { driver: "hetzner-volumes", hetznerVolumes: { sizesGb: { monitoring_influxdb: 20000 } } }), /mbio-cloud:storage\.hetznerVolumes\.sizesGb\.monitoring_influxdb is 20000 — must be at most 10240 \(GB, Hetzner's largest volume\)/],
    ["hetzner-volumes size for an unknown volume", (r) => (r.storage = { driver: "hetzner-volumes", hetznerVolumes: { sizesGb: { influx: 50 } } }), /mbio-cloud:storage\.hetznerVolumes\.sizesGb\.influx is 50 — must name one of the platform's stateful volumes: edge_acme, /],
    ["hetzner-csi without a plugin pin", (r) => (r.storage = { driver: "hetzner-csi", hetznerCsi: { defaultSizeGb: 10 } }), /mbio-cloud:storage\.hetznerCsi\.pluginImage is missing — required: the plugin pinned as hetznercloud\/hcloud-csi-driver:vX\.Y\.Z-swarm@sha256:/],
  ];
  test.each(cases)("rejects %s with a message naming file, key and what is allowed", (_name, mutate, expected) => {
    const raw = valid();
    mutate(raw);
    const problems = problemsFor("staging", raw);
    expect(problems.some((p) => expected.test(p))).toBe(true);
    expect(problems.every((p) => p.startsWith("Pulumi.staging.yaml: "))).toBe(true);
  });

  test("reports every problem at once, not the first only", () => {
    const raw = valid();
    raw.managers = 4;
    raw.workers = -1;
    raw.location = "mars";
    delete raw.domain;
    const problems = problemsFor("staging", raw);
    expect(problems.length).toBeGreaterThanOrEqual(4);
    for (const key of ["managers", "workers", "location", "domain"]) expect(problems.some((p) => p.includes(`mbio-cloud:${key} `))).toBe(true);
  });

  test("shortened environment names are refused", () => {
    expect(problemsFor("prod", valid()).join("\n")).toMatch(/the stack name prod is not an environment — use one of development, staging, production, local \(spelled out, never dev\/stage\/prod\)/);
  });

  test("secrets must be secrets and are never echoed", () => {
    const problems = problemsFor("staging", valid(), { ...secrets, sshPrivateKey: "plain" });
    expect(problems.join("\n")).toMatch(/mbio-cloud:sshPrivateKey is stored in plain text — it must be a secret: pulumi config set --secret mbio-cloud:sshPrivateKey --stack staging/);
    const missing = problemsFor("staging", valid(), {});
    expect(missing.join("\n")).toMatch(/mbio-cloud:resticPassword is missing — backup\.enabled is true: pulumi config set --secret/);
  });

  test("existing servers have no Hetzner API: hetzner-csi is refused there, local is the machine-source seam", () => {
    const raw = valid();
    raw.machineSource = "existing";
    for (const k of ["location", "osImage", "serverTypes", "privateNetwork"]) delete raw[k];
    raw.hosts = ["a", "b", "c", "d", "e"].map((n, i) => ({ name: n, address: `192.0.2.${i + 1}`, privateAddress: `10.0.0.${i + 1}`, hostKey: TEST_HOST_KEY.publicKey }));
    raw.storage = { driver: "hetzner-csi", hetznerCsi: { pluginImage: `hetznercloud/hcloud-csi-driver:v0.0.0-swarm@sha256:${"f".repeat(64)}` } };
    expect(problemsFor("staging", raw).join("\n")).toMatch(/mbio-cloud:storage\.driver is hetzner-csi — hetzner-csi needs machineSource hetzner .*existing servers use local/);
    raw.storage = { driver: "hetzner-volumes" };
    expect(problemsFor("staging", raw).join("\n")).toMatch(/mbio-cloud:storage\.driver is hetzner-volumes — hetzner-volumes needs machineSource hetzner .*existing servers use local/);
    raw.storage = { driver: "local" };
    expect(problemsFor("staging", raw).join("\n")).not.toMatch(/storage/);
  });

  test("a runner needs a CI node: gitlab.enabled with ciNodes 0 is refused with the reason", () => {
    const raw = valid();
    raw.ciNodes = 0;
    expect(problemsFor("staging", raw).join("\n")).toMatch(/mbio-cloud:ciNodes is 0 — must be at least 1 when gitlab.enabled is true: runner jobs run only on CI nodes/);
  });

  test("gitlab.nodeRole worker (the old placement next to platform services) is refused with the reason", () => {
    const raw = valid();
    raw.gitlab = { ...(raw.gitlab as object), nodeRole: "worker" };
    expect(problemsFor("staging", raw).join("\n")).toMatch(/mbio-cloud:gitlab\.nodeRole is worker — must be ci \(or absent\)/);
  });

  test("existing hosts must cover managers + workers + ciNodes", () => {
    const raw = valid();
    raw.machineSource = "existing";
    for (const k of ["location", "osImage", "serverTypes", "privateNetwork"]) delete raw[k];
    raw.storage = { driver: "local" };
    raw.hosts = [{ name: "a", address: "192.0.2.1", privateAddress: "10.0.0.1", hostKey: TEST_HOST_KEY.publicKey }];
    expect(problemsFor("staging", raw).join("\n")).toMatch(/mbio-cloud:hosts .* lists 1 host\(s\) but managers \+ workers \+ ciNodes is 6; add hosts or lower the counts/);
  });

  test("existing hosts carry their pinned ed25519 host key", () => {
    const raw = valid();
    raw.machineSource = "existing";
    for (const k of ["location", "osImage", "serverTypes", "privateNetwork"]) delete raw[k];
    raw.storage = { driver: "local" };
    raw.managers = 1;
    raw.workers = 0;
    // One host only: no CI node, so no runner (gitlab.enabled needs one).
    raw.ciNodes = 0;
    raw.gitlab = { ...(raw.gitlab as object), enabled: false };
    raw.hosts = [{ name: "a", address: "192.0.2.1", privateAddress: "10.0.0.1" }];
    expect(problemsFor("staging", raw).join("\n")).toMatch(/mbio-cloud:hosts\[0\]\.hostKey .*ssh-keyscan -t ed25519/);
    raw.hosts = [{ name: "a", address: "192.0.2.1", privateAddress: "10.0.0.1", hostKey: "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBA==" }];
    expect(problemsFor("staging", raw).join("\n")).toMatch(/mbio-cloud:hosts\[0\]\.hostKey .*must be the host's ed25519 public key/);
    raw.hosts = [{ name: "a", address: "192.0.2.1", privateAddress: "10.0.0.1", hostKey: `${TEST_HOST_KEY.publicKey} root@a` }];
    expect(problemsFor("staging", raw)).toEqual([]);
  });
});

describe("Pulumi.yaml declarations", () => {
  const projectFile = readFileSync(`${__dirname}/../../Pulumi.yaml`, "utf8");
  const declared = Object.keys((parse(projectFile) as { config: Record<string, unknown> }).config);

  test.each(["development", "staging", "production"])("Pulumi.%s.yaml sets every declared key the CLI requires (secrets come from --secret)", (stack) => {
    const set = Object.keys(stackFileConfig(stack));
    const missing = declared.filter((k) => !set.includes(k) && !k.endsWith(":sshPrivateKey"));
    expect(missing).toEqual([]);
  });

  test("every key of the schema is declared or listed in Pulumi.yaml", () => {
    for (const key of [...Object.keys(platformSchema.shape), ...Object.keys(SECRET_KEYS)]) {
      expect([key, projectFile.includes(`mbio-cloud:${key}`)]).toEqual([key, true]);
    }
  });
});
