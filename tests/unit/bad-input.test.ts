// Bad input everywhere an operator types: each malformed stack-file value stops the real program (index.ts
// under mocks) before any resource exists, with a message that names the stack file, the key and what is
// allowed. One row per value: the key as the operator wrote it, the bad value, what the message must say.
// Every row goes through loadConfig() reading the Pulumi runtime's config, the program's first statement; a
// few rows run the whole program too (a render loads the program and every provider SDK afresh: seconds each,
// minutes for the table), proving that a ConfigError stops it with the list before any resource.
import { configError, deployableConfig, runProgram } from "./support/harness";

type Raw = Record<string, unknown>;
const K = (k: string) => `mbio-cloud:${k}`;
const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMbioCloudOpsTeamKeyReplaceWithYours00000 ops@mbiosphere.com";

/** Sets a dotted path (a.b.0.c) in a copy of the staging stack file. */
function staging(path: string, value: unknown): Raw {
  const cfg = JSON.parse(JSON.stringify(deployableConfig("staging"))) as Raw;
  const [top, ...rest] = path.split(".");
  if (rest.length === 0) {
    if (value === undefined) delete cfg[K(top)];
    else cfg[K(top)] = value;
    return cfg;
  }
  let node = cfg[K(top)] as Raw;
  // A block the stack file does not have (hetznerCsi on a hetzner-volumes stack) is made.
  for (const p of rest.slice(0, -1)) node = (node[p] ??= {}) as Raw;
  node[rest[rest.length - 1]] = value;
  return cfg;
}

