// PersistentStorage under Pulumi mocks, one block per storage.driver, and its scripts against a stand-in
// `docker` that keeps plugin, node and cluster-volume state in files (no Hetzner API here).
import * as pulumi from "@pulumi/pulumi";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { storageSchema } from "../../components/config/data";
import { settle as settleRegistrations, TEST_HETZNER_CSI_PLUGIN } from "./support/harness";

interface Res { type: string; name: string; inputs: Record<string, unknown> }
const resources: Res[] = [];
pulumi.runtime.setMocks(
  {
    newResource: (a) => {
      resources.push({ type: a.type, name: a.name, inputs: a.inputs });
      return { id: `${resources.length}`, state: { ...a.inputs, stdout: "", stderr: "" } };
    },
    call: (a) => a.inputs,
  },
  "mbio-cloud",
  "staging",
  false,
);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { PersistentStorage, storageVolumeDriver, volumePlacement, HETZNER_CSI_ALIAS } = require("../../components/persistent-storage") as typeof import("../../components/persistent-storage");

const FILES = path.join(__dirname, "../../components/files/storage");
const conn = (h: string) => ({ host: h, user: "root", privateKey: "k" });
const nodes = ["manager-1", "worker-1", "worker-2"].map((n) => ({ name: n, connection: conn(n) }));
const manager = conn("manager-1-via-manager");

const settle = () => settleRegistrations(() => resources.length);
// Secret inputs reach the mocks wrapped as { <sig>: …, value }.
const unwrap = (v: unknown): unknown => (v !== null && typeof v === "object" && "value" in v ? (v as { value: unknown }).value : v);
const plain = (v: unknown): string => String(unwrap(v));
const host = (r: Res) => (unwrap(r.inputs.connection) as { host: string }).host;
const commands = () => resources.filter((r) => r.type === "command:remote:Command");
// Transformations see each child's options: a transformation that records, per child, the names it depends on.
const recordDependsOn =
  (into: Record<string, string[]>): pulumi.ResourceTransformation =>
  (a) => {
    const deps = ([] as unknown[]).concat(a.opts.dependsOn ?? []) as pulumi.Resource[];
    Promise.all(deps.map((d) => (d as unknown as { __name?: string }).__name ?? "")).then((names) => (into[a.name] = names));
    return undefined;
  };
const csiStorage = storageSchema.parse({ driver: "hetzner-csi", hetznerCsi: { pluginImage: TEST_HETZNER_CSI_PLUGIN, defaultSizeGb: 20 } });

describe("storage.driver local (existing servers)", () => {
  test("creates nothing and tells services to use the local driver", async () => {
    resources.length = 0;
    const s = new PersistentStorage("local-storage", { environment: "local", storage: storageSchema.parse(undefined), nodes });
    await settle();
    expect(s.driver).toBe("local");
    expect(resources.filter((r) => !r.type.startsWith("mbio-cloud:"))).toEqual([]);
    expect(storageVolumeDriver(storageSchema.parse(undefined)).shared).toBe(false);
  });
});

