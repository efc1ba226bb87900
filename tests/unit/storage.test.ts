// StoridgeStorage under Pulumi mocks, one block per storage.driver; Storidge itself cannot run here
// (unmaintained, older Ubuntu only), so its scripts are checked with stand-in commands.
import * as pulumi from "@pulumi/pulumi";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { storageSchema } from "../../components/config/data";
import { settle as settleRegistrations } from "./support/harness";

interface Res { type: string; name: string; inputs: Record<string, unknown> }
const resources: Res[] = [];
pulumi.runtime.setMocks(
  {
    newResource: (a) => {
      resources.push({ type: a.type, name: a.name, inputs: a.inputs });
      const state: Record<string, unknown> = { ...a.inputs, stdout: a.name.endsWith("cluster-create") ? "TOKEN123\n" : "", stderr: "" };
      if (a.type === "hcloud:index/volume:Volume") state.linuxDevice = `/dev/disk/by-id/scsi-0HC_Volume_${a.name}`;
      return { id: `${resources.length}`, state };
    },
    call: (a) => a.inputs,
  },
  "mbio-cloud",
  "staging",
  false,
);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { StoridgeStorage, storageVolumeDriver, HETZNER_CSI_ALIAS } = require("../../components/storidge-storage") as typeof import("../../components/storidge-storage");

const FILES = path.join(__dirname, "../../components/files/storage");
const conn = (h: string) => ({ host: h, user: "root", privateKey: "k" });
const nodes = ["m1", "m2", "m3"].map((n, i) => ({ name: n, privateIp: `10.20.1.${i + 2}`, connection: conn(n), serverId: 100 + i }));

const settle = () => settleRegistrations(() => resources.length);
// Secret inputs reach the mocks wrapped as { <sig>: …, value }.
const plain = (v: unknown): string => String(v !== null && typeof v === "object" && "value" in v ? (v as { value: unknown }).value : v);
const ofType = (t: string) => resources.filter((r) => r.type === t);
const commands = () => ofType("command:remote:Command");

describe("storage.driver local", () => {
  test("creates nothing and tells services to use the local driver", async () => {
    resources.length = 0;
    const s = new StoridgeStorage("development-storage", { environment: "development", storage: storageSchema.parse(undefined), nodes });
    await settle();
    expect(s.driver).toBe("local");
    expect(resources.filter((r) => !r.type.startsWith("mbio-cloud:"))).toEqual([]);
    expect(storageVolumeDriver(storageSchema.parse(undefined)).shared).toBe(false);
  });
});