// [what, key path in the message, bad value, expected text after "is …"]
const rows: [string, string, unknown, RegExp][] = [
  // types
  ["managers as a string", "managers", "three", /must be a number: 1, 3 or 5/],
  ["workers as a word", "workers", "two", /must be a whole number from 0 to 50/],
  ["overlayEncrypted as a string", "swarm.overlayEncrypted", "yes", /must be true or false/],
  ["backup.enabled as a string", "backup.enabled", "true", /must be true or false/],
  ["adminCidrs as one string", "adminCidrs", "203.0.113.0/24", /must be a list of IPv4 CIDRs/],
  ["sshPublicKeys as one string", "sshPublicKeys", SSH_KEY, /must be a list of OpenSSH public key lines/],
  ["volume size with a unit", "storage.hetznerVolumes.defaultSizeGb", "100GB", /must be a whole number of GB from 10 to 10240/],
  // ranges
  ["even manager count", "managers", 4, /a Swarm needs an odd number of managers \(1, 3 or 5\)/],
  ["negative workers", "workers", -1, /must be a whole number from 0 to 50/],
  ["too many workers", "workers", 51, /must be a whole number from 0 to 50/],
  ["overlay MTU below IPv6 minimum", "swarm.overlayMtu", 1000, /must be a whole number from 1280 to 1450/],
  ["overlay MTU too large with IPsec", "swarm.overlayMtu", 1450, /must be at most 1350 with overlayEncrypted on Hetzner/],
  ["join-token rotation negative", "swarm.joinTokenRotation", -1, /must be a whole number ≥ 0 \(raise it by one to rotate the join tokens\)/],
  ["join-token rotation as a word", "swarm.joinTokenRotation", "now", /must be a whole number ≥ 0, the join-token rotation generation/],
  ["join-token rotation fractional", "swarm.joinTokenRotation", 1.5, /must be a whole number ≥ 0/],
  ["volume below Hetzner minimum", "storage.hetznerVolumes.defaultSizeGb", 5, /must be at least 10 \(GB, Hetzner's minimum volume size\)/],
  ["volume above Hetzner's largest", "storage.hetznerVolumes.sizesGb.monitoring_influxdb", 20000, /must be at most 10240 \(GB, Hetzner's largest volume\)/],
  ["CSI volume below Hetzner minimum", "storage.hetznerCsi.defaultSizeGb", 5, /must be at least 10 \(GB, Hetzner's minimum volume size\)/],
  ["CSI plugin by tag only", "storage.hetznerCsi.pluginImage", "hetznercloud/hcloud-csi-driver:v2.9.0-swarm", /must be pinned as hetznercloud\/hcloud-csi-driver:vX\.Y\.Z-swarm@sha256:<64 hex digits>, never a bare tag/],
  ["storage driver storidge", "storage.driver", "storidge", /storidge is no longer supported .*: use hetzner-volumes .*, hetzner-csi .* or local /],
  ["retention without a daily snapshot", "backup.retention.daily", 0, /keep at least one daily snapshot/],
  ["check subset above 100%", "backup.checkReadDataSubset", "150%", /must be a percentage such as 5%/],
  // CIDRs and addresses
  ["admin CIDR with octet 300", "adminCidrs.0", "10.0.0.300/24", /must be an IPv4 CIDR such as 203\.0\.113\.0\/24/],
  ["admin CIDR without prefix", "adminCidrs.0", "203.0.113.7", /must be an IPv4 CIDR/],
  ["admin CIDR /33", "adminCidrs.0", "203.0.113.0/33", /must be an IPv4 CIDR/],
  ["SSH open to the world", "adminCidrs", ["0.0.0.0/0"], /must not contain 0\.0\.0\.0\/0: SSH is never open to the world/],
  ["no admin CIDR", "adminCidrs", [], /must list at least one CIDR allowed to reach SSH/],
  ["private network not a CIDR", "privateNetwork.cidr", "10.20.0.0", /must be an IPv4 CIDR/],
  ["subnet outside the network", "privateNetwork.subnet", "10.99.1.0/24", /must lie inside privateNetwork\.cidr 10\.20\.0\.0\/16/],
  ["subnet smaller than /24", "privateNetwork.subnet", "10.20.1.0/26", /must be a \/24 or larger/],
  // keys
  ["malformed SSH public key", "sshPublicKeys.0", "ssh-ed25519", /must be an OpenSSH public key line/],
  ["SSH key of an unknown type", "sshPublicKeys.0", "ssh-dss AAAAB3NzaC1kc3MAAACBAP ops", /must be an OpenSSH public key line/],
  ["private key pasted as public", "sshPublicKeys.0", "-----BEGIN OPENSSH PRIVATE KEY-----", /must be an OpenSSH public key line/],
  ["no SSH key at all", "sshPublicKeys", [], /must list at least one SSH public key/],
  // images
  ["image tag latest", "images.backup-agent", "registry.gitlab.com/mbio/backup-agent:latest", /must be pinned as name:version@sha256:<64 hex digits>, never latest/],
  ["image without digest", "images.backup-agent", "registry.gitlab.com/mbio/backup-agent:1.0.0", /must be pinned as name:version@sha256/],
  ["image with a short digest", "images.backup-agent", "registry.gitlab.com/mbio/backup-agent:1.0.0@sha256:abc123", /must be pinned as name:version@sha256/],
  ["image latest with a digest", "images.backup-agent", `registry.gitlab.com/mbio/backup-agent:latest@sha256:${"a".repeat(64)}`, /never latest/],
  ["docker engine version wildcard", "dockerEngine.version", "5:27.*", /must be the exact apt version string/],
  // schedules
  ["backup schedule with hour 25", "backup.schedule", "15 25 * * *", /must be a five-field cron expression such as '15 2 \* \* \*'/],
  ["backup schedule with four fields", "backup.schedule", "15 2 * *", /must be a five-field cron expression/],
  ["check schedule with minute 60", "backup.checkSchedule", "60 4 * * 0", /must be a five-field cron expression such as '45 4 \* \* 0'/],
  ["prune schedule with month 13", "backup.pruneSchedule", "15 5 1 13 *", /must be a five-field cron expression such as '15 5 \* \* \*'/],
  ["schedule with words", "backup.schedule", "every night", /must be a five-field cron expression/],
  // domains and URLs
  ["domain with a scheme", "domain", "https://mbiosphere.com", /must be a DNS domain such as mbiosphere\.com/],
  ["domain without a dot", "domain", "mbiosphere", /must be a DNS domain/],
  ["domain with an underscore", "domain", "mbio_sphere.com", /must be a DNS domain/],
  ["domain with a trailing dot and space", "domain", "mbiosphere.com. ", /must be a DNS domain/],
  ["S3 endpoint without scheme", "backup.s3.endpoint", "fsn1.your-objectstorage.com", /must be an http\(s\) URL of an S3-compatible endpoint/],
  ["S3 bucket with capitals", "backup.s3.bucket", "MBIO_Backups", /must be an S3 bucket name/],
  ["registry with a path", "registry.server", "registry.gitlab.com/mbio", /must be a registry host name/],
  // enums and shapes
  ["Hetzner location typo", "location", "fsn-1", /must be a Hetzner location: fsn1, nbg1, hel1/],
  ["server type with a space", "serverTypes.manager", "cx 32", /must be a Hetzner server type such as cx32/],
  ["label value too long", "labels.cost-center", "x".repeat(64), /label values are at most 63 letters/],
];

describe("bad input: each malformed stack-file value stops the program, names file and key, creates nothing", () => {
  test("the table covers at least 30 values", () => {
    expect(rows.length).toBeGreaterThanOrEqual(30);
  });

  // The key as the message shows it: array indexes in brackets (adminCidrs[0]).
  const lineFor = (problems: string[], key: string) => problems.find((l) => l.startsWith(`Pulumi.staging.yaml: mbio-cloud:${key.replace(/\.(\d+)(?=\.|$)/g, "[$1]")} `));

  test.each(rows)("%s (mbio-cloud:%s)", (_what, key, value, expected) => {
    const { stackFile, problems } = configError("staging", staging(key, value));
    expect(stackFile).toBe("Pulumi.staging.yaml");
    expect([key, lineFor(problems, key)]).toEqual([key, expect.stringMatching(expected)]);
  });

  // The whole program: one row of each kind (type, range, CIDR, image pin, schedule).
  test.each(rows.filter(([what]) => ["managers as a string", "even manager count", "SSH open to the world", "image tag latest", "backup schedule with hour 25"].includes(what)))(
    "the program stops on it before any resource: %s",
    async (_what, key, value, expected) => {
      const run = await runProgram("staging", staging(key, value));
      expect(run.error?.message).toMatch(/^invalid configuration in Pulumi\.staging\.yaml \(\d+ problem\(s\), listed above\)$/);
      expect(run.resources).toEqual([]);
      const problems = (run.error?.cause as { problems?: string[] } | undefined)?.problems ?? [];
      // The operator sees the same list on stderr.
      expect(run.consoleErrors.join("\n")).toContain(problems[0]);
      expect([key, lineFor(problems, key)]).toEqual([key, expect.stringMatching(expected)]);
    },
  );
});

describe("hcloud:endpoint (another Hetzner Cloud API: the emulator)", () => {
  test("reaches the hcloud provider", async () => {
    const run = await runProgram("staging", { ...deployableConfig("staging"), "hcloud:endpoint": "http://127.0.0.1:8480/v1" });
    expect(run.error).toBeUndefined();
    const providers = run.resources.filter((r) => r.type === "pulumi:providers:hcloud");
    expect(providers.map((p) => p.inputs.endpoint)).toEqual(["http://127.0.0.1:8480/v1"]);
  });

  test("a value that is no URL stops the program, naming file and key, before anything is created", async () => {
    const run = await runProgram("staging", { ...deployableConfig("staging"), "hcloud:endpoint": "api.hetzner.cloud" });
    expect(run.error?.message).toMatch(/^invalid configuration in Pulumi\.staging\.yaml: hcloud:endpoint must be the http\(s\) URL of a Hetzner Cloud API/);
    expect(run.resources).toEqual([]);
  });
});