describe("storage.driver hetzner-csi", () => {
  // Transformations see each child's options: how the release is ordered against the plugin.
  const dependsOn: Record<string, string[]> = {};
  beforeAll(async () => {
    resources.length = 0;
    const record = recordDependsOn(dependsOn);
    new PersistentStorage("staging-storage", { environment: "staging", storage: csiStorage, nodes, managerConnection: manager, hcloudToken: pulumi.secret("hc-token") }, { transformations: [record] });
    await settle();
  });

  test("the plugin pinned by version and digest on every node, installed and removed by the script, token on stdin", () => {
    const plugins = commands().filter((c) => c.name.endsWith("-csi-plugin"));
    expect(plugins.map((p) => p.name).sort()).toEqual(["staging-storage-manager-1-csi-plugin", "staging-storage-worker-1-csi-plugin", "staging-storage-worker-2-csi-plugin"]);
    for (const p of plugins) {
      const create = plain(p.inputs.create);
      expect(create).toContain(`PLUGIN='${TEST_HETZNER_CSI_PLUGIN}'`);
      expect(create).toContain("ACTION='install'");
      expect(create).toContain(`ALIAS='${HETZNER_CSI_ALIAS}'`);
      expect(plain(p.inputs.update)).toBe(create);
      expect(plain(p.inputs.delete)).toContain("ACTION='remove'");
      expect(plain(p.inputs.stdin)).toBe("hc-token");
      expect(create + plain(p.inputs.delete)).not.toContain("hc-token");
      // A replacement would create the new plugin, then remove it with the old one's delete.
      expect(p.inputs.triggers).toBeUndefined();
    }
    expect(plugins.map(host).sort()).toEqual(["manager-1", "worker-1", "worker-2"]);
  });

  test("scale in: a release per node runs on a manager, and is deleted before that node's plugin", () => {
    const releases = commands().filter((c) => c.name.endsWith("-csi-release"));
    expect(releases).toHaveLength(3);
    for (const r of releases) {
      const node = r.name.replace("staging-storage-", "").replace("-csi-release", "");
      expect(host(r)).toBe(manager.host);
      expect(plain(r.inputs.delete)).toContain(`NODE_NAME='${node}'`);
      expect(plain(r.inputs.delete)).toContain("TIMEOUT='300'");
      expect(plain(r.inputs.delete)).toContain("docker volume ls --cluster");
      // Pulumi deletes dependents first: the release depends on the plugin, so it runs while the plugin is there.
      expect(dependsOn[r.name]).toEqual([`staging-storage-${node}-csi-plugin`]);
    }
  });

  test("volume driver for services: the alias, the configured default size, volumes follow the task", () => {
    expect(storageVolumeDriver(csiStorage)).toMatchObject({ driver: HETZNER_CSI_ALIAS, shared: true });
    expect(storageVolumeDriver(csiStorage).driverOpts()).toEqual({ size: "20G" });
    expect(storageVolumeDriver(csiStorage).driverOpts({ sizeGb: 50 })).toEqual({ size: "50G" });
  });

  test("no token or no manager: clear errors before anything is created", () => {
    expect(() => new PersistentStorage("x", { environment: "staging", storage: csiStorage, nodes, managerConnection: manager })).toThrow(/needs the Hetzner API token/);
    expect(() => new PersistentStorage("y", { environment: "staging", storage: csiStorage, nodes, hcloudToken: "t" })).toThrow(/needs a manager connection/);
  });
});