describe("storage.driver storidge", () => {
  const storage = storageSchema.parse({ driver: "storidge", storidge: { version: "v1.0.0-3448", volumeSizeGb: 100, profiles: { database: { capacityGb: 50, replicas: 2, type: "ssd" } } } });

  beforeAll(async () => {
    resources.length = 0;
    new StoridgeStorage("staging-storage", { environment: "staging", storage, nodes, location: "fsn1" });
    await settle();
  });

  test("three raw volumes per node, attached, never formatted or mounted", () => {
    const volumes = ofType("hcloud:index/volume:Volume");
    expect(volumes).toHaveLength(9);
    for (const v of volumes) {
      expect(v.inputs.format).toBeUndefined();
      expect(v.inputs.automount).toBe(false);
      expect(v.inputs.size).toBe(100);
      expect(v.inputs.location).toBe("fsn1");
    }
    const attachments = ofType("hcloud:index/volumeAttachment:VolumeAttachment");
    expect(attachments).toHaveLength(9);
    expect(attachments.map((a) => a.inputs.serverId).sort()).toEqual([100, 100, 100, 101, 101, 101, 102, 102, 102]);
    expect(attachments.every((a) => a.inputs.automount === false)).toBe(true);
  });

  test("pinned install on each node, cluster created on the first, joined by the others, then profiles", () => {
    const names = commands().map((c) => c.name);
    expect(names.filter((n) => n.endsWith("-install"))).toHaveLength(3);
    const install = commands().find((c) => c.name === "staging-storage-m2-install")!;
    expect(String(install.inputs.create)).toContain("STORIDGE_VERSION='v1.0.0-3448'");
    expect(String(install.inputs.create)).toContain("scsi-0HC_Volume_staging-storage-m2-disk-3");
    expect(names).toEqual(expect.arrayContaining(["staging-storage-cluster-create", "staging-storage-m2-join", "staging-storage-m3-join", "staging-storage-cluster-init", "staging-storage-profile-database"]));
    expect(names).not.toContain("staging-storage-m1-join");
    const join = commands().find((c) => c.name === "staging-storage-m3-join")!;
    expect(plain(join.inputs.create)).toContain("TOKEN='TOKEN123'");
    expect(plain(join.inputs.create)).toContain("FIRST_IP='10.20.1.2'");
    const profile = commands().find((c) => c.name === "staging-storage-profile-database")!;
    expect(String(profile.inputs.stdin)).toMatch(/capacity: 50\n[\s\S]*level: 2\n[\s\S]*type: ssd/);
  });

  test("volume driver for services", () => {
    const d = storageVolumeDriver(storage);
    expect(d.driver).toBe("cio");
    expect(d.driverOpts({ profile: "database" })).toEqual({ profile: "database" });
  });

  test("too few nodes and missing server ids are clear errors", () => {
    expect(() => new StoridgeStorage("x", { environment: "staging", storage, nodes: nodes.slice(0, 2), location: "fsn1" })).toThrow(/1 or at least 3 storage nodes/);
    expect(() => new StoridgeStorage("y", { environment: "staging", storage, nodes: [{ ...nodes[0], serverId: undefined }], location: "fsn1" })).toThrow(/no server id/);
  });

  test("schema: exactly 3 devices, pinned version", () => {
    expect(storageSchema.safeParse({ driver: "storidge", storidge: { version: "latest", volumeSizeGb: 100 } }).success).toBe(false);
    expect(storageSchema.safeParse({ driver: "storidge" }).success).toBe(false);
  });
});

describe("storage.driver hetzner-csi", () => {
  test("the pinned plugin on every node, token on stdin", async () => {
    resources.length = 0;
    const storage = storageSchema.parse({ driver: "hetzner-csi", hetznerCsi: { pluginImage: "hetznercloud/hcloud-csi-driver:v2.9.0-swarm", defaultSizeGb: 20 } });
    new StoridgeStorage("staging-storage", { environment: "staging", storage, nodes, hcloudToken: pulumi.secret("hc-token") });
    await settle();
    const plugins = commands();
    expect(plugins).toHaveLength(3);
    for (const p of plugins) {
      expect(String(p.inputs.create)).toContain("PLUGIN='hetznercloud/hcloud-csi-driver:v2.9.0-swarm'");
      expect(String(p.inputs.create)).not.toContain("hc-token");
    }
    expect(ofType("hcloud:index/volume:Volume")).toHaveLength(0);
    expect(storageVolumeDriver(storage)).toMatchObject({ driver: HETZNER_CSI_ALIAS, shared: true });
    expect(storageVolumeDriver(storage).driverOpts()).toEqual({ size: "20G" });
  });
});

describe("storage scripts", () => {
  test("shellcheck-clean", () => {
    const files = fs.readdirSync(FILES).filter((f) => f.endsWith(".sh")).map((f) => path.join(FILES, f));
    expect(files.length).toBeGreaterThanOrEqual(4);
    expect(() => execFileSync("shellcheck", files, { stdio: "pipe" })).not.toThrow();
  });

  test("storidge-profile.sh is idempotent (a stand-in cio records calls)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cio-"));
    const log = path.join(dir, "calls");
    fs.writeFileSync(path.join(dir, "cio"), `#!/bin/sh\necho "$*" >>${log}\n[ "$1 $2" = "profile ls" ] && cat ${dir}/profiles 2>/dev/null\n[ "$1 $2" = "profile add" ] && basename "$3" >>${dir}/profiles\nexit 0\n`, { mode: 0o755 });
    const runIt = () => execFileSync("bash", [path.join(FILES, "storidge-profile.sh")], { input: "capacity: 5\n", env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, PROFILE: "db", PROFILE_DIR: path.join(dir, "p") }, stdio: "pipe" });
    runIt();
    runIt();
    const adds = fs.readFileSync(log, "utf8").split("\n").filter((l) => l.startsWith("profile add"));
    expect(adds).toHaveLength(1);
    fs.rmSync(dir, { recursive: true });
  });
});