describe("storage.driver hetzner-volumes", () => {
  const hvStorage = storageSchema.parse({ driver: "hetzner-volumes", hetznerVolumes: { defaultSizeGb: 10, sizesGb: { monitoring_influxdb: 50 } } });
  const roles = [
    ["staging-manager-1", "manager"],
    ["staging-manager-2", "manager"],
    ["staging-worker-1", "worker"],
    ["staging-ci-1", "ci"],
  ] as const;
  const hvNodes = roles.map(([name, role], i) => ({ name, role, connection: conn(name), serverId: pulumi.output(100 + i) }));
  const dependsOn: Record<string, string[]> = {};
  beforeAll(async () => {
    resources.length = 0;
    const record = recordDependsOn(dependsOn);
    new PersistentStorage(
      "staging-storage",
      { environment: "staging", storage: hvStorage, nodes: hvNodes, location: "fsn1", production: false, statefulVolumes: ["edge_acme", "monitoring_influxdb", "monitoring_grafana", "portainer_data", "gitlab-runner_state"] },
      { transformations: [record] },
    );
    await settle();
  });

  test("a Hetzner volume per stateful volume and node that runs it: the edge's on every manager, the rest on one node", () => {
    const volumes = resources.filter((r) => r.type === "hcloud:index/volume:Volume");
    expect(volumes.map((v) => [v.inputs.name, v.inputs.size, v.inputs.location]).sort()).toEqual(
      [
        ["staging-ci-1-gitlab-runner-state", 10, "fsn1"],
        ["staging-manager-1-edge-acme", 10, "fsn1"],
        ["staging-manager-1-monitoring-grafana", 10, "fsn1"],
        ["staging-manager-1-monitoring-influxdb", 50, "fsn1"],
        ["staging-manager-1-portainer-data", 10, "fsn1"],
        ["staging-manager-2-edge-acme", 10, "fsn1"],
      ].sort(),
    );
    expect(volumes.every((v) => v.inputs.deleteProtection === false && (v.inputs.labels as Record<string, string>)["managed-by"] === "pulumi")).toBe(true);
    const attachments = resources.filter((r) => r.type === "hcloud:index/volumeAttachment:VolumeAttachment");
    expect(attachments).toHaveLength(6);
    // Attached to the server of the node that runs the service, never automounted by Hetzner (the script mounts).
    const influx = attachments.find((a) => a.name === "staging-storage-staging-manager-1-monitoring-influxdb-attachment")!;
    expect([influx.inputs.serverId, influx.inputs.automount]).toEqual([100, false]);
    expect(attachments.find((a) => a.name.includes("ci-1"))!.inputs.serverId).toBe(103);
  });

  test("mounted by the script on that node after the attachment; delete unmounts", () => {
    const mounts = commands().filter((c) => c.name.endsWith("-mount"));
    expect(mounts).toHaveLength(6);
    const edge2 = mounts.find((m) => m.name === "staging-storage-staging-manager-2-edge-acme-mount")!;
    expect(host(edge2)).toBe("staging-manager-2");
    expect(plain(edge2.inputs.create)).toMatch(/^ACTION='mount' MOUNT_DIR='\/mnt\/mbio-volumes\/edge_acme' VOLUME_ID='\d+' bash -c /);
    expect(plain(edge2.inputs.update)).toBe(plain(edge2.inputs.create));
    expect(plain(edge2.inputs.delete)).toMatch(/^ACTION='unmount' /);
    expect(dependsOn["staging-storage-staging-manager-2-edge-acme-mount"]).toEqual(["staging-storage-staging-manager-2-edge-acme-attachment"]);
  });

  test("services: the named volume bound onto the mount's data/, single-task services pinned to the volume's node", () => {
    const place = volumePlacement(hvStorage, hvNodes)!;
    const monitoring = place.place("monitoring", {
      version: "3.9",
      services: {
        influxdb: { volumes: [{ type: "volume", source: "influxdb", target: "/var/lib/influxdb" }], deploy: { placement: { constraints: ["node.role == manager"] } } },
        telegraf: { volumes: [{ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" }], deploy: { mode: "global" } },
      },
      volumes: { influxdb: { labels: { "mbio.backup": "true" } } },
    });
    expect(monitoring.volumes!.influxdb).toEqual({ labels: { "mbio.backup": "true" }, driver: "local", driver_opts: { type: "none", o: "bind", device: "/mnt/mbio-volumes/monitoring_influxdb/data" } });
    expect((monitoring.services.influxdb.deploy as { placement: { constraints: string[] } }).placement.constraints).toEqual(["node.role == manager", "node.labels.mbio.name == staging-manager-1"]);
    expect(monitoring.services.telegraf).toEqual({ volumes: [{ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" }], deploy: { mode: "global" } });
    // The edge is global on managers: each has its own volume at the same path, no pin.
    const edge = place.place("edge", { version: "3.9", services: { traefik: { volumes: [{ type: "volume", source: "acme", target: "/data" }], deploy: { mode: "global", placement: { constraints: ["node.role == manager"] } } } }, volumes: { acme: {} } });
    expect((edge.services.traefik.deploy as { placement: { constraints: string[] } }).placement.constraints).toEqual(["node.role == manager"]);
    // A named volume no Hetzner volume is made for is an error, not silently a node's local disk.
    expect(() => place.place("edge", { version: "3.9", services: {}, volumes: { cache: {} } })).toThrow(/stack edge declares named volume cache, which is not one of the stateful volumes hetzner-volumes provides/);
    // Other drivers change nothing.
    expect(volumePlacement(storageSchema.parse(undefined), hvNodes)).toBeUndefined();
    expect(storageVolumeDriver(hvStorage)).toMatchObject({ driver: "local", shared: false });
  });
});

describe("storage config", () => {
  const issues = (raw: unknown) => {
    const r = storageSchema.safeParse(raw);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };
  test("storidge is refused with what is allowed", () => {
    expect(issues({ driver: "storidge" })).toEqual([expect.stringMatching(/^driver: storidge is no longer supported .*docs\/storage\.md.*use hetzner-volumes .*, hetzner-csi .* or local /)]);
    expect(issues({ driver: "hetzner-csi", hetznerCsi: { pluginImage: TEST_HETZNER_CSI_PLUGIN }, storidge: { version: "v1.0.0-3448" } })).toEqual([expect.stringMatching(/^storidge: is no longer supported: Storidge was replaced by hetzner-csi/)]);
    expect(issues({ driver: "glusterfs" })).toEqual([expect.stringMatching(/^driver: must be hetzner-volumes .*, hetzner-csi .* or local /)]);
  });
  test("hetzner-volumes: sizes 10–10240 GB, only the platform's stateful volumes, its block only with its driver", () => {
    expect(storageSchema.parse({ driver: "hetzner-volumes" })).toEqual({ driver: "hetzner-volumes" });
    expect(storageSchema.parse({ driver: "hetzner-volumes", hetznerVolumes: {} }).hetznerVolumes).toEqual({ defaultSizeGb: 10 });
    expect(issues({ driver: "hetzner-volumes", hetznerVolumes: { defaultSizeGb: 5 } })).toEqual(["hetznerVolumes.defaultSizeGb: must be at least 10 (GB, Hetzner's minimum volume size)"]);
    expect(issues({ driver: "hetzner-volumes", hetznerVolumes: { defaultSizeGb: 10241 } })).toEqual(["hetznerVolumes.defaultSizeGb: must be at most 10240 (GB, Hetzner's largest volume)"]);
    expect(issues({ driver: "hetzner-volumes", hetznerVolumes: { sizesGb: { monitoring_influxdb: "50G" } } })).toEqual(["hetznerVolumes.sizesGb.monitoring_influxdb: must be a whole number of GB from 10 to 10240"]);
    expect(issues({ driver: "hetzner-volumes", hetznerVolumes: { sizesGb: { influx: 50 } } })).toEqual([expect.stringMatching(/^hetznerVolumes\.sizesGb\.influx: must name one of the platform's stateful volumes: edge_acme, monitoring_influxdb/)]);
    expect(issues({ driver: "local", hetznerVolumes: { defaultSizeGb: 20 } })).toEqual(["hetznerVolumes: only applies to driver hetzner-volumes (the driver is local); remove it or set driver: hetzner-volumes"]);
  });
  test("the plugin must be pinned by version and digest", () => {
    expect(issues({ driver: "hetzner-csi" })).toEqual([expect.stringMatching(/^hetznerCsi: required when storage\.driver is hetzner-csi/)]);
    expect(issues({ driver: "hetzner-csi", hetznerCsi: {} })).toEqual([expect.stringMatching(/^hetznerCsi\.pluginImage: required: the plugin pinned as hetznercloud\/hcloud-csi-driver:vX\.Y\.Z-swarm@sha256:/)]);
    for (const bad of ["hetznercloud/hcloud-csi-driver:v2.9.0-swarm", "hetznercloud/hcloud-csi-driver:latest@sha256:" + "a".repeat(64), "evil/hcloud-csi-driver:v2.9.0-swarm@sha256:" + "a".repeat(64)]) {
      expect(issues({ driver: "hetzner-csi", hetznerCsi: { pluginImage: bad } })).toEqual([expect.stringMatching(/^hetznerCsi\.pluginImage: must be pinned as hetznercloud\/hcloud-csi-driver:vX\.Y\.Z-swarm@sha256:/)]);
    }
    expect(storageSchema.parse({ driver: "hetzner-csi", hetznerCsi: { pluginImage: TEST_HETZNER_CSI_PLUGIN } }).hetznerCsi).toEqual({ pluginImage: TEST_HETZNER_CSI_PLUGIN, defaultSizeGb: 10, releaseTimeoutSeconds: 300 });
  });
});

// A stand-in docker: plugin state in $STATE/plugin (the reference the engine records; RECORD_AS overrides
// it to simulate an engine that installed something else), nodes and cluster volumes from files, calls logged.
const FAKE_DOCKER = `#!/usr/bin/env bash
S="$FAKE_STATE"; echo "$*" >>"$S/calls"
case "$1 $2" in
  "version --format") echo "\${FAKE_SERVER:-27.5.1}" ;;
  "plugin inspect")
    [ -f "$S/plugin" ] || exit 1
    case "$*" in *PluginReference*) cat "$S/plugin" ;; *Enabled*) if [ -f "$S/enabled" ]; then echo true; else echo false; fi ;; esac ;;
  "plugin install") ref="\${!#}"; echo "docker.io/\${RECORD_AS:-$ref}" >"$S/plugin" ;;
  "plugin enable") touch "$S/enabled" ;;
  "plugin disable") rm -f "$S/enabled" ;;
  "plugin rm") rm -f "$S/plugin" "$S/enabled" ;;
  "node ls") cat "$S/node" 2>/dev/null ;;
  "node inspect") cat "$S/node-state" 2>/dev/null || echo ready ;;
  "node update") echo drained >"$S/drained" ;;
  "volume ls") cat "$S/volumes" 2>/dev/null ;;
  "volume inspect")
    # Each inspect uses up one line of publish status; the last line stays.
    f="$S/publish-\${!#}"; head -n1 "$f"; [ "$(wc -l <"$f")" -gt 1 ] && sed -i 1d "$f"; true ;;
  *) exit 0 ;;
esac
`;

// A stand-in for curl on the Engine API's socket: POST /plugins/{name}/set with the JSON body on stdin (how the
// script sets the token, keeping it off every argv); 404 when no plugin is installed, as the engine answers.
const FAKE_CURL = `#!/usr/bin/env bash
S="$FAKE_STATE"; url="\${!#}"; echo "curl \${url#http://localhost/}" >>"$S/calls"
case "$url" in
  */plugins/*/set)
    if [ ! -f "$S/plugin" ]; then printf '{"message":"plugin not found"}\\n404'; exit 0; fi
    jq -r '.[0]' >"$S/setting"; printf '\\n204' ;;
  *) exit 7 ;;
esac
`;

function sandbox() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mbio-storage-"));
  const bin = path.join(dir, "bin");
  const state = path.join(dir, "state");
  fs.mkdirSync(bin);
  fs.mkdirSync(state);
  fs.writeFileSync(path.join(bin, "docker"), FAKE_DOCKER, { mode: 0o755 });
  fs.writeFileSync(path.join(bin, "curl"), FAKE_CURL, { mode: 0o755 });
  fs.writeFileSync(path.join(bin, "sleep"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  const run = (script: string, env: Record<string, string>, input = "") =>
    spawnSync("bash", [path.join(FILES, script)], { input, encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, FAKE_STATE: state, STATE_DIR: path.join(dir, "mbio"), ...env } });
  const calls = () => (fs.existsSync(path.join(state, "calls")) ? fs.readFileSync(path.join(state, "calls"), "utf8").trim().split("\n") : []);
  const reset = () => fs.rmSync(path.join(state, "calls"), { force: true });
  return { dir, state, run, calls, reset, done: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

describe("storage scripts", () => {
  test("shellcheck-clean", () => {
    const files = fs.readdirSync(FILES).filter((f) => f.endsWith(".sh")).map((f) => path.join(FILES, f));
    expect(files.map((f) => path.basename(f)).sort()).toEqual(["hetzner-csi-plugin.sh", "hetzner-csi-release.sh", "hetzner-volume-mount.sh"]);
    expect(() => execFileSync("shellcheck", files, { stdio: "pipe" })).not.toThrow();
  });

  test("hetzner-csi-plugin.sh: installs by digest and checks it, is idempotent, applies a rotated token, removes twice", () => {
    const s = sandbox();
    const env = { ACTION: "install", ALIAS: HETZNER_CSI_ALIAS, PLUGIN: TEST_HETZNER_CSI_PLUGIN };
    try {
      const first = s.run("hetzner-csi-plugin.sh", env, "tok-1");
      expect([first.status, first.stderr]).toEqual([0, expect.stringContaining("installed: ")]);
      expect(s.calls()).toContain(`plugin install --disable --alias ${HETZNER_CSI_ALIAS} --grant-all-permissions ${TEST_HETZNER_CSI_PLUGIN}`);
      expect(fs.readFileSync(path.join(s.state, "setting"), "utf8").trim()).toBe("HCLOUD_TOKEN=tok-1");
      expect(first.stdout + first.stderr).not.toContain("tok-1");
      s.reset();
      const again = s.run("hetzner-csi-plugin.sh", env, "tok-1");
      expect([again.status, again.stderr]).toEqual([0, expect.stringContaining("unchanged")]);
      expect(s.calls().filter((c) => !c.startsWith("plugin inspect") && !c.startsWith("version "))).toEqual([]);
      s.reset();
      const rotated = s.run("hetzner-csi-plugin.sh", env, "tok-2");
      expect(rotated.status).toBe(0);
      expect(s.calls().some((c) => c.startsWith("plugin install"))).toBe(false);
      expect(fs.readFileSync(path.join(s.state, "setting"), "utf8").trim()).toBe("HCLOUD_TOKEN=tok-2");
      for (let i = 0; i < 2; i++) expect(s.run("hetzner-csi-plugin.sh", { ACTION: "remove", ALIAS: HETZNER_CSI_ALIAS }).status).toBe(0);
      expect(fs.existsSync(path.join(s.state, "plugin"))).toBe(false);
    } finally {
      s.done();
    }
  });

  test("hetzner-csi-plugin.sh: a plugin at another digest is replaced; an engine recording another digest fails; no digest refused", () => {
    const s = sandbox();
    const env = { ACTION: "install", ALIAS: HETZNER_CSI_ALIAS, PLUGIN: TEST_HETZNER_CSI_PLUGIN };
    try {
      fs.writeFileSync(path.join(s.state, "plugin"), `docker.io/hetznercloud/hcloud-csi-driver:v0.0.1-swarm@sha256:${"a".repeat(64)}\n`);
      expect(s.run("hetzner-csi-plugin.sh", env, "tok").status).toBe(0);
      expect(s.calls()).toEqual(expect.arrayContaining([`plugin rm -f ${HETZNER_CSI_ALIAS}`, expect.stringMatching(/^plugin install /)]));
      expect(fs.readFileSync(path.join(s.state, "plugin"), "utf8").trim()).toBe(`docker.io/${TEST_HETZNER_CSI_PLUGIN}`);

      fs.rmSync(path.join(s.state, "plugin"));
      const wrong = s.run("hetzner-csi-plugin.sh", { ...env, RECORD_AS: `hetznercloud/hcloud-csi-driver:v0.0.0-swarm@sha256:${"b".repeat(64)}` }, "tok");
      expect([wrong.status, wrong.stderr]).toEqual([1, expect.stringContaining("not at sha256:fedcba")]);
      expect(fs.existsSync(path.join(s.state, "plugin"))).toBe(false);

      const bare = s.run("hetzner-csi-plugin.sh", { ...env, PLUGIN: "hetznercloud/hcloud-csi-driver:v2.9.0-swarm" }, "tok");
      expect([bare.status, bare.stderr]).toEqual([2, expect.stringContaining("not pinned by a sha256 digest")]);
      const noToken = s.run("hetzner-csi-plugin.sh", env, "");
      expect([noToken.status, noToken.stderr]).toEqual([1, expect.stringContaining("no Hetzner API token")]);
      // Engines before moby#47299 panic on a pull by digest (it took this machine's dockerd down): refused first.
      s.reset();
      const old = s.run("hetzner-csi-plugin.sh", { ...env, FAKE_SERVER: "20.10.24+dfsg1" }, "tok");
      expect([old.status, old.stderr]).toEqual([3, expect.stringContaining("Docker Engine 20.10.24+dfsg1 cannot install a plugin by digest safely (moby#47299); needs 26.0 or later")]);
      expect(s.calls().filter((c) => c.startsWith("plugin "))).toEqual([]);
    } finally {
      s.done();
    }
  });

  test("hetzner-csi-release.sh: drains a node holding cluster volumes and waits until they are unpublished", () => {
    const s = sandbox();
    try {
      fs.writeFileSync(path.join(s.state, "node"), "nodeW2\n");
      fs.writeFileSync(path.join(s.state, "volumes"), "pgdata\nother\n");
      // pgdata: published to the node, then unpublishing, then gone; other: on another node throughout.
      fs.writeFileSync(path.join(s.state, "publish-pgdata"), "nodeW2 \nnodeW2 \nnodeW2 \n\n");
      fs.writeFileSync(path.join(s.state, "publish-other"), "nodeM1 \n");
      const r = s.run("hetzner-csi-release.sh", { NODE_NAME: "worker-2" });
      expect([r.status, r.stderr]).toEqual([0, expect.stringContaining("released: no cluster volume left on worker-2")]);
      expect(r.stderr).toContain("cluster volumes pgdata");
      expect(r.stderr).not.toContain("other");
      expect(s.calls()).toEqual(expect.arrayContaining(["node ls -q --filter node.label=mbio.name=worker-2", "node update --availability drain nodeW2"]));
      expect(s.calls().filter((c) => c === "volume inspect -f {{range .ClusterVolume.PublishStatus}}{{.NodeID}} {{end}} pgdata")).toHaveLength(4);
    } finally {
      s.done();
    }
  });

  test("hetzner-csi-release.sh: no volumes or no node: nothing drained; stuck volumes: an error that keeps the plugin", () => {
    const s = sandbox();
    try {
      expect(s.run("hetzner-csi-release.sh", { NODE_NAME: "gone" }).stderr).toContain("unchanged: no Swarm node labelled mbio.name=gone");
      fs.writeFileSync(path.join(s.state, "node"), "nodeW1\n");
      fs.writeFileSync(path.join(s.state, "volumes"), "other\n");
      fs.writeFileSync(path.join(s.state, "publish-other"), "nodeM1 \n");
      const none = s.run("hetzner-csi-release.sh", { NODE_NAME: "worker-1" });
      expect([none.status, none.stderr]).toEqual([0, expect.stringContaining("unchanged: no cluster volume on worker-1")]);
      expect(fs.existsSync(path.join(s.state, "drained"))).toBe(false);

      fs.writeFileSync(path.join(s.state, "publish-other"), "nodeW1 \n");
      const stuck = s.run("hetzner-csi-release.sh", { NODE_NAME: "worker-1", TIMEOUT: "0" });
      expect([stuck.status, stuck.stderr]).toEqual([1, expect.stringContaining("still published on worker-1: other")]);

      fs.writeFileSync(path.join(s.state, "node-state"), "down\n");
      const down = s.run("hetzner-csi-release.sh", { NODE_NAME: "worker-1" });
      expect([down.status, down.stderr]).toEqual([0, expect.stringContaining("worker-1 is down with cluster volumes")]);
    } finally {
      s.done();
    }
  });
});
